#include "core/broker.hpp"

#include <gtest/gtest.h>

namespace outpost::core {
namespace {

MessagePtr msg(std::string topic, std::uint8_t qos = 1, bool retain = false, std::string payload = "p",
               std::uint64_t origin = 0) {
  Message::Init init;
  init.topic = std::move(topic);
  init.payload = {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()};
  init.qos = qos;
  init.retain = retain;
  init.origin = origin;
  return Message::make(std::move(init));
}

std::vector<Delivery> drain(Queue& q) {
  std::vector<Delivery> out;
  q.pull(out, 1000000);
  return out;
}

struct BrokerTest : ::testing::Test {
  store::MemoryStore store;
  Broker broker{store};
  WakeupBatch wakeups;
};

TEST_F(BrokerTest, PredeclaredExchanges) {
  EXPECT_EQ(broker.find_exchange("amq.topic").get(), &broker.mqtt_exchange());
  ASSERT_TRUE(broker.find_exchange("amq.direct"));
  EXPECT_EQ(broker.find_exchange("amq.direct")->type(), ExchangeType::direct);
  ASSERT_TRUE(broker.find_exchange("amq.fanout"));
  EXPECT_EQ(broker.find_exchange("amq.fanout")->type(), ExchangeType::fanout);
  EXPECT_FALSE(broker.delete_exchange("amq.topic"));
}

TEST_F(BrokerTest, OverlappingSubscriptionsDeliverOnceAtHighestQoS) {
  auto q = broker.make_queue("s1", QueueLimits{});
  broker.mqtt_exchange().bind("a/#", q, BindingOptions{.max_qos = 0, .subscription_id = 7});
  broker.mqtt_exchange().bind("a/+", q, BindingOptions{.max_qos = 2, .subscription_id = 9});
  broker.mqtt_exchange().bind("a/b", q, BindingOptions{.max_qos = 1});
  auto r = broker.route(broker.mqtt_exchange(), msg("a/b", 2), wakeups, nullptr);
  EXPECT_EQ(r.matched, 1u);
  auto out = drain(*q);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].qos, 2);
  std::vector<std::uint32_t> ids(out[0].subscription_ids.begin(), out[0].subscription_ids.end());
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{7, 9}));
}

TEST_F(BrokerTest, QoSDowngradedToGranted) {
  auto q = broker.make_queue("s1", QueueLimits{});
  broker.mqtt_exchange().bind("t", q, BindingOptions{.max_qos = 1});
  broker.route(broker.mqtt_exchange(), msg("t", 2), wakeups, nullptr);
  broker.route(broker.mqtt_exchange(), msg("t", 0), wakeups, nullptr);
  auto out = drain(*q);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].qos, 1);
  EXPECT_EQ(out[1].qos, 0);
}

TEST_F(BrokerTest, PayloadSharedAcrossSubscribers) {
  std::vector<QueuePtr> queues;
  for (int i = 0; i < 10; ++i) {
    queues.push_back(broker.make_queue("s", QueueLimits{}));
    broker.mqtt_exchange().bind("x/#", queues.back(), BindingOptions{});
  }
  auto m = msg("x/y", 1, false, std::string(4096, 'z'));
  auto r = broker.route(broker.mqtt_exchange(), m, wakeups, nullptr);
  EXPECT_EQ(r.matched, 10u);
  for (auto& q : queues) {
    auto out = drain(*q);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].message->payload().data(), m->payload().data());
  }
}

TEST_F(BrokerTest, NoLocalSkipsPublisher) {
  auto q = broker.make_queue("s1", QueueLimits{});
  broker.mqtt_exchange().bind("t", q, BindingOptions{.no_local = true, .owner = 42});
  broker.route(broker.mqtt_exchange(), msg("t", 1, false, "p", 42), wakeups, nullptr);
  EXPECT_TRUE(drain(*q).empty());
  broker.route(broker.mqtt_exchange(), msg("t", 1, false, "p", 43), wakeups, nullptr);
  EXPECT_EQ(drain(*q).size(), 1u);
}

TEST_F(BrokerTest, RetainFlagOnLiveDeliveryOnlyWhenRetainAsPublished) {
  auto q1 = broker.make_queue("s1", QueueLimits{});
  auto q2 = broker.make_queue("s2", QueueLimits{});
  broker.mqtt_exchange().bind("t", q1, BindingOptions{});
  broker.mqtt_exchange().bind("t", q2, BindingOptions{.retain_as_published = true});
  broker.route(broker.mqtt_exchange(), msg("t", 1, true), wakeups, nullptr);
  EXPECT_FALSE(drain(*q1)[0].retain);
  EXPECT_TRUE(drain(*q2)[0].retain);
}

TEST_F(BrokerTest, RetainedSetReplaceClear) {
  broker.route(broker.mqtt_exchange(), msg("r/1", 1, true, "one"), wakeups, nullptr);
  broker.route(broker.mqtt_exchange(), msg("r/2", 1, true, "two"), wakeups, nullptr);
  broker.route(broker.mqtt_exchange(), msg("r/1", 1, true, "uno"), wakeups, nullptr);
  std::vector<MessagePtr> found;
  broker.retained().match("r/#", found, now_unix_ms());
  ASSERT_EQ(found.size(), 2u);
  auto one = broker.retained().find("r/1");
  ASSERT_TRUE(one);
  EXPECT_EQ(std::string(one->payload().begin(), one->payload().end()), "uno");
  broker.route(broker.mqtt_exchange(), msg("r/1", 1, true, ""), wakeups, nullptr);
  EXPECT_FALSE(broker.retained().find("r/1"));
  EXPECT_EQ(broker.retained().size(), 1u);
}

TEST_F(BrokerTest, ExpiredRetainedNotReturned) {
  Message::Init init;
  init.topic = "e";
  std::string p = "x";
  init.payload = {reinterpret_cast<const std::uint8_t*>(p.data()), p.size()};
  init.retain = true;
  init.expiry_unix_ms = now_unix_ms() - 1;
  broker.route(broker.mqtt_exchange(), Message::make(std::move(init)), wakeups, nullptr);
  std::vector<MessagePtr> found;
  broker.retained().match("#", found, now_unix_ms());
  EXPECT_TRUE(found.empty());
}

TEST_F(BrokerTest, FullQueueDropIsReported) {
  QueueLimits limits;
  limits.max_messages = 1;
  auto q = broker.make_queue("s1", limits);
  broker.mqtt_exchange().bind("t", q, BindingOptions{});
  EXPECT_EQ(broker.route(broker.mqtt_exchange(), msg("t"), wakeups, nullptr).dropped, 0u);
  auto r = broker.route(broker.mqtt_exchange(), msg("t"), wakeups, nullptr);
  EXPECT_EQ(r.dropped, 1u);
  EXPECT_EQ(broker.counters().read()[Counter::dropped_queue_full], 0u);  // routing alone counts nothing:
  // the Publisher, every message's way in, does (publisher_test.cpp).
}

TEST_F(BrokerTest, DirectAndFanoutExchanges) {
  auto d = broker.declare_exchange("d", ExchangeType::direct, false, false);
  auto f = broker.declare_exchange("f", ExchangeType::fanout, false, false);
  EXPECT_EQ(broker.declare_exchange("d", ExchangeType::direct, false, false), d);
  auto q1 = broker.make_queue("q1", QueueLimits{});
  auto q2 = broker.make_queue("q2", QueueLimits{});
  d->bind("k1", q1, {});
  d->bind("k2", q2, {});
  f->bind("", q1, {});
  f->bind("", q2, {});
  EXPECT_EQ(broker.route(*d, msg("k1"), wakeups, nullptr).matched, 1u);
  EXPECT_EQ(broker.route(*d, msg("k3"), wakeups, nullptr).matched, 0u);
  EXPECT_EQ(broker.route(*f, msg("whatever"), wakeups, nullptr).matched, 2u);
  EXPECT_EQ(drain(*q1).size(), 2u);
  EXPECT_EQ(drain(*q2).size(), 1u);
  EXPECT_TRUE(d->unbind("k1", *q1));
  EXPECT_FALSE(d->unbind("k1", *q1));
  EXPECT_EQ(broker.route(*d, msg("k1"), wakeups, nullptr).matched, 0u);
}

TEST_F(BrokerTest, UnbindStopsDelivery) {
  auto q = broker.make_queue("s1", QueueLimits{});
  EXPECT_TRUE(broker.mqtt_exchange().bind("a/+", q, {}));
  EXPECT_FALSE(broker.mqtt_exchange().bind("a/+", q, {.max_qos = 0}));  // replaced
  EXPECT_EQ(broker.mqtt_exchange().binding_count(), 1u);
  EXPECT_TRUE(broker.mqtt_exchange().unbind("a/+", *q));
  EXPECT_EQ(broker.route(broker.mqtt_exchange(), msg("a/b"), wakeups, nullptr).matched, 0u);
}

}  // namespace
}  // namespace outpost::core
