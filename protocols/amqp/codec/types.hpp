// AMQP 0-9-1 wire vocabulary shared by the codec and the session: frame types, reply
// codes (AMQP 0-9-1 section 1.2, "Constants") and errors as values.
#pragma once

#include <cstdint>
#include <string>

namespace outpost::amqp {

// Frame types (section 4.2.3) and the octet every frame ends with.
enum class FrameType : std::uint8_t { method = 1, header = 2, body = 3, heartbeat = 8 };
inline constexpr std::uint8_t kFrameEnd = 0xCE;
// type (1) + channel (2) + size (4) before the payload, frame-end (1) after it.
inline constexpr std::size_t kFrameOverhead = 8;
// The smallest frame_max a peer may impose (section 4.2.3: "at least 4096 octets").
inline constexpr std::uint32_t kFrameMinSize = 4096;

// Reply codes. 2xx success, 3xx soft errors returned with basic.return, 4xx channel
// errors (close the channel), 5xx connection errors (close the connection).
enum ReplyCode : std::uint16_t {
  reply_success = 200,
  content_too_large = 311,
  no_route = 312,
  no_consumers = 313,
  connection_forced = 320,
  invalid_path = 402,
  access_refused = 403,
  not_found = 404,
  resource_locked = 405,
  precondition_failed = 406,
  frame_error = 501,
  syntax_error = 502,
  command_invalid = 503,
  channel_error = 504,
  unexpected_frame = 505,
  resource_error = 506,
  not_allowed = 530,
  not_implemented = 540,
  internal_error = 541,
};

// A hard error (5xx) closes the connection; the others close only the channel.
constexpr bool is_connection_error(std::uint16_t code) { return code >= 500 || code == 320 || code == 402; }

// A decoding or protocol error as a value: the reply code the peer gets and a text for
// the close method and the log.
struct Error {
  std::uint16_t code = 0;
  std::string text;
  explicit operator bool() const noexcept { return code != 0; }
};

// Class and method ids (section 1.x of the protocol reference) the session switches on.
namespace cls {
inline constexpr std::uint16_t connection = 10, channel = 20, exchange = 40, queue = 50, basic = 60, confirm = 85,
                               tx = 90;
}

}  // namespace outpost::amqp
