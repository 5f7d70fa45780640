// Enhanced authentication (MQTT 5 section 4.12) through the EnhancedAuth hook: an
// MqttSession on an in-memory link, driven with encoded packets.
#include "core/broker.hpp"
#include "mqtt/codec/codec.hpp"
#include "mqtt_driver.hpp"
#include "mqtt_wire.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <deque>

namespace outpost::mqtt {
namespace {

using test::Bytes;
using test::MemoryLink;

// The packets written so far, as (type, body); consumed.
std::deque<std::pair<PacketType, Bytes>> written_packets(MemoryLink& link) {
  std::deque<std::pair<PacketType, Bytes>> result;
  for (auto& p : test::split_mqtt(link.take_written())) result.emplace_back(p.type, std::move(p.body));
  return result;
}

// A challenge-response method: the client proves it knows the secret by answering
// the challenge with "<challenge>:<secret>".
class ChallengeMethod final : public EnhancedAuth {
 public:
  std::unique_ptr<AuthExchange> begin(std::string_view method, std::string_view) const override {
    if (method != "CHALLENGE") return nullptr;
    return std::make_unique<Exchange>();
  }

 private:
  struct Exchange final : AuthExchange {
    int round = 0;
    AuthOutcome step(std::string_view data) override {
      if (round++ == 0) return {AuthOutcome::Kind::proceed, "nonce-1"};
      if (data == "nonce-1:secret") return {AuthOutcome::Kind::success, "welcome"};
      return {AuthOutcome::Kind::failure, {}};
    }
  };
};

class EnhancedAuthTest : public ::testing::Test {
 protected:
  EnhancedAuthTest()
      : broker_(store_),
        driver_(test::make_mqtt_driver(broker_, settings_, with_challenge(false))),
        link_(&driver_->link()) {}

  static test::MqttDriverOptions with_challenge(bool allow_anonymous) {
    test::MqttDriverOptions options;
    options.allow_anonymous = allow_anonymous;
    options.enhanced_auth = std::make_shared<ChallengeMethod>();
    return options;
  }

  void feed(const Bytes& bytes) {
    driver_->feed(bytes);
    EXPECT_TRUE(link_->unconsumed().empty());
  }

  Bytes connect(std::optional<std::string> method, std::optional<std::string> data) {
    ConnectPacket c;
    c.version = ProtocolVersion::v5;
    c.client_id = "auth-client";
    c.properties.authentication_method = std::move(method);
    c.properties.authentication_data = std::move(data);
    Bytes out;
    encode_connect(out, c);
    return out;
  }

  static Bytes auth(ReasonCode reason, std::string method, std::string data) {
    Properties p;
    p.authentication_method = std::move(method);
    p.authentication_data = std::move(data);
    Bytes out;
    encode_auth(out, reason, &p);
    return out;
  }

  store::MemoryStore store_;
  core::Broker broker_;
  MqttSettings settings_;
  std::unique_ptr<test::SessionDriver> driver_;
  MemoryLink* link_;
};

TEST_F(EnhancedAuthTest, UnknownMethodIsRefusedWith0x8C) {
  feed(connect("SCRAM-SHA-256", std::nullopt));
  auto packets = written_packets(*link_);
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_EQ(packets[0].first, PacketType::connack);
  EXPECT_EQ(decode_connack(ProtocolVersion::v5, packets[0].second)->reason, ReasonCode::bad_authentication_method);
  EXPECT_TRUE(link_->closed());
}

TEST_F(EnhancedAuthTest, ChallengeAndResponseThenConnack) {
  feed(connect("CHALLENGE", "hello"));
  auto packets = written_packets(*link_);
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_EQ(packets[0].first, PacketType::auth);
  auto challenge = decode_auth(packets[0].second);
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->reason, ReasonCode::continue_authentication);
  EXPECT_EQ(challenge->properties.authentication_method, "CHALLENGE");
  EXPECT_EQ(challenge->properties.authentication_data, "nonce-1");

  feed(auth(ReasonCode::continue_authentication, "CHALLENGE", "nonce-1:secret"));
  packets = written_packets(*link_);
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_EQ(packets[0].first, PacketType::connack);
  auto connack = decode_connack(ProtocolVersion::v5, packets[0].second);
  ASSERT_TRUE(connack);
  EXPECT_EQ(connack->reason, ReasonCode::success);
  EXPECT_EQ(connack->properties.authentication_method, "CHALLENGE");
  EXPECT_EQ(connack->properties.authentication_data, "welcome");
  EXPECT_FALSE(link_->closed());

  // Re-authentication on the live connection: a new exchange, ending in AUTH 0x00.
  feed(auth(ReasonCode::re_authenticate, "CHALLENGE", ""));
  packets = written_packets(*link_);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(decode_auth(packets[0].second)->reason, ReasonCode::continue_authentication);
  feed(auth(ReasonCode::continue_authentication, "CHALLENGE", "nonce-1:secret"));
  packets = written_packets(*link_);
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_EQ(packets[0].first, PacketType::auth);
  EXPECT_EQ(decode_auth(packets[0].second)->reason, ReasonCode::success);
  EXPECT_FALSE(link_->closed());
}

TEST_F(EnhancedAuthTest, WrongResponseIsNotAuthorized) {
  feed(connect("CHALLENGE", std::nullopt));
  written_packets(*link_);
  feed(auth(ReasonCode::continue_authentication, "CHALLENGE", "nonce-1:guess"));
  auto packets = written_packets(*link_);
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_EQ(packets[0].first, PacketType::connack);
  EXPECT_EQ(decode_connack(ProtocolVersion::v5, packets[0].second)->reason, ReasonCode::not_authorized);
  EXPECT_TRUE(link_->closed());
}

TEST_F(EnhancedAuthTest, AnotherMethodInAuthIsAProtocolError) {
  feed(connect("CHALLENGE", std::nullopt));
  written_packets(*link_);
  feed(auth(ReasonCode::continue_authentication, "OTHER", "x"));
  auto packets = written_packets(*link_);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(decode_connack(ProtocolVersion::v5, packets[0].second)->reason, ReasonCode::protocol_error);
  EXPECT_TRUE(link_->closed());
}

TEST_F(EnhancedAuthTest, AuthWithoutAMethodInConnectIsAProtocolError) {
  settings_.max_packet_size = 1 << 20;
  auto driver = test::make_mqtt_driver(broker_, settings_, with_challenge(true));
  auto& link = driver->link();
  driver->feed(connect(std::nullopt, std::nullopt));
  ASSERT_EQ(written_packets(link).size(), 1u);  // CONNACK
  driver->feed(auth(ReasonCode::re_authenticate, "CHALLENGE", ""));
  auto written = written_packets(link);
  ASSERT_EQ(written.size(), 1u);
  ASSERT_EQ(written[0].first, PacketType::disconnect);
  EXPECT_EQ(decode_disconnect(ProtocolVersion::v5, written[0].second)->reason, ReasonCode::protocol_error);
}

}  // namespace
}  // namespace outpost::mqtt
