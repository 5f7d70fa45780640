#include "codec_test_util.hpp"

namespace outpost::mqtt {
namespace {

using test::bytes;

// MQTT 3.1.1 table 2.4 / 5.0 table 1-1: the edges of each varint size.
TEST(Framing, RemainingLengthGoldenEncodings) {
  const std::pair<std::uint32_t, Bytes> table[] = {
      {0, bytes({0x00})},
      {127, bytes({0x7F})},
      {128, bytes({0x80, 0x01})},
      {16383, bytes({0xFF, 0x7F})},
      {16384, bytes({0x80, 0x80, 0x01})},
      {2097151, bytes({0xFF, 0xFF, 0x7F})},
      {2097152, bytes({0x80, 0x80, 0x80, 0x01})},
      {268435455, bytes({0xFF, 0xFF, 0xFF, 0x7F})},
  };
  for (const auto& [len, enc] : table) {
    Bytes b;
    put_varint(b, len);
    EXPECT_EQ(b, enc) << len;
    EXPECT_EQ(varint_size(len), enc.size());
    const Bytes packet = test::concat(bytes({0x30}), enc);
    auto f = parse_fixed_header(packet, 0);
    ASSERT_EQ(f.status, FrameStatus::complete) << len;
    EXPECT_EQ(f.header.type, PacketType::publish);
    EXPECT_EQ(f.header.remaining_length, len);
    EXPECT_EQ(f.header.header_length, 1 + enc.size());
  }
}

TEST(Framing, FifthLengthByteIsMalformed) {
  auto f = parse_fixed_header(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}), 0);
  ASSERT_EQ(f.status, FrameStatus::error);
  EXPECT_EQ(f.error.reason, ReasonCode::malformed_packet);
  EXPECT_NE(f.error.message.find("remaining length longer than 4 bytes"), std::string::npos);
  // Known as soon as the fourth length byte says "more follows".
  EXPECT_EQ(parse_fixed_header(bytes({0x30, 0x80, 0x80, 0x80, 0x80}), 0).status, FrameStatus::error);
}

TEST(Framing, NeedsMoreForPartialHeader) {
  EXPECT_EQ(parse_fixed_header({}, 0).status, FrameStatus::need_more);
  EXPECT_EQ(parse_fixed_header(bytes({0x30}), 0).status, FrameStatus::need_more);
  EXPECT_EQ(parse_fixed_header(bytes({0x30, 0x80}), 0).status, FrameStatus::need_more);
  EXPECT_EQ(parse_fixed_header(bytes({0x30, 0x80, 0x80, 0x80}), 0).status, FrameStatus::need_more);
}

TEST(Framing, HeaderCompleteBeforeBody) {
  // Only the header is needed; the body may still be on its way.
  auto f = parse_fixed_header(bytes({0x30, 0x0A, 0x00}), 0);
  ASSERT_EQ(f.status, FrameStatus::complete);
  EXPECT_EQ(f.header.remaining_length, 10u);
  EXPECT_EQ(f.header.header_length, 2u);
}

TEST(Framing, TooLargeDetectedFromHeaderAlone) {
  Bytes b{0x30};
  put_varint(b, 2000);  // 3 header bytes + 2000
  auto f = parse_fixed_header(b, 1024);
  ASSERT_EQ(f.status, FrameStatus::error);
  EXPECT_EQ(f.error.reason, ReasonCode::packet_too_large);
  EXPECT_EQ(parse_fixed_header(b, 4096).status, FrameStatus::complete);
  // The limit counts the fixed header too.
  EXPECT_EQ(parse_fixed_header(b, 2003).status, FrameStatus::complete);
  EXPECT_EQ(parse_fixed_header(b, 2002).status, FrameStatus::error);
  // 0 means no limit, even for the largest length.
  EXPECT_EQ(parse_fixed_header(bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F}), 0).status, FrameStatus::complete);
  EXPECT_EQ(parse_fixed_header(bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F}), 0xFFFFFFFFu).status, FrameStatus::complete);
}

TEST(Framing, FixedHeaderFlagRules) {
  // PUBREL, SUBSCRIBE, UNSUBSCRIBE carry 0b0010 [MQTT-2.2.2-1/2].
  for (int type : {6, 8, 10}) {
    for (int flags = 0; flags < 16; ++flags) {
      auto f = parse_fixed_header(bytes({(type << 4) | flags, 0}), 0);
      if (flags == 2) {
        EXPECT_EQ(f.status, FrameStatus::complete) << type;
      } else {
        ASSERT_EQ(f.status, FrameStatus::error) << type << " " << flags;
        EXPECT_EQ(f.error.reason, ReasonCode::malformed_packet);
      }
    }
  }
  // All others but PUBLISH carry 0.
  for (int type : {1, 2, 4, 5, 7, 9, 11, 12, 13, 14, 15}) {
    EXPECT_EQ(parse_fixed_header(bytes({type << 4, 0}), 0).status, FrameStatus::complete) << type;
    for (int flags = 1; flags < 16; ++flags) {
      auto f = parse_fixed_header(bytes({(type << 4) | flags, 0}), 0);
      ASSERT_EQ(f.status, FrameStatus::error) << type << " " << flags;
      EXPECT_EQ(f.error.reason, ReasonCode::malformed_packet);
    }
  }
}

TEST(Framing, FlagsJudgedFromTheFirstByte) {
  auto f = parse_fixed_header(bytes({0x80}), 0);  // SUBSCRIBE without 0b0010
  EXPECT_EQ(f.status, FrameStatus::error);
  EXPECT_EQ(parse_fixed_header(bytes({0x00}), 0).status, FrameStatus::error);  // reserved type 0
}

TEST(Framing, PublishFlags) {
  for (int flags = 0; flags < 16; ++flags) {
    const int qos = (flags >> 1) & 3;
    const bool dup = flags & 8;
    auto f = parse_fixed_header(bytes({0x30 | flags, 0}), 0);
    if (qos == 3) {
      ASSERT_EQ(f.status, FrameStatus::error);
      EXPECT_EQ(f.error.reason, ReasonCode::malformed_packet);
    } else if (qos == 0 && dup) {
      ASSERT_EQ(f.status, FrameStatus::error);
      EXPECT_EQ(f.error.reason, ReasonCode::malformed_packet);  // [MQTT-3.3.1-2], as Mosquitto
    } else {
      ASSERT_EQ(f.status, FrameStatus::complete);
      EXPECT_EQ(f.header.flags, flags);
    }
  }
}

TEST(Framing, ReservedPacketTypeZero) {
  auto f = parse_fixed_header(bytes({0x00, 0x00}), 0);
  ASSERT_EQ(f.status, FrameStatus::error);
  EXPECT_EQ(f.error.reason, ReasonCode::malformed_packet);
}

TEST(Framing, SeveralPacketsInOneBuffer) {
  Bytes stream;
  encode_pingreq(stream);
  encode_publish_header(stream, ProtocolVersion::v311, "a", 0, false, false, 0, nullptr, 0);
  encode_disconnect(stream, ProtocolVersion::v311, ReasonCode::success);
  std::vector<PacketType> seen;
  std::span<const std::uint8_t> rest(stream);
  while (!rest.empty()) {
    auto f = parse_fixed_header(rest, 0);
    ASSERT_EQ(f.status, FrameStatus::complete);
    seen.push_back(f.header.type);
    rest = rest.subspan(f.header.header_length + f.header.remaining_length);
  }
  EXPECT_EQ(seen, (std::vector<PacketType>{PacketType::pingreq, PacketType::publish, PacketType::disconnect}));
}

TEST(ReasonCodes, ConnackMapping) {
  using enum ReasonCode;
  const auto v3 = ProtocolVersion::v311;
  EXPECT_EQ(connack_code_for(v3, success), 0x00);
  EXPECT_EQ(connack_code_for(v3, unsupported_protocol_version), 0x01);
  EXPECT_EQ(connack_code_for(v3, client_identifier_not_valid), 0x02);
  EXPECT_EQ(connack_code_for(v3, server_unavailable), 0x03);
  EXPECT_EQ(connack_code_for(v3, server_busy), 0x03);
  EXPECT_EQ(connack_code_for(v3, malformed_packet), 0x03);
  EXPECT_EQ(connack_code_for(v3, bad_user_name_or_password), 0x04);
  EXPECT_EQ(connack_code_for(v3, not_authorized), 0x05);
  EXPECT_EQ(connack_code_for(v3, banned), 0x05);
  EXPECT_EQ(connack_code_for(ProtocolVersion::v31, client_identifier_not_valid), 0x02);
  EXPECT_EQ(connack_code_for(ProtocolVersion::v5, client_identifier_not_valid), 0x85);
  EXPECT_EQ(connack_code_for(ProtocolVersion::v5, quota_exceeded), 0x97);
}

TEST(ReasonCodes, AllowedPerPacket) {
  using enum ReasonCode;
  EXPECT_TRUE(reason_code_allowed(PacketType::puback, no_matching_subscribers));
  EXPECT_FALSE(reason_code_allowed(PacketType::puback, granted_qos1));
  EXPECT_TRUE(reason_code_allowed(PacketType::pubrel, packet_identifier_not_found));
  EXPECT_FALSE(reason_code_allowed(PacketType::pubcomp, quota_exceeded));
  EXPECT_TRUE(reason_code_allowed(PacketType::suback, granted_qos2));
  EXPECT_FALSE(reason_code_allowed(PacketType::unsuback, granted_qos2));
  EXPECT_TRUE(reason_code_allowed(PacketType::unsuback, no_subscription_existed));
  EXPECT_TRUE(reason_code_allowed(PacketType::disconnect, disconnect_with_will_message));
  EXPECT_FALSE(reason_code_allowed(PacketType::disconnect, banned));
  EXPECT_TRUE(reason_code_allowed(PacketType::connack, banned));
  EXPECT_FALSE(reason_code_allowed(PacketType::connack, session_taken_over));
  EXPECT_TRUE(reason_code_allowed(PacketType::auth, continue_authentication));
  EXPECT_FALSE(reason_code_allowed(PacketType::auth, unspecified_error));
  EXPECT_FALSE(reason_code_allowed(PacketType::publish, success));
  EXPECT_STREQ(to_string(quota_exceeded), "quota exceeded");
  EXPECT_STREQ(to_string(PacketType::unsuback), "UNSUBACK");
}

}  // namespace
}  // namespace outpost::mqtt
