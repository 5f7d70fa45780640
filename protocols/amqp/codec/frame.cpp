#include "amqp/codec/frame.hpp"

#include "amqp/codec/wire.hpp"

#include <algorithm>
#include <string>

namespace outpost::amqp {

HeaderCheck check_protocol_header(std::span<const std::uint8_t> data) {
  const std::size_t n = std::min(data.size(), kProtocolHeader.size());
  if (!std::equal(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n), kProtocolHeader.begin())) {
    return HeaderCheck::bad;
  }
  return n == kProtocolHeader.size() ? HeaderCheck::ok : HeaderCheck::need_more;
}

FrameRead read_frame(std::span<const std::uint8_t> data, std::uint32_t frame_max) {
  FrameRead f;
  if (data.size() < 7) return f;
  Reader r(data.first(7));
  const auto type = r.u8();
  f.channel = r.u16();
  const std::uint32_t size = r.u32();
  auto fail = [&f](std::string text) {
    f.status = FrameStatus::error;
    f.error = Error{frame_error, std::move(text)};
    return f;
  };
  if (type != 1 && type != 2 && type != 3 && type != 8) return fail("unknown frame type " + std::to_string(type));
  if (frame_max != 0 && std::uint64_t{size} + kFrameOverhead > frame_max) {
    return fail("frame of " + std::to_string(std::uint64_t{size} + kFrameOverhead) + " octets exceeds frame_max " +
                std::to_string(frame_max));
  }
  if (data.size() < std::size_t{size} + kFrameOverhead) return f;
  if (data[7 + size] != kFrameEnd) return fail("frame does not end with 0xCE");
  f.status = FrameStatus::ok;
  f.type = static_cast<FrameType>(type);
  f.payload = data.subspan(7, size);
  f.consumed = size + kFrameOverhead;
  return f;
}

void write_frame_header(std::vector<std::uint8_t>& out, FrameType type, std::uint16_t channel, std::uint32_t size) {
  Writer w(out);
  w.u8(static_cast<std::uint8_t>(type));
  w.u16(channel);
  w.u32(size);
}

void write_heartbeat(std::vector<std::uint8_t>& out) {
  write_frame_header(out, FrameType::heartbeat, 0, 0);
  out.push_back(kFrameEnd);
}

void write_body_frames(std::vector<std::uint8_t>& out, std::uint16_t channel, std::span<const std::uint8_t> body,
                       std::uint32_t frame_max) {
  const std::size_t chunk = body_chunk_size(frame_max);
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    const auto part = body.subspan(at, std::min(chunk, body.size() - at));
    write_frame_header(out, FrameType::body, channel, static_cast<std::uint32_t>(part.size()));
    out.insert(out.end(), part.begin(), part.end());
    out.push_back(kFrameEnd);
  }
}

}  // namespace outpost::amqp
