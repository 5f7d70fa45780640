// MQTT control packets as plain structs, decoded and encoded by codec.hpp. Strings,
// binary fields and payloads are views into the buffer that was decoded and are valid
// only while it lives: whoever keeps one copies it (the broker copies a PUBLISH payload
// once, into its message). Properties own their values (properties.hpp). To encode, the
// views may point anywhere that outlives the encode call.
#pragma once

#include "mqtt/codec/properties.hpp"
#include "mqtt/codec/types.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace outpost::mqtt {

// The first bytes of every packet: type, flags, and how long the rest is.
struct FixedHeader {
  PacketType type{};
  std::uint8_t flags = 0;
  std::uint32_t remaining_length = 0;
  std::size_t header_length = 0;  // 2..5 bytes
};

enum class FrameStatus { complete, need_more, error };

// What parse_fixed_header found: a complete header (the body may still be arriving:
// the packet is header_length + remaining_length bytes), too few bytes to tell, or an
// error that ends the connection.
struct Frame {
  FrameStatus status = FrameStatus::need_more;
  FixedHeader header;
  CodecError error;
};

struct Will {
  std::string_view topic;
  std::span<const std::uint8_t> payload;
  std::uint8_t qos = 0;
  bool retain = false;
  Properties properties;
};

struct ConnectPacket {
  ProtocolVersion version = ProtocolVersion::v311;  // decided by the protocol name and level
  bool clean_start = true;
  std::uint16_t keep_alive = 0;
  std::string_view client_id;
  std::optional<Will> will;
  std::optional<std::string_view> username;                // user name flag
  std::optional<std::span<const std::uint8_t>> password;  // password flag
  Properties properties;
};

struct ConnackPacket {
  bool session_present = false;
  ReasonCode reason = ReasonCode::success;  // 3.1.1 return codes are mapped to 5.0 reasons
  std::uint8_t raw_code = 0;
  Properties properties;
};

struct PublishPacket {
  std::string_view topic;  // empty only in 5.0 with properties.topic_alias set
  std::uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;
  Properties properties;
  std::span<const std::uint8_t> payload;
};

// PUBACK, PUBREC, PUBREL, PUBCOMP.
struct AckPacket {
  std::uint16_t packet_id = 0;
  ReasonCode reason = ReasonCode::success;
  Properties properties;
};

struct SubscriptionOptions {
  std::uint8_t qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  std::uint8_t retain_handling = 0;  // 0, 1 or 2
};

struct Subscription {
  std::string_view filter;
  SubscriptionOptions options;
};

struct SubscribePacket {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<Subscription> subscriptions;
};

struct UnsubscribePacket {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<std::string_view> filters;
};

// SUBACK and UNSUBACK. 3.1.1 SUBACK codes decode as 0x00..0x02 or 0x80
// (unspecified_error); 3.1.1 UNSUBACK has no codes.
struct SubackPacket {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<ReasonCode> codes;
};

// PINGREQ and PINGRESP: nothing but their type.
struct PingPacket {
  PacketType type = PacketType::pingreq;
};

struct DisconnectPacket {
  ReasonCode reason = ReasonCode::success;
  Properties properties;
};

struct AuthPacket {
  ReasonCode reason = ReasonCode::success;
  Properties properties;
};

}  // namespace outpost::mqtt
