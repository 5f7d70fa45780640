// The packets without a packet identifier that manage the connection itself:
// PINGREQ, PINGRESP, DISCONNECT and AUTH.
#include "mqtt/codec/codec.hpp"
#include "mqtt/codec/text.hpp"

namespace outpost::mqtt {

namespace {

// The optional "reason code, then properties" tail of 5.0 DISCONNECT and AUTH: absent
// means success (sections 3.14.2.1, 3.15.2.1).
bool read_reason_tail(Reader& r, PacketType type, PropertyContext ctx, ReasonCode& reason, Properties& props) {
  if (r.empty()) return true;
  std::uint8_t b = 0;
  r.u8(b, "reason code");
  reason = static_cast<ReasonCode>(b);
  if (!reason_code_allowed(type, reason)) {
    return r.fail(malformed(text::cat("reason code ", text::hex(b), " is not defined for ", to_string(type))));
  }
  if (!r.empty() && !read_properties(r, ctx, props)) return false;
  if (!r.empty()) return r.fail(malformed(text::cat("unexpected bytes at the end of ", to_string(type))));
  return true;
}

}  // namespace

Result<PingPacket> decode_ping(PacketType type, std::span<const std::uint8_t> body) {
  if (type != PacketType::pingreq && type != PacketType::pingresp) {
    return protocol_error(text::cat(to_string(type), " is not PINGREQ or PINGRESP"));
  }
  if (!body.empty()) return malformed(text::cat(to_string(type), " with a body"));  // 3.12.1, 3.13.1
  return PingPacket{type};
}

Result<DisconnectPacket> decode_disconnect(ProtocolVersion v, std::span<const std::uint8_t> body) {
  DisconnectPacket d;
  if (!is_v5(v)) {
    if (!body.empty()) return malformed("DISCONNECT with a body");  // 3.1.1 section 3.14
    return d;
  }
  Reader r(body);
  if (!read_reason_tail(r, PacketType::disconnect, PropertyContext::disconnect, d.reason, d.properties)) {
    return r.error();
  }
  return d;
}

Result<AuthPacket> decode_auth(std::span<const std::uint8_t> body) {
  AuthPacket a;
  Reader r(body);
  if (!read_reason_tail(r, PacketType::auth, PropertyContext::auth, a.reason, a.properties)) return r.error();
  return a;
}

}  // namespace outpost::mqtt
