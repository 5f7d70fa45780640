// Framing (AMQP 0-9-1 sections 4.2.2 and 4.2.3): the protocol header a client opens
// with, and frames: type (octet), channel (short), size (long), payload, frame-end 0xCE.
// Pure functions: no I/O, errors as values.
#pragma once

#include "amqp/codec/types.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace outpost::amqp {

// "AMQP" 0 0 9 1 (section 4.2.2). A server that does not accept the header it receives
// answers with this one and closes.
inline constexpr std::array<std::uint8_t, 8> kProtocolHeader = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};

enum class HeaderCheck { ok, need_more, bad };
// `ok` when data starts with the 0-9-1 header; `bad` as soon as the bytes present differ.
HeaderCheck check_protocol_header(std::span<const std::uint8_t> data);

enum class FrameStatus { ok, need_more, error };

struct FrameRead {
  FrameStatus status = FrameStatus::need_more;
  FrameType type = FrameType::method;
  std::uint16_t channel = 0;
  std::span<const std::uint8_t> payload;
  std::size_t consumed = 0;  // the whole frame, end octet included
  Error error;               // 501 FRAME_ERROR: bad end octet, unknown type, too large
};

// Reads one frame from the start of `data`. `frame_max` bounds the whole frame (header
// and end octet included), as negotiated in connection.tune; 0 = no bound.
FrameRead read_frame(std::span<const std::uint8_t> data, std::uint32_t frame_max);

// Appends the 7-octet frame header; the caller appends `size` payload octets and the end.
void write_frame_header(std::vector<std::uint8_t>& out, FrameType type, std::uint16_t channel, std::uint32_t size);
void write_heartbeat(std::vector<std::uint8_t>& out);

// Largest body-frame payload under `frame_max` (0 = unbounded).
inline std::size_t body_chunk_size(std::uint32_t frame_max) {
  return frame_max == 0 ? std::size_t{1} << 30 : std::size_t{frame_max} - kFrameOverhead;
}
// Appends `body` as body frames of at most frame_max octets each (section 4.2.6.2); an
// empty body needs no body frame.
void write_body_frames(std::vector<std::uint8_t>& out, std::uint16_t channel, std::span<const std::uint8_t> body,
                       std::uint32_t frame_max);

}  // namespace outpost::amqp
