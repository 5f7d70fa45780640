#include "codec_test_util.hpp"

namespace outpost::mqtt {
namespace {

using test::body_of;
using test::bytes;
using test::flags_of;
using test::reason_of;

Properties publish_props() {
  Properties p;
  p.payload_format_indicator = 1;
  p.message_expiry_interval = 60;
  p.topic_alias = 3;
  p.response_topic = "reply/here";
  p.correlation_data = std::string("\x00\x01", 2);
  p.content_type = "text/plain";
  p.subscription_identifiers = {5, 268435455};
  p.user_properties = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
  return p;
}

TEST(Publish, RoundTripEveryVersionAndQoS) {
  for (auto v : test::kAllVersions) {
    for (std::uint8_t qos = 0; qos <= 2; ++qos) {
      for (bool retain : {false, true}) {
        const std::string payload = "hello";
        const Properties props = publish_props();
        PublishPacket p;
        p.topic = "a/b";
        p.qos = qos;
        p.retain = retain;
        p.dup = qos > 0;
        p.packet_id = qos ? 42 : 0;
        p.properties = props;
        p.payload = test::span_of(payload);
        Bytes out;
        encode_publish(out, v, p);
        EXPECT_EQ(out.size(), publish_packet_size(v, "a/b", qos, &props, payload.size()));
        EXPECT_EQ(out.capacity(), out.size());
        auto d = decode_publish(v, flags_of(out), body_of(out));
        ASSERT_TRUE(d) << d.error().message;
        EXPECT_EQ(d->topic, "a/b");
        EXPECT_EQ(d->qos, qos);
        EXPECT_EQ(d->retain, retain);
        EXPECT_EQ(d->dup, qos > 0);
        EXPECT_EQ(d->packet_id, qos ? 42 : 0);
        EXPECT_EQ(test::as_string(d->payload), payload);
        if (v == ProtocolVersion::v5) {
          EXPECT_EQ(d->properties.payload_format_indicator.value_or(0), 1);
          EXPECT_EQ(d->properties.message_expiry_interval.value_or(0), 60u);
          EXPECT_EQ(d->properties.topic_alias.value_or(0), 3);
          EXPECT_EQ(d->properties.response_topic.value_or(""), "reply/here");
          EXPECT_EQ(d->properties.correlation_data.value_or(""), std::string("\x00\x01", 2));
          EXPECT_EQ(d->properties.content_type.value_or(""), "text/plain");
          EXPECT_EQ(d->properties.subscription_identifiers, props.subscription_identifiers);
          EXPECT_EQ(d->properties.user_properties, props.user_properties);  // order and repeats kept
          Bytes again;
          encode_publish(again, v, *d);
          EXPECT_EQ(again, out);
        } else {
          EXPECT_TRUE(d->properties.empty());
        }
      }
    }
  }
}

TEST(Publish, HeaderThenSharedPayload) {
  for (auto v : test::kAllVersions) {
    const std::string payload(300, 'x');  // two-byte remaining length
    Properties props;
    props.content_type = "c";
    Bytes whole;
    PublishPacket p;
    p.topic = "t/1";
    p.qos = 1;
    p.packet_id = 7;
    p.properties = props;
    p.payload = test::span_of(payload);
    encode_publish(whole, v, p);
    Bytes header;
    encode_publish_header(header, v, "t/1", 1, false, false, 7, &props, payload.size());
    EXPECT_EQ(header.size() + payload.size(), whole.size());
    EXPECT_EQ(header.capacity(), header.size());  // the payload is not reserved for
    EXPECT_TRUE(std::equal(header.begin(), header.end(), whole.begin()));
    EXPECT_EQ(publish_packet_size(v, "t/1", 1, &props, payload.size()), whole.size());
  }
}

// MQTT 3.1.1 section 3.3.2.3 example: topic "a/b", packet identifier 10.
TEST(Publish, GoldenBytes) {
  const Bytes packet = bytes({0x32, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'h', 'i'});
  auto d = decode_publish(ProtocolVersion::v311, flags_of(packet), body_of(packet));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->topic, "a/b");
  EXPECT_EQ(d->qos, 1);
  EXPECT_EQ(d->packet_id, 10);
  EXPECT_EQ(test::as_string(d->payload), "hi");
  Bytes again;
  encode_publish(again, ProtocolVersion::v311, *d);
  EXPECT_EQ(again, packet);
  // 5.0: the same with an empty property block.
  Bytes v5;
  encode_publish(v5, ProtocolVersion::v5, *d);
  EXPECT_EQ(v5, bytes({0x32, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 0x00, 'h', 'i'}));
}

TEST(Publish, PayloadIsAViewNotACopy) {
  Bytes out;
  encode_publish_header(out, ProtocolVersion::v311, "t", 0, false, false, 0, nullptr, 3);
  out.insert(out.end(), {'x', 'y', 'z'});
  auto body = body_of(out);
  auto d = decode_publish(ProtocolVersion::v311, 0, body);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->payload.data(), body.data() + body.size() - 3);
  EXPECT_EQ(d->topic.data(), reinterpret_cast<const char*>(body.data() + 2));
}

TEST(Publish, EmptyPayload) {
  Bytes out;
  encode_publish_header(out, ProtocolVersion::v5, "t", 2, true, false, 9, nullptr, 0);
  auto d = decode_publish(ProtocolVersion::v5, flags_of(out), body_of(out));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->payload.empty());
}

TEST(Publish, DupOnlyWithQoS) {
  Bytes out;
  encode_publish_header(out, ProtocolVersion::v311, "t", 0, false, true, 0, nullptr, 0);
  EXPECT_EQ(flags_of(out), 0);  // DUP dropped on QoS 0 [MQTT-3.3.1-2]
}

TEST(Publish, Violations) {
  using enum ReasonCode;
  for (auto v : test::kAllVersions) {
    Bytes wild;
    encode_publish_header(wild, v, "a/+", 0, false, false, 0, nullptr, 0);
    auto w = decode_publish(v, 0, body_of(wild));
    EXPECT_EQ(reason_of(w), malformed_packet);  // as Mosquitto
    EXPECT_NE(w.error().message.find("wildcard"), std::string::npos);
    Bytes hash;
    encode_publish_header(hash, v, "#", 0, false, false, 0, nullptr, 0);
    EXPECT_EQ(reason_of(decode_publish(v, 0, body_of(hash))), malformed_packet);
    Bytes zero_id;
    encode_publish_header(zero_id, v, "a", 1, false, false, 0, nullptr, 0);
    EXPECT_EQ(reason_of(decode_publish(v, flags_of(zero_id), body_of(zero_id))), protocol_error);
    EXPECT_EQ(reason_of(decode_publish(v, 0x08, bytes({0, 1, 'a', 0}))), malformed_packet);  // DUP on QoS 0
    EXPECT_EQ(reason_of(decode_publish(v, 0x06, bytes({0, 1, 'a', 0, 1, 0}))), malformed_packet);  // QoS 3
    EXPECT_EQ(reason_of(decode_publish(v, 0, bytes({0, 5, 'a'}))), malformed_packet);  // topic runs past the end
    EXPECT_EQ(reason_of(decode_publish(v, 0, bytes({0}))), malformed_packet);          // truncated length
    EXPECT_EQ(reason_of(decode_publish(v, 0, bytes({0, 2, 0xED, 0xA0, 0}))), malformed_packet);  // half surrogate
    EXPECT_EQ(reason_of(decode_publish(v, 0, bytes({0, 2, 0xC0, 0x80, 0}))), malformed_packet);  // overlong NUL
    EXPECT_EQ(reason_of(decode_publish(v, 0, bytes({0, 1, 0x00, 0}))), malformed_packet);        // U+0000
    EXPECT_EQ(reason_of(decode_publish(v, 2, bytes({0, 1, 'a', 0}))), malformed_packet);  // truncated packet id
    // Empty topic: never before 5.0; in 5.0 only with a topic alias.
    EXPECT_EQ(reason_of(decode_publish(v, 0, bytes({0, 0, 0}))), protocol_error);
  }
  const Bytes aliased_body = bytes({0, 0, 3, 0x23, 0, 1, 'p'});
  auto aliased = decode_publish(ProtocolVersion::v5, 0, aliased_body);
  ASSERT_TRUE(aliased) << aliased.error().message;
  EXPECT_EQ(aliased->topic, "");
  EXPECT_EQ(aliased->properties.topic_alias.value_or(0), 1);
  EXPECT_EQ(test::as_string(aliased->payload), "p");
  // 5.0 property block missing or running past the end.
  EXPECT_EQ(reason_of(decode_publish(ProtocolVersion::v5, 0, bytes({0, 1, 'a'}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_publish(ProtocolVersion::v5, 0, bytes({0, 1, 'a', 5, 0x01}))), malformed_packet);
}

TEST(Publish, PayloadFormatCheckIsSeparate) {
  Properties props;
  props.payload_format_indicator = 1;
  Bytes out;
  encode_publish_header(out, ProtocolVersion::v5, "t", 1, false, false, 1, &props, 2);
  out.push_back(0xC3);
  out.push_back(0x28);
  auto d = decode_publish(ProtocolVersion::v5, flags_of(out), body_of(out));
  ASSERT_TRUE(d) << d.error().message;  // decoding does not scan the payload
  EXPECT_FALSE(payload_matches_format(d->properties, d->payload));
  EXPECT_TRUE(payload_matches_format(d->properties, test::span_of("ok")));
  EXPECT_TRUE(payload_matches_format(Properties{}, d->payload));
}

// ---------------------------------------------------------------- acknowledgements

constexpr PacketType kAckTypes[] = {PacketType::puback, PacketType::pubrec, PacketType::pubrel, PacketType::pubcomp};

TEST(Acks, GoldenBytes) {
  Bytes out;
  encode_ack(out, ProtocolVersion::v311, PacketType::puback, 10, ReasonCode::success, nullptr);
  encode_ack(out, ProtocolVersion::v311, PacketType::pubrec, 10, ReasonCode::success, nullptr);
  encode_ack(out, ProtocolVersion::v311, PacketType::pubrel, 10, ReasonCode::success, nullptr);
  encode_ack(out, ProtocolVersion::v311, PacketType::pubcomp, 10, ReasonCode::success, nullptr);
  EXPECT_EQ(out, bytes({0x40, 2, 0, 10, 0x50, 2, 0, 10, 0x62, 2, 0, 10, 0x70, 2, 0, 10}));
  Bytes v5;
  encode_ack(v5, ProtocolVersion::v5, PacketType::puback, 10, ReasonCode::no_matching_subscribers, nullptr);
  EXPECT_EQ(v5, bytes({0x40, 3, 0, 10, 0x10}));
}

TEST(Acks, RoundTripEveryVersion) {
  for (auto v : test::kAllVersions) {
    for (auto type : kAckTypes) {
      Bytes plain;
      encode_ack(plain, v, type, 513, ReasonCode::success, nullptr);
      EXPECT_EQ(plain.size(), 4u);  // remaining length 2 in every version
      auto d = decode_ack(v, type, body_of(plain));
      ASSERT_TRUE(d) << d.error().message;
      EXPECT_EQ(d->packet_id, 513);
      EXPECT_EQ(d->reason, ReasonCode::success);
      if (v != ProtocolVersion::v5) continue;
      const bool pub = type == PacketType::puback || type == PacketType::pubrec;
      const ReasonCode reason = pub ? ReasonCode::quota_exceeded : ReasonCode::packet_identifier_not_found;
      Properties props;
      props.reason_string = "why";
      props.user_properties = {{"k", "v"}};
      Bytes full;
      encode_ack(full, v, type, 7, reason, &props);
      auto d5 = decode_ack(v, type, body_of(full));
      ASSERT_TRUE(d5) << d5.error().message;
      EXPECT_EQ(d5->reason, reason);
      EXPECT_EQ(d5->properties.reason_string.value_or(""), "why");
      EXPECT_EQ(d5->properties.user_properties.size(), 1u);
      // Reason code without properties: remaining length 3.
      Bytes bare;
      encode_ack(bare, v, type, 7, reason, nullptr);
      EXPECT_EQ(bare.size(), 5u);
      auto d3 = decode_ack(v, type, body_of(bare));
      ASSERT_TRUE(d3);
      EXPECT_EQ(d3->reason, reason);
      // Success with an empty property block is accepted too.
      auto d4 = decode_ack(v, type, bytes({0, 7, 0x00, 0x00}));
      ASSERT_TRUE(d4) << d4.error().message;
      EXPECT_EQ(d4->reason, ReasonCode::success);
    }
  }
}

TEST(Acks, Violations) {
  using enum ReasonCode;
  for (auto v : test::kAllVersions) {
    for (auto type : kAckTypes) {
      EXPECT_EQ(reason_of(decode_ack(v, type, bytes({0, 0}))), protocol_error);  // id 0
      EXPECT_EQ(reason_of(decode_ack(v, type, bytes({0}))), malformed_packet);   // truncated
      EXPECT_EQ(reason_of(decode_ack(v, type, bytes({}))), malformed_packet);
    }
    EXPECT_EQ(reason_of(decode_ack(v, PacketType::publish, bytes({0, 1}))), protocol_error);  // not an ack
  }
  EXPECT_EQ(reason_of(decode_ack(ProtocolVersion::v311, PacketType::puback, bytes({0, 1, 0}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_ack(ProtocolVersion::v31, PacketType::pubrec, bytes({0, 1, 0}))), malformed_packet);
  // 5.0: reason codes outside each packet's table.
  EXPECT_EQ(reason_of(decode_ack(ProtocolVersion::v5, PacketType::puback, bytes({0, 1, 0x92}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_ack(ProtocolVersion::v5, PacketType::pubrel, bytes({0, 1, 0x97}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_ack(ProtocolVersion::v5, PacketType::pubcomp, bytes({0, 1, 0x01}))), malformed_packet);
  // 5.0: properties running past the end, not allowed, trailing bytes.
  EXPECT_EQ(reason_of(decode_ack(ProtocolVersion::v5, PacketType::puback, bytes({0, 1, 0, 4, 0x1F, 0}))),
            malformed_packet);
  EXPECT_EQ(reason_of(decode_ack(ProtocolVersion::v5, PacketType::puback, bytes({0, 1, 0, 2, 0x1F, 0, 1}))),
            malformed_packet);  // the block ends inside the reason string's length
  EXPECT_EQ(reason_of(decode_ack(ProtocolVersion::v5, PacketType::puback, bytes({0, 1, 0, 3, 0x23, 0, 1}))),
            malformed_packet);  // topic alias is not an ack property
  EXPECT_EQ(reason_of(decode_ack(ProtocolVersion::v5, PacketType::puback, bytes({0, 1, 0, 0, 0}))), malformed_packet);
}

}  // namespace
}  // namespace outpost::mqtt
