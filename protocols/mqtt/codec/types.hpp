// Wire-level vocabulary of MQTT 3.1, 3.1.1 and 5.0: packet types, protocol levels,
// reason codes, and the error value every decoder returns instead of throwing.
// Plain values and pure functions: any thread may use them, nothing blocks.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace outpost::mqtt {

enum class PacketType : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
  auth = 15,
};

// "PUBLISH", "SUBACK", ... for log and error messages.
const char* to_string(PacketType type);

// The protocol level byte of CONNECT.
enum class ProtocolVersion : std::uint8_t { v31 = 3, v311 = 4, v5 = 5 };

// MQTT 5.0 reason codes (section 2.4, table 2-6), named as the specification names
// them. 3.1.1 return codes are derived from them (connack_code_for).
enum class ReasonCode : std::uint8_t {
  success = 0x00,  // also normal disconnection, granted QoS 0
  granted_qos1 = 0x01,
  granted_qos2 = 0x02,
  disconnect_with_will_message = 0x04,
  no_matching_subscribers = 0x10,
  no_subscription_existed = 0x11,
  continue_authentication = 0x18,
  re_authenticate = 0x19,
  unspecified_error = 0x80,
  malformed_packet = 0x81,
  protocol_error = 0x82,
  implementation_specific_error = 0x83,
  unsupported_protocol_version = 0x84,
  client_identifier_not_valid = 0x85,
  bad_user_name_or_password = 0x86,
  not_authorized = 0x87,
  server_unavailable = 0x88,
  server_busy = 0x89,
  banned = 0x8A,
  server_shutting_down = 0x8B,
  bad_authentication_method = 0x8C,
  keep_alive_timeout = 0x8D,
  session_taken_over = 0x8E,
  topic_filter_invalid = 0x8F,
  topic_name_invalid = 0x90,
  packet_identifier_in_use = 0x91,
  packet_identifier_not_found = 0x92,
  receive_maximum_exceeded = 0x93,
  topic_alias_invalid = 0x94,
  packet_too_large = 0x95,
  message_rate_too_high = 0x96,
  quota_exceeded = 0x97,
  administrative_action = 0x98,
  payload_format_invalid = 0x99,
  retain_not_supported = 0x9A,
  qos_not_supported = 0x9B,
  use_another_server = 0x9C,
  server_moved = 0x9D,
  shared_subscriptions_not_supported = 0x9E,
  connection_rate_exceeded = 0x9F,
  maximum_connect_time = 0xA0,
  subscription_identifiers_not_supported = 0xA1,
  wildcard_subscriptions_not_supported = 0xA2,
};

const char* to_string(ReasonCode code);

// Whether a 5.0 packet of this type may carry this reason code (tables 3-1, 3-4 .. 3-13:
// CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH).
// Packet types without reason codes allow none.
bool reason_code_allowed(PacketType type, ReasonCode code);

// A decoding failure: the reason code a 5.0 peer would be told, and what was wrong.
// malformed_packet (0x81): the bytes do not parse; protocol_error (0x82): they parse but
// break a rule; unsupported_protocol_version (0x84): CONNECT names a protocol or level we
// do not speak; packet_too_large (0x95): the fixed header announces more than the limit.
struct CodecError {
  ReasonCode reason = ReasonCode::malformed_packet;
  std::string message;
};

// A decoded value or the error that prevented it. Test with `if (r)`, then use `*r` /
// `r->`; `error()` only when it holds no value.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(CodecError error) : v_(std::move(error)) {}  // NOLINT
  explicit operator bool() const noexcept { return v_.index() == 0; }
  bool has_value() const noexcept { return v_.index() == 0; }
  T& operator*() { return std::get<0>(v_); }
  const T& operator*() const { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  const CodecError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, CodecError> v_;
};

inline CodecError malformed(std::string message) { return {ReasonCode::malformed_packet, std::move(message)}; }
inline CodecError protocol_error(std::string message) { return {ReasonCode::protocol_error, std::move(message)}; }

// The CONNACK code to send for a reason: the reason itself in 5.0; in 3.1 / 3.1.1 the
// return code of [MQTT-3.2.2-5] table 3.1 that says the most (0x84 -> 0x01, 0x85 -> 0x02,
// 0x88 -> 0x03, 0x86 -> 0x04, 0x87 -> 0x05; anything else is "server unavailable").
std::uint8_t connack_code_for(ProtocolVersion version, ReasonCode reason);

}  // namespace outpost::mqtt
