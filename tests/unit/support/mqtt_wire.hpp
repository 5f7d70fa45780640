// MQTT on the wire for session tests: packets a client sends, encoded with the codec
// (protocols/mqtt/codec), and what a session wrote, split into packets with the codec's
// parse_fixed_header. Pure functions of bytes; any thread.
#pragma once

#include "memory_link.hpp"
#include "mqtt/codec/codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::test {

// One packet a session wrote: its fixed header's type and flags, and its body.
struct MqttPacket {
  mqtt::PacketType type{};
  std::uint8_t flags = 0;
  Bytes body;
};

// Splits bytes into whole packets; a trailing partial packet or a bad header fails the
// test.
inline std::vector<MqttPacket> split_mqtt(std::span<const std::uint8_t> bytes) {
  std::vector<MqttPacket> result;
  while (!bytes.empty()) {
    auto f = mqtt::parse_fixed_header(bytes, 0);
    EXPECT_EQ(f.status, mqtt::FrameStatus::complete) << f.error.message;
    if (f.status != mqtt::FrameStatus::complete) break;
    const std::size_t total = f.header.header_length + f.header.remaining_length;
    EXPECT_LE(total, bytes.size()) << "a partial packet at the end";
    if (total > bytes.size()) break;
    auto body = bytes.subspan(f.header.header_length, f.header.remaining_length);
    result.push_back(MqttPacket{f.header.type, f.header.flags, Bytes(body.begin(), body.end())});
    bytes = bytes.subspan(total);
  }
  return result;
}

// The packet types, in order: for compact assertions.
inline std::vector<mqtt::PacketType> types_of(const std::vector<MqttPacket>& packets) {
  std::vector<mqtt::PacketType> t;
  for (const auto& p : packets) t.push_back(p.type);
  return t;
}

// --- decoding what a session wrote (the results borrow from `p`: keep it alive) --------
inline mqtt::Result<mqtt::ConnackPacket> connack_of(mqtt::ProtocolVersion v, const MqttPacket& p) {
  EXPECT_EQ(p.type, mqtt::PacketType::connack);
  return mqtt::decode_connack(v, p.body);
}
inline mqtt::Result<mqtt::PublishPacket> publish_of(mqtt::ProtocolVersion v, const MqttPacket& p) {
  EXPECT_EQ(p.type, mqtt::PacketType::publish);
  return mqtt::decode_publish(v, p.flags, p.body);
}
// PUBACK, PUBREC, PUBREL, PUBCOMP.
inline mqtt::Result<mqtt::AckPacket> ack_of(mqtt::ProtocolVersion v, const MqttPacket& p) {
  return mqtt::decode_ack(v, p.type, p.body);
}
inline mqtt::Result<mqtt::SubackPacket> suback_of(mqtt::ProtocolVersion v, const MqttPacket& p) {
  EXPECT_EQ(p.type, mqtt::PacketType::suback);
  return mqtt::decode_suback(v, p.type, p.body);
}
inline mqtt::Result<mqtt::DisconnectPacket> disconnect_of(mqtt::ProtocolVersion v, const MqttPacket& p) {
  EXPECT_EQ(p.type, mqtt::PacketType::disconnect);
  return mqtt::decode_disconnect(v, p.body);
}

// --- encoding what a client sends ------------------------------------------------------
inline Bytes mqtt_connect(mqtt::ProtocolVersion v, std::string_view client_id, bool clean_start = true,
                          std::uint16_t keep_alive = 0) {
  mqtt::ConnectPacket c;
  c.version = v;
  c.client_id = client_id;
  c.clean_start = clean_start;
  c.keep_alive = keep_alive;
  Bytes out;
  mqtt::encode_connect(out, c);
  return out;
}
inline Bytes mqtt_connect(const mqtt::ConnectPacket& c) {
  Bytes out;
  mqtt::encode_connect(out, c);
  return out;
}

inline Bytes mqtt_publish(mqtt::ProtocolVersion v, std::string_view topic, std::string_view payload,
                          std::uint8_t qos = 0, std::uint16_t packet_id = 0, bool retain = false, bool dup = false) {
  mqtt::PublishPacket p;
  p.topic = topic;
  p.qos = qos;
  p.packet_id = packet_id;
  p.retain = retain;
  p.dup = dup;
  p.payload = {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()};
  Bytes out;
  mqtt::encode_publish(out, v, p);
  return out;
}

inline Bytes mqtt_subscribe(mqtt::ProtocolVersion v, std::uint16_t packet_id, std::string_view filter,
                            mqtt::SubscriptionOptions options = {}) {
  mqtt::SubscribePacket p;
  p.packet_id = packet_id;
  p.subscriptions.push_back(mqtt::Subscription{filter, options});
  Bytes out;
  mqtt::encode_subscribe(out, v, p);
  return out;
}

// PUBACK, PUBREC, PUBREL, PUBCOMP.
inline Bytes mqtt_ack(mqtt::ProtocolVersion v, mqtt::PacketType type, std::uint16_t packet_id,
                      mqtt::ReasonCode reason = mqtt::ReasonCode::success) {
  Bytes out;
  mqtt::encode_ack(out, v, type, packet_id, reason, nullptr);
  return out;
}

inline Bytes mqtt_disconnect(mqtt::ProtocolVersion v, mqtt::ReasonCode reason = mqtt::ReasonCode::success) {
  Bytes out;
  mqtt::encode_disconnect(out, v, reason, nullptr);
  return out;
}

inline Bytes mqtt_pingreq() {
  Bytes out;
  mqtt::encode_pingreq(out);
  return out;
}

}  // namespace outpost::test
