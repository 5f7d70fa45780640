#include "mqtt/codec/codec.hpp"

#include <fmt/format.h>

namespace outpost::mqtt {

namespace {

bool is_v5(ProtocolVersion v) { return v == ProtocolVersion::v5; }

// [MQTT-2.3.1-1] SUBSCRIBE, UNSUBSCRIBE and QoS>0 PUBLISH carry a non-zero packet id.
bool read_packet_id(Reader& r, std::uint16_t& id) {
  if (!r.u16(id, "packet identifier")) return false;
  if (id == 0) return r.fail(protocol_error("packet identifier 0"));
  return true;
}

template <class T>
Result<T> finish(Reader& r, T&& value) {
  if (r.failed()) return r.error();
  return std::move(value);
}

}  // namespace

Frame parse_fixed_header(std::span<const std::uint8_t> in, std::uint32_t max_packet_size) {
  Frame f;
  if (in.size() < 2) return f;
  const std::uint8_t first = in[0];
  const auto type = static_cast<PacketType>(first >> 4);
  const std::uint8_t flags = first & 0x0F;
  std::uint32_t length = 0;
  std::size_t i = 1;
  for (;; ++i) {
    if (i > 4) {
      f.status = FrameStatus::error;
      f.error = malformed("remaining length longer than 4 bytes");
      return f;
    }
    if (i >= in.size()) return f;  // need more
    const std::uint8_t b = in[i];
    length |= std::uint32_t{b & 0x7Fu} << (7 * (i - 1));
    if ((b & 0x80) == 0) break;
  }
  f.header = FixedHeader{type, flags, length, i + 1};
  f.status = FrameStatus::complete;
  const unsigned t = first >> 4;
  if (t == 0) {
    f.status = FrameStatus::error;
    f.error = malformed("reserved packet type 0");
    return f;
  }
  // [MQTT-2.2.2-1/2] fixed header flags.
  switch (type) {
    case PacketType::publish:
      if ((flags & 0x06) == 0x06) {
        f.status = FrameStatus::error;
        f.error = malformed("PUBLISH with QoS 3");
        return f;
      }
      break;
    case PacketType::pubrel:
    case PacketType::subscribe:
    case PacketType::unsubscribe:
      if (flags != 0x02) {
        f.status = FrameStatus::error;
        f.error = malformed(fmt::format("packet type {} with fixed header flags 0x{:X} (must be 0x2)", t, flags));
        return f;
      }
      break;
    default:
      if (flags != 0) {
        f.status = FrameStatus::error;
        f.error = malformed(fmt::format("packet type {} with fixed header flags 0x{:X} (must be 0)", t, flags));
        return f;
      }
  }
  if (max_packet_size != 0 && std::uint64_t{length} + f.header.header_length > max_packet_size) {
    f.status = FrameStatus::error;
    f.error = CodecError{ReasonCode::packet_too_large,
                         fmt::format("packet of {} bytes exceeds the maximum of {}",
                                     std::uint64_t{length} + f.header.header_length, max_packet_size)};
  }
  return f;
}

ProtocolVersion decoded_version_hint(std::span<const std::uint8_t> body) {
  Reader r(body);
  std::span<const std::uint8_t> name;
  std::uint8_t level = 0;
  if (r.binary(name, "protocol name") && r.u8(level, "protocol level") && level == 5) return ProtocolVersion::v5;
  return ProtocolVersion::v311;
}

Result<ConnectPacket> decode_connect(std::span<const std::uint8_t> body) {
  Reader r(body);
  ConnectPacket c;
  std::span<const std::uint8_t> name_bytes;
  std::uint8_t level = 0;
  if (!r.binary(name_bytes, "protocol name") || !r.u8(level, "protocol level")) return r.error();
  const std::string_view name(reinterpret_cast<const char*>(name_bytes.data()), name_bytes.size());
  if (name == "MQIsdp" && level == 3) {
    c.version = ProtocolVersion::v31;
  } else if (name == "MQTT" && (level == 4 || level == 5)) {
    c.version = static_cast<ProtocolVersion>(level);
  } else if (name == "MQTT" || name == "MQIsdp") {
    // [MQTT-3.1.2-2] an unsupported level is answered with CONNACK 0x01 (0x84 in 5.0).
    return CodecError{ReasonCode::unsupported_protocol_version,
                      fmt::format("protocol '{}' level {} is not supported", name, level)};
  } else {
    // [MQTT-3.1.2-1] any other protocol name: the server may close without CONNACK.
    return protocol_error(fmt::format("unknown protocol name '{}'", std::string(name.substr(0, 32))));
  }
  std::uint8_t flags = 0;
  if (!r.u8(flags, "connect flags") || !r.u16(c.keep_alive, "keep alive")) return r.error();
  if (flags & 0x01) return malformed("CONNECT reserved flag is set");  // [MQTT-3.1.2-3]
  c.clean_start = flags & 0x02;
  const bool will = flags & 0x04;
  const std::uint8_t will_qos = (flags >> 3) & 0x03;
  const bool will_retain = flags & 0x20;
  const bool has_password = flags & 0x40;
  const bool has_username = flags & 0x80;
  if (will_qos == 3) return malformed("will QoS 3");  // [MQTT-3.1.2-14]
  if (!will && (will_qos != 0 || will_retain)) {
    return malformed("will QoS or will retain set without the will flag");  // [MQTT-3.1.2-11/13/15]
  }
  if (c.version != ProtocolVersion::v5 && has_password && !has_username) {
    return malformed("password flag without user name flag");  // [MQTT-3.1.2-22]
  }
  const bool v5 = is_v5(c.version);
  if (v5 && !read_properties(r, PropertyContext::connect, c.properties)) return r.error();
  if (!r.string(c.client_id, "client identifier")) return r.error();
  if (will) {
    Will w;
    w.qos = will_qos;
    w.retain = will_retain;
    if (v5 && !read_properties(r, PropertyContext::will, w.properties)) return r.error();
    if (!r.string(w.topic, "will topic") || !r.binary(w.payload, "will payload")) return r.error();
    if (w.topic.find_first_of("+#") != std::string_view::npos) return protocol_error("will topic contains a wildcard");
    if (w.properties.payload_format_indicator.value_or(0) == 1 &&
        !valid_utf8({reinterpret_cast<const char*>(w.payload.data()), w.payload.size()})) {
      return CodecError{ReasonCode::payload_format_invalid, "will payload is not valid UTF-8"};
    }
    c.will = std::move(w);
  }
  if (has_username) {
    std::string_view u;
    if (!r.string(u, "user name")) return r.error();
    c.username = u;
  }
  if (has_password) {
    std::span<const std::uint8_t> p;
    if (!r.binary(p, "password")) return r.error();
    c.password = p;
  }
  if (!r.empty()) return malformed("unexpected bytes after the CONNECT payload");
  return c;
}

Result<ConnackPacket> decode_connack(ProtocolVersion v, std::span<const std::uint8_t> body) {
  Reader r(body);
  ConnackPacket c;
  std::uint8_t ack_flags = 0, code = 0;
  if (!r.u8(ack_flags, "connect acknowledge flags") || !r.u8(code, "return code")) return r.error();
  if (ack_flags & 0xFE) return malformed("CONNACK reserved flags set");
  c.session_present = ack_flags & 0x01;
  c.raw_code = code;
  if (is_v5(v)) {
    c.reason = static_cast<ReasonCode>(code);
    if (!read_properties(r, PropertyContext::connack, c.properties)) return r.error();
  } else {
    static constexpr ReasonCode map[] = {ReasonCode::success, ReasonCode::unsupported_protocol_version,
                                         ReasonCode::client_identifier_not_valid, ReasonCode::server_unavailable,
                                         ReasonCode::bad_user_name_or_password, ReasonCode::not_authorized};
    if (code > 5) return malformed(fmt::format("CONNACK return code {}", code));
    c.reason = map[code];
  }
  if (!r.empty()) return malformed("unexpected bytes after CONNACK");
  return c;
}

Result<PublishPacket> decode_publish(ProtocolVersion v, std::uint8_t flags, std::span<const std::uint8_t> body) {
  Reader r(body);
  PublishPacket p;
  p.dup = flags & 0x08;
  p.qos = (flags >> 1) & 0x03;
  p.retain = flags & 0x01;
  if (p.qos == 3) return malformed("PUBLISH with QoS 3");
  if (p.qos == 0 && p.dup) return protocol_error("PUBLISH QoS 0 with DUP set");  // [MQTT-3.3.1-2]
  if (!r.string(p.topic, "topic name")) return r.error();
  if (p.topic.find_first_of("+#") != std::string_view::npos) {
    return CodecError{is_v5(v) ? ReasonCode::topic_name_invalid : ReasonCode::protocol_error,
                      "PUBLISH topic contains a wildcard"};  // [MQTT-3.3.2-2]
  }
  if (p.qos > 0 && !read_packet_id(r, p.packet_id)) return r.error();
  if (is_v5(v)) {
    if (!read_properties(r, PropertyContext::publish, p.properties)) return r.error();
  }
  p.payload = r.rest();
  if (p.properties.payload_format_indicator.value_or(0) == 1 &&
      !valid_utf8({reinterpret_cast<const char*>(p.payload.data()), p.payload.size()})) {
    return CodecError{ReasonCode::payload_format_invalid, "payload is not valid UTF-8 but says it is"};
  }
  return p;
}

Result<AckPacket> decode_ack(ProtocolVersion v, PacketType type, std::span<const std::uint8_t> body) {
  Reader r(body);
  AckPacket a;
  if (!r.u16(a.packet_id, "packet identifier")) return r.error();
  if (a.packet_id == 0) return protocol_error("packet identifier 0");
  if (is_v5(v)) {
    // A remaining length of 2 means success without properties [MQTT-3.4.2.1].
    if (!r.empty()) {
      std::uint8_t code = 0;
      r.u8(code, "reason code");
      a.reason = static_cast<ReasonCode>(code);
      if (!r.empty()) read_properties(r, PropertyContext::ack, a.properties);
    }
  }
  if (!r.failed() && !r.empty()) {
    return malformed(fmt::format("unexpected bytes after packet type {}", static_cast<int>(type)));
  }
  return finish(r, std::move(a));
}

Result<SubscribePacket> decode_subscribe(ProtocolVersion v, std::span<const std::uint8_t> body) {
  Reader r(body);
  SubscribePacket s;
  if (!read_packet_id(r, s.packet_id)) return r.error();
  if (is_v5(v) && !read_properties(r, PropertyContext::subscribe, s.properties)) return r.error();
  while (!r.empty()) {
    Subscription sub;
    std::uint8_t opts = 0;
    if (!r.string(sub.filter, "topic filter") || !r.u8(opts, "subscription options")) return r.error();
    sub.options.qos = opts & 0x03;
    if (sub.options.qos == 3) return malformed("SUBSCRIBE requested QoS 3");
    if (is_v5(v)) {
      if (opts & 0xC0) return malformed("SUBSCRIBE options reserved bits set");
      sub.options.no_local = opts & 0x04;
      sub.options.retain_as_published = opts & 0x08;
      sub.options.retain_handling = (opts >> 4) & 0x03;
      if (sub.options.retain_handling == 3) return protocol_error("retain handling 3");
    } else if (opts & 0xFC) {
      return malformed("SUBSCRIBE requested QoS reserved bits set");  // [MQTT-3.8.3-4]
    }
    s.subscriptions.push_back(sub);
  }
  if (s.subscriptions.empty()) return protocol_error("SUBSCRIBE without a topic filter");  // [MQTT-3.8.3-3]
  return s;
}

Result<SubackPacket> decode_suback(ProtocolVersion v, PacketType type, std::span<const std::uint8_t> body) {
  Reader r(body);
  SubackPacket s;
  if (!r.u16(s.packet_id, "packet identifier")) return r.error();
  if (is_v5(v) && !read_properties(r, type == PacketType::suback ? PropertyContext::suback : PropertyContext::unsuback,
                                   s.properties)) {
    return r.error();
  }
  while (!r.empty()) {
    std::uint8_t code = 0;
    r.u8(code, "reason code");
    s.codes.push_back(static_cast<ReasonCode>(code));
  }
  return finish(r, std::move(s));
}

Result<UnsubscribePacket> decode_unsubscribe(ProtocolVersion v, std::span<const std::uint8_t> body) {
  Reader r(body);
  UnsubscribePacket u;
  if (!read_packet_id(r, u.packet_id)) return r.error();
  if (is_v5(v) && !read_properties(r, PropertyContext::unsubscribe, u.properties)) return r.error();
  while (!r.empty()) {
    std::string_view f;
    if (!r.string(f, "topic filter")) return r.error();
    u.filters.push_back(f);
  }
  if (u.filters.empty()) return protocol_error("UNSUBSCRIBE without a topic filter");  // [MQTT-3.10.3-2]
  return u;
}

Result<DisconnectPacket> decode_disconnect(ProtocolVersion v, std::span<const std::uint8_t> body) {
  Reader r(body);
  DisconnectPacket d;
  if (is_v5(v)) {
    if (!r.empty()) {
      std::uint8_t code = 0;
      r.u8(code, "reason code");
      d.reason = static_cast<ReasonCode>(code);
      if (!r.empty()) read_properties(r, PropertyContext::disconnect, d.properties);
    }
  }
  if (!r.failed() && !r.empty()) return malformed("unexpected bytes in DISCONNECT");
  return finish(r, std::move(d));
}

Result<AuthPacket> decode_auth(std::span<const std::uint8_t> body) {
  Reader r(body);
  AuthPacket a;
  if (!r.empty()) {
    std::uint8_t code = 0;
    r.u8(code, "reason code");
    a.reason = static_cast<ReasonCode>(code);
    if (!r.empty()) read_properties(r, PropertyContext::auth, a.properties);
  }
  if (!r.failed() && !r.empty()) return malformed("unexpected bytes in AUTH");
  return finish(r, std::move(a));
}

}  // namespace outpost::mqtt
