// Encoders of every control packet. Each computes the remaining length first, grows the
// output once to the exact packet size, then writes.
#include "mqtt/codec/codec.hpp"

namespace outpost::mqtt {

namespace {

bool has_props(const Properties* p) { return p && !p->empty(); }

// Property length prefix plus the properties.
std::size_t props_total(const Properties* p) {
  const std::size_t n = p ? properties_size(*p) : 0;
  return varint_size(static_cast<std::uint32_t>(n)) + n;
}

void write_props(Bytes& out, const Properties* p) {
  if (p) {
    write_properties(out, *p);
  } else {
    put_varint(out, 0);
  }
}

// Reserves the whole packet and writes its fixed header.
void header(Bytes& out, PacketType type, std::uint8_t flags, std::size_t remaining) {
  const auto len = static_cast<std::uint32_t>(remaining);
  reserve_more(out, 1 + varint_size(len) + remaining);
  out.push_back(static_cast<std::uint8_t>((static_cast<unsigned>(type) << 4) | flags));
  put_varint(out, len);
}

std::size_t string_size(std::string_view s) { return 2 + s.size(); }

std::size_t publish_remaining(ProtocolVersion v, std::string_view topic, std::uint8_t qos, const Properties* p,
                              std::size_t payload_size) {
  return string_size(topic) + (qos ? 2 : 0) + (is_v5(v) ? props_total(p) : 0) + payload_size;
}

// SUBACK and UNSUBACK.
void encode_codes(Bytes& out, ProtocolVersion v, PacketType type, std::uint16_t packet_id,
                  const std::vector<ReasonCode>& codes, const Properties* p) {
  const bool v5 = is_v5(v);
  // 3.1.1 UNSUBACK has no payload (section 3.11.3).
  const bool with_codes = v5 || type == PacketType::suback;
  header(out, type, 0, 2 + (v5 ? props_total(p) : 0) + (with_codes ? codes.size() : 0));
  put_u16(out, packet_id);
  if (v5) write_props(out, p);
  if (!with_codes) return;
  for (auto c : codes) {
    auto b = static_cast<std::uint8_t>(c);
    if (!v5 && b > 2) b = 0x80;  // 3.1.1 knows granted QoS and failure only [MQTT-3.9.3-2]
    put_u8(out, b);
  }
}

}  // namespace

void encode_connect(Bytes& out, const ConnectPacket& c) {
  const bool v5 = is_v5(c.version);
  const std::string_view name = c.version == ProtocolVersion::v31 ? "MQIsdp" : "MQTT";
  std::size_t len = string_size(name) + 1 + 1 + 2 + string_size(c.client_id);
  if (v5) len += props_total(&c.properties);
  if (c.will) {
    if (v5) len += props_total(&c.will->properties);
    len += string_size(c.will->topic) + 2 + c.will->payload.size();
  }
  if (c.username) len += string_size(*c.username);
  if (c.password) len += 2 + c.password->size();
  header(out, PacketType::connect, 0, len);
  put_string(out, name);
  put_u8(out, static_cast<std::uint8_t>(c.version));
  std::uint8_t flags = 0;
  if (c.clean_start) flags |= 0x02;
  if (c.will) {
    flags |= 0x04;
    flags |= static_cast<std::uint8_t>((c.will->qos & 0x03) << 3);
    if (c.will->retain) flags |= 0x20;
  }
  if (c.password) flags |= 0x40;
  if (c.username) flags |= 0x80;
  put_u8(out, flags);
  put_u16(out, c.keep_alive);
  if (v5) write_properties(out, c.properties);
  put_string(out, c.client_id);
  if (c.will) {
    if (v5) write_properties(out, c.will->properties);
    put_string(out, c.will->topic);
    put_binary(out, c.will->payload);
  }
  if (c.username) put_string(out, *c.username);
  if (c.password) put_binary(out, *c.password);
}

void encode_connack(Bytes& out, ProtocolVersion v, bool session_present, ReasonCode reason, const Properties* p) {
  const bool v5 = is_v5(v);
  header(out, PacketType::connack, 0, 2 + (v5 ? props_total(p) : 0));
  put_u8(out, session_present ? 1 : 0);
  put_u8(out, connack_code_for(v, reason));
  if (v5) write_props(out, p);
}

std::size_t publish_packet_size(ProtocolVersion v, std::string_view topic, std::uint8_t qos, const Properties* p,
                                std::size_t payload_size) {
  const std::size_t remaining = publish_remaining(v, topic, qos, p, payload_size);
  return 1 + varint_size(static_cast<std::uint32_t>(remaining)) + remaining;
}

void encode_publish_header(Bytes& out, ProtocolVersion v, std::string_view topic, std::uint8_t qos, bool retain,
                           bool dup, std::uint16_t packet_id, const Properties* p, std::size_t payload_size) {
  const std::size_t remaining = publish_remaining(v, topic, qos, p, payload_size);
  auto flags = static_cast<std::uint8_t>((qos & 0x03) << 1);
  if (retain) flags |= 0x01;
  if (dup && qos > 0) flags |= 0x08;  // [MQTT-3.3.1-2]
  // Reserve the header only: the payload goes out separately.
  const auto len = static_cast<std::uint32_t>(remaining);
  reserve_more(out, 1 + varint_size(len) + remaining - payload_size);
  out.push_back(static_cast<std::uint8_t>((static_cast<unsigned>(PacketType::publish) << 4) | flags));
  put_varint(out, len);
  put_string(out, topic);
  if (qos) put_u16(out, packet_id);
  if (is_v5(v)) write_props(out, p);
}

void encode_publish(Bytes& out, ProtocolVersion v, const PublishPacket& p) {
  reserve_more(out, publish_packet_size(v, p.topic, p.qos, &p.properties, p.payload.size()));
  encode_publish_header(out, v, p.topic, p.qos, p.retain, p.dup, p.packet_id, &p.properties, p.payload.size());
  out.insert(out.end(), p.payload.begin(), p.payload.end());
}

void encode_ack(Bytes& out, ProtocolVersion v, PacketType type, std::uint16_t packet_id, ReasonCode reason,
                const Properties* p) {
  const std::uint8_t flags = type == PacketType::pubrel ? 0x02 : 0x00;  // [MQTT-3.6.1-1]
  const bool with_props = has_props(p);
  if (!is_v5(v) || (reason == ReasonCode::success && !with_props)) {
    header(out, type, flags, 2);
    put_u16(out, packet_id);
    return;
  }
  header(out, type, flags, 3 + (with_props ? props_total(p) : 0));
  put_u16(out, packet_id);
  put_u8(out, static_cast<std::uint8_t>(reason));
  if (with_props) write_properties(out, *p);
}

void encode_subscribe(Bytes& out, ProtocolVersion v, const SubscribePacket& s) {
  const bool v5 = is_v5(v);
  std::size_t len = 2 + (v5 ? props_total(&s.properties) : 0);
  for (const auto& sub : s.subscriptions) len += string_size(sub.filter) + 1;
  header(out, PacketType::subscribe, 0x02, len);
  put_u16(out, s.packet_id);
  if (v5) write_properties(out, s.properties);
  for (const auto& sub : s.subscriptions) {
    put_string(out, sub.filter);
    auto o = static_cast<std::uint8_t>(sub.options.qos & 0x03);
    if (v5) {
      if (sub.options.no_local) o |= 0x04;
      if (sub.options.retain_as_published) o |= 0x08;
      o |= static_cast<std::uint8_t>((sub.options.retain_handling & 0x03) << 4);
    }
    put_u8(out, o);
  }
}

void encode_suback(Bytes& out, ProtocolVersion v, std::uint16_t packet_id, const std::vector<ReasonCode>& codes,
                   const Properties* p) {
  encode_codes(out, v, PacketType::suback, packet_id, codes, p);
}

void encode_unsubscribe(Bytes& out, ProtocolVersion v, const UnsubscribePacket& u) {
  const bool v5 = is_v5(v);
  std::size_t len = 2 + (v5 ? props_total(&u.properties) : 0);
  for (auto f : u.filters) len += string_size(f);
  header(out, PacketType::unsubscribe, 0x02, len);
  put_u16(out, u.packet_id);
  if (v5) write_properties(out, u.properties);
  for (auto f : u.filters) put_string(out, f);
}

void encode_unsuback(Bytes& out, ProtocolVersion v, std::uint16_t packet_id, const std::vector<ReasonCode>& codes,
                     const Properties* p) {
  encode_codes(out, v, PacketType::unsuback, packet_id, codes, p);
}

void encode_pingreq(Bytes& out) { header(out, PacketType::pingreq, 0, 0); }

void encode_pingresp(Bytes& out) { header(out, PacketType::pingresp, 0, 0); }

// DISCONNECT and AUTH share the 5.0 form "reason code, properties", both optional.
namespace {
void encode_reason_tail(Bytes& out, PacketType type, ReasonCode reason, const Properties* p) {
  const bool with_props = has_props(p);
  if (reason == ReasonCode::success && !with_props) {
    header(out, type, 0, 0);
    return;
  }
  header(out, type, 0, 1 + (with_props ? props_total(p) : 0));
  put_u8(out, static_cast<std::uint8_t>(reason));
  if (with_props) write_properties(out, *p);
}
}  // namespace

void encode_disconnect(Bytes& out, ProtocolVersion v, ReasonCode reason, const Properties* p) {
  if (!is_v5(v)) {
    header(out, PacketType::disconnect, 0, 0);
    return;
  }
  encode_reason_tail(out, PacketType::disconnect, reason, p);
}

void encode_auth(Bytes& out, ReasonCode reason, const Properties* p) {
  encode_reason_tail(out, PacketType::auth, reason, p);
}

}  // namespace outpost::mqtt
