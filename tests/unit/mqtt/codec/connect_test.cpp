#include "codec_test_util.hpp"

namespace outpost::mqtt {
namespace {

using test::body_of;
using test::bytes;
using test::reason_of;

const std::uint8_t kWillPayload[] = {'o', 'f', 'f'};
const std::uint8_t kPassword[] = {'p', 'w', 0x00, 0xFF};  // binary: any bytes

ConnectPacket full_connect(ProtocolVersion v) {
  ConnectPacket c;
  c.version = v;
  c.clean_start = false;
  c.keep_alive = 30;
  c.client_id = "dev-1";
  Will w;
  w.topic = "dev/1/status";
  w.payload = kWillPayload;
  w.qos = 1;
  w.retain = true;
  c.will = w;
  c.username = "user";
  c.password = std::span<const std::uint8_t>(kPassword);
  if (v == ProtocolVersion::v5) {
    c.properties.session_expiry_interval = 3600;
    c.properties.receive_maximum = 10;
    c.properties.maximum_packet_size = 65536;
    c.properties.topic_alias_maximum = 5;
    c.properties.request_response_information = 1;
    c.properties.request_problem_information = 0;
    c.properties.authentication_method = "SCRAM-SHA-1";
    c.properties.authentication_data = std::string("\x01\x02", 2);
    c.properties.user_properties = {{"k", "v"}, {"k", "w"}};
    c.will->properties.will_delay_interval = 5;
    c.will->properties.payload_format_indicator = 1;
    c.will->properties.message_expiry_interval = 99;
    c.will->properties.content_type = "text/plain";
    c.will->properties.response_topic = "replies/1";
    c.will->properties.correlation_data = "corr";
  }
  return c;
}

TEST(Connect, RoundTripEachVersion) {
  for (auto v : test::kAllVersions) {
    const ConnectPacket c = full_connect(v);
    Bytes out;
    encode_connect(out, c);
    EXPECT_EQ(out.capacity(), out.size());  // grown once, to the packet
    auto d = decode_connect(body_of(out));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->version, v);
    EXPECT_FALSE(d->clean_start);
    EXPECT_EQ(d->keep_alive, 30);
    EXPECT_EQ(d->client_id, "dev-1");
    ASSERT_TRUE(d->will);
    EXPECT_EQ(d->will->topic, "dev/1/status");
    EXPECT_EQ(d->will->qos, 1);
    EXPECT_TRUE(d->will->retain);
    EXPECT_EQ(test::as_string(d->will->payload), "off");
    EXPECT_EQ(d->username.value_or(""), "user");
    ASSERT_TRUE(d->password);
    EXPECT_EQ(test::as_string(*d->password), std::string("pw\x00\xFF", 4));
    if (v == ProtocolVersion::v5) {
      EXPECT_EQ(d->properties.session_expiry_interval.value_or(0), 3600u);
      EXPECT_EQ(d->properties.receive_maximum.value_or(0), 10);
      EXPECT_EQ(d->properties.maximum_packet_size.value_or(0), 65536u);
      EXPECT_EQ(d->properties.topic_alias_maximum.value_or(0), 5);
      EXPECT_EQ(d->properties.request_response_information.value_or(9), 1);
      EXPECT_EQ(d->properties.request_problem_information.value_or(9), 0);
      EXPECT_EQ(d->properties.authentication_method.value_or(""), "SCRAM-SHA-1");
      EXPECT_EQ(d->properties.authentication_data.value_or(""), std::string("\x01\x02", 2));
      EXPECT_EQ(d->properties.user_properties, c.properties.user_properties);
      EXPECT_EQ(d->will->properties.will_delay_interval.value_or(0), 5u);
      EXPECT_EQ(d->will->properties.payload_format_indicator.value_or(0), 1);
      EXPECT_EQ(d->will->properties.message_expiry_interval.value_or(0), 99u);
      EXPECT_EQ(d->will->properties.content_type.value_or(""), "text/plain");
      EXPECT_EQ(d->will->properties.response_topic.value_or(""), "replies/1");
      EXPECT_EQ(d->will->properties.correlation_data.value_or(""), "corr");
    } else {
      EXPECT_TRUE(d->properties.empty());
    }
    Bytes again;
    encode_connect(again, *d);
    EXPECT_EQ(again, out);
  }
}

TEST(Connect, MinimalEachVersion) {
  for (auto v : test::kAllVersions) {
    ConnectPacket c;
    c.version = v;
    c.client_id = "";  // empty ids decode; the broker decides
    Bytes out;
    encode_connect(out, c);
    auto d = decode_connect(body_of(out));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->version, v);
    EXPECT_TRUE(d->clean_start);
    EXPECT_EQ(d->client_id, "");
    EXPECT_FALSE(d->will);
    EXPECT_FALSE(d->username);
    EXPECT_FALSE(d->password);
  }
}

TEST(Connect, ClientIdIsAViewIntoTheInput) {
  Bytes out;
  encode_connect(out, full_connect(ProtocolVersion::v311));
  auto body = body_of(out);
  auto d = decode_connect(body);
  ASSERT_TRUE(d);
  EXPECT_GE(reinterpret_cast<const std::uint8_t*>(d->client_id.data()), body.data());
  EXPECT_LT(reinterpret_cast<const std::uint8_t*>(d->client_id.data()), body.data() + body.size());
}

// MQTT 3.1.1 figure 3.6: protocol MQTT level 4, flags 0xCE (user name, password, will
// QoS 1, will, clean session), keep alive 10; the payload follows the flags.
TEST(Connect, GoldenVariableHeader311) {
  const Bytes packet = bytes({0x10, 0x19, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xCE, 0x00, 0x0A,  //
                              0x00, 0x01, 'c',                                                    // client id
                              0x00, 0x01, 't', 0x00, 0x01, 'm',                                   // will
                              0x00, 0x01, 'u', 0x00, 0x01, 'p'});                                 // user, password
  auto d = decode_connect(body_of(packet));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->version, ProtocolVersion::v311);
  EXPECT_TRUE(d->clean_start);
  EXPECT_EQ(d->keep_alive, 10);
  ASSERT_TRUE(d->will);
  EXPECT_EQ(d->will->qos, 1);
  EXPECT_FALSE(d->will->retain);
  EXPECT_EQ(d->username.value_or(""), "u");
  Bytes again;
  encode_connect(again, *d);
  EXPECT_EQ(again, packet);
}

// MQTT 5.0 figure 3-7: level 5, flags 0xC2, keep alive 10, properties: session expiry
// interval 10.
TEST(Connect, GoldenVariableHeader5) {
  const Bytes packet = bytes({0x10, 0x19, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0xC2, 0x00, 0x0A,  //
                              0x05, 0x11, 0x00, 0x00, 0x00, 0x0A,                                 //
                              0x00, 0x01, 'c', 0x00, 0x01, 'u', 0x00, 0x01, 'p'});
  auto d = decode_connect(body_of(packet));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->version, ProtocolVersion::v5);
  EXPECT_TRUE(d->clean_start);
  EXPECT_EQ(d->keep_alive, 10);
  EXPECT_EQ(d->properties.session_expiry_interval.value_or(0), 10u);
  Bytes again;
  encode_connect(again, *d);
  EXPECT_EQ(again, packet);
}

TEST(Connect, GoldenMqtt31) {
  const Bytes packet = bytes({0x10, 0x11, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03, 0x02, 0x00, 0x3C,  //
                              0x00, 0x03, 'a', 'b', 'c'});
  auto d = decode_connect(body_of(packet));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->version, ProtocolVersion::v31);
  EXPECT_EQ(d->client_id, "abc");
  Bytes again;
  encode_connect(again, *d);
  EXPECT_EQ(again, packet);
}

Bytes connect_body(std::string_view name, int level, int flags, const Bytes& tail = bytes({0x00, 0x01, 'x'})) {
  Bytes b;
  put_string(b, name);
  b.push_back(static_cast<std::uint8_t>(level));
  b.push_back(static_cast<std::uint8_t>(flags));
  put_u16(b, 60);
  return test::concat(b, tail);
}

TEST(Connect, ProtocolNameAndLevel) {
  using enum ReasonCode;
  EXPECT_TRUE(decode_connect(connect_body("MQIsdp", 3, 2)));
  EXPECT_TRUE(decode_connect(connect_body("MQTT", 4, 2)));
  EXPECT_TRUE(decode_connect(connect_body("MQTT", 5, 2, bytes({0x00, 0x00, 0x01, 'x'}))));
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 3, 2))), unsupported_protocol_version);
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 6, 2))), unsupported_protocol_version);
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 0, 2))), unsupported_protocol_version);
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQIsdp", 4, 2))), unsupported_protocol_version);
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQIsdp", 5, 2))), unsupported_protocol_version);
  EXPECT_EQ(reason_of(decode_connect(connect_body("HTTP", 4, 2))), protocol_error);
  EXPECT_EQ(reason_of(decode_connect(connect_body("mqtt", 4, 2))), protocol_error);
  EXPECT_EQ(reason_of(decode_connect(connect_body("", 4, 2))), protocol_error);
  EXPECT_EQ(reason_of(decode_connect(bytes({0x00, 0x04, 'M', 'Q'}))), malformed_packet);  // name runs past
}

TEST(Connect, VersionHint) {
  EXPECT_EQ(decoded_version_hint(connect_body("MQTT", 5, 1)), ProtocolVersion::v5);
  EXPECT_EQ(decoded_version_hint(connect_body("MQTT", 4, 1)), ProtocolVersion::v311);
  EXPECT_EQ(decoded_version_hint(connect_body("MQTT", 7, 1)), ProtocolVersion::v311);
  EXPECT_EQ(decoded_version_hint(bytes({0x00})), ProtocolVersion::v311);
}

TEST(Connect, FlagRules) {
  using enum ReasonCode;
  const Bytes id = bytes({0x00, 0x01, 'x'});
  const Bytes will = bytes({0x00, 0x01, 't', 0x00, 0x00});
  for (auto [name, level] : {std::pair<std::string_view, int>{"MQIsdp", 3}, {"MQTT", 4}, {"MQTT", 5}}) {
    const Bytes props = level == 5 ? bytes({0x00}) : Bytes{};
    const Bytes head = test::concat(props, id);
    const Bytes with_will = test::concat(test::concat(head, props), will);
    // [MQTT-3.1.2-3] reserved bit.
    EXPECT_EQ(reason_of(decode_connect(connect_body(name, level, 0x03, head))), malformed_packet) << level;
    // [MQTT-3.1.2-14] will QoS 3, with and without the will flag.
    EXPECT_EQ(reason_of(decode_connect(connect_body(name, level, 0x1E, with_will))), malformed_packet);
    EXPECT_EQ(reason_of(decode_connect(connect_body(name, level, 0x1A, head))), malformed_packet);
    // [MQTT-3.1.2-11/13/15] QoS or retain without the will flag.
    EXPECT_EQ(reason_of(decode_connect(connect_body(name, level, 0x0A, head))), malformed_packet);
    EXPECT_EQ(reason_of(decode_connect(connect_body(name, level, 0x12, head))), malformed_packet);
    EXPECT_EQ(reason_of(decode_connect(connect_body(name, level, 0x22, head))), malformed_packet);
    // Will QoS 0..2 with retain are fine.
    for (int qos = 0; qos <= 2; ++qos) {
      const Bytes body = connect_body(name, level, 0x26 | (qos << 3), with_will);
      auto d = decode_connect(body);
      ASSERT_TRUE(d) << d.error().message;
      EXPECT_EQ(d->will->qos, qos);
      EXPECT_TRUE(d->will->retain);
    }
    // Will flag set but the will fields missing.
    EXPECT_EQ(reason_of(decode_connect(connect_body(name, level, 0x06, head))), malformed_packet);
    // User name flag set but no user name.
    EXPECT_EQ(reason_of(decode_connect(connect_body(name, level, 0x82, head))), malformed_packet);
    // Password alone: a protocol error before 5.0 [MQTT-3.1.2-22], allowed in 5.0.
    const Bytes pw = test::concat(head, bytes({0x00, 0x01, 'p'}));
    if (level == 5) {
      const Bytes body = connect_body(name, level, 0x42, pw);  // outlives the views into it
      auto d = decode_connect(body);
      ASSERT_TRUE(d) << d.error().message;
      EXPECT_FALSE(d->username);
      EXPECT_EQ(test::as_string(*d->password), "p");
    } else {
      EXPECT_EQ(reason_of(decode_connect(connect_body(name, level, 0x42, pw))), protocol_error);
    }
  }
}

TEST(Connect, TruncatedAtEveryLength) {
  for (auto v : test::kAllVersions) {
    Bytes good;
    encode_connect(good, full_connect(v));
    auto body = body_of(good);
    for (std::size_t n = 0; n < body.size(); ++n) {
      auto d = decode_connect(body.first(n));
      ASSERT_FALSE(d) << n;
      EXPECT_EQ(d.error().reason, ReasonCode::malformed_packet) << n << ": " << d.error().message;
    }
    Bytes longer(body.begin(), body.end());
    longer.push_back(0);
    EXPECT_EQ(reason_of(decode_connect(longer)), ReasonCode::malformed_packet);
  }
}

TEST(Connect, StringsMustBeUtf8) {
  using enum ReasonCode;
  // Client id: overlong '/', surrogate, U+0000.
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 4, 2, bytes({0x00, 0x02, 0xC0, 0xAF})))), malformed_packet);
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 4, 2, bytes({0x00, 0x03, 0xED, 0xA0, 0x80})))),
            malformed_packet);
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 4, 2, bytes({0x00, 0x01, 0x00})))), malformed_packet);
  // User name.
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 4, 0x82, bytes({0x00, 0x01, 'x', 0x00, 0x01, 0xFF})))),
            malformed_packet);
  // Will topic.
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 4, 0x06, bytes({0x00, 0x01, 'x', 0x00, 0x01, 0x80, 0, 0})))),
            malformed_packet);
  // A client id whose length runs past the end.
  auto d = decode_connect(connect_body("MQTT", 4, 2, bytes({0x00, 0x09, 'x'})));
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("client identifier"), std::string::npos);
}

TEST(Connect, WillTopicRules) {
  using enum ReasonCode;
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 4, 0x06, bytes({0x00, 0x01, 'x', 0x00, 0x01, '#', 0, 0})))),
            protocol_error);
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 4, 0x06, bytes({0x00, 0x01, 'x', 0x00, 0x03, 'a', '/', '+', 0, 0})))),
            protocol_error);
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 4, 0x06, bytes({0x00, 0x01, 'x', 0x00, 0x00, 0, 0})))),
            protocol_error);
}

TEST(Connect, WillPayloadFormat) {
  ConnectPacket c = full_connect(ProtocolVersion::v5);
  static const std::uint8_t bad[] = {0xC3, 0x28};
  c.will->payload = bad;
  Bytes out;
  encode_connect(out, c);
  EXPECT_EQ(reason_of(decode_connect(body_of(out))), ReasonCode::payload_format_invalid);
  c.will->properties.payload_format_indicator = 0;  // unspecified bytes: anything goes
  out.clear();
  encode_connect(out, c);
  EXPECT_TRUE(decode_connect(body_of(out)));
}

TEST(Connect, PropertyPlacement) {
  using enum ReasonCode;
  const Bytes id = bytes({0x00, 0x01, 'x'});
  // Will delay is a will property, not a CONNECT property.
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 5, 2, test::concat(test::props_block(bytes({0x18, 0, 0, 0, 1})), id)))),
            malformed_packet);
  // Session expiry is a CONNECT property, not a will property.
  const Bytes will = test::concat(test::props_block(bytes({0x11, 0, 0, 0, 1})), bytes({0x00, 0x01, 't', 0x00, 0x00}));
  EXPECT_EQ(reason_of(decode_connect(connect_body("MQTT", 5, 6, test::concat(test::concat(bytes({0x00}), id), will)))),
            malformed_packet);
}

// ------------------------------------------------------------------------ CONNACK

TEST(Connack, GoldenBytes) {
  Bytes v3;
  encode_connack(v3, ProtocolVersion::v311, true, ReasonCode::success, nullptr);
  EXPECT_EQ(v3, bytes({0x20, 0x02, 0x01, 0x00}));
  Bytes refused;
  encode_connack(refused, ProtocolVersion::v311, false, ReasonCode::unsupported_protocol_version, nullptr);
  EXPECT_EQ(refused, bytes({0x20, 0x02, 0x00, 0x01}));
  Bytes v31;
  encode_connack(v31, ProtocolVersion::v31, false, ReasonCode::client_identifier_not_valid, nullptr);
  EXPECT_EQ(v31, bytes({0x20, 0x02, 0x00, 0x02}));
  Bytes v5;
  encode_connack(v5, ProtocolVersion::v5, false, ReasonCode::client_identifier_not_valid, nullptr);
  EXPECT_EQ(v5, bytes({0x20, 0x03, 0x00, 0x85, 0x00}));
}

TEST(Connack, RoundTripEachVersion) {
  for (auto v : test::kAllVersions) {
    for (auto reason : {ReasonCode::success, ReasonCode::not_authorized, ReasonCode::bad_user_name_or_password}) {
      Properties props;
      props.assigned_client_identifier = "gen-1";
      props.server_keep_alive = 20;
      props.session_expiry_interval = 7;
      props.receive_maximum = 100;
      props.maximum_qos = 1;
      props.retain_available = 0;
      props.maximum_packet_size = 1 << 20;
      props.topic_alias_maximum = 10;
      props.reason_string = "because";
      props.wildcard_subscription_available = 1;
      props.subscription_identifiers_available = 0;
      props.shared_subscription_available = 1;
      props.response_information = "resp/";
      props.server_reference = "other:1883";
      props.authentication_method = "m";
      props.authentication_data = "d";
      props.user_properties = {{"a", "b"}};
      const bool present = reason == ReasonCode::success;
      Bytes out;
      encode_connack(out, v, present, reason, &props);
      auto d = decode_connack(v, body_of(out));
      ASSERT_TRUE(d) << d.error().message;
      EXPECT_EQ(d->session_present, present);
      EXPECT_EQ(d->reason, reason);
      if (v == ProtocolVersion::v5) {
        EXPECT_EQ(d->properties.assigned_client_identifier.value_or(""), "gen-1");
        EXPECT_EQ(d->properties.server_keep_alive.value_or(0), 20);
        EXPECT_EQ(d->properties.maximum_qos.value_or(9), 1);
        EXPECT_EQ(d->properties.retain_available.value_or(9), 0);
        EXPECT_EQ(d->properties.subscription_identifiers_available.value_or(9), 0);
        EXPECT_EQ(d->properties.server_reference.value_or(""), "other:1883");
        Bytes again;
        encode_connack(again, v, d->session_present, d->reason, &d->properties);
        EXPECT_EQ(again, out);
      } else {
        EXPECT_EQ(out.size(), 4u);
      }
    }
  }
}

TEST(Connack, Violations) {
  using enum ReasonCode;
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v311, bytes({0x02, 0x00}))), malformed_packet);  // reserved
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v311, bytes({0x00, 0x06}))), malformed_packet);  // code 6
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v311, bytes({0x01, 0x05}))), protocol_error);   // present + refused
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v311, bytes({0x00}))), malformed_packet);       // truncated
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v311, bytes({0x00, 0x00, 0x00}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v5, bytes({0x00, 0x00}))), malformed_packet);  // no props
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v5, bytes({0x00, 0x8E, 0x00}))), malformed_packet);  // not CONNACK
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v5, bytes({0x00, 0x00, 0x02, 0x21, 0x00}))), malformed_packet);  // value cut
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v5, bytes({0x00, 0x00, 0x03, 0x23, 0x00, 0x01}))),
            malformed_packet);  // topic alias is not a CONNACK property
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v5, bytes({0x00, 0x00, 0x02, 0x24, 0x02}))),
            protocol_error);  // maximum QoS 0 or 1
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v5, bytes({0x00, 0x00, 0x02, 0x25, 0x02}))), protocol_error);
  EXPECT_EQ(reason_of(decode_connack(ProtocolVersion::v5, bytes({0x00, 0x00, 0x03, 0x21, 0x00, 0x00}))),
            protocol_error);  // receive maximum 0
}

}  // namespace
}  // namespace outpost::mqtt
