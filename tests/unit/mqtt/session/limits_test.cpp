// The client limits (settings `limits:`) as an MQTT session applies them, over the
// in-memory link: client id length, topic levels, subscriptions per client, and the
// publish rate that pauses reading.
#include "core/broker.hpp"
#include "mqtt_driver.hpp"
#include "mqtt_wire.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace outpost::mqtt {
namespace {

using test::Bytes;
using test::SessionDriver;

class MqttLimitsTest : public ::testing::TestWithParam<ProtocolVersion> {
 protected:
  MqttLimitsTest() : broker_(store_) {}

  bool v5() const { return GetParam() == ProtocolVersion::v5; }

  std::unique_ptr<SessionDriver> session() {
    test::MqttDriverOptions options;
    options.io = io_;
    options.limits = limits_;
    return test::make_mqtt_driver(broker_, settings_, std::move(options));
  }

  // A connected session (CONNACK checked and consumed).
  std::unique_ptr<SessionDriver> connected(std::string_view client_id) {
    auto d = session();
    d->feed(test::mqtt_connect(GetParam(), client_id));
    auto packets = test::split_mqtt(d->take_written());
    EXPECT_EQ(packets.size(), 1u);
    if (!packets.empty()) {
      auto c = test::connack_of(GetParam(), packets[0]);
      EXPECT_TRUE(c && c->reason == ReasonCode::success);
    }
    return d;
  }

  std::vector<ReasonCode> suback(SessionDriver& d) {
    auto packets = test::split_mqtt(d.take_written());
    EXPECT_GE(packets.size(), 1u);
    if (packets.empty()) return {};
    auto s = test::suback_of(GetParam(), packets[0]);
    EXPECT_TRUE(s);
    return s ? s->codes : std::vector<ReasonCode>{};
  }

  store::MemoryStore store_;
  core::Broker broker_;
  MqttSettings settings_;
  LimitSettings limits_;
  std::shared_ptr<boost::asio::io_context> io_ = std::make_shared<boost::asio::io_context>();
};

std::string levels(std::size_t n) {
  std::string out = "l";
  for (std::size_t i = 1; i < n; ++i) out += "/l";
  return out;
}

TEST_P(MqttLimitsTest, ClientIdLongerThanTheLimitIsRefused) {
  limits_.max_client_id_length = 8;
  auto ok = session();
  ok->feed(test::mqtt_connect(GetParam(), "12345678"));
  auto packets = test::split_mqtt(ok->take_written());
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(test::connack_of(GetParam(), packets[0])->reason, ReasonCode::success);

  auto d = session();
  d->feed(test::mqtt_connect(GetParam(), "123456789"));
  packets = test::split_mqtt(d->take_written());
  ASSERT_EQ(packets.size(), 1u);
  // 5.0: 0x85; 3.1.1: return code 2 (identifier rejected), read back as 0x85.
  EXPECT_EQ(packets[0].body[1], v5() ? 0x85 : 0x02);
  EXPECT_EQ(test::connack_of(GetParam(), packets[0])->reason, ReasonCode::client_identifier_not_valid);
  EXPECT_TRUE(d->link().closed());
}

TEST_P(MqttLimitsTest, DefaultClientIdLimitIs256Bytes) {
  auto ok = session();
  ok->feed(test::mqtt_connect(GetParam(), std::string(256, 'a')));
  EXPECT_FALSE(ok->link().closed());
  auto d = session();
  d->feed(test::mqtt_connect(GetParam(), std::string(257, 'b')));
  EXPECT_TRUE(d->link().closed());
}

TEST_P(MqttLimitsTest, SubscribeFilterWithTooManyLevelsIsRefused) {
  limits_.max_topic_levels = 4;
  auto d = connected("levels");
  d->feed(test::mqtt_subscribe(GetParam(), 1, levels(4)));
  EXPECT_EQ(suback(*d), std::vector<ReasonCode>{ReasonCode::success});
  d->feed(test::mqtt_subscribe(GetParam(), 2, levels(5)));
  EXPECT_EQ(suback(*d), std::vector<ReasonCode>{v5() ? ReasonCode::topic_filter_invalid : ReasonCode::unspecified_error});
  // A shared subscription's levels are its filter's.
  if (v5()) {
    d->feed(test::mqtt_subscribe(GetParam(), 3, "$share/g/" + levels(4)));
    EXPECT_EQ(suback(*d), std::vector<ReasonCode>{ReasonCode::success});
  }
  EXPECT_FALSE(d->link().closed());
}

TEST_P(MqttLimitsTest, PublishWithTooManyLevelsIsNotRouted) {
  limits_.max_topic_levels = 3;
  auto sub = connected("sub");
  sub->feed(test::mqtt_subscribe(GetParam(), 1, "#"));
  suback(*sub);
  auto pub = connected("pub");
  pub->feed(test::mqtt_publish(GetParam(), levels(4), "deep", 1, 7));
  auto packets = test::split_mqtt(pub->take_written());
  ASSERT_EQ(packets.size(), 1u);
  auto ack = test::ack_of(GetParam(), packets[0]);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->packet_id, 7);
  // 5.0 says why (0x90); 3.1.1 can only acknowledge, and the message is dropped.
  EXPECT_EQ(ack->reason, v5() ? ReasonCode::topic_name_invalid : ReasonCode::success);
  pub->feed(test::mqtt_publish(GetParam(), levels(3), "fine", 0));
  sub->run();
  auto delivered = test::split_mqtt(sub->take_written());
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(test::publish_of(GetParam(), delivered[0])->topic, levels(3));

  // QoS 0 has no acknowledgement: 5.0 tells with DISCONNECT 0x90, 3.1.1 drops it.
  pub->feed(test::mqtt_publish(GetParam(), levels(4), "deep", 0));
  if (v5()) {
    packets = test::split_mqtt(pub->take_written());
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(test::disconnect_of(GetParam(), packets[0])->reason, ReasonCode::topic_name_invalid);
    EXPECT_TRUE(pub->link().closed());
  } else {
    EXPECT_FALSE(pub->link().closed());
  }
  sub->run();
  EXPECT_TRUE(sub->take_written().empty());
}

TEST_P(MqttLimitsTest, SubscriptionsBeyondTheLimitGetQuotaExceeded) {
  limits_.max_subscriptions_per_client = 2;
  auto d = connected("subs");
  d->feed(test::mqtt_subscribe(GetParam(), 1, "a"));
  d->feed(test::mqtt_subscribe(GetParam(), 2, "b"));
  suback(*d);
  d->feed(test::mqtt_subscribe(GetParam(), 3, "c"));
  EXPECT_EQ(suback(*d), std::vector<ReasonCode>{v5() ? ReasonCode::quota_exceeded : ReasonCode::unspecified_error});
  EXPECT_EQ(broker_.counters().read()[core::Counter::refused_by_limit], 1u);
  // Replacing an existing subscription is no new one.
  d->feed(test::mqtt_subscribe(GetParam(), 4, "a", SubscriptionOptions{1}));
  EXPECT_EQ(suback(*d), std::vector<ReasonCode>{ReasonCode::granted_qos1});
  // After an unsubscribe there is room again.
  mqtt::UnsubscribePacket u;
  u.packet_id = 5;
  u.filters.push_back("b");
  Bytes bytes;
  encode_unsubscribe(bytes, GetParam(), u);
  d->feed(bytes);
  d->take_written();
  d->feed(test::mqtt_subscribe(GetParam(), 6, "c"));
  EXPECT_EQ(suback(*d), std::vector<ReasonCode>{ReasonCode::success});
}

TEST_P(MqttLimitsTest, PublishRatePausesReadingUntilTheBucketRefills) {
  limits_.max_publish_rate = 4;  // a bucket of 4: the 5th message puts it in debt
  auto sub = connected("rate-sub");
  sub->feed(test::mqtt_subscribe(GetParam(), 1, "r/#"));
  suback(*sub);
  auto pub = connected("rate-pub");
  Bytes burst;
  for (int i = 0; i < 8; ++i) burst = test::concat(burst, test::mqtt_publish(GetParam(), "r/" + std::to_string(i), "x"));
  pub->feed(burst);
  EXPECT_TRUE(pub->link().paused());
  EXPECT_FALSE(pub->link().unconsumed().empty());
  EXPECT_EQ(broker_.counters().read()[core::Counter::publish_throttled], 1u);
  sub->run();
  EXPECT_EQ(test::split_mqtt(sub->take_written()).size(), 5u);
  // Reading resumes at the deadline, when the debt is paid: a quarter of a second here.
  ASSERT_TRUE(pub->link().deadline());
  const auto wait = *pub->link().deadline() - std::chrono::steady_clock::now();
  EXPECT_GT(wait, std::chrono::milliseconds(100));
  EXPECT_LE(wait, std::chrono::milliseconds(300));
  pub->session().on_deadline();  // too early: nothing changes
  EXPECT_TRUE(pub->link().paused());
  std::this_thread::sleep_until(*pub->link().deadline());
  pub->session().on_deadline();
  pub->run();
  EXPECT_FALSE(pub->link().closed());
  sub->run();
  // One more message per quarter second (the bucket refills 4 a second).
  EXPECT_EQ(test::split_mqtt(sub->take_written()).size(), 1u);
  EXPECT_TRUE(pub->link().paused());
}

TEST_P(MqttLimitsTest, PublishBytesRateCountsWholePackets) {
  limits_.max_publish_bytes_rate = 1000;
  auto pub = connected("bytes");
  // One message larger than a second's worth passes, then reading waits for the debt.
  pub->feed(test::concat(test::mqtt_publish(GetParam(), "b", std::string(1500, 'x')), test::mqtt_publish(GetParam(), "b", "y")));
  EXPECT_TRUE(pub->link().paused());
  ASSERT_TRUE(pub->link().deadline());
  EXPECT_GT(*pub->link().deadline() - std::chrono::steady_clock::now(), std::chrono::milliseconds(400));
}

TEST_P(MqttLimitsTest, PersistentlyTooFastV5ClientGetsDisconnect0x96) {
  limits_.max_publish_rate = 2;
  limits_.publish_rate_disconnect_after = std::chrono::seconds(1);
  auto pub = connected("flood");
  Bytes burst;
  for (int i = 0; i < 20; ++i) burst = test::concat(burst, test::mqtt_publish(GetParam(), "f", "x"));
  pub->feed(burst);
  pub->take_written();
  // Resumed at each deadline and over the rate again at once, for more than a second.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1600);
  while (!pub->link().closed() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_until(*pub->link().deadline());
    pub->session().on_deadline();
    pub->run();
  }
  if (v5()) {
    ASSERT_TRUE(pub->link().closed());
    auto packets = test::split_mqtt(pub->take_written());
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(test::disconnect_of(GetParam(), packets[0])->reason, ReasonCode::message_rate_too_high);
  } else {
    // 3.1.1 has no way to say it: the client is only slowed down.
    EXPECT_FALSE(pub->link().closed());
  }
}

TEST_P(MqttLimitsTest, NoLimitsNoPause) {
  auto pub = connected("free");
  Bytes burst;
  for (int i = 0; i < 100; ++i) burst = test::concat(burst, test::mqtt_publish(GetParam(), "n", "x"));
  pub->feed(burst);
  EXPECT_FALSE(pub->link().paused());
  EXPECT_TRUE(pub->link().unconsumed().empty());
}

INSTANTIATE_TEST_SUITE_P(Versions, MqttLimitsTest, ::testing::Values(ProtocolVersion::v311, ProtocolVersion::v5),
                         [](const auto& p) { return p.param == ProtocolVersion::v5 ? std::string("v5") : std::string("v311"); });

}  // namespace
}  // namespace outpost::mqtt
