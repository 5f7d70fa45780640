#include "codec_test_util.hpp"

namespace outpost::mqtt {
namespace {

using test::body_of;
using test::bytes;
using test::reason_of;

TEST(Subscribe, RoundTripEveryVersion) {
  for (auto v : test::kAllVersions) {
    const bool v5 = v == ProtocolVersion::v5;
    SubscribePacket s;
    s.packet_id = 10;
    s.subscriptions.push_back({"a/#", {1, false, false, 0}});
    s.subscriptions.push_back({"b/+", {2, v5, v5, 0}});
    s.subscriptions.push_back({"$share/g/c", {0, false, false, 0}});
    if (v5) {
      s.subscriptions[1].options.retain_handling = 2;
      s.subscriptions[2].options.retain_handling = 1;
      s.properties.subscription_identifiers.push_back(99);
      s.properties.user_properties = {{"x", "y"}};
    }
    Bytes out;
    encode_subscribe(out, v, s);
    EXPECT_EQ(out[0], 0x82);
    EXPECT_EQ(out.capacity(), out.size());
    auto d = decode_subscribe(v, body_of(out));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->packet_id, 10);
    ASSERT_EQ(d->subscriptions.size(), 3u);
    EXPECT_EQ(d->subscriptions[0].filter, "a/#");
    EXPECT_EQ(d->subscriptions[0].options.qos, 1);
    EXPECT_EQ(d->subscriptions[1].options.qos, 2);
    EXPECT_EQ(d->subscriptions[2].filter, "$share/g/c");
    EXPECT_EQ(d->subscriptions[1].options.no_local, v5);
    EXPECT_EQ(d->subscriptions[1].options.retain_as_published, v5);
    EXPECT_EQ(d->subscriptions[1].options.retain_handling, v5 ? 2 : 0);
    EXPECT_EQ(d->subscriptions[2].options.retain_handling, v5 ? 1 : 0);
    EXPECT_EQ(d->properties.subscription_identifier().value_or(0), v5 ? 99u : 0u);
    Bytes again;
    encode_subscribe(again, v, *d);
    EXPECT_EQ(again, out);
  }
}

// MQTT 3.1.1 section 3.8.3 example: packet id 10, "a/b" QoS 1, "c/d" QoS 2.
TEST(Subscribe, GoldenBytes) {
  const Bytes packet =
      bytes({0x82, 0x0E, 0x00, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x01, 0x00, 0x03, 'c', '/', 'd', 0x02});
  auto d = decode_subscribe(ProtocolVersion::v311, body_of(packet));
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->subscriptions.size(), 2u);
  EXPECT_EQ(d->subscriptions[1].filter, "c/d");
  EXPECT_EQ(d->subscriptions[1].options.qos, 2);
  Bytes again;
  encode_subscribe(again, ProtocolVersion::v311, *d);
  EXPECT_EQ(again, packet);
}

TEST(Subscribe, Violations) {
  using enum ReasonCode;
  for (auto v : test::kAllVersions) {
    const Bytes props = v == ProtocolVersion::v5 ? bytes({0}) : Bytes{};
    auto with = [&](const Bytes& payload) { return test::concat(test::concat(bytes({0, 1}), props), payload); };
    EXPECT_EQ(reason_of(decode_subscribe(v, with({}))), protocol_error);                        // no filter
    EXPECT_EQ(reason_of(decode_subscribe(v, test::concat(bytes({0, 0}), props))), malformed_packet);  // id 0
    EXPECT_EQ(reason_of(decode_subscribe(v, bytes({0}))), malformed_packet);                     // truncated id
    EXPECT_EQ(reason_of(decode_subscribe(v, with(bytes({0, 1, 'a', 3})))), malformed_packet);   // QoS 3
    EXPECT_EQ(reason_of(decode_subscribe(v, with(bytes({0, 1, 'a', 0xC0})))), malformed_packet);  // bits 6-7
    EXPECT_EQ(reason_of(decode_subscribe(v, with(bytes({0, 1, 'a'})))), malformed_packet);      // no options
    EXPECT_EQ(reason_of(decode_subscribe(v, with(bytes({0, 4, 'a'})))), malformed_packet);      // runs past
    EXPECT_EQ(reason_of(decode_subscribe(v, with(bytes({0, 1, 0xFE, 0})))), malformed_packet);  // bad UTF-8
    EXPECT_EQ(reason_of(decode_subscribe(v, with(bytes({0, 1, 0x00, 0})))), malformed_packet);  // U+0000
    // The broker judges filter syntax (and closes the connection for a bad one).
    EXPECT_TRUE(decode_subscribe(v, with(bytes({0, 3, 'a', '#', 'b', 0}))));
    EXPECT_TRUE(decode_subscribe(v, with(bytes({0, 0, 0}))));
  }
  // 3.1 / 3.1.1: the upper six bits are reserved [MQTT-3-8.3-4].
  for (int bit = 2; bit < 8; ++bit) {
    EXPECT_EQ(reason_of(decode_subscribe(ProtocolVersion::v311, bytes({0, 1, 0, 1, 'a', 1 << bit}))), malformed_packet);
    EXPECT_EQ(reason_of(decode_subscribe(ProtocolVersion::v31, bytes({0, 1, 0, 1, 'a', 1 << bit}))), malformed_packet);
  }
  // 5.0: options bits 2-5 are meaningful; retain handling 3 is a protocol error.
  EXPECT_TRUE(decode_subscribe(ProtocolVersion::v5, bytes({0, 1, 0, 0, 1, 'a', 0x2E})));
  EXPECT_EQ(reason_of(decode_subscribe(ProtocolVersion::v5, bytes({0, 1, 0, 0, 1, 'a', 0x30}))), protocol_error);
  // 5.0: no local on a shared subscription [MQTT-3.8.3-4].
  Bytes shared = bytes({0, 1, 0});
  put_string(shared, "$share/g/a");
  shared.push_back(0x04);
  EXPECT_EQ(reason_of(decode_subscribe(ProtocolVersion::v5, shared)), protocol_error);
  // 5.0: one subscription identifier at most, and not 0.
  EXPECT_EQ(reason_of(decode_subscribe(ProtocolVersion::v5, bytes({0, 1, 4, 0x0B, 1, 0x0B, 2, 0, 1, 'a', 0}))),
            protocol_error);
  EXPECT_EQ(reason_of(decode_subscribe(ProtocolVersion::v5, bytes({0, 1, 2, 0x0B, 0, 0, 1, 'a', 0}))), protocol_error);
  EXPECT_EQ(reason_of(decode_subscribe(ProtocolVersion::v5, bytes({0, 1, 2, 0x1F, 0, 0, 1, 'a', 0}))),
            malformed_packet);  // reason string is not a SUBSCRIBE property
}

TEST(Unsubscribe, RoundTripEveryVersion) {
  for (auto v : test::kAllVersions) {
    UnsubscribePacket u;
    u.packet_id = 3;
    u.filters = {"a", "b/#", "$share/g/+"};
    if (v == ProtocolVersion::v5) u.properties.user_properties = {{"k", "v"}};
    Bytes out;
    encode_unsubscribe(out, v, u);
    EXPECT_EQ(out[0], 0xA2);
    auto d = decode_unsubscribe(v, body_of(out));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->packet_id, 3);
    EXPECT_EQ(d->filters, u.filters);
    Bytes again;
    encode_unsubscribe(again, v, *d);
    EXPECT_EQ(again, out);
  }
}

// MQTT 3.1.1 section 3.10.3 example: "a/b", "c/d".
TEST(Unsubscribe, GoldenBytes) {
  const Bytes packet = bytes({0xA2, 0x0C, 0x00, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x03, 'c', '/', 'd'});
  auto d = decode_unsubscribe(ProtocolVersion::v311, body_of(packet));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->filters, (std::vector<std::string_view>{"a/b", "c/d"}));
}

TEST(Unsubscribe, Violations) {
  using enum ReasonCode;
  EXPECT_EQ(reason_of(decode_unsubscribe(ProtocolVersion::v311, bytes({0, 3}))), protocol_error);  // empty
  EXPECT_EQ(reason_of(decode_unsubscribe(ProtocolVersion::v5, bytes({0, 3, 0}))), protocol_error);
  EXPECT_EQ(reason_of(decode_unsubscribe(ProtocolVersion::v311, bytes({0, 0, 0, 1, 'a'}))), malformed_packet);  // id 0
  EXPECT_EQ(reason_of(decode_unsubscribe(ProtocolVersion::v311, bytes({0, 3, 0, 2, 'a'}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_unsubscribe(ProtocolVersion::v311, bytes({0, 3, 0, 1, 0xFF}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_unsubscribe(ProtocolVersion::v5, bytes({0, 3, 2, 0x0B, 1, 0, 1, 'a'}))),
            malformed_packet);  // subscription identifier is not an UNSUBSCRIBE property
}

TEST(Suback, GoldenBytesPerVersion) {
  using enum ReasonCode;
  // MQTT 3.1.1 section 3.9.3 example: 0, 1, 2 and failure.
  Bytes v3;
  encode_suback(v3, ProtocolVersion::v311, 10, {success, granted_qos1, granted_qos2, unspecified_error}, nullptr);
  EXPECT_EQ(v3, bytes({0x90, 6, 0, 10, 0x00, 0x01, 0x02, 0x80}));
  // 3.1.1 knows only the granted QoS and 0x80.
  Bytes mapped;
  encode_suback(mapped, ProtocolVersion::v311, 5, {granted_qos1, topic_filter_invalid}, nullptr);
  EXPECT_EQ(mapped, bytes({0x90, 4, 0, 5, 1, 0x80}));
  Bytes v5;
  encode_suback(v5, ProtocolVersion::v5, 5, {granted_qos1, topic_filter_invalid}, nullptr);
  EXPECT_EQ(v5, bytes({0x90, 5, 0, 5, 0, 1, 0x8F}));
}

TEST(Suback, RoundTripEveryVersion) {
  using enum ReasonCode;
  for (auto v : test::kAllVersions) {
    const bool v5 = v == ProtocolVersion::v5;
    const std::vector<ReasonCode> codes = {success, granted_qos2, v5 ? quota_exceeded : unspecified_error};
    Properties props;
    props.reason_string = "r";
    Bytes out;
    encode_suback(out, v, 9, codes, &props);
    auto d = decode_suback(v, PacketType::suback, body_of(out));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->packet_id, 9);
    EXPECT_EQ(d->codes, codes);
    EXPECT_EQ(d->properties.reason_string.value_or(""), v5 ? "r" : "");
  }
}

TEST(Unsuback, RoundTripEveryVersion) {
  using enum ReasonCode;
  for (auto v : test::kAllVersions) {
    const bool v5 = v == ProtocolVersion::v5;
    Bytes out;
    encode_unsuback(out, v, 4, {success, no_subscription_existed}, nullptr);
    if (!v5) {
      EXPECT_EQ(out, bytes({0xB0, 2, 0, 4}));  // no payload before 5.0
    }
    auto d = decode_suback(v, PacketType::unsuback, body_of(out));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->packet_id, 4);
    EXPECT_EQ(d->codes, v5 ? (std::vector<ReasonCode>{success, no_subscription_existed}) : std::vector<ReasonCode>{});
  }
}

TEST(Suback, Violations) {
  using enum ReasonCode;
  const auto v3 = ProtocolVersion::v311;
  const auto v5 = ProtocolVersion::v5;
  EXPECT_EQ(reason_of(decode_suback(v3, PacketType::suback, bytes({0, 1}))), protocol_error);  // no codes
  EXPECT_EQ(reason_of(decode_suback(v3, PacketType::suback, bytes({0, 0, 0}))), protocol_error);  // id 0
  EXPECT_EQ(reason_of(decode_suback(v3, PacketType::suback, bytes({0, 1, 0x03}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_suback(v3, PacketType::suback, bytes({0, 1, 0x8F}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_suback(v3, PacketType::unsuback, bytes({0, 1, 0x00}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_suback(v5, PacketType::suback, bytes({0, 1, 0}))), protocol_error);  // no codes
  EXPECT_EQ(reason_of(decode_suback(v5, PacketType::suback, bytes({0, 1, 0, 0x11}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_suback(v5, PacketType::unsuback, bytes({0, 1, 0, 0x02}))), malformed_packet);
  EXPECT_EQ(reason_of(decode_suback(v5, PacketType::unsuback, bytes({0, 1, 0}))), protocol_error);
  EXPECT_EQ(reason_of(decode_suback(v5, PacketType::suback, bytes({0, 1}))), malformed_packet);  // no props
  EXPECT_EQ(reason_of(decode_suback(v5, PacketType::publish, bytes({0, 1, 0, 0}))), protocol_error);
}

}  // namespace
}  // namespace outpost::mqtt
