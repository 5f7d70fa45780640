// MQTT 5.0 properties (section 2.2.2): decoded, validated per packet type, encoded.
// A property not allowed on a packet, repeated where it may appear once, or out of its
// value range is a protocol error (0x82); a truncated one or an unknown identifier is
// malformed (0x81). Plain values and pure functions: any thread, nothing blocks.
#pragma once

#include "mqtt/codec/wire.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::mqtt {

// Where a property set appears; decides which identifiers are allowed.
enum class PropertyContext : std::uint8_t {
  connect, connack, publish, will, ack, subscribe, suback, unsubscribe, unsuback, disconnect, auth,
};

// Every property of table 2-4 as a typed field, so the common ones cost one check to
// read. Values are owned (they outlive the decoded buffer); the broker moves the ones it
// forwards into its message. An unset field is not encoded.
struct Properties {
  std::optional<std::uint8_t> payload_format_indicator;      // 0x01
  std::optional<std::uint32_t> message_expiry_interval;      // 0x02
  std::optional<std::string> content_type;                   // 0x03
  std::optional<std::string> response_topic;                 // 0x08
  std::optional<std::string> correlation_data;               // 0x09 (binary)
  std::vector<std::uint32_t> subscription_identifiers;       // 0x0B (several on PUBLISH)
  std::optional<std::uint32_t> session_expiry_interval;      // 0x11
  std::optional<std::string> assigned_client_identifier;     // 0x12
  std::optional<std::uint16_t> server_keep_alive;            // 0x13
  std::optional<std::string> authentication_method;          // 0x15
  std::optional<std::string> authentication_data;            // 0x16 (binary)
  std::optional<std::uint8_t> request_problem_information;   // 0x17
  std::optional<std::uint32_t> will_delay_interval;          // 0x18
  std::optional<std::uint8_t> request_response_information;  // 0x19
  std::optional<std::string> response_information;           // 0x1A
  std::optional<std::string> server_reference;               // 0x1C
  std::optional<std::string> reason_string;                  // 0x1F
  std::optional<std::uint16_t> receive_maximum;              // 0x21
  std::optional<std::uint16_t> topic_alias_maximum;          // 0x22
  std::optional<std::uint16_t> topic_alias;                  // 0x23
  std::optional<std::uint8_t> maximum_qos;                   // 0x24
  std::optional<std::uint8_t> retain_available;              // 0x25
  std::vector<std::pair<std::string, std::string>> user_properties;  // 0x26, order kept
  // 0x26 too, written after `user_properties`, not owned: what a delivery sends from the
  // message it delivers (which outlives the encoding), so no string is copied per delivery.
  // Never filled by decoding.
  std::vector<std::pair<std::string_view, std::string_view>> user_property_views;
  std::optional<std::uint32_t> maximum_packet_size;          // 0x27
  std::optional<std::uint8_t> wildcard_subscription_available;       // 0x28
  std::optional<std::uint8_t> subscription_identifiers_available;    // 0x29
  std::optional<std::uint8_t> shared_subscription_available;         // 0x2A

  // SUBSCRIBE carries at most one subscription identifier.
  std::optional<std::uint32_t> subscription_identifier() const {
    if (subscription_identifiers.empty()) return std::nullopt;
    return subscription_identifiers.front();
  }
  bool empty() const;
};

// Reads the property length and the properties that follow (5.0 only); on failure the
// Reader holds the error.
bool read_properties(Reader& r, PropertyContext ctx, Properties& out);

// Size of the encoded properties, without the length prefix.
std::size_t properties_size(const Properties& p);
// Writes the length prefix and the properties.
void write_properties(Bytes& out, const Properties& p);

}  // namespace outpost::mqtt
