// MqttSession over the in-memory link (tests/unit/support): CONNECT, QoS 1 and 2 between
// two sessions of one broker, protocol errors and MQTT 5 No Local, with no socket.
#include "core/broker.hpp"
#include "mqtt_driver.hpp"
#include "mqtt_wire.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>

namespace outpost::mqtt {

// Test names and failure messages say "v5", not "1-byte object <05>" (found by ADL).
[[maybe_unused]] static void PrintTo(ProtocolVersion v, std::ostream* os) {
  *os << (v == ProtocolVersion::v5 ? "v5" : v == ProtocolVersion::v311 ? "v311" : "v31");
}

namespace {

using test::Bytes;
using test::MqttPacket;
using test::SessionDriver;

class MqttSessionLinkTest : public ::testing::Test {
 protected:
  MqttSessionLinkTest() : broker_(store_) {}

  // A session on this broker, on the one I/O thread all of this test's sessions share.
  std::unique_ptr<SessionDriver> session() {
    test::MqttDriverOptions options;
    options.io = io_;
    return test::make_mqtt_driver(broker_, settings_, std::move(options));
  }

  // A connected session: CONNECT, CONNACK 0 checked and consumed.
  std::unique_ptr<SessionDriver> connected(ProtocolVersion v, std::string_view client_id) {
    auto d = session();
    d->feed(test::mqtt_connect(v, client_id));
    auto packets = test::split_mqtt(d->take_written());
    EXPECT_EQ(packets.size(), 1u);
    if (packets.size() == 1) {
      auto connack = test::connack_of(v, packets[0]);
      EXPECT_TRUE(connack);
      if (connack) {
        EXPECT_EQ(connack->reason, ReasonCode::success);
      }
    }
    EXPECT_FALSE(d->link().closed());
    return d;
  }

  // SUBSCRIBE, SUBACK with the granted QoS checked and consumed.
  void subscribe(SessionDriver& d, ProtocolVersion v, std::string_view filter, SubscriptionOptions options) {
    d.feed(test::mqtt_subscribe(v, 1, filter, options));
    auto packets = test::split_mqtt(d.take_written());
    ASSERT_EQ(packets.size(), 1u);
    auto suback = test::suback_of(v, packets[0]);
    ASSERT_TRUE(suback);
    EXPECT_EQ(suback->packet_id, 1);
    ASSERT_EQ(suback->codes.size(), 1u);
    EXPECT_EQ(suback->codes[0], static_cast<ReasonCode>(options.qos));
  }

  store::MemoryStore store_;
  core::Broker broker_;
  MqttSettings settings_;
  std::shared_ptr<boost::asio::io_context> io_ = std::make_shared<boost::asio::io_context>();
};

std::string version_name(const ::testing::TestParamInfo<ProtocolVersion>& p) {
  return p.param == ProtocolVersion::v5 ? "v5" : "v311";
}

SubscriptionOptions qos(std::uint8_t q, bool no_local = false) {
  SubscriptionOptions o;
  o.qos = q;
  o.no_local = no_local;
  return o;
}

class MqttConnectTest : public MqttSessionLinkTest, public ::testing::WithParamInterface<ProtocolVersion> {};

TEST_P(MqttConnectTest, ConnectGetsConnackZero) {
  const ProtocolVersion v = GetParam();
  auto d = session();
  auto& link = d->link();
  // Until CONNECT, the connect timeout is armed [MQTT-3.1.4-1 leaves the time to the server].
  ASSERT_TRUE(link.deadline());
  EXPECT_GT(*link.deadline(), std::chrono::steady_clock::now());
  EXPECT_LE(*link.deadline(), std::chrono::steady_clock::now() + settings_.connect_timeout);

  d->feed(test::mqtt_connect(v, "client-1"));
  auto packets = test::split_mqtt(d->take_written());
  ASSERT_EQ(packets.size(), 1u);
  auto connack = test::connack_of(v, packets[0]);
  ASSERT_TRUE(connack);
  EXPECT_EQ(connack->reason, ReasonCode::success);
  EXPECT_EQ(connack->raw_code, 0);
  EXPECT_FALSE(connack->session_present);
  if (v == ProtocolVersion::v5) {
    EXPECT_EQ(connack->properties.receive_maximum, settings_.receive_maximum);
    EXPECT_EQ(connack->properties.topic_alias_maximum, settings_.topic_alias_maximum);
  }
  EXPECT_FALSE(link.closed());
  // Reading paused while the session was claimed, and resumed; keepalive 0: no deadline.
  EXPECT_FALSE(link.paused());
  EXPECT_GE(link.pauses(), 1);
  EXPECT_EQ(link.deadline(), std::chrono::steady_clock::time_point::max());
}

TEST_P(MqttConnectTest, PacketsBehindConnectInOneReadWaitForTheSession) {
  // The claim of the session pauses reading: a SUBSCRIBE that came in the same read as
  // CONNECT is handled once it resumes, after the CONNACK.
  const ProtocolVersion v = GetParam();
  auto d = session();
  d->feed(test::concat(test::mqtt_connect(v, "pipelined"), test::mqtt_subscribe(v, 3, "a/b", qos(1))));
  auto packets = test::split_mqtt(d->take_written());
  ASSERT_EQ(test::types_of(packets), (std::vector{PacketType::connack, PacketType::suback}));
  auto suback = test::suback_of(v, packets[1]);
  ASSERT_TRUE(suback);
  EXPECT_EQ(suback->packet_id, 3);
  EXPECT_TRUE(d->link().unconsumed().empty());
}

TEST_P(MqttConnectTest, SecondConnectIsAProtocolError) {
  const ProtocolVersion v = GetParam();
  auto d = connected(v, "twice");
  d->feed(test::mqtt_connect(v, "twice"));
  EXPECT_TRUE(d->link().closed());
  EXPECT_TRUE(d->link().ended());  // the session heard of the close, once
  EXPECT_NE(d->link().close_reason().find("second CONNECT"), std::string::npos) << d->link().close_reason();
  auto packets = test::split_mqtt(d->take_written());
  if (v == ProtocolVersion::v5) {
    // A 5.0 client is told why [MQTT-3.1.0-2, 4.13.1].
    ASSERT_EQ(packets.size(), 1u);
    auto disconnect = test::disconnect_of(v, packets[0]);
    ASSERT_TRUE(disconnect);
    EXPECT_EQ(disconnect->reason, ReasonCode::protocol_error);
  } else {
    EXPECT_TRUE(packets.empty());
  }
  // Nothing more is read from a closing connection.
  d->feed(test::mqtt_pingreq());
  EXPECT_TRUE(d->take_written().empty());
}

INSTANTIATE_TEST_SUITE_P(Versions, MqttConnectTest, ::testing::Values(ProtocolVersion::v311, ProtocolVersion::v5),
                         version_name);

class MqttQosTest : public MqttSessionLinkTest, public ::testing::WithParamInterface<ProtocolVersion> {};

TEST_P(MqttQosTest, Qos1FromOneSessionToASubscriber) {
  const ProtocolVersion v = GetParam();
  auto sub = connected(v, "sub");
  subscribe(*sub, v, "sensors/+/temp", qos(1));
  auto pub = connected(v, "pub");

  pub->feed(test::mqtt_publish(v, "sensors/room1/temp", "21.5", 1, 7));
  auto to_pub = test::split_mqtt(pub->take_written());
  ASSERT_EQ(test::types_of(to_pub), std::vector{PacketType::puback});
  auto puback = test::ack_of(v, to_pub[0]);
  ASSERT_TRUE(puback);
  EXPECT_EQ(puback->packet_id, 7);
  EXPECT_EQ(puback->reason, ReasonCode::success);

  auto to_sub = test::split_mqtt(sub->take_written());
  ASSERT_EQ(test::types_of(to_sub), std::vector{PacketType::publish});
  auto publish = test::publish_of(v, to_sub[0]);
  ASSERT_TRUE(publish);
  EXPECT_EQ(publish->topic, "sensors/room1/temp");
  EXPECT_EQ(test::to_string(publish->payload), "21.5");
  EXPECT_EQ(publish->qos, 1);
  EXPECT_FALSE(publish->dup);
  EXPECT_NE(publish->packet_id, 0);
  // The payload went out as the shared buffer of the message, not a copy.
  EXPECT_EQ(sub->link().shared_writes(), 1u);

  // The subscriber's PUBACK ends the exchange: nothing is re-sent on the next wake-up.
  sub->feed(test::mqtt_ack(v, PacketType::puback, publish->packet_id));
  sub->feed(test::mqtt_pingreq());
  EXPECT_EQ(test::types_of(test::split_mqtt(sub->take_written())), std::vector{PacketType::pingresp});
}

TEST_P(MqttQosTest, Qos2FlowBothWays) {
  const ProtocolVersion v = GetParam();
  auto sub = connected(v, "sub2");
  subscribe(*sub, v, "cmd/#", qos(2));
  auto pub = connected(v, "pub2");

  // Publisher -> broker: PUBLISH, PUBREC; the message is routed at once.
  pub->feed(test::mqtt_publish(v, "cmd/valve", "open", 2, 9));
  auto to_pub = test::split_mqtt(pub->take_written());
  ASSERT_EQ(test::types_of(to_pub), std::vector{PacketType::pubrec});
  EXPECT_EQ(test::ack_of(v, to_pub[0])->packet_id, 9);

  auto to_sub = test::split_mqtt(sub->take_written());
  ASSERT_EQ(test::types_of(to_sub), std::vector{PacketType::publish});
  auto publish = test::publish_of(v, to_sub[0]);
  ASSERT_TRUE(publish);
  EXPECT_EQ(publish->qos, 2);
  EXPECT_EQ(test::to_string(publish->payload), "open");
  const std::uint16_t sub_id = publish->packet_id;

  // The same PUBLISH again before PUBREL (a re-send): acknowledged, not routed twice
  // [MQTT-4.3.3-2].
  pub->feed(test::mqtt_publish(v, "cmd/valve", "open", 2, 9, false, true));
  to_pub = test::split_mqtt(pub->take_written());
  ASSERT_EQ(test::types_of(to_pub), std::vector{PacketType::pubrec});
  EXPECT_TRUE(sub->take_written().empty());

  // Broker -> subscriber: PUBREC, PUBREL, PUBCOMP.
  sub->feed(test::mqtt_ack(v, PacketType::pubrec, sub_id));
  to_sub = test::split_mqtt(sub->take_written());
  ASSERT_EQ(test::types_of(to_sub), std::vector{PacketType::pubrel});
  EXPECT_EQ(to_sub[0].flags, 0x02);  // [MQTT-3.6.1-1]
  EXPECT_EQ(test::ack_of(v, to_sub[0])->packet_id, sub_id);
  sub->feed(test::mqtt_ack(v, PacketType::pubcomp, sub_id));
  EXPECT_TRUE(sub->take_written().empty());

  // Publisher: PUBREL, PUBCOMP.
  pub->feed(test::mqtt_ack(v, PacketType::pubrel, 9));
  to_pub = test::split_mqtt(pub->take_written());
  ASSERT_EQ(test::types_of(to_pub), std::vector{PacketType::pubcomp});
  auto pubcomp = test::ack_of(v, to_pub[0]);
  ASSERT_TRUE(pubcomp);
  EXPECT_EQ(pubcomp->packet_id, 9);
  EXPECT_EQ(pubcomp->reason, ReasonCode::success);

  // The id is free again: a new QoS 2 PUBLISH with it is a new message.
  pub->feed(test::mqtt_publish(v, "cmd/valve", "close", 2, 9));
  EXPECT_EQ(test::types_of(test::split_mqtt(pub->take_written())), std::vector{PacketType::pubrec});
  to_sub = test::split_mqtt(sub->take_written());
  ASSERT_EQ(test::types_of(to_sub), std::vector{PacketType::publish});
  EXPECT_EQ(test::to_string(test::publish_of(v, to_sub[0])->payload), "close");
}

INSTANTIATE_TEST_SUITE_P(Versions, MqttQosTest, ::testing::Values(ProtocolVersion::v311, ProtocolVersion::v5),
                         version_name);

TEST_F(MqttSessionLinkTest, NoLocalKeepsOwnPublishesAway) {
  constexpr auto v = ProtocolVersion::v5;
  auto self = connected(v, "self");
  subscribe(*self, v, "chat/room", qos(1, true));
  auto other = connected(v, "other");

  // Its own publish does not come back [MQTT-3.8.3-3]; nobody else matched.
  self->feed(test::mqtt_publish(v, "chat/room", "mine", 1, 1));
  auto to_self = test::split_mqtt(self->take_written());
  ASSERT_EQ(test::types_of(to_self), std::vector{PacketType::puback});
  EXPECT_EQ(test::ack_of(v, to_self[0])->reason, ReasonCode::no_matching_subscribers);

  // Another session's publish does.
  other->feed(test::mqtt_publish(v, "chat/room", "theirs", 1, 1));
  EXPECT_EQ(test::ack_of(v, test::split_mqtt(other->take_written()).at(0))->reason, ReasonCode::success);
  to_self = test::split_mqtt(self->take_written());
  ASSERT_EQ(test::types_of(to_self), std::vector{PacketType::publish});
  auto publish = test::publish_of(v, to_self[0]);
  ASSERT_TRUE(publish);
  EXPECT_EQ(test::to_string(publish->payload), "theirs");
}

TEST_F(MqttSessionLinkTest, PeerCloseEndsTheSessionAndFreesTheClientId) {
  auto first = connected(ProtocolVersion::v311, "same-id");
  first->close();
  EXPECT_TRUE(first->link().ended());
  // A clean session ended with its connection: a new one starts without it.
  auto d = session();
  d->feed(test::mqtt_connect(ProtocolVersion::v311, "same-id"));
  auto packets = test::split_mqtt(d->take_written());
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_FALSE(test::connack_of(ProtocolVersion::v311, packets[0])->session_present);
}

TEST_F(MqttSessionLinkTest, ConnectTimeoutClosesASilentConnection) {
  auto d = session();
  d->expire_deadline();
  EXPECT_TRUE(d->link().closed());
  EXPECT_EQ(d->link().close_reason(), "connect timeout");
  EXPECT_TRUE(d->take_written().empty());
}

}  // namespace
}  // namespace outpost::mqtt

namespace outpost::mqtt {
namespace {

// The window towards a client without a Receive Maximum: InflightWindow::kInitial at
// first, then adapted, never above mqtt.max_inflight.
class MqttWindowTest : public MqttSessionLinkTest {
 protected:
  // Publishes `n` QoS 1 messages to "w/t" from a fresh publisher.
  void publish(int n) {
    auto pub = connected(ProtocolVersion::v311, "pub" + std::to_string(++publishers_));
    for (int i = 0; i < n; ++i) {
      pub->feed(test::mqtt_publish(ProtocolVersion::v311, "w/t", "m", 1, static_cast<std::uint16_t>(i % 60000 + 1)));
    }
    pub->take_written();
  }
  // The packet ids of the PUBLISHes written to `sub` since the last call.
  static std::vector<std::uint16_t> sent(SessionDriver& sub) {
    std::vector<std::uint16_t> ids;
    for (const auto& p : test::split_mqtt(sub.take_written())) {
      auto publish = test::publish_of(ProtocolVersion::v311, p);
      EXPECT_TRUE(publish);
      if (publish) ids.push_back(publish->packet_id);
    }
    return ids;
  }
  int publishers_ = 0;
};

TEST_F(MqttWindowTest, StartsAtTheInitialWindowAndKeepsToTheCap) {
  auto sub = connected(ProtocolVersion::v311, "win-sub");
  subscribe(*sub, ProtocolVersion::v311, "w/#", qos(1));
  publish(3000);
  auto ids = sent(*sub);
  EXPECT_EQ(ids.size(), InflightWindow::kInitial);
  // Acknowledged at once, round after round: more may be in flight, never more than
  // what is left or the cap, and every message arrives.
  std::size_t delivered = 0;
  for (int round = 0; round < 200 && !ids.empty(); ++round) {
    EXPECT_LE(ids.size(), settings_.max_inflight);
    delivered += ids.size();
    for (auto id : ids) sub->feed(test::mqtt_ack(ProtocolVersion::v311, PacketType::puback, id));
    ids = sent(*sub);
  }
  EXPECT_EQ(delivered, 3000u);
}

TEST_F(MqttWindowTest, NeverAboveMaxInflight) {
  settings_.max_inflight = 10;
  auto sub = connected(ProtocolVersion::v311, "capped-sub");
  subscribe(*sub, ProtocolVersion::v311, "w/#", qos(1));
  publish(500);
  std::size_t delivered = 0;
  auto ids = sent(*sub);
  for (int round = 0; round < 100 && !ids.empty(); ++round) {
    EXPECT_EQ(ids.size(), 10u);
    delivered += ids.size();
    for (auto id : ids) sub->feed(test::mqtt_ack(ProtocolVersion::v311, PacketType::puback, id));
    ids = sent(*sub);
  }
  EXPECT_EQ(delivered, 500u);
}

}  // namespace
}  // namespace outpost::mqtt
