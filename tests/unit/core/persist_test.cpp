// The core's side of persistence, against the real SQLite store in a temporary directory:
// property blobs, a message stored once for several durable queues, entries following
// the delivery state, refused deliveries leaving nothing behind, retained changes.
#include "core/broker.hpp"
#include "core/persist.hpp"
#include "../store/store_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace outpost::core {
namespace {

using store::test::TempDir;

MessagePtr message(std::string topic, std::string payload, std::uint8_t qos = 1, bool retain = false) {
  Message::Init init;
  init.topic = std::move(topic);
  init.payload = {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()};
  init.qos = qos;
  init.retain = retain;
  return Message::make(std::move(init));
}

TEST(PersistProperties, RoundTripKeepsEveryFieldAndUserPropertyOrder) {
  MessageProperties p;
  p.payload_format = 1;
  p.content_type = "application/json";
  p.content_encoding = "gzip";
  p.response_topic = "reply/to";
  p.correlation_data = std::string("\0\1\2", 3);
  p.message_id = "m-1";
  p.type = "reading";
  p.app_id = "sensor";
  p.user_id = "u";
  p.timestamp = 1700000000;
  p.priority = 7;
  p.user_properties = {{"b", "2"}, {"a", "1"}, {"b", "3"}};
  const auto blob = encode_properties(&p);
  const auto back = decode_properties(blob);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->payload_format, p.payload_format);
  EXPECT_EQ(back->content_type, p.content_type);
  EXPECT_EQ(back->content_encoding, p.content_encoding);
  EXPECT_EQ(back->response_topic, p.response_topic);
  EXPECT_EQ(back->correlation_data, p.correlation_data);
  EXPECT_EQ(back->message_id, p.message_id);
  EXPECT_EQ(back->type, p.type);
  EXPECT_EQ(back->app_id, p.app_id);
  EXPECT_EQ(back->user_id, p.user_id);
  EXPECT_EQ(back->timestamp, p.timestamp);
  EXPECT_EQ(back->priority, p.priority);
  ASSERT_EQ(back->user_properties.size(), 3u);
  EXPECT_EQ(back->user_properties[0].key, "b");
  EXPECT_EQ(back->user_properties[1].key, "a");
  EXPECT_EQ(back->user_properties[2].value, "3");
  EXPECT_TRUE(encode_properties(nullptr).empty());
}

TEST(PersistProperties, DamagedOrUnknownBlobIsRefused) {
  MessageProperties p;
  p.content_type = "text/plain";
  auto blob = encode_properties(&p);
  EXPECT_FALSE(decode_properties(blob.substr(0, blob.size() - 1)).has_value());
  EXPECT_FALSE(decode_properties(std::string("\x63\0\0\0\0", 5)).has_value());
}

class DurableQueues : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<store::SqliteStore>(store::test::options(dir_));
    store::test::Recorder none;
    store_->restore(none);
    broker_ = std::make_unique<Broker>(*store_);
  }
  void TearDown() override {
    broker_.reset();
    if (store_) store_->close();
  }
  store::test::Recorder reopen() {
    broker_.reset();
    store_->close();
    store_.reset();
    return store::test::reopen(dir_);
  }
  QueuePtr durable_queue(const std::string& name, QueueLimits limits = {}) {
    auto q = broker_->make_queue(name, limits);
    q->make_durable(*store_, "test:" + name);
    BindingOptions o;
    o.max_qos = 2;
    broker_->mqtt_exchange().bind("d/#", q, o);
    return q;
  }

  TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(DurableQueues, AMessageForTwoQueuesIsStoredOnceAndGoesWithItsLastEntry) {
  auto a = durable_queue("a");
  auto b = durable_queue("b");
  WakeupBatch wakeups;
  auto m = message("d/x", "payload");
  const auto r = broker_->route(broker_->mqtt_exchange(), m, wakeups, nullptr);
  EXPECT_EQ(r.queued, 2u);
  EXPECT_EQ(r.stored, 2u);
  EXPECT_TRUE(r.needs_commit);
  EXPECT_NE(m->store_id(), 0u);
  store::test::flush(*store_);
  EXPECT_EQ(store_->stats().messages, 1u);

  Delivery da, db;
  ASSERT_TRUE(a->pull_one(da));
  ASSERT_TRUE(b->pull_one(db));
  EXPECT_NE(da.seq, 0u);
  a->entry_sent(da, store::EntryState::awaiting_puback, 17);
  a->entry_done(da);
  store::test::flush(*store_);
  EXPECT_EQ(store_->stats().messages, 1u);  // b still holds it
  b->entry_sent(db, store::EntryState::awaiting_puback, 3);

  auto r2 = reopen();
  ASSERT_EQ(r2.messages.size(), 1u);
  EXPECT_EQ(store::test::text(r2.messages[0].payload), "payload");
  ASSERT_EQ(r2.entries.size(), 1u);
  EXPECT_EQ(r2.entries[0].queue, "test:b");
  EXPECT_EQ(r2.entries[0].state, store::EntryState::awaiting_puback);
  EXPECT_EQ(r2.entries[0].packet_id, 3);
}

TEST_F(DurableQueues, QoS0AndRefusedDeliveriesLeaveNothingBehind) {
  QueueLimits tiny;
  tiny.max_messages = 1;
  auto a = durable_queue("a", tiny);
  auto b = durable_queue("b");
  WakeupBatch wakeups;
  broker_->route(broker_->mqtt_exchange(), message("d/1", "first"), wakeups, nullptr);
  // a is full now: its entry for the second message is written ahead and taken back.
  const auto r = broker_->route(broker_->mqtt_exchange(), message("d/2", "second"), wakeups, nullptr);
  EXPECT_EQ(r.dropped, 1u);
  broker_->route(broker_->mqtt_exchange(), message("d/0", "q0", 0), wakeups, nullptr);
  auto rec = reopen();
  std::vector<std::string> entries;
  for (const auto& e : rec.entries) entries.push_back(e.queue + "#" + std::to_string(e.seq));
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"test:a#1", "test:b#1", "test:b#2"}));
  EXPECT_EQ(rec.messages.size(), 2u);  // the QoS 0 message was never stored
}

TEST_F(DurableQueues, RetainedChangesReachTheStoreInOrder) {
  WakeupBatch wakeups;
  broker_->route(broker_->mqtt_exchange(), message("r/a", "A", 0, true), wakeups, nullptr);
  broker_->route(broker_->mqtt_exchange(), message("r/b", "B0", 1, true), wakeups, nullptr);
  broker_->route(broker_->mqtt_exchange(), message("r/b", "B1", 1, true), wakeups, nullptr);
  broker_->route(broker_->mqtt_exchange(), message("r/a", "", 0, true), wakeups, nullptr);
  auto rec = reopen();
  ASSERT_EQ(rec.retained_messages.size(), 1u);
  EXPECT_EQ(rec.retained_messages[0].topic, "r/b");
  EXPECT_EQ(store::test::text(rec.retained_messages[0].payload), "B1");
}

}  // namespace
}  // namespace outpost::core
