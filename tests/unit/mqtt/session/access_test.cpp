// The identity and access seams as an MQTT session uses them (tests/unit/support's
// in-memory link): the authenticator's answer arrives later, on the connection's thread,
// and decides CONNACK; the access control decides what is published and subscribed.
#include "core/broker.hpp"
#include "held_authenticator.hpp"
#include "mqtt_driver.hpp"
#include "mqtt_wire.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace outpost::mqtt {
namespace {

using test::SessionDriver;

using test::HeldAuthenticator;

class DenySecret final : public core::AccessControl {
 public:
  bool may_publish(const core::ClientInfo& c, std::string_view, std::string_view topic) const override {
    last_user = std::string(c.user.view());
    return !topic.starts_with("secret/");
  }
  bool may_subscribe(const core::ClientInfo&, std::string_view, std::string_view filter) const override {
    return !filter.starts_with("secret/");
  }
  bool may_consume(const core::ClientInfo&, std::string_view, std::string_view) const override { return true; }
  mutable std::string last_user;
};

class MqttAccessTest : public ::testing::TestWithParam<ProtocolVersion> {
 protected:
  MqttAccessTest() : broker_(store_) {}

  std::unique_ptr<SessionDriver> session(std::shared_ptr<const core::Authenticator> auth = nullptr) {
    test::MqttDriverOptions options;
    options.io = io_;
    options.authenticator = std::move(auth);
    options.access = access_;
    return test::make_mqtt_driver(broker_, settings_, std::move(options));
  }

  ReasonCode connack(SessionDriver& d) {
    auto packets = test::split_mqtt(d.take_written());
    EXPECT_EQ(packets.size(), 1u);
    if (packets.size() != 1) return ReasonCode::unspecified_error;
    auto c = test::connack_of(GetParam(), packets[0]);
    return c ? c->reason : ReasonCode::unspecified_error;
  }

  Bytes connect_with(std::string user, std::string password) {
    ConnectPacket c;
    c.version = GetParam();
    c.client_id = "who";
    c.username = user_ = std::move(user);
    password_ = std::move(password);
    c.password = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(password_.data()), password_.size());
    return test::mqtt_connect(c);
  }

  store::MemoryStore store_;
  core::Broker broker_;
  MqttSettings settings_;
  std::shared_ptr<DenySecret> access_ = std::make_shared<DenySecret>();
  std::shared_ptr<boost::asio::io_context> io_ = std::make_shared<boost::asio::io_context>();
  std::string user_, password_;
};

TEST_P(MqttAccessTest, ConnackWaitsForTheAuthenticatorAndCarriesItsAnswer) {
  auto auth = std::make_shared<HeldAuthenticator>();
  auto d = session(auth);
  d->feed(test::concat(connect_with("alice", "s3cret"), test::mqtt_pingreq()));
  // Asked with what the client presented; nothing answered, nothing read further.
  ASSERT_EQ(auth->calls.size(), 1u);
  EXPECT_EQ(auth->calls[0].request.protocol, core::Protocol::mqtt);
  EXPECT_EQ(auth->calls[0].request.client_id, "who");
  EXPECT_EQ(auth->calls[0].request.user, "alice");
  EXPECT_EQ(auth->calls[0].request.password, "s3cret");
  EXPECT_EQ(auth->calls[0].request.listener, "test");
  EXPECT_TRUE(d->take_written().empty());
  EXPECT_TRUE(d->link().paused());
  auth->answer(core::AuthDecision{core::AuthStatus::accepted, "alice", {}});
  d->run();
  auto packets = test::split_mqtt(d->take_written());
  // CONNACK, then the PINGREQ that waited behind CONNECT is answered.
  ASSERT_EQ(test::types_of(packets), (std::vector{PacketType::connack, PacketType::pingresp}));
  EXPECT_EQ(test::connack_of(GetParam(), packets[0])->reason, ReasonCode::success);
  // The user is the client's identity from now on.
  d->feed(test::mqtt_publish(GetParam(), "open/t", "x", 0));
  EXPECT_EQ(access_->last_user, "alice");
}

TEST_P(MqttAccessTest, RefusalsMapToTheProtocolsCodes) {
  auto auth = std::make_shared<HeldAuthenticator>();
  auto bad = session(auth);
  bad->feed(connect_with("alice", "wrong"));
  auth->answer(core::AuthDecision{core::AuthStatus::bad_credentials, {}, "wrong password"});
  bad->run();
  // 3.1.1: 4 (bad user name or password); 5.0: 0x86.
  EXPECT_EQ(connack(*bad), ReasonCode::bad_user_name_or_password);
  EXPECT_TRUE(bad->link().closed());

  auto refused = session(auth);
  refused->feed(test::mqtt_connect(GetParam(), "anon"));
  EXPECT_FALSE(auth->calls[0].request.user.has_value());
  auth->answer(core::AuthDecision{core::AuthStatus::not_authorized, {}, "anonymous"});
  refused->run();
  // 3.1.1: 5 (not authorized); 5.0: 0x87.
  EXPECT_EQ(connack(*refused), ReasonCode::not_authorized);
  EXPECT_TRUE(refused->link().closed());
}

TEST_P(MqttAccessTest, AConnectionThatEndsBeforeTheAnswerIsForgotten) {
  auto auth = std::make_shared<HeldAuthenticator>();
  auto d = session(auth);
  d->feed(connect_with("alice", "s3cret"));
  d->close();
  auth->answer(core::AuthDecision{core::AuthStatus::accepted, "alice", {}});
  d->run();  // the answer finds nobody: no CONNACK, no crash
  EXPECT_TRUE(d->take_written().empty());
}

TEST_P(MqttAccessTest, DeniedPublishIsNotDeliveredAndIsAcknowledgedAsTheVersionSays) {
  const ProtocolVersion v = GetParam();
  auto sub = session();
  sub->feed(test::mqtt_connect(v, "sub"));
  sub->take_written();
  SubscriptionOptions o;
  o.qos = 1;
  sub->feed(test::mqtt_subscribe(v, 1, "#", o));
  sub->take_written();

  auto pub = session();
  pub->feed(test::mqtt_connect(v, "pub"));
  pub->take_written();
  pub->feed(test::mqtt_publish(v, "secret/plans", "x", 1, 7));
  pub->run();
  auto packets = test::split_mqtt(pub->take_written());
  ASSERT_EQ(packets.size(), 1u);
  auto ack = test::ack_of(v, packets[0]);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->packet_id, 7);
  // 5.0 says why on the PUBACK; 3.1.1 cannot refuse one message: acknowledged, dropped.
  EXPECT_EQ(ack->reason, v == ProtocolVersion::v5 ? ReasonCode::not_authorized : ReasonCode::success);
  EXPECT_FALSE(pub->link().closed());
  sub->run();
  EXPECT_TRUE(sub->take_written().empty());
  EXPECT_EQ(broker_.counters().read()[core::Counter::refused_not_authorized], 1u);

  // An allowed topic still flows.
  pub->feed(test::mqtt_publish(v, "open/plans", "y", 1, 8));
  sub->run();
  auto delivered = test::split_mqtt(sub->take_written());
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(test::publish_of(v, delivered[0])->topic, "open/plans");
}

TEST_P(MqttAccessTest, DeniedSubscriptionGetsAFailureCode) {
  const ProtocolVersion v = GetParam();
  auto d = session();
  d->feed(test::mqtt_connect(v, "sub"));
  d->take_written();
  SubscriptionOptions o;
  o.qos = 1;
  d->feed(test::mqtt_subscribe(v, 2, "secret/#", o));
  auto packets = test::split_mqtt(d->take_written());
  ASSERT_EQ(packets.size(), 1u);
  auto suback = test::suback_of(v, packets[0]);
  ASSERT_TRUE(suback);
  ASSERT_EQ(suback->codes.size(), 1u);
  // 3.1.1: 0x80; 5.0: 0x87 not authorized.
  EXPECT_EQ(suback->codes[0], v == ProtocolVersion::v5 ? ReasonCode::not_authorized : ReasonCode::unspecified_error);
}

INSTANTIATE_TEST_SUITE_P(Versions, MqttAccessTest, ::testing::Values(ProtocolVersion::v311, ProtocolVersion::v5),
                         [](const auto& p) { return p.param == ProtocolVersion::v5 ? std::string("v5") : std::string("v311"); });

}  // namespace
}  // namespace outpost::mqtt
