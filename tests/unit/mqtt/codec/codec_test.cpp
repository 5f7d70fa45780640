#include "mqtt/codec/codec.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outpost::mqtt {
namespace {

Bytes bytes(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(static_cast<std::uint8_t>(x));
  return b;
}

std::span<const std::uint8_t> body_of(const Bytes& packet) {
  auto f = parse_fixed_header(packet, 0);
  EXPECT_EQ(f.status, FrameStatus::complete);
  return std::span<const std::uint8_t>(packet).subspan(f.header.header_length, f.header.remaining_length);
}

std::uint8_t flags_of(const Bytes& packet) { return packet[0] & 0x0F; }

// ---------------------------------------------------------------- framing

TEST(Framing, RemainingLengthEncodings) {
  for (std::uint32_t len : {0u, 127u, 128u, 16383u, 16384u, 2097151u, 2097152u, 268435455u}) {
    Bytes b{0x30};
    put_varint(b, len);
    auto f = parse_fixed_header(b, 0);
    ASSERT_EQ(f.status, FrameStatus::complete) << len;
    EXPECT_EQ(f.header.remaining_length, len);
    EXPECT_EQ(f.header.header_length, 1 + varint_size(len));
  }
}

TEST(Framing, RemainingLengthOverflowIsMalformed) {
  auto f = parse_fixed_header(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}), 0);
  EXPECT_EQ(f.status, FrameStatus::error);
  EXPECT_EQ(f.error.reason, ReasonCode::malformed_packet);
}

TEST(Framing, NeedsMoreForPartialHeader) {
  EXPECT_EQ(parse_fixed_header(bytes({0x30}), 0).status, FrameStatus::need_more);
  EXPECT_EQ(parse_fixed_header(bytes({0x30, 0x80}), 0).status, FrameStatus::need_more);
  EXPECT_EQ(parse_fixed_header(bytes({0x30, 0x80, 0x80, 0x80}), 0).status, FrameStatus::need_more);
}

TEST(Framing, TooLargeDetectedFromHeaderAlone) {
  Bytes b{0x30};
  put_varint(b, 2000);
  auto f = parse_fixed_header(b, 1024);
  EXPECT_EQ(f.status, FrameStatus::error);
  EXPECT_EQ(f.error.reason, ReasonCode::packet_too_large);
  EXPECT_EQ(parse_fixed_header(b, 4096).status, FrameStatus::complete);
}

TEST(Framing, FixedHeaderFlagRules) {
  // PUBREL, SUBSCRIBE, UNSUBSCRIBE need 0b0010 [MQTT-2.2.2-1].
  for (int type : {6, 8, 10}) {
    EXPECT_EQ(parse_fixed_header(bytes({type << 4, 0}), 0).status, FrameStatus::error) << type;
    EXPECT_EQ(parse_fixed_header(bytes({(type << 4) | 2, 0}), 0).status, FrameStatus::complete) << type;
  }
  for (int type : {1, 2, 4, 5, 7, 9, 11, 12, 13, 14, 15}) {
    EXPECT_EQ(parse_fixed_header(bytes({(type << 4) | 1, 0}), 0).status, FrameStatus::error) << type;
  }
  EXPECT_EQ(parse_fixed_header(bytes({0x00, 0}), 0).status, FrameStatus::error);  // reserved type 0
  EXPECT_EQ(parse_fixed_header(bytes({0x36, 0}), 0).status, FrameStatus::error);  // PUBLISH QoS 3
}

// ---------------------------------------------------------------- CONNECT

ConnectPacket sample_connect(ProtocolVersion v) {
  ConnectPacket c;
  c.version = v;
  c.clean_start = false;
  c.keep_alive = 30;
  c.client_id = "dev-1";
  Will w;
  w.topic = "dev/1/status";
  static const std::uint8_t payload[] = {'o', 'f', 'f'};
  w.payload = payload;
  w.qos = 1;
  w.retain = true;
  c.will = w;
  c.username = "user";
  static const std::uint8_t pw[] = {'p', 'w'};
  c.password = std::span<const std::uint8_t>(pw);
  return c;
}

TEST(Connect, RoundTripEachVersion) {
  for (auto v : {ProtocolVersion::v31, ProtocolVersion::v311, ProtocolVersion::v5}) {
    ConnectPacket c = sample_connect(v);
    if (v == ProtocolVersion::v5) {
      c.properties.session_expiry_interval = 3600;
      c.properties.receive_maximum = 10;
      c.properties.user_properties.emplace_back("k", "v");
      c.will->properties.will_delay_interval = 5;
    }
    Bytes out;
    encode_connect(out, c);
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
    EXPECT_EQ(std::string(d->will->payload.begin(), d->will->payload.end()), "off");
    EXPECT_EQ(d->username.value_or(""), "user");
    ASSERT_TRUE(d->password);
    EXPECT_EQ(d->password->size(), 2u);
    if (v == ProtocolVersion::v5) {
      EXPECT_EQ(d->properties.session_expiry_interval.value_or(0), 3600u);
      EXPECT_EQ(d->properties.receive_maximum.value_or(0), 10);
      ASSERT_EQ(d->properties.user_properties.size(), 1u);
      EXPECT_EQ(d->will->properties.will_delay_interval.value_or(0), 5u);
    }
  }
}

// The CONNECT of MQTT 3.1.1 section 3.1.2.10's example, byte by byte.
TEST(Connect, GoldenBytes) {
  const Bytes golden = bytes({0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x04, 'a',
                              'b', 'c', 'd'});
  auto d = decode_connect(body_of(golden));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->version, ProtocolVersion::v311);
  EXPECT_TRUE(d->clean_start);
  EXPECT_EQ(d->keep_alive, 60);
  EXPECT_EQ(d->client_id, "abcd");
  ConnectPacket c;
  c.version = ProtocolVersion::v311;
  c.keep_alive = 60;
  c.client_id = "abcd";
  Bytes out;
  encode_connect(out, c);
  EXPECT_EQ(out, golden);
}

Bytes connect_with(const std::string& name, int level, int flags, const std::string& tail = std::string("\x00\x01x", 3)) {
  Bytes b;
  put_string(b, name);
  b.push_back(static_cast<std::uint8_t>(level));
  b.push_back(static_cast<std::uint8_t>(flags));
  put_u16(b, 60);
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

TEST(Connect, ProtocolRules) {
  EXPECT_EQ(decode_connect(connect_with("MQTT", 7, 2)).error().reason, ReasonCode::unsupported_protocol_version);
  EXPECT_EQ(decode_connect(connect_with("MQTT", 3, 2)).error().reason, ReasonCode::unsupported_protocol_version);
  EXPECT_EQ(decode_connect(connect_with("MQIsdp", 4, 2)).error().reason, ReasonCode::unsupported_protocol_version);
  EXPECT_FALSE(decode_connect(connect_with("HTTP", 4, 2)));
  EXPECT_TRUE(decode_connect(connect_with("MQIsdp", 3, 2)));
  EXPECT_EQ(decode_connect(connect_with("MQTT", 4, 3)).error().reason, ReasonCode::malformed_packet);  // reserved
  EXPECT_FALSE(decode_connect(connect_with("MQTT", 4, 0x02 | 0x18)));  // will QoS 3
  EXPECT_FALSE(decode_connect(connect_with("MQTT", 4, 0x02 | 0x08)));  // will QoS without will
  EXPECT_FALSE(decode_connect(connect_with("MQTT", 4, 0x02 | 0x20)));  // will retain without will
  EXPECT_FALSE(decode_connect(connect_with("MQTT", 4, 0x02 | 0x40, std::string("\x00\x01x\x00\x01p", 6))));
  // 5.0 allows a password without a user name.
  EXPECT_TRUE(decode_connect(connect_with("MQTT", 5, 0x02 | 0x40, std::string("\x00\x00\x01x\x00\x01p", 7))));
}

TEST(Connect, TruncatedAndTrailing) {
  Bytes good;
  encode_connect(good, sample_connect(ProtocolVersion::v311));
  auto body = body_of(good);
  for (std::size_t n = 0; n < body.size(); ++n) {
    EXPECT_FALSE(decode_connect(body.first(n))) << n;
  }
  Bytes longer(body.begin(), body.end());
  longer.push_back(0);
  EXPECT_FALSE(decode_connect(longer));
}

TEST(Connect, BadUtf8ClientId) {
  EXPECT_FALSE(decode_connect(connect_with("MQTT", 4, 2, std::string("\x00\x02\xC0\xAF", 4))));
  EXPECT_FALSE(decode_connect(connect_with("MQTT", 4, 2, std::string("\x00\x01\x00", 3))));
}

// ---------------------------------------------------------------- PUBLISH

TEST(Publish, RoundTripAllQoS) {
  for (auto v : {ProtocolVersion::v311, ProtocolVersion::v5}) {
    for (std::uint8_t qos = 0; qos <= 2; ++qos) {
      const std::string payload = "hello";
      Properties props;
      props.content_type = "text/plain";
      props.message_expiry_interval = 60;
      props.user_properties.emplace_back("a", "1");
      props.user_properties.emplace_back("a", "2");
      Bytes out;
      encode_publish_header(out, v, "a/b", qos, true, qos > 0, qos ? 42 : 0, &props, payload.size());
      out.insert(out.end(), payload.begin(), payload.end());
      EXPECT_EQ(out.size(), publish_packet_size(v, "a/b", qos, &props, payload.size()));
      auto d = decode_publish(v, flags_of(out), body_of(out));
      ASSERT_TRUE(d) << d.error().message;
      EXPECT_EQ(d->topic, "a/b");
      EXPECT_EQ(d->qos, qos);
      EXPECT_TRUE(d->retain);
      EXPECT_EQ(d->dup, qos > 0);
      EXPECT_EQ(d->packet_id, qos ? 42 : 0);
      EXPECT_EQ(std::string(d->payload.begin(), d->payload.end()), payload);
      if (v == ProtocolVersion::v5) {
        EXPECT_EQ(d->properties.content_type.value_or(""), "text/plain");
        ASSERT_EQ(d->properties.user_properties.size(), 2u);
        EXPECT_EQ(d->properties.user_properties[1].second, "2");  // order kept
      }
    }
  }
}

TEST(Publish, PayloadIsAViewNotACopy) {
  Bytes out;
  encode_publish_header(out, ProtocolVersion::v311, "t", 0, false, false, 0, nullptr, 3);
  out.insert(out.end(), {'x', 'y', 'z'});
  auto body = body_of(out);
  auto d = decode_publish(ProtocolVersion::v311, 0, body);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->payload.data(), body.data() + body.size() - 3);
}

TEST(Publish, Violations) {
  Bytes wild;
  encode_publish_header(wild, ProtocolVersion::v311, "a/+", 0, false, false, 0, nullptr, 0);
  EXPECT_FALSE(decode_publish(ProtocolVersion::v311, 0, body_of(wild)));
  Bytes hash;
  encode_publish_header(hash, ProtocolVersion::v311, "a/#", 0, false, false, 0, nullptr, 0);
  EXPECT_FALSE(decode_publish(ProtocolVersion::v311, 0, body_of(hash)));
  Bytes zero;
  encode_publish_header(zero, ProtocolVersion::v311, "a", 1, false, false, 0, nullptr, 0);
  EXPECT_FALSE(decode_publish(ProtocolVersion::v311, flags_of(zero), body_of(zero)));  // packet id 0
  EXPECT_EQ(decode_publish(ProtocolVersion::v311, 0x08, bytes({0, 1, 'a'})).error().reason,
            ReasonCode::protocol_error);  // DUP on QoS 0
  EXPECT_FALSE(decode_publish(ProtocolVersion::v311, 0, bytes({0, 5, 'a'})));  // topic runs past the end
  EXPECT_FALSE(decode_publish(ProtocolVersion::v311, 0, bytes({0, 2, 0xED, 0xA0})));  // surrogate
  EXPECT_FALSE(decode_publish(ProtocolVersion::v311, 2, bytes({0, 1, 'a', 0})));  // truncated packet id
}

TEST(Publish, PayloadFormatIndicatorChecksUtf8) {
  Properties props;
  props.payload_format_indicator = 1;
  Bytes out;
  encode_publish_header(out, ProtocolVersion::v5, "t", 0, false, false, 0, &props, 2);
  out.push_back(0xC3);
  out.push_back(0x28);
  auto d = decode_publish(ProtocolVersion::v5, 0, body_of(out));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().reason, ReasonCode::payload_format_invalid);
}

// ---------------------------------------------------------------- acknowledgements

TEST(Acks, RoundTripAndShortForms) {
  for (auto type : {PacketType::puback, PacketType::pubrec, PacketType::pubrel, PacketType::pubcomp}) {
    Bytes v3;
    encode_ack(v3, ProtocolVersion::v311, type, 513, ReasonCode::success, nullptr);
    EXPECT_EQ(v3.size(), 4u);
    auto d = decode_ack(ProtocolVersion::v311, type, body_of(v3));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->packet_id, 513);
    Bytes v5;
    Properties props;
    props.reason_string = "why";
    encode_ack(v5, ProtocolVersion::v5, type, 7, ReasonCode::quota_exceeded, &props);
    auto d5 = decode_ack(ProtocolVersion::v5, type, body_of(v5));
    ASSERT_TRUE(d5);
    EXPECT_EQ(d5->reason, ReasonCode::quota_exceeded);
    EXPECT_EQ(d5->properties.reason_string.value_or(""), "why");
    Bytes short5;
    encode_ack(short5, ProtocolVersion::v5, type, 7, ReasonCode::success, nullptr);
    EXPECT_EQ(short5.size(), 4u);  // remaining length 2 means success
  }
  EXPECT_FALSE(decode_ack(ProtocolVersion::v311, PacketType::puback, bytes({0, 1, 0})));  // trailing byte
  EXPECT_FALSE(decode_ack(ProtocolVersion::v311, PacketType::puback, bytes({0, 0})));     // id 0
  EXPECT_FALSE(decode_ack(ProtocolVersion::v311, PacketType::puback, bytes({0})));        // truncated
}

// ---------------------------------------------------------------- SUBSCRIBE

TEST(Subscribe, RoundTrip) {
  for (auto v : {ProtocolVersion::v311, ProtocolVersion::v5}) {
    SubscribePacket s;
    s.packet_id = 10;
    s.subscriptions.push_back({"a/#", {1, false, false, 0}});
    s.subscriptions.push_back({"b/+", {2, v == ProtocolVersion::v5, v == ProtocolVersion::v5, 0}});
    if (v == ProtocolVersion::v5) {
      s.subscriptions.back().options.retain_handling = 2;
      s.properties.subscription_identifiers.push_back(99);
    }
    Bytes out;
    encode_subscribe(out, v, s);
    EXPECT_EQ(out[0], 0x82);
    auto d = decode_subscribe(v, body_of(out));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->packet_id, 10);
    ASSERT_EQ(d->subscriptions.size(), 2u);
    EXPECT_EQ(d->subscriptions[0].filter, "a/#");
    EXPECT_EQ(d->subscriptions[1].options.qos, 2);
    if (v == ProtocolVersion::v5) {
      EXPECT_TRUE(d->subscriptions[1].options.no_local);
      EXPECT_EQ(d->subscriptions[1].options.retain_handling, 2);
      EXPECT_EQ(d->properties.subscription_identifier().value_or(0), 99u);
    }
  }
}

TEST(Subscribe, Violations) {
  EXPECT_FALSE(decode_subscribe(ProtocolVersion::v311, bytes({0, 1})));                    // no filter
  EXPECT_FALSE(decode_subscribe(ProtocolVersion::v311, bytes({0, 0, 0, 1, 'a', 0})));      // id 0
  EXPECT_FALSE(decode_subscribe(ProtocolVersion::v311, bytes({0, 1, 0, 1, 'a', 3})));      // QoS 3
  EXPECT_FALSE(decode_subscribe(ProtocolVersion::v311, bytes({0, 1, 0, 1, 'a', 0x04})));   // reserved bits
  EXPECT_FALSE(decode_subscribe(ProtocolVersion::v5, bytes({0, 1, 0, 0, 1, 'a', 0x30})));  // retain handling 3
  EXPECT_FALSE(decode_subscribe(ProtocolVersion::v311, bytes({0, 1, 0, 1, 'a'})));         // missing options
  // An invalid wildcard filter is not a codec error: the broker answers 0x80.
  EXPECT_TRUE(decode_subscribe(ProtocolVersion::v311, bytes({0, 1, 0, 2, 'a', '#', 0})));
}

TEST(Unsubscribe, RoundTripAndEmpty) {
  UnsubscribePacket u;
  u.packet_id = 3;
  u.filters = {"a", "b/#"};
  Bytes out;
  encode_unsubscribe(out, ProtocolVersion::v311, u);
  auto d = decode_unsubscribe(ProtocolVersion::v311, body_of(out));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->filters.size(), 2u);
  EXPECT_FALSE(decode_unsubscribe(ProtocolVersion::v311, bytes({0, 3})));
}

TEST(Suback, EncodingPerVersion) {
  Bytes v3;
  encode_suback(v3, ProtocolVersion::v311, 5, {ReasonCode::granted_qos1, ReasonCode::topic_filter_invalid}, nullptr);
  EXPECT_EQ(v3, bytes({0x90, 4, 0, 5, 1, 0x80}));  // 3.1.1 knows only QoS and 0x80
  Bytes v5;
  encode_suback(v5, ProtocolVersion::v5, 5, {ReasonCode::granted_qos1, ReasonCode::topic_filter_invalid}, nullptr);
  auto d = decode_suback(ProtocolVersion::v5, PacketType::suback, body_of(v5));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->codes, (std::vector<ReasonCode>{ReasonCode::granted_qos1, ReasonCode::topic_filter_invalid}));
  Bytes unsuback;
  encode_unsuback(unsuback, ProtocolVersion::v311, 5, {ReasonCode::success}, nullptr);
  EXPECT_EQ(unsuback, bytes({0xB0, 2, 0, 5}));  // no payload in 3.1.1
}

TEST(Connack, CodesPerVersion) {
  Bytes v3;
  encode_connack(v3, ProtocolVersion::v311, true, ReasonCode::success, nullptr);
  EXPECT_EQ(v3, bytes({0x20, 2, 1, 0}));
  Bytes refused;
  encode_connack(refused, ProtocolVersion::v311, false, ReasonCode::unsupported_protocol_version, nullptr);
  EXPECT_EQ(refused, bytes({0x20, 2, 0, 1}));
  EXPECT_EQ(connack_code_for(ProtocolVersion::v311, ReasonCode::client_identifier_not_valid), 2);
  EXPECT_EQ(connack_code_for(ProtocolVersion::v311, ReasonCode::server_unavailable), 3);
  EXPECT_EQ(connack_code_for(ProtocolVersion::v311, ReasonCode::bad_user_name_or_password), 4);
  EXPECT_EQ(connack_code_for(ProtocolVersion::v311, ReasonCode::not_authorized), 5);
  Properties props;
  props.assigned_client_identifier = "gen-1";
  props.receive_maximum = 100;
  Bytes v5;
  encode_connack(v5, ProtocolVersion::v5, false, ReasonCode::success, &props);
  auto d = decode_connack(ProtocolVersion::v5, body_of(v5));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->properties.assigned_client_identifier.value_or(""), "gen-1");
  EXPECT_EQ(d->properties.receive_maximum.value_or(0), 100);
}

TEST(Disconnect, Forms) {
  Bytes v3;
  encode_disconnect(v3, ProtocolVersion::v311, ReasonCode::success);
  EXPECT_EQ(v3, bytes({0xE0, 0}));
  EXPECT_TRUE(decode_disconnect(ProtocolVersion::v311, {}));
  EXPECT_FALSE(decode_disconnect(ProtocolVersion::v311, bytes({0})));
  Bytes v5;
  encode_disconnect(v5, ProtocolVersion::v5, ReasonCode::session_taken_over);
  EXPECT_EQ(v5, bytes({0xE0, 1, 0x8E}));
  auto d = decode_disconnect(ProtocolVersion::v5, body_of(v5));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, ReasonCode::session_taken_over);
}

// ---------------------------------------------------------------- properties

Result<PublishPacket> publish_with_raw_props(const Bytes& props) {
  Bytes body;
  put_string(body, "t");
  put_varint(body, static_cast<std::uint32_t>(props.size()));
  body.insert(body.end(), props.begin(), props.end());
  return decode_publish(ProtocolVersion::v5, 0, body);
}

TEST(Properties, Validation) {
  EXPECT_TRUE(publish_with_raw_props(bytes({0x01, 1})));
  EXPECT_EQ(publish_with_raw_props(bytes({0x01, 2})).error().reason, ReasonCode::protocol_error);  // 0/1 only
  EXPECT_EQ(publish_with_raw_props(bytes({0x01, 1, 0x01, 1})).error().reason, ReasonCode::protocol_error);  // dup
  EXPECT_EQ(publish_with_raw_props(bytes({0x11, 0, 0, 0, 1})).error().reason, ReasonCode::protocol_error);  // not on PUBLISH
  EXPECT_EQ(publish_with_raw_props(bytes({0x23, 0, 0})).error().reason, ReasonCode::protocol_error);  // topic alias 0
  EXPECT_EQ(publish_with_raw_props(bytes({0x02, 0, 0})).error().reason, ReasonCode::malformed_packet);  // truncated
  EXPECT_EQ(publish_with_raw_props(bytes({0x7F})).error().reason, ReasonCode::malformed_packet);  // unknown id
  EXPECT_TRUE(publish_with_raw_props(bytes({0x26, 0, 1, 'k', 0, 1, 'v', 0x26, 0, 1, 'k', 0, 1, 'w'})));  // repeatable
  EXPECT_TRUE(publish_with_raw_props(bytes({0x0B, 1, 0x0B, 2})));  // several subscription ids on PUBLISH
  EXPECT_EQ(publish_with_raw_props(bytes({0x0B, 0})).error().reason, ReasonCode::protocol_error);
}

TEST(Properties, ConnectRanges) {
  auto connect_with_props = [](const Bytes& props) {
    Bytes b;
    put_string(b, "MQTT");
    b.push_back(5);
    b.push_back(2);
    put_u16(b, 10);
    put_varint(b, static_cast<std::uint32_t>(props.size()));
    b.insert(b.end(), props.begin(), props.end());
    put_string(b, "id");
    return decode_connect(b);
  };
  EXPECT_TRUE(connect_with_props(bytes({0x21, 0, 5})));
  EXPECT_FALSE(connect_with_props(bytes({0x21, 0, 0})));              // receive maximum 0
  EXPECT_FALSE(connect_with_props(bytes({0x27, 0, 0, 0, 0})));        // maximum packet size 0
  EXPECT_FALSE(connect_with_props(bytes({0x17, 2})));                 // request problem info 0/1
  EXPECT_FALSE(connect_with_props(bytes({0x24, 1})));                 // maximum QoS is CONNACK only
  EXPECT_FALSE(connect_with_props(bytes({0x21, 0, 5, 0x21, 0, 6})));  // duplicate
}

TEST(Utf8, Validator) {
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("\xC3\xA9t\xC3\xA9"));          // été
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80"));            // U+1F600
  EXPECT_FALSE(valid_utf8(std::string_view("a\0b", 3)));  // U+0000
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));                   // overlong
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));               // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));               // surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));           // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xC3"));                       // truncated
  EXPECT_FALSE(valid_utf8("\x80"));                       // stray continuation
}

}  // namespace
}  // namespace outpost::mqtt
