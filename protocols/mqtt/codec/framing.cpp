#include "mqtt/codec/codec.hpp"
#include "mqtt/codec/text.hpp"

namespace outpost::mqtt {

namespace {

Frame error_frame(CodecError e) {
  Frame f;
  f.status = FrameStatus::error;
  f.error = std::move(e);
  return f;
}

// [MQTT-2.2.2-1/2] the flags each packet type must carry; PUBLISH carries DUP/QoS/RETAIN.
std::optional<CodecError> check_flags(unsigned type, std::uint8_t flags) {
  switch (static_cast<PacketType>(type)) {
    case PacketType::publish:
      if ((flags & 0x06) == 0x06) return malformed("PUBLISH with QoS 3");  // [MQTT-3.3.1-4]
      if ((flags & 0x08) && (flags & 0x06) == 0) {
        // [MQTT-3.3.1-2] names no reason code; malformed, as Mosquitto answers.
        return malformed("PUBLISH QoS 0 with DUP set");
      }
      return std::nullopt;
    case PacketType::pubrel:
    case PacketType::subscribe:
    case PacketType::unsubscribe:
      if (flags == 0x02) return std::nullopt;
      return malformed(text::cat(to_string(static_cast<PacketType>(type)), " with fixed header flags ",
                                 text::hex(flags), " (must be 0x02)"));
    default:
      if (flags == 0) return std::nullopt;
      return malformed(text::cat(to_string(static_cast<PacketType>(type)), " with fixed header flags ",
                                 text::hex(flags), " (must be 0x00)"));
  }
}

}  // namespace

Frame parse_fixed_header(std::span<const std::uint8_t> in, std::uint32_t max_packet_size) {
  if (in.empty()) return Frame{};
  // The first byte alone can be judged, so garbage is refused before more arrives.
  const unsigned type = in[0] >> 4;
  const std::uint8_t flags = in[0] & 0x0F;
  if (type == 0) return error_frame(malformed("reserved packet type 0"));
  if (auto e = check_flags(type, flags)) return error_frame(std::move(*e));

  std::uint32_t length = 0;
  std::size_t i = 1;
  for (;; ++i) {
    if (i > 4) return error_frame(malformed("remaining length longer than 4 bytes"));  // [MQTT-1.5.5]
    if (i >= in.size()) return Frame{};  // need more
    const std::uint8_t b = in[i];
    length |= std::uint32_t{b & 0x7Fu} << (7 * (i - 1));
    if ((b & 0x80) == 0) break;
  }
  Frame f;
  f.status = FrameStatus::complete;
  f.header = FixedHeader{static_cast<PacketType>(type), flags, length, i + 1};
  // The limit counts the whole packet, fixed header included [MQTT-3.2.2-15]; it is
  // known now, so a peer announcing too much is refused before its body is buffered.
  const std::uint64_t total = std::uint64_t{length} + f.header.header_length;
  if (max_packet_size != 0 && total > max_packet_size) {
    return error_frame({ReasonCode::packet_too_large,
                        text::cat(to_string(f.header.type), " of ", total, " bytes exceeds the maximum packet size of ",
                                  max_packet_size)});
  }
  return f;
}

}  // namespace outpost::mqtt
