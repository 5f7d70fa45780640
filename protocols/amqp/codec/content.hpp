// Content header frames (AMQP 0-9-1 section 4.2.6.1): class id, weight, body size and
// the basic class's 14 properties, present as the property-flags word says (bit 15 =
// content-type ... bit 2 = cluster-id; bit 0 would announce another flags word, which
// the basic class never needs).
#pragma once

#include "amqp/codec/field_table.hpp"
#include "amqp/codec/types.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace outpost::amqp {

namespace prop {
inline constexpr std::uint16_t content_type = 1u << 15, content_encoding = 1u << 14, headers = 1u << 13,
                               delivery_mode = 1u << 12, priority = 1u << 11, correlation_id = 1u << 10,
                               reply_to = 1u << 9, expiration = 1u << 8, message_id = 1u << 7,
                               timestamp = 1u << 6, type = 1u << 5, user_id = 1u << 4, app_id = 1u << 3,
                               cluster_id = 1u << 2;
}

struct BasicProperties {
  std::uint16_t flags = 0;  // which of the fields below are present
  std::string content_type;
  std::string content_encoding;
  FieldTable headers;
  std::uint8_t delivery_mode = 0;  // 1 transient, 2 persistent
  std::uint8_t priority = 0;
  std::string correlation_id;
  std::string reply_to;
  std::string expiration;  // milliseconds, as a decimal string
  std::string message_id;
  std::uint64_t timestamp = 0;  // seconds since the epoch
  std::string type;
  std::string user_id;
  std::string app_id;
  std::string cluster_id;

  bool has(std::uint16_t f) const noexcept { return (flags & f) != 0; }
  bool operator==(const BasicProperties&) const = default;
};

struct ContentHeader {
  std::uint16_t class_id = 0;
  std::uint64_t body_size = 0;
  BasicProperties properties;
  // The encoded headers table (its content, without the length), to pass it on as received.
  std::span<const std::uint8_t> headers_raw;
};

// Errors: 501 for a truncated header, a damaged headers table or a second flags word.
Error decode_content_header(std::span<const std::uint8_t> payload, ContentHeader& out);

// Appends a whole content header frame. `headers_raw`, when not empty, is written as the
// headers table instead of `p.headers` (a table kept encoded since it was received).
void encode_content_header(std::vector<std::uint8_t>& out, std::uint16_t channel, std::uint16_t class_id,
                           std::uint64_t body_size, const BasicProperties& p,
                           std::span<const std::uint8_t> headers_raw = {});

}  // namespace outpost::amqp
