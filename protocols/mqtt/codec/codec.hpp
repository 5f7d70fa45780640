// The MQTT codec: pure functions from bytes to packets and back, for protocol levels 3
// (3.1), 4 (3.1.1) and 5 (5.0). Decoders check everything the specifications let a
// receiver check from the bytes alone and report violations as values; decisions that
// need state or policy (sessions, subscriptions, aliases, limits) belong to the broker.
//
// Threads: no state, no I/O, nothing blocks; any thread may call any function. A
// decoded packet borrows from the input span (see packets.hpp). Encoders append to
// `out` and grow it at most once, to exactly the size the packet needs.
#pragma once

#include "mqtt/codec/packets.hpp"
#include "mqtt/codec/properties.hpp"
#include "mqtt/codec/types.hpp"
#include "mqtt/codec/utf8.hpp"
#include "mqtt/codec/wire.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace outpost::mqtt {

// --- framing ---------------------------------------------------------------------------
// Parses the fixed header at the start of `in` (which may hold less than a packet, or
// several). Checks the packet type and the flag rules of [MQTT-2.2.2-1/2] from the first
// byte, a remaining length of at most four bytes, and `max_packet_size` (0 = no limit)
// against the whole packet (header + remaining length) as soon as the header is
// complete, before the body has arrived (0x95 packet too large).
Frame parse_fixed_header(std::span<const std::uint8_t> in, std::uint32_t max_packet_size);

// --- decoders --------------------------------------------------------------------------
// `body` is the remaining_length bytes after the fixed header. The version is the one
// CONNECT fixed for the connection; `flags` are FixedHeader::flags.
Result<ConnectPacket> decode_connect(std::span<const std::uint8_t> body);
// The level to answer in when decode_connect failed: 5 if the body names MQTT level 5,
// else 3.1.1.
ProtocolVersion decoded_version_hint(std::span<const std::uint8_t> body);
Result<ConnackPacket> decode_connack(ProtocolVersion v, std::span<const std::uint8_t> body);
Result<PublishPacket> decode_publish(ProtocolVersion v, std::uint8_t flags, std::span<const std::uint8_t> body);
// The same into a packet the caller owns (the hot path: no move of the properties).
// `p` must be default-constructed. Returns the error, if any.
std::optional<CodecError> decode_publish_into(ProtocolVersion v, std::uint8_t flags, std::span<const std::uint8_t> body,
                                              PublishPacket& p);
// PUBACK, PUBREC, PUBREL, PUBCOMP.
Result<AckPacket> decode_ack(ProtocolVersion v, PacketType type, std::span<const std::uint8_t> body);
Result<SubscribePacket> decode_subscribe(ProtocolVersion v, std::span<const std::uint8_t> body);
// SUBACK or UNSUBACK, as `type` says.
Result<SubackPacket> decode_suback(ProtocolVersion v, PacketType type, std::span<const std::uint8_t> body);
Result<UnsubscribePacket> decode_unsubscribe(ProtocolVersion v, std::span<const std::uint8_t> body);
// PINGREQ or PINGRESP, as `type` says: the body must be empty.
Result<PingPacket> decode_ping(PacketType type, std::span<const std::uint8_t> body);
Result<DisconnectPacket> decode_disconnect(ProtocolVersion v, std::span<const std::uint8_t> body);
// AUTH exists only in 5.0; refusing it on an older connection is the caller's job.
Result<AuthPacket> decode_auth(std::span<const std::uint8_t> body);

// False when the payload format indicator says UTF-8 (1) and the payload is not. The
// PUBLISH decoder does not scan payloads; a receiver that wants to may call this and
// answer PUBACK / PUBREC 0x99 (5.0 section 3.3.2.3.2). CONNECT checks its will itself.
bool payload_matches_format(const Properties& props, std::span<const std::uint8_t> payload) noexcept;

// --- encoders (append whole packets to `out`) -----------------------------------------
// Properties are written only for 5.0; a null `props` means none. Encoders trust their
// input: the caller keeps strings valid UTF-8 and under 65,535 bytes, packet ids
// non-zero where required, and the whole packet under max_remaining_length.
void encode_connect(Bytes& out, const ConnectPacket& p);
// 3.1 / 3.1.1 send connack_code_for(reason).
void encode_connack(Bytes& out, ProtocolVersion v, bool session_present, ReasonCode reason, const Properties* props);
// Everything of a PUBLISH except its payload, so one shared payload buffer can follow
// in a gather write. DUP is written only with QoS > 0, the packet id only with QoS > 0.
void encode_publish_header(Bytes& out, ProtocolVersion v, std::string_view topic, std::uint8_t qos, bool retain,
                           bool dup, std::uint16_t packet_id, const Properties* props, std::size_t payload_size);
void encode_publish(Bytes& out, ProtocolVersion v, const PublishPacket& p);
// The size of the whole PUBLISH packet, to check a peer's maximum packet size before
// encoding (5.0 [MQTT-3.1.2-24]: a packet too large for the client is not sent).
std::size_t publish_packet_size(ProtocolVersion v, std::string_view topic, std::uint8_t qos, const Properties* props,
                                std::size_t payload_size);
// PUBACK, PUBREC, PUBREL, PUBCOMP. 5.0 uses the two-byte form for success without
// properties.
void encode_ack(Bytes& out, ProtocolVersion v, PacketType type, std::uint16_t packet_id, ReasonCode reason,
                const Properties* props);
void encode_subscribe(Bytes& out, ProtocolVersion v, const SubscribePacket& p);
// 3.1.1 SUBACK writes granted QoS 0..2 as they are and every other code as 0x80.
void encode_suback(Bytes& out, ProtocolVersion v, std::uint16_t packet_id, const std::vector<ReasonCode>& codes,
                   const Properties* props);
void encode_unsubscribe(Bytes& out, ProtocolVersion v, const UnsubscribePacket& p);
// 3.1.1 UNSUBACK carries no codes; `codes` is ignored there.
void encode_unsuback(Bytes& out, ProtocolVersion v, std::uint16_t packet_id, const std::vector<ReasonCode>& codes,
                     const Properties* props);
void encode_pingreq(Bytes& out);
void encode_pingresp(Bytes& out);
// 3.1.1 DISCONNECT is two bytes whatever the reason; 5.0 uses the short form for a
// normal disconnection without properties.
void encode_disconnect(Bytes& out, ProtocolVersion v, ReasonCode reason, const Properties* props = nullptr);
// 5.0 only. Success without properties is the two-byte form.
void encode_auth(Bytes& out, ReasonCode reason, const Properties* props);

}  // namespace outpost::mqtt
