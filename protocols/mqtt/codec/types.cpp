#include "mqtt/codec/types.hpp"

namespace outpost::mqtt {

const char* to_string(PacketType type) {
  switch (type) {
    case PacketType::connect: return "CONNECT";
    case PacketType::connack: return "CONNACK";
    case PacketType::publish: return "PUBLISH";
    case PacketType::puback: return "PUBACK";
    case PacketType::pubrec: return "PUBREC";
    case PacketType::pubrel: return "PUBREL";
    case PacketType::pubcomp: return "PUBCOMP";
    case PacketType::subscribe: return "SUBSCRIBE";
    case PacketType::suback: return "SUBACK";
    case PacketType::unsubscribe: return "UNSUBSCRIBE";
    case PacketType::unsuback: return "UNSUBACK";
    case PacketType::pingreq: return "PINGREQ";
    case PacketType::pingresp: return "PINGRESP";
    case PacketType::disconnect: return "DISCONNECT";
    case PacketType::auth: return "AUTH";
  }
  return "reserved packet type";
}

const char* to_string(ReasonCode code) {
  switch (code) {
    case ReasonCode::success: return "success";
    case ReasonCode::granted_qos1: return "granted QoS 1";
    case ReasonCode::granted_qos2: return "granted QoS 2";
    case ReasonCode::disconnect_with_will_message: return "disconnect with will message";
    case ReasonCode::no_matching_subscribers: return "no matching subscribers";
    case ReasonCode::no_subscription_existed: return "no subscription existed";
    case ReasonCode::continue_authentication: return "continue authentication";
    case ReasonCode::re_authenticate: return "re-authenticate";
    case ReasonCode::unspecified_error: return "unspecified error";
    case ReasonCode::malformed_packet: return "malformed packet";
    case ReasonCode::protocol_error: return "protocol error";
    case ReasonCode::implementation_specific_error: return "implementation specific error";
    case ReasonCode::unsupported_protocol_version: return "unsupported protocol version";
    case ReasonCode::client_identifier_not_valid: return "client identifier not valid";
    case ReasonCode::bad_user_name_or_password: return "bad user name or password";
    case ReasonCode::not_authorized: return "not authorized";
    case ReasonCode::server_unavailable: return "server unavailable";
    case ReasonCode::server_busy: return "server busy";
    case ReasonCode::banned: return "banned";
    case ReasonCode::server_shutting_down: return "server shutting down";
    case ReasonCode::bad_authentication_method: return "bad authentication method";
    case ReasonCode::keep_alive_timeout: return "keep alive timeout";
    case ReasonCode::session_taken_over: return "session taken over";
    case ReasonCode::topic_filter_invalid: return "topic filter invalid";
    case ReasonCode::topic_name_invalid: return "topic name invalid";
    case ReasonCode::packet_identifier_in_use: return "packet identifier in use";
    case ReasonCode::packet_identifier_not_found: return "packet identifier not found";
    case ReasonCode::receive_maximum_exceeded: return "receive maximum exceeded";
    case ReasonCode::topic_alias_invalid: return "topic alias invalid";
    case ReasonCode::packet_too_large: return "packet too large";
    case ReasonCode::message_rate_too_high: return "message rate too high";
    case ReasonCode::quota_exceeded: return "quota exceeded";
    case ReasonCode::administrative_action: return "administrative action";
    case ReasonCode::payload_format_invalid: return "payload format invalid";
    case ReasonCode::retain_not_supported: return "retain not supported";
    case ReasonCode::qos_not_supported: return "QoS not supported";
    case ReasonCode::use_another_server: return "use another server";
    case ReasonCode::server_moved: return "server moved";
    case ReasonCode::shared_subscriptions_not_supported: return "shared subscriptions not supported";
    case ReasonCode::connection_rate_exceeded: return "connection rate exceeded";
    case ReasonCode::maximum_connect_time: return "maximum connect time";
    case ReasonCode::subscription_identifiers_not_supported: return "subscription identifiers not supported";
    case ReasonCode::wildcard_subscriptions_not_supported: return "wildcard subscriptions not supported";
  }
  return "unknown reason code";
}

bool reason_code_allowed(PacketType type, ReasonCode code) {
  const auto c = static_cast<unsigned>(code);
  switch (type) {
    case PacketType::connack:  // table 3-1
      return c == 0x00 || (c >= 0x80 && c <= 0x8A) || c == 0x8C || c == 0x90 || c == 0x95 || c == 0x97 ||
             (c >= 0x99 && c <= 0x9D) || c == 0x9F;
    case PacketType::puback:  // tables 3-4, 3-5
    case PacketType::pubrec:
      return c == 0x00 || c == 0x10 || c == 0x80 || c == 0x83 || c == 0x87 || c == 0x90 || c == 0x91 || c == 0x97 ||
             c == 0x99;
    case PacketType::pubrel:  // tables 3-6, 3-7
    case PacketType::pubcomp:
      return c == 0x00 || c == 0x92;
    case PacketType::suback:  // table 3-8
      return c <= 0x02 || c == 0x80 || c == 0x83 || c == 0x87 || c == 0x8F || c == 0x91 || c == 0x97 || c == 0x9E ||
             c == 0xA1 || c == 0xA2;
    case PacketType::unsuback:  // table 3-9
      return c == 0x00 || c == 0x11 || c == 0x80 || c == 0x83 || c == 0x87 || c == 0x8F || c == 0x91;
    case PacketType::disconnect:  // table 3-10; 0x8C as table 2-6 lists it for DISCONNECT too
      return c == 0x00 || c == 0x04 || (c >= 0x80 && c <= 0x83) || c == 0x87 || c == 0x89 ||
             (c >= 0x8B && c <= 0x90) || (c >= 0x93 && c <= 0xA2);
    case PacketType::auth:  // table 3-13
      return c == 0x00 || c == 0x18 || c == 0x19;
    default: return false;
  }
}

std::uint8_t connack_code_for(ProtocolVersion version, ReasonCode reason) {
  if (version == ProtocolVersion::v5) return static_cast<std::uint8_t>(reason);
  switch (reason) {
    case ReasonCode::success: return 0x00;
    case ReasonCode::unsupported_protocol_version: return 0x01;
    case ReasonCode::client_identifier_not_valid: return 0x02;
    case ReasonCode::bad_user_name_or_password:
    case ReasonCode::bad_authentication_method: return 0x04;  // the nearest 3.1.1 has
    case ReasonCode::not_authorized:
    case ReasonCode::banned: return 0x05;
    default: return 0x03;  // server unavailable
  }
}

}  // namespace outpost::mqtt
