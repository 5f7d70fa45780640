// core::Publisher: the checks in their order, counters, acknowledgements held for the
// store's commit in publish order, and the pause on congested queues.
#include "core/publisher.hpp"

#include "core/trace_context.hpp"
#include "manual_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <deque>
#include <thread>

namespace outpost::core {
namespace {

MessagePtr msg(std::string topic, std::uint8_t qos = 1, std::string payload = "p") {
  Message::Init init;
  init.topic = std::move(topic);
  init.payload = {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()};
  init.qos = qos;
  return Message::make(std::move(init));
}

using test::ManualStore;  // support/manual_store.hpp: commits when the test says, full when told

// Denies publishing to and subscribing on anything under "secret/".
class DenySecret final : public AccessControl {
 public:
  bool may_publish(const ClientInfo&, std::string_view, std::string_view topic) const override {
    return !topic.starts_with("secret/");
  }
  bool may_subscribe(const ClientInfo&, std::string_view, std::string_view filter) const override {
    return !filter.starts_with("secret/");
  }
  bool may_consume(const ClientInfo&, std::string_view, std::string_view) const override { return true; }
};

struct Owner final : PublisherOwner {
  std::vector<HeldAck> durable;
  int space = 0;
  void on_durable(std::span<const HeldAck> acks) override { durable.insert(durable.end(), acks.begin(), acks.end()); }
  void on_space_available() override { ++space; }
};

struct PublisherTest : ::testing::Test {
  ManualStore store;
  Broker broker{store};
  boost::asio::io_context io;
  const std::string listener = "test", address = "127.0.0.1:1", identity;
  ClientInfo client = [this] {
    ClientInfo c(Protocol::mqtt, listener, address, identity, broker.next_origin());
    c.client_id = ClientId("c1");
    return c;
  }();
  std::shared_ptr<Owner> owner = std::make_shared<Owner>();
  DenySecret deny;
  Publisher publisher{broker, client, &deny, true};

  QueuePtr bound(const std::string& filter, QueueLimits limits = {}) {
    auto q = broker.make_queue(filter, limits);
    broker.mqtt_exchange().bind(filter, q, BindingOptions{});
    return q;
  }
  std::uint64_t count(Counter c) { return broker.counters().read()[c]; }
};

TEST_F(PublisherTest, RoutesAndCounts) {
  QueueLimits one;
  one.max_messages = 1;
  auto q = bound("t", one);
  auto r = publisher.publish(broker.mqtt_exchange(), msg("t", 0));
  EXPECT_EQ(r.refused, Refusal::none);
  EXPECT_EQ(r.routed.queued, 1u);
  r = publisher.publish(broker.mqtt_exchange(), msg("t", 0));
  EXPECT_EQ(r.routed.dropped, 1u);
  publisher.publish(broker.mqtt_exchange(), msg("nobody/here", 0));
  EXPECT_EQ(count(Counter::published), 3u);
  EXPECT_EQ(count(Counter::routed), 1u);
  EXPECT_EQ(count(Counter::dropped_queue_full), 1u);
  EXPECT_EQ(count(Counter::dropped_no_subscribers), 1u);
}

TEST_F(PublisherTest, AuthorizationComesFirstAndRefusesWithoutRouting) {
  auto q = bound("secret/#");
  store.full = true;  // authorization is asked before the store is
  auto r = publisher.publish(broker.mqtt_exchange(), msg("secret/x"));
  EXPECT_EQ(r.refused, Refusal::not_authorized);
  EXPECT_EQ(r.routed.matched, 0u);
  EXPECT_EQ(q->stats().messages, 0u);
  EXPECT_EQ(count(Counter::refused_not_authorized), 1u);
  EXPECT_EQ(count(Counter::published), 0u);
  // A will is the client's too; the broker's own messages are not the client's to refuse.
  EXPECT_EQ(publisher.publish(broker.mqtt_exchange(), msg("secret/will"), Source::will).refused, Refusal::not_authorized);
  store.full = false;
  EXPECT_EQ(publisher.publish(broker.mqtt_exchange(), msg("secret/dl"), Source::broker).refused, Refusal::none);
  EXPECT_EQ(q->stats().messages, 1u);
}

TEST_F(PublisherTest, FullStoreRefusesDurableClientMessagesOnly) {
  auto q = bound("t");
  store.full = true;
  EXPECT_EQ(publisher.publish(broker.mqtt_exchange(), msg("t", 1)).refused, Refusal::store_full);
  EXPECT_EQ(publisher.publish(broker.mqtt_exchange(), msg("t", 0)).refused, Refusal::none);
  EXPECT_EQ(publisher.publish(broker.mqtt_exchange(), msg("t", 1), Source::will).refused, Refusal::none);
  EXPECT_EQ(count(Counter::refused_store_full), 1u);
  EXPECT_EQ(q->stats().messages, 2u);
}

TEST_F(PublisherTest, AcknowledgementsWaitForTheCommitInPublishOrder) {
  EXPECT_TRUE(publisher.acknowledge(HeldAck{1}, false));  // nothing to wait for: now
  EXPECT_FALSE(publisher.acknowledge(HeldAck{2}, true));  // waits for the commit
  EXPECT_FALSE(publisher.acknowledge(HeldAck{3}, false)); // behind one that waits
  EXPECT_EQ(publisher.held(), 2u);
  EXPECT_FALSE(publisher.flush(io.get_executor(), owner));
  EXPECT_FALSE(publisher.acknowledge(HeldAck{4}, false));  // behind the barrier in flight
  publisher.flush(io.get_executor(), owner);
  io.run();
  EXPECT_TRUE(owner->durable.empty()) << "nothing before the commit";
  store.commit_all();
  io.restart();
  io.run();
  ASSERT_EQ(owner->durable.size(), 3u);
  EXPECT_EQ(owner->durable[0].id, 2u);
  EXPECT_EQ(owner->durable[1].id, 3u);
  EXPECT_EQ(owner->durable[2].id, 4u);
  EXPECT_EQ(publisher.held(), 0u);
  EXPECT_TRUE(publisher.acknowledge(HeldAck{5}, false));
}

TEST_F(PublisherTest, ACommitOnTheConnectionsThreadHandsBackAtOnceWhenNothingIsAhead) {
  // The store committed at the end of the connection's own read (sync normal, writer idle):
  // the acknowledgement goes within that commit, not a turn of the event loop later.
  EXPECT_FALSE(publisher.acknowledge(HeldAck{1}, true));
  publisher.flush(io.get_executor(), owner);
  std::size_t during = 0;
  boost::asio::post(io, [&] {
    store.commit_all();
    during = owner->durable.size();
  });
  io.run();
  EXPECT_EQ(during, 1u);
  EXPECT_EQ(publisher.held(), 0u);
  EXPECT_TRUE(publisher.acknowledge(HeldAck{2}, false)) << "nothing held any more";
}

TEST_F(PublisherTest, ACommitOnTheConnectionsThreadKeepsPublishOrderBehindAPostedOne) {
  // While the connection's thread is busy, the first barrier is committed on another thread
  // (its acknowledgement is posted), then the second on the connection's thread, before the
  // first one's post has run: the second waits its turn instead of overtaking it.
  EXPECT_FALSE(publisher.acknowledge(HeldAck{1}, true));
  publisher.flush(io.get_executor(), owner);
  EXPECT_FALSE(publisher.acknowledge(HeldAck{2}, true));
  publisher.flush(io.get_executor(), owner);
  std::size_t during = 99;
  boost::asio::post(io, [&] {
    std::thread([&] { store.commit_one(); }).join();
    store.commit_one();
    during = owner->durable.size();
  });
  io.run();
  EXPECT_EQ(during, 0u) << "neither handed back inside the handler";
  ASSERT_EQ(owner->durable.size(), 2u);
  EXPECT_EQ(owner->durable[0].id, 1u);
  EXPECT_EQ(owner->durable[1].id, 2u);
  EXPECT_EQ(publisher.held(), 0u);
}

TEST_F(PublisherTest, AcknowledgementsOfAGonePublisherAreDropped) {
  {
    Publisher gone(broker, client, nullptr, true);
    EXPECT_FALSE(gone.acknowledge(HeldAck{7}, true));
    gone.flush(io.get_executor(), owner);
  }
  store.commit_all();
  io.run();
  EXPECT_TRUE(owner->durable.empty());
}

TEST_F(PublisherTest, CongestedQueuePausesUntilItDrains) {
  QueueLimits limits;
  limits.flow_high = 2;
  limits.flow_low = 1;
  auto q = bound("c", limits);
  struct Sink final : Consumer {
    void on_messages_available() override {}
  };
  auto consumer = std::make_shared<Sink>();
  q->attach(consumer, io.get_executor(), publisher.wakeups());
  for (int i = 0; i < 4; ++i) publisher.publish(broker.mqtt_exchange(), msg("c", 0));
  // Its own queue never pauses a publisher.
  EXPECT_FALSE(publisher.flush(io.get_executor(), owner, q.get()));
  for (int i = 0; i < 4; ++i) publisher.publish(broker.mqtt_exchange(), msg("c", 0));
  EXPECT_TRUE(publisher.flush(io.get_executor(), owner));
  EXPECT_TRUE(publisher.paused());
  std::vector<Delivery> out;
  q->pull(out, 100);
  io.restart();
  io.run();
  EXPECT_EQ(owner->space, 1);
  EXPECT_TRUE(publisher.on_space_available());
  EXPECT_FALSE(publisher.paused());
  q->detach(consumer.get());
}

TEST_F(PublisherTest, TraceInjectionAddsATraceparentOnlyWhereNoneIs) {
  auto q = bound("t/#");
  Delivery d;
  // Off by default: the message is routed as given.
  auto plain = msg("t/off", 0);
  auto r = publisher.publish(broker.mqtt_exchange(), plain);
  EXPECT_EQ(r.message, nullptr);
  ASSERT_TRUE(q->pull_one(d));
  EXPECT_EQ(d.message, plain);
  q->entry_done(d);

  broker.set_trace_inject(true);
  r = publisher.publish(broker.mqtt_exchange(), msg("t/on", 0));
  ASSERT_NE(r.message, nullptr);
  ASSERT_TRUE(q->pull_one(d));
  EXPECT_EQ(d.message, r.message);  // what was routed is what the caller is told of
  EXPECT_TRUE(parse_traceparent(find_traceparent(*d.message)));
  EXPECT_EQ(d.message->topic(), "t/on");
  q->entry_done(d);

  // One already there, valid or not, is kept as it is.
  for (const char* value : {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "garbage"}) {
    auto p = std::make_shared<MessageProperties>();
    p->user_properties.push_back({"traceparent", value});
    Message::Init init;
    init.topic = "t/kept";
    init.properties = p;
    auto given = Message::make(std::move(init));
    r = publisher.publish(broker.mqtt_exchange(), given);
    EXPECT_EQ(r.message, nullptr);
    ASSERT_TRUE(q->pull_one(d));
    EXPECT_EQ(d.message, given);
    EXPECT_EQ(find_traceparent(*d.message), value);
    q->entry_done(d);
  }

  // A refused message is not given one; the broker's status topics are not either.
  EXPECT_EQ(publisher.publish(broker.mqtt_exchange(), msg("secret/x", 0)).message, nullptr);
  auto sys = bound("$SYS/#");
  r = publisher.publish(broker.mqtt_exchange(), msg("$SYS/broker/x", 0), Source::broker);
  EXPECT_EQ(r.message, nullptr);
}

TEST(Counters, PerThreadSlotsAreSummed) {
  Counters counters;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&counters] {
      for (int i = 0; i < 1000; ++i) counters.add(Protocol::mqtt, Counter::published);
    });
  }
  for (auto& t : threads) t.join();
  counters.add(Protocol::amqp, Counter::routed, 5);
  EXPECT_EQ(counters.read()[Counter::published], 4000u);
  EXPECT_EQ(counters.read()[Counter::routed], 5u);
  EXPECT_EQ(counters.read().at(Protocol::mqtt, Counter::published), 4000u);
  EXPECT_EQ(counters.read().at(Protocol::amqp, Counter::published), 0u);
  EXPECT_EQ(counters.read().at(Protocol::amqp, Counter::routed), 5u);
  Counters other;  // another set on the same threads keeps its own slots
  other.add(Protocol::mqtt, Counter::published);
  EXPECT_EQ(other.read()[Counter::published], 1u);
  EXPECT_EQ(counters.read()[Counter::published], 4000u);
}

TEST(Counters, AThreadForgetsTheSetsThatAreGone) {
  // A test or fuzz target makes a broker, and so a counter set, per case, all on one
  // thread: the thread's list of sets must not keep one entry per set ever made (each
  // lookup searched them all: a fuzz target slowed until it timed out).
  Counters kept;
  kept.add(Protocol::mqtt, Counter::published);
  for (int i = 0; i < 10000; ++i) {
    Counters c;
    c.add(Protocol::mqtt, Counter::published, 2);
    EXPECT_EQ(c.read()[Counter::published], 2u);
    EXPECT_LE(Counters::sets_remembered(), 3u);
  }
  kept.add(Protocol::mqtt, Counter::published);
  EXPECT_EQ(kept.read()[Counter::published], 2u);
  EXPECT_LE(Counters::sets_remembered(), 2u);
}

}  // namespace
}  // namespace outpost::core
