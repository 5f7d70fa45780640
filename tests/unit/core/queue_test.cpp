#include "core/queue.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <string>

namespace outpost::core {
namespace {

MessagePtr msg(std::string topic, std::uint8_t qos = 1, std::size_t payload = 10) {
  std::string body(payload, 'x');
  Message::Init init;
  init.topic = std::move(topic);
  init.payload = {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()};
  init.qos = qos;
  return Message::make(std::move(init));
}

Delivery delivery(std::string topic, std::uint8_t qos = 1) {
  Delivery d;
  d.message = msg(std::move(topic), qos);
  d.qos = qos;
  return d;
}

struct CountingConsumer : Consumer {
  int wakes = 0;
  void on_messages_available() override { ++wakes; }
};

struct CountingWaiter : SpaceWaiter {
  int calls = 0;
  void on_space_available() override { ++calls; }
};

TEST(Queue, KeepsOrderAndAccounts) {
  Queue q(1, "q", QueueLimits{});
  WakeupBatch w;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(q.push(delivery("t/" + std::to_string(i)), w).outcome, PushOutcome::queued);
  EXPECT_EQ(q.stats().messages, 5u);
  EXPECT_GT(q.stats().bytes, 50u);
  std::vector<Delivery> out;
  EXPECT_EQ(q.pull(out, 3), 3u);
  EXPECT_EQ(out[0].message->topic(), "t/0");
  EXPECT_EQ(out[2].message->topic(), "t/2");
  Delivery d;
  ASSERT_TRUE(q.pull_one(d));
  EXPECT_EQ(d.message->topic(), "t/3");
  ASSERT_TRUE(q.pull_one(d));
  EXPECT_FALSE(q.pull_one(d));
  EXPECT_EQ(q.stats().bytes, 0u);
}

TEST(Queue, RejectNewWhenFullIsReportedAndCounted) {
  QueueLimits limits;
  limits.max_messages = 3;
  Queue q(1, "q", limits);
  WakeupBatch w;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(q.push(delivery("a"), w).outcome, PushOutcome::queued);
  EXPECT_EQ(q.push(delivery("a"), w).outcome, PushOutcome::dropped_full);
  EXPECT_EQ(q.stats().dropped, 1u);
  EXPECT_EQ(q.stats().messages, 3u);
}

TEST(Queue, ByteLimit) {
  QueueLimits limits;
  limits.max_bytes = 300;
  Queue q(1, "q", limits);
  WakeupBatch w;
  int queued = 0;
  for (int i = 0; i < 10; ++i) queued += q.push(delivery("a"), w).outcome == PushOutcome::queued;
  EXPECT_LT(queued, 10);
  EXPECT_LE(q.stats().bytes, 300u);
}

TEST(Queue, DropHeadEvictsOldest) {
  QueueLimits limits;
  limits.max_messages = 2;
  limits.overflow = Overflow::drop_head;
  Queue q(1, "q", limits);
  WakeupBatch w;
  q.push(delivery("1"), w);
  q.push(delivery("2"), w);
  auto r = q.push(delivery("3"), w);
  EXPECT_EQ(r.outcome, PushOutcome::queued);
  EXPECT_EQ(r.evicted, 1u);
  std::vector<Delivery> out;
  q.pull(out, 10);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].message->topic(), "2");
  EXPECT_EQ(out[1].message->topic(), "3");
}

TEST(Queue, QoS0NotKeptWithoutConsumerWhenAsked) {
  QueueLimits limits;
  limits.drop_qos0_without_consumer = true;
  Queue q(1, "q", limits);
  WakeupBatch w;
  EXPECT_EQ(q.push(delivery("a", 0), w).outcome, PushOutcome::dropped_no_consumer);
  EXPECT_EQ(q.push(delivery("a", 1), w).outcome, PushOutcome::queued);
  EXPECT_EQ(q.stats().dropped, 0u);
}

TEST(Queue, WakesConsumerOncePerBatch) {
  boost::asio::io_context io;
  Queue q(1, "q", QueueLimits{});
  auto consumer = std::make_shared<CountingConsumer>();
  {
    WakeupBatch w;
    q.attach(consumer, io.get_executor(), w);
    for (int i = 0; i < 100; ++i) q.push(delivery("a"), w);
  }
  io.run();
  EXPECT_EQ(consumer->wakes, 1);
  // Not pulled empty: no new wake-up.
  std::vector<Delivery> out;
  q.pull(out, 10);
  {
    WakeupBatch w;
    q.push(delivery("a"), w);
  }
  io.restart();
  io.run();
  EXPECT_EQ(consumer->wakes, 1);
  // Pulled empty: the next push wakes again.
  q.pull(out, 1000);
  {
    WakeupBatch w;
    q.push(delivery("a"), w);
  }
  io.restart();
  io.run();
  EXPECT_EQ(consumer->wakes, 2);
}

TEST(Queue, RearmWakesWhenMessagesRemain) {
  boost::asio::io_context io;
  Queue q(1, "q", QueueLimits{});
  auto consumer = std::make_shared<CountingConsumer>();
  WakeupBatch w;
  q.attach(consumer, io.get_executor(), w);
  q.push(delivery("a"), w);
  q.push(delivery("b"), w);
  w.flush();
  io.run();
  std::vector<Delivery> out;
  q.pull(out, 1);
  q.rearm(w);
  w.flush();
  io.restart();
  io.run();
  EXPECT_EQ(consumer->wakes, 2);
}

TEST(Queue, CongestionAndSpaceWaiters) {
  boost::asio::io_context io;
  QueueLimits limits;
  limits.flow_high = 4;
  limits.flow_low = 2;
  Queue q(1, "q", limits);
  auto consumer = std::make_shared<CountingConsumer>();
  auto waiter = std::make_shared<CountingWaiter>();
  WakeupBatch w;
  // Without a consumer there is no congestion: nobody would drain it.
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(q.push(delivery("a"), w).congested);
  q.attach(consumer, io.get_executor(), w);
  EXPECT_TRUE(q.push(delivery("a"), w).congested);
  EXPECT_TRUE(q.wait_for_space(waiter, io.get_executor()));
  std::vector<Delivery> out;
  q.pull(out, 2);  // 4 left: still above low
  io.run();
  EXPECT_EQ(waiter->calls, 0);
  q.pull(out, 2);  // 2 left: at low watermark
  io.restart();
  io.run();
  EXPECT_EQ(waiter->calls, 1);
  EXPECT_FALSE(q.wait_for_space(waiter, io.get_executor()));
}

TEST(Queue, StalledConsumersDoNotCongestWhenCongestionNeedsCredit) {
  boost::asio::io_context io;
  QueueLimits limits;
  limits.flow_high = 2;
  limits.flow_low = 1;
  limits.congestion_needs_credit = true;
  Queue q(1, "q", limits);
  auto a = std::make_shared<CountingConsumer>();
  auto b = std::make_shared<CountingConsumer>();
  auto waiter = std::make_shared<CountingWaiter>();
  WakeupBatch w;
  q.attach(a, io.get_executor(), w);
  q.attach(b, io.get_executor(), w);
  for (int i = 0; i < 2; ++i) q.push(delivery("a"), w);
  EXPECT_TRUE(q.push(delivery("a"), w).congested);
  ASSERT_TRUE(q.wait_for_space(waiter, io.get_executor()));
  q.stall(a.get(), w);  // b still drains: the waiter keeps waiting
  io.run();
  EXPECT_EQ(waiter->calls, 0);
  q.stall(b.get(), w);  // nobody with credit left: the waiter goes
  io.restart();
  io.run();
  EXPECT_EQ(waiter->calls, 1);
  EXPECT_FALSE(q.push(delivery("a"), w).congested);
  EXPECT_FALSE(q.wait_for_space(waiter, io.get_executor()));
  q.rearm(w, a.get());  // credit again: congestion again
  EXPECT_TRUE(q.push(delivery("a"), w).congested);
}

TEST(Queue, StalledConsumersStillCongestByDefault) {
  boost::asio::io_context io;
  QueueLimits limits;
  limits.flow_high = 2;
  limits.flow_low = 1;
  Queue q(1, "q", limits);
  auto a = std::make_shared<CountingConsumer>();
  WakeupBatch w;
  q.attach(a, io.get_executor(), w);
  for (int i = 0; i < 2; ++i) q.push(delivery("a"), w);
  q.stall(a.get(), w);
  EXPECT_TRUE(q.push(delivery("a"), w).congested);
}

TEST(Queue, DetachReleasesWaiters) {
  boost::asio::io_context io;
  QueueLimits limits;
  limits.flow_high = 2;
  limits.flow_low = 1;
  Queue q(1, "q", limits);
  auto consumer = std::make_shared<CountingConsumer>();
  auto waiter = std::make_shared<CountingWaiter>();
  WakeupBatch w;
  q.attach(consumer, io.get_executor(), w);
  for (int i = 0; i < 3; ++i) q.push(delivery("a"), w);
  ASSERT_TRUE(q.wait_for_space(waiter, io.get_executor()));
  q.detach(consumer.get());
  io.run();
  EXPECT_EQ(waiter->calls, 1);
}

TEST(Queue, SeveralConsumersAreWokenInTurn) {
  boost::asio::io_context io;
  Queue q(1, "q", QueueLimits{});
  auto a = std::make_shared<CountingConsumer>();
  auto b = std::make_shared<CountingConsumer>();
  WakeupBatch w;
  q.attach(a, io.get_executor(), w);
  q.attach(b, io.get_executor(), w);
  EXPECT_EQ(q.consumers(), 2u);
  // Each push wakes the next consumer not already awake: one, then the other.
  q.push(delivery("1"), w);
  q.push(delivery("2"), w);
  q.push(delivery("3"), w);  // both awake: nobody more to wake
  w.flush();
  io.run();
  EXPECT_EQ(a->wakes + b->wakes, 2);
  EXPECT_EQ(a->wakes, 1);
  // Pulled empty: both may be woken again, starting where the turn stopped.
  std::vector<Delivery> out;
  q.pull(out, 10);
  q.push(delivery("4"), w);
  w.flush();
  io.restart();
  io.run();
  EXPECT_EQ(a->wakes + b->wakes, 3);
}

TEST(Queue, DetachingOneConsumerWakesAnother) {
  boost::asio::io_context io;
  Queue q(1, "q", QueueLimits{});
  auto a = std::make_shared<CountingConsumer>();
  auto b = std::make_shared<CountingConsumer>();
  WakeupBatch w;
  q.attach(a, io.get_executor(), w);
  q.push(delivery("1"), w);  // wakes a
  w.flush();
  q.attach(b, io.get_executor(), w);  // b is woken for what waits
  w.flush();
  io.run();
  const int before = b->wakes;
  q.detach(a.get());  // a leaves what it did not pull: b is woken for it
  io.restart();
  io.run();
  EXPECT_EQ(b->wakes, before + 1);
  EXPECT_EQ(q.consumers(), 1u);
  EXPECT_TRUE(q.stats().has_consumer);
  q.detach(b.get());
  EXPECT_FALSE(q.stats().has_consumer);
}

TEST(Queue, RequeueFrontMarksRedelivered) {
  Queue q(1, "q", QueueLimits{});
  WakeupBatch w;
  q.push(delivery("c"), w);
  std::vector<Delivery> back;
  back.push_back(delivery("a"));
  back.push_back(delivery("b"));
  q.requeue_front(std::move(back), w);
  std::vector<Delivery> out;
  q.pull(out, 10);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].message->topic(), "a");
  EXPECT_TRUE(out[0].redelivered);
  EXPECT_EQ(out[1].message->topic(), "b");
  EXPECT_EQ(out[2].message->topic(), "c");
  EXPECT_FALSE(out[2].redelivered);
}

TEST(Message, PayloadSharedNotCopiedPerDelivery) {
  auto m = msg("a", 1, 1000);
  Delivery d1, d2;
  d1.message = m;
  d2.message = m;
  EXPECT_EQ(d1.message->payload().data(), d2.message->payload().data());
  EXPECT_EQ(m.use_count(), 3);
}

}  // namespace
}  // namespace outpost::core
