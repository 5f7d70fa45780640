// PUBLISH and the acknowledgements of the QoS 1 / 2 flows (PUBACK, PUBREC, PUBREL, PUBCOMP).
#include "mqtt/codec/codec.hpp"
#include "mqtt/codec/text.hpp"

namespace outpost::mqtt {

bool payload_matches_format(const Properties& props, std::span<const std::uint8_t> payload) noexcept {
  if (props.payload_format_indicator.value_or(0) != 1) return true;
  return valid_utf8({reinterpret_cast<const char*>(payload.data()), payload.size()});
}

Result<PublishPacket> decode_publish(ProtocolVersion v, std::uint8_t flags, std::span<const std::uint8_t> body) {
  PublishPacket p;
  if (auto e = decode_publish_into(v, flags, body, p)) return std::move(*e);
  return p;
}

std::optional<CodecError> decode_publish_into(ProtocolVersion v, std::uint8_t flags, std::span<const std::uint8_t> body,
                                              PublishPacket& p) {
  Reader r(body);
  p.dup = flags & 0x08;
  p.qos = (flags >> 1) & 0x03;
  p.retain = flags & 0x01;
  if (p.qos == 3) return malformed("PUBLISH with QoS 3");                           // [MQTT-3.3.1-4]
  // [MQTT-3.3.1-2] and [MQTT-3.3.2-2] name no reason code; malformed, as Mosquitto answers.
  if (p.qos == 0 && p.dup) return malformed("PUBLISH QoS 0 with DUP set");
  if (!r.string(p.topic, "topic name")) return r.error();
  for (const char ch : p.topic) {
    if (ch == '+' || ch == '#') return malformed("PUBLISH topic contains a wildcard ('+' or '#')");
  }
  if (p.qos > 0 && !read_packet_id(r, p.packet_id)) return r.error();
  if (is_v5(v) && !read_properties(r, PropertyContext::publish, p.properties)) return r.error();
  if (p.topic.empty() && !(is_v5(v) && p.properties.topic_alias)) {
    // [MQTT-4.7.3-1]; 5.0 section 3.3.2.1: empty only with a topic alias, which the
    // broker resolves.
    return protocol_error("PUBLISH topic is empty");
  }
  // The payload is the rest of the packet, possibly empty, and stays in the caller's buffer.
  p.payload = r.rest();
  return std::nullopt;
}

Result<AckPacket> decode_ack(ProtocolVersion v, PacketType type, std::span<const std::uint8_t> body) {
  if (type != PacketType::puback && type != PacketType::pubrec && type != PacketType::pubrel &&
      type != PacketType::pubcomp) {
    return protocol_error(text::cat(to_string(type), " is not a publish acknowledgement"));
  }
  Reader r(body);
  AckPacket a;
  if (!read_packet_id(r, a.packet_id)) return r.error();
  if (is_v5(v) && !r.empty()) {
    // Remaining length 2 means success without properties; 3 means a reason code
    // without properties (5.0 section 3.4.2.1).
    std::uint8_t code = 0;
    r.u8(code, "reason code");
    a.reason = static_cast<ReasonCode>(code);
    if (!reason_code_allowed(type, a.reason)) {
      return malformed(text::cat("reason code ", text::hex(code), " is not defined for ", to_string(type)));
    }
    if (!r.empty() && !read_properties(r, PropertyContext::ack, a.properties)) return r.error();
  }
  if (!r.empty()) return malformed(text::cat("unexpected bytes at the end of ", to_string(type)));
  return a;
}

}  // namespace outpost::mqtt
