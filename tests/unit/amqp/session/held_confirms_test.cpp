// Publisher confirms held for the store's commit (a persistent message to a durable queue):
// they go out after the commit, on the channel that published, and never on a channel
// opened later under the same number.
#include "amqp_driver.hpp"
#include "amqp_wire.hpp"
#include "manual_store.hpp"
#include "core/broker.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace outpost::amqp {
namespace {

using Names = std::vector<std::string>;

class AmqpHeldConfirmsTest : public ::testing::Test {
 protected:
  AmqpHeldConfirmsTest() : broker_(store_), vhost_(broker_, settings_) {}

  std::vector<test::AmqpFrame> frames(test::SessionDriver& d) { return test::split_amqp(d.take_written()); }

  std::unique_ptr<test::SessionDriver> opened() {
    auto d = test::make_amqp_driver(vhost_, settings_);
    d->feed(test::concat(test::concat(test::amqp_protocol_header(), test::amqp_start_ok_plain("guest", "guest")),
                         test::concat(test::amqp_tune_ok(settings_.channel_max, settings_.frame_max, 0),
                                      test::amqp_open("/"))));
    EXPECT_EQ(test::names_of(frames(*d)), (Names{"connection.start", "connection.tune", "connection.open-ok"}));
    return d;
  }

  // Channel 1 in confirm mode, a durable queue, and one persistent message to it: its
  // confirm waits for the commit.
  void publish_held(test::SessionDriver& d) {
    BasicProperties persistent;
    persistent.flags = prop::delivery_mode;
    persistent.delivery_mode = 2;
    d.feed(test::concat(test::concat(test::amqp_channel_open(1), test::amqp_method(1, cls::confirm, m::select, {false})),
                        test::concat(test::amqp_queue_declare(1, "held", true),
                                     test::amqp_publish(1, "", "held", "x", persistent))));
    EXPECT_EQ(test::names_of(frames(d)), (Names{"channel.open-ok", "confirm.select-ok", "queue.declare-ok"}));
    EXPECT_EQ(store_.waiting(), 1u);
  }

  test::ManualStore store_;
  core::Broker broker_;
  AmqpSettings settings_;
  Vhost vhost_;
};

TEST_F(AmqpHeldConfirmsTest, ConfirmFollowsTheCommit) {
  auto d = opened();
  publish_held(*d);
  store_.commit_all();
  d->run();
  const auto written = frames(*d);
  ASSERT_EQ(test::names_of(written), Names{"basic.ack"});
  EXPECT_EQ(written[0].channel, 1);
  EXPECT_EQ(written[0].method().num(0), 1u);
}

TEST_F(AmqpHeldConfirmsTest, ClosedChannelGetsNoConfirm) {
  auto d = opened();
  publish_held(*d);
  d->feed(test::amqp_method(1, cls::channel, m::ch_close, {200, "bye", 0, 0}));
  EXPECT_EQ(test::names_of(frames(*d)), Names{"channel.close-ok"});
  store_.commit_all();
  d->run();
  EXPECT_TRUE(d->take_written().empty());
}

// The channel number is used again before the commit: the new channel published nothing
// (nor is it in confirm mode), so a basic.ack on it would be a confirm for a tag it never
// gave, and once it publishes, for a message not yet committed.
TEST_F(AmqpHeldConfirmsTest, ReopenedChannelGetsNoConfirmOfTheOldOne) {
  auto d = opened();
  publish_held(*d);
  d->feed(test::concat(test::amqp_method(1, cls::channel, m::ch_close, {200, "bye", 0, 0}),
                       test::amqp_channel_open(1)));
  EXPECT_EQ(test::names_of(frames(*d)), (Names{"channel.close-ok", "channel.open-ok"}));
  store_.commit_all();
  d->run();
  EXPECT_TRUE(d->take_written().empty());
}

}  // namespace
}  // namespace outpost::amqp
