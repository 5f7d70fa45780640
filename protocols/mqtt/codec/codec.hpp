// The MQTT codec: pure functions from bytes to packets and back, for protocol levels 3
// (3.1), 4 (3.1.1) and 5 (5.0). Decoders check everything the specifications let a
// receiver check from the bytes alone and report violations as values; decisions that
// need state (session, subscriptions, limits) belong to the broker.
#pragma once

#include "mqtt/codec/packets.hpp"
#include "mqtt/codec/properties.hpp"
#include "mqtt/codec/types.hpp"
#include "mqtt/codec/wire.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace outpost::mqtt {

// --- framing ---------------------------------------------------------------------------
// Parses the fixed header at the start of `in`. `max_packet_size` bounds the whole
// packet (header + remaining length); it is checked as soon as the header is complete,
// before the body has arrived (0x95 packet too large). Flag rules of [MQTT-2.2.2-1/2]
// are checked here.
Frame parse_fixed_header(std::span<const std::uint8_t> in, std::uint32_t max_packet_size);

// --- decoders (body = the bytes after the fixed header) ---------------------------------
Result<ConnectPacket> decode_connect(std::span<const std::uint8_t> body);
// Best guess of the protocol level of a CONNECT body that failed to decode, to answer in
// the right dialect.
ProtocolVersion decoded_version_hint(std::span<const std::uint8_t> body);
Result<ConnackPacket> decode_connack(ProtocolVersion v, std::span<const std::uint8_t> body);
Result<PublishPacket> decode_publish(ProtocolVersion v, std::uint8_t flags, std::span<const std::uint8_t> body);
Result<AckPacket> decode_ack(ProtocolVersion v, PacketType type, std::span<const std::uint8_t> body);
Result<SubscribePacket> decode_subscribe(ProtocolVersion v, std::span<const std::uint8_t> body);
Result<SubackPacket> decode_suback(ProtocolVersion v, PacketType type, std::span<const std::uint8_t> body);
Result<UnsubscribePacket> decode_unsubscribe(ProtocolVersion v, std::span<const std::uint8_t> body);
Result<DisconnectPacket> decode_disconnect(ProtocolVersion v, std::span<const std::uint8_t> body);
Result<AuthPacket> decode_auth(std::span<const std::uint8_t> body);

// --- encoders (append whole packets to `out`) -----------------------------------------
// Properties are written only for 5.0; `props` may be null.
void encode_connect(Bytes& out, const ConnectPacket& p);
void encode_connack(Bytes& out, ProtocolVersion v, bool session_present, ReasonCode reason, const Properties* props);
// Everything of a PUBLISH except its payload, so one shared payload buffer can follow
// in a gather write.
void encode_publish_header(Bytes& out, ProtocolVersion v, std::string_view topic, std::uint8_t qos, bool retain,
                           bool dup, std::uint16_t packet_id, const Properties* props, std::size_t payload_size);
void encode_publish(Bytes& out, ProtocolVersion v, const PublishPacket& p);
// The size of the whole PUBLISH packet, to check a peer's maximum packet size.
std::size_t publish_packet_size(ProtocolVersion v, std::string_view topic, std::uint8_t qos, const Properties* props,
                                std::size_t payload_size);
void encode_ack(Bytes& out, ProtocolVersion v, PacketType type, std::uint16_t packet_id, ReasonCode reason,
                const Properties* props);
void encode_subscribe(Bytes& out, ProtocolVersion v, const SubscribePacket& p);
void encode_suback(Bytes& out, ProtocolVersion v, std::uint16_t packet_id, const std::vector<ReasonCode>& codes,
                   const Properties* props);
void encode_unsubscribe(Bytes& out, ProtocolVersion v, const UnsubscribePacket& p);
void encode_unsuback(Bytes& out, ProtocolVersion v, std::uint16_t packet_id, const std::vector<ReasonCode>& codes,
                     const Properties* props);
void encode_pingreq(Bytes& out);
void encode_pingresp(Bytes& out);
void encode_disconnect(Bytes& out, ProtocolVersion v, ReasonCode reason, const Properties* props = nullptr);
void encode_auth(Bytes& out, ReasonCode reason, const Properties* props);

}  // namespace outpost::mqtt
