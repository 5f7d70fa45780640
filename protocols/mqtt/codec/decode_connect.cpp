// CONNECT and CONNACK: the packets that fix the protocol level of a connection.
#include "mqtt/codec/codec.hpp"
#include "mqtt/codec/text.hpp"

namespace outpost::mqtt {

namespace {

// A protocol name for an error message: what a peer sent may be anything.
std::string printable(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, 32)) out += (ch >= 0x20 && ch < 0x7F) ? ch : '?';
  return out;
}

std::string_view as_text(std::span<const std::uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

ProtocolVersion decoded_version_hint(std::span<const std::uint8_t> body) {
  Reader r(body);
  std::span<const std::uint8_t> name;
  std::uint8_t level = 0;
  if (r.binary(name, "protocol name") && r.u8(level, "protocol level") && level == 5 && as_text(name) == "MQTT") {
    return ProtocolVersion::v5;
  }
  return ProtocolVersion::v311;
}

Result<ConnectPacket> decode_connect(std::span<const std::uint8_t> body) {
  Reader r(body);
  ConnectPacket c;
  std::span<const std::uint8_t> name_bytes;
  std::uint8_t level = 0;
  if (!r.binary(name_bytes, "protocol name") || !r.u8(level, "protocol level")) return r.error();
  const std::string_view name = as_text(name_bytes);
  if (name == "MQIsdp" && level == 3) {
    c.version = ProtocolVersion::v31;
  } else if (name == "MQTT" && (level == 4 || level == 5)) {
    c.version = static_cast<ProtocolVersion>(level);
  } else if (name == "MQTT" || name == "MQIsdp") {
    // [MQTT-3.1.2-2] an unsupported level is answered with CONNACK 0x01 (0x84 in 5.0).
    return CodecError{ReasonCode::unsupported_protocol_version,
                      text::cat("protocol '", printable(name), "' level ", level, " is not supported")};
  } else {
    // [MQTT-3.1.2-1] another protocol: the connection is closed without a CONNACK, as
    // Mosquitto does (a CONNACK would be MQTT spoken to a peer that speaks something else).
    return protocol_error(text::cat("protocol name '", printable(name), "' is not MQTT"));
  }
  const bool v5 = is_v5(c.version);

  std::uint8_t flags = 0;
  if (!r.u8(flags, "connect flags") || !r.u16(c.keep_alive, "keep alive")) return r.error();
  if (flags & 0x01) return malformed("CONNECT reserved flag is set");  // [MQTT-3.1.2-3]
  c.clean_start = flags & 0x02;
  const bool will = flags & 0x04;
  const std::uint8_t will_qos = (flags >> 3) & 0x03;
  const bool will_retain = flags & 0x20;
  const bool has_password = flags & 0x40;
  const bool has_username = flags & 0x80;
  if (will_qos == 3) return malformed("CONNECT will QoS 3");  // [MQTT-3.1.2-14]
  if (!will && will_qos != 0) return malformed("CONNECT will QoS set without the will flag");  // [MQTT-3.1.2-13]
  if (!will && will_retain) return malformed("CONNECT will retain set without the will flag");  // [MQTT-3.1.2-15]
  if (!v5 && has_password && !has_username) {
    // [MQTT-3.1.2-22]; 5.0 allows a password alone (section 3.1.2.9).
    return protocol_error("CONNECT password flag without the user name flag");
  }

  if (v5 && !read_properties(r, PropertyContext::connect, c.properties)) return r.error();
  // Any string, empty included: whether it is acceptable is the broker's call [MQTT-3.1.3-3..9].
  if (!r.string(c.client_id, "client identifier")) return r.error();
  if (will) {
    Will w;
    w.qos = will_qos;
    w.retain = will_retain;
    if (v5 && !read_properties(r, PropertyContext::will, w.properties)) return r.error();
    if (!r.string(w.topic, "will topic") || !r.binary(w.payload, "will payload")) return r.error();
    if (w.topic.empty()) return protocol_error("will topic is empty");  // [MQTT-4.7.3-1]
    if (w.topic.find_first_of("+#") != std::string_view::npos) {
      return protocol_error("will topic contains a wildcard ('+' or '#')");  // a topic name (4.7.1)
    }
    // 5.0 section 3.1.3.2.3: a receiver may check the format and answer CONNACK 0x99.
    if (!payload_matches_format(w.properties, w.payload)) {
      return CodecError{ReasonCode::payload_format_invalid, "will payload is not the UTF-8 its format indicator says"};
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
  if (!r.u8(ack_flags, "connect acknowledge flags") || !r.u8(code, "connect reason code")) return r.error();
  if (ack_flags & 0xFE) return malformed("CONNACK reserved flags set");  // [MQTT-3.2.2-1]
  c.session_present = ack_flags & 0x01;
  c.raw_code = code;
  if (is_v5(v)) {
    c.reason = static_cast<ReasonCode>(code);
    if (!reason_code_allowed(PacketType::connack, c.reason)) {
      return malformed(text::cat("CONNACK reason code ", text::hex(code), " is not defined for CONNACK"));
    }
    if (!read_properties(r, PropertyContext::connack, c.properties)) return r.error();
  } else {
    // 3.1.1 table 3.1; 6..255 are reserved.
    static constexpr ReasonCode map[] = {ReasonCode::success, ReasonCode::unsupported_protocol_version,
                                         ReasonCode::client_identifier_not_valid, ReasonCode::server_unavailable,
                                         ReasonCode::bad_user_name_or_password, ReasonCode::not_authorized};
    if (code > 5) return malformed(text::cat("CONNACK return code ", code, " is reserved"));
    c.reason = map[code];
  }
  if (c.session_present && c.reason != ReasonCode::success) {
    return protocol_error("CONNACK refuses the connection but says a session is present");  // [MQTT-3.2.2-4]
  }
  if (!r.empty()) return malformed("unexpected bytes after CONNACK");
  return c;
}

}  // namespace outpost::mqtt
