// The client limits (settings `limits:`) as an AMQP connection applies them, over the
// in-memory link: consumers per connection, and the publish rate that pauses reading.
#include "amqp_driver.hpp"
#include "amqp_wire.hpp"
#include "core/broker.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#if defined(__SANITIZE_ADDRESS__)
// The sanitizer runtime's count of live allocations (GCC ships no header declaring it).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#else
#include <malloc.h>
#endif

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace outpost::amqp {
namespace {

using test::Bytes;
using test::SessionDriver;

class AmqpLimitsTest : public ::testing::Test {
 protected:
  AmqpLimitsTest() : broker_(store_), vhost_(broker_, settings_) {}

  std::unique_ptr<SessionDriver> opened() {
    test::AmqpDriverOptions options;
    options.io = io_;
    options.limits = limits_;
    auto d = test::make_amqp_driver(vhost_, settings_, std::move(options));
    d->feed(test::amqp_protocol_header());
    d->feed(test::amqp_start_ok_plain("guest", "guest"));
    d->feed(test::concat(test::amqp_tune_ok(settings_.channel_max, settings_.frame_max, 0), test::amqp_open("/")));
    d->feed(test::amqp_channel_open(1));
    d->take_written();
    return d;
  }
  std::vector<test::AmqpFrame> frames(SessionDriver& d) { return test::split_amqp(d.take_written()); }

  static Bytes consume(std::uint16_t channel, std::string_view queue, std::string_view tag) {
    static const FieldTable none;
    // ticket, queue, consumer-tag, no-local, no-ack, exclusive, no-wait, arguments
    return test::amqp_method(channel, cls::basic, m::consume, {0, queue, tag, false, true, false, false, none});
  }

  // Bytes the process has allocated and not freed, as its allocator counts them.
  static std::uint64_t allocated_bytes() {
#if defined(__SANITIZE_ADDRESS__)
    return __sanitizer_get_current_allocated_bytes();
#else
    const auto info = mallinfo2();
    return info.uordblks + info.hblkhd;
#endif
  }

  std::uint64_t messages(const std::string& queue) {
    Error e;
    auto q = vhost_.find_queue(queue, 0, e);
    return q ? q->queue->stats().messages : 0;
  }

  store::MemoryStore store_;
  core::Broker broker_;
  AmqpSettings settings_;
  Vhost vhost_;
  LimitSettings limits_;
  std::shared_ptr<boost::asio::io_context> io_ = std::make_shared<boost::asio::io_context>();
};

TEST_F(AmqpLimitsTest, ConsumersPerConnectionAreCapped) {
  limits_.max_subscriptions_per_client = 2;
  auto d = opened();
  d->feed(test::amqp_queue_declare(1, "q"));
  d->feed(test::amqp_channel_open(2));
  d->feed(consume(1, "q", "a"));
  d->feed(consume(2, "q", "b"));  // counted across channels
  auto written = frames(*d);
  ASSERT_FALSE(written.empty());
  EXPECT_EQ(written.back().name(), "basic.consume-ok");
  d->feed(consume(1, "q", "c"));
  written = frames(*d);
  ASSERT_FALSE(written.empty());
  EXPECT_EQ(written.back().name(), "channel.close");
  EXPECT_EQ(written.back().method().num(0), 406u);
  EXPECT_FALSE(d->link().closed()) << "a channel error leaves the connection open";
}

TEST_F(AmqpLimitsTest, ContentHeaderAboveMaxMessageSizeClosesTheChannel) {
  // A header announcing more than max_message_size: the channel is closed with 406 and the
  // size named (found by fuzzing: the text once read the size after the publish was freed).
  settings_.max_message_size = 1024;
  auto d = opened();
  Bytes header;
  encode_content_header(header, 1, cls::basic, 1025, BasicProperties{});
  d->feed(test::concat(test::amqp_method(1, cls::basic, m::publish, {0, "", "q", false, false}), header));
  auto written = frames(*d);
  ASSERT_FALSE(written.empty());
  EXPECT_EQ(written.back().name(), "channel.close");
  EXPECT_EQ(written.back().method().num(0), 406u);
  EXPECT_NE(written.back().method().str(1).find("message size 1025"), std::string::npos)
      << written.back().method().str(1);
  EXPECT_FALSE(d->link().closed());
}

TEST_F(AmqpLimitsTest, AnnouncedBodySizeReservesNothingBeforeTheBodyArrives) {
  // A content header announcing the largest allowed body, on each of 8 channels, with no body
  // sent: the broker holds what it received, not what was announced (8 x 4 GiB before the
  // body buffer grew with its frames; found by fuzzing).
  settings_.max_message_size = 4ull << 30;
  auto d = opened();
  d->feed(test::amqp_queue_declare(1, "big"));
  frames(*d);
  const std::uint64_t before = allocated_bytes();
  for (std::uint16_t channel = 2; channel < 10; ++channel) {
    Bytes header;
    encode_content_header(header, channel, cls::basic, settings_.max_message_size, BasicProperties{});
    d->feed(test::amqp_channel_open(channel));
    d->feed(test::concat(test::amqp_method(channel, cls::basic, m::publish, {0, "", "big", false, false}), header));
  }
  const std::uint64_t after = allocated_bytes();
  EXPECT_LT(after - std::min(after, before), 16u << 20) << "allocated " << (after - before) << " bytes";
  EXPECT_FALSE(d->link().closed());

  // A body of many frames still arrives whole, and one in a single frame too.
  std::string body(100'000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  d->feed(test::amqp_publish(1, "", "big", body));
  d->feed(test::amqp_publish(1, "", "big", "short"));
  EXPECT_EQ(messages("big"), 2u);
  frames(*d);
  d->feed(test::amqp_basic_get(1, "big"));
  auto got = frames(*d);
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(got[0].name(), "basic.get-ok");
  EXPECT_EQ(test::body_of(got, 2), body);
  d->feed(test::amqp_basic_get(1, "big"));
  got = frames(*d);
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(test::body_of(got, 2), "short");
}

TEST_F(AmqpLimitsTest, PublishRatePausesReading) {
  limits_.max_publish_rate = 3;
  auto d = opened();
  d->feed(test::amqp_queue_declare(1, "rq"));
  frames(*d);
  Bytes burst;
  for (int i = 0; i < 6; ++i) burst = test::concat(burst, test::amqp_publish(1, "", "rq", "m"));
  d->feed(burst);
  // A bucket of 3: the 4th message goes into debt, and reading pauses until it is paid.
  EXPECT_TRUE(d->link().paused());
  EXPECT_FALSE(d->link().unconsumed().empty());
  EXPECT_EQ(messages("rq"), 4u);
  ASSERT_TRUE(d->link().deadline());
  std::this_thread::sleep_until(*d->link().deadline());
  d->session().on_deadline();
  d->run();
  EXPECT_EQ(messages("rq"), 5u);
  EXPECT_TRUE(d->link().paused());
}

}  // namespace
}  // namespace outpost::amqp
