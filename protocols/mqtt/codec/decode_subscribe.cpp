// SUBSCRIBE, UNSUBSCRIBE and their acknowledgements.
#include "mqtt/codec/codec.hpp"
#include "mqtt/codec/text.hpp"

namespace outpost::mqtt {

namespace {

constexpr std::string_view kSharePrefix = "$share/";

// Reads one subscription options byte (3.1.1 section 3.8.3.1, 5.0 section 3.8.3.1).
bool read_options(Reader& r, ProtocolVersion v, std::string_view filter, SubscriptionOptions& o) {
  std::uint8_t b = 0;
  if (!r.u8(b, "subscription options")) return false;
  o.qos = b & 0x03;
  if (o.qos == 3) return r.fail(malformed("SUBSCRIBE requests QoS 3"));
  if (!is_v5(v)) {
    if (b & 0xFC) return r.fail(malformed("SUBSCRIBE requested QoS reserved bits set"));  // [MQTT-3-8.3-4]
    return true;
  }
  if (b & 0xC0) return r.fail(malformed("SUBSCRIBE options reserved bits 6-7 set"));  // [MQTT-3.8.3-5]
  o.no_local = b & 0x04;
  o.retain_as_published = b & 0x08;
  o.retain_handling = (b >> 4) & 0x03;
  if (o.retain_handling == 3) return r.fail(protocol_error("SUBSCRIBE retain handling 3"));
  if (o.no_local && filter.starts_with(kSharePrefix)) {
    return r.fail(protocol_error("SUBSCRIBE sets no local on a shared subscription"));  // [MQTT-3.8.3-4]
  }
  return true;
}

// [MQTT-2.2.1-3] names no reason code for a packet identifier 0: a SUBSCRIBE or UNSUBSCRIBE
// with one is malformed, as Mosquitto answers (a PUBLISH with one is a protocol error).
bool read_request_id(Reader& r, std::uint16_t& id) {
  if (!r.u16(id, "packet identifier")) return false;
  if (id == 0) return r.fail(malformed("packet identifier 0"));
  return true;
}

}  // namespace

Result<SubscribePacket> decode_subscribe(ProtocolVersion v, std::span<const std::uint8_t> body) {
  Reader r(body);
  SubscribePacket s;
  if (!read_request_id(r, s.packet_id)) return r.error();
  if (is_v5(v) && !read_properties(r, PropertyContext::subscribe, s.properties)) return r.error();
  while (!r.empty()) {
    // Only the filter's UTF-8 is judged here; its wildcard syntax is the broker's to judge.
    Subscription sub;
    if (!r.string(sub.filter, "topic filter") || !read_options(r, v, sub.filter, sub.options)) return r.error();
    s.subscriptions.push_back(sub);
  }
  if (s.subscriptions.empty()) return protocol_error("SUBSCRIBE without a topic filter");  // [MQTT-3.8.3-3]
  return s;
}

Result<UnsubscribePacket> decode_unsubscribe(ProtocolVersion v, std::span<const std::uint8_t> body) {
  Reader r(body);
  UnsubscribePacket u;
  if (!read_request_id(r, u.packet_id)) return r.error();
  if (is_v5(v) && !read_properties(r, PropertyContext::unsubscribe, u.properties)) return r.error();
  while (!r.empty()) {
    std::string_view f;
    if (!r.string(f, "topic filter")) return r.error();
    u.filters.push_back(f);
  }
  if (u.filters.empty()) return protocol_error("UNSUBSCRIBE without a topic filter");  // [MQTT-3.10.3-2]
  return u;
}

Result<SubackPacket> decode_suback(ProtocolVersion v, PacketType type, std::span<const std::uint8_t> body) {
  if (type != PacketType::suback && type != PacketType::unsuback) {
    return protocol_error(text::cat(to_string(type), " is not SUBACK or UNSUBACK"));
  }
  const bool v5 = is_v5(v);
  Reader r(body);
  SubackPacket s;
  if (!read_packet_id(r, s.packet_id)) return r.error();
  if (v5) {
    const auto ctx = type == PacketType::suback ? PropertyContext::suback : PropertyContext::unsuback;
    if (!read_properties(r, ctx, s.properties)) return r.error();
  } else if (type == PacketType::unsuback) {
    // 3.1.1 UNSUBACK is the packet identifier alone (section 3.11).
    if (!r.empty()) return malformed("unexpected bytes at the end of UNSUBACK");
    return s;
  }
  while (!r.empty()) {
    std::uint8_t b = 0;
    r.u8(b, "reason code");
    const auto code = static_cast<ReasonCode>(b);
    // 3.1.1 SUBACK return codes are 0, 1, 2 and 0x80 [MQTT-3.9.3-2].
    const bool ok = v5 ? reason_code_allowed(type, code) : (b <= 2 || b == 0x80);
    if (!ok) return malformed(text::cat("reason code ", text::hex(b), " is not defined for ", to_string(type)));
    s.codes.push_back(code);
  }
  if (s.codes.empty()) return protocol_error(text::cat(to_string(type), " without reason codes"));
  return s;
}

}  // namespace outpost::mqtt
