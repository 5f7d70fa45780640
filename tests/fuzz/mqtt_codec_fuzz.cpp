// Fuzz target: the MQTT codec (protocols/mqtt/codec), every packet type of 3.1, 3.1.1 and
// 5.0 with their properties.
//
// Input: byte 0 picks the protocol level of the packets that follow (0: 3.1, 1: 3.1.1,
// else 5.0; CONNECT decides its own) and whether a maximum packet size applies; the rest
// is a stream of packets, framed with parse_fixed_header as a session frames them.
//
// Invariants beyond "no crash, no UB, no leak": a packet the decoder accepts, encoded
// again, decodes again; and that second decoding encodes to the same bytes as the first
// (decode -> encode is a fixed point after one step: nothing a decoder accepts is lost or
// changed by the encoder). A decoder that fails must say why.
#include "fuzz_check.hpp"
#include "mqtt/codec/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace {

using namespace outpost::mqtt;
using Span = std::span<const std::uint8_t>;

// The fixed header of the single packet `packet` holds.
FixedHeader header_of(const Bytes& packet, PacketType expected) {
  const Frame f = parse_fixed_header(packet, 0);
  FUZZ_CHECK(f.status == FrameStatus::complete, "an encoded packet has a valid fixed header");
  FUZZ_CHECK(f.header.type == expected, "an encoded packet has the type it was decoded as");
  FUZZ_CHECK(f.header.header_length + f.header.remaining_length == packet.size(), "encoded length matches");
  return f.header;
}

template <class T>
void check_error(const Result<T>& r) {
  if (!r) FUZZ_CHECK(!r.error().message.empty(), "a decoding error says what was wrong");
}

// decode -> encode -> decode -> encode: both decodings succeed, both encodings are equal.
// `decode(flags, body)` returns a Result, `encode(out, packet)` appends one whole packet.
template <class Decode, class Encode>
void round_trip(const FixedHeader& h, Span body, Decode decode, Encode encode) {
  auto first = decode(h.flags, body);
  check_error(first);
  if (!first) return;
  Bytes once;
  encode(once, *first);
  const FixedHeader again = header_of(once, h.type);
  auto second = decode(again.flags, Span(once).subspan(again.header_length));
  FUZZ_CHECK(second.has_value(), "a re-encoded packet decodes");
  Bytes twice;
  encode(twice, *second);
  FUZZ_CHECK(once == twice, "decode/encode is stable");
}

void one_packet(ProtocolVersion v, const FixedHeader& h, Span body) {
  switch (h.type) {
    case PacketType::connect:
      (void)decoded_version_hint(body);
      round_trip(h, body, [](std::uint8_t, Span b) { return decode_connect(b); },
                 [](Bytes& out, const ConnectPacket& p) { encode_connect(out, p); });
      break;
    case PacketType::connack:
      round_trip(h, body, [v](std::uint8_t, Span b) { return decode_connack(v, b); },
                 [v](Bytes& out, const ConnackPacket& p) {
                   encode_connack(out, v, p.session_present, p.reason, &p.properties);
                 });
      break;
    case PacketType::publish: {
      const std::uint8_t flags = h.flags;
      round_trip(h, body, [v](std::uint8_t f, Span b) { return decode_publish(v, f, b); },
                 [v](Bytes& out, const PublishPacket& p) {
                   encode_publish(out, v, p);
                   Bytes header_only;
                   encode_publish_header(header_only, v, p.topic, p.qos, p.retain, p.dup, p.packet_id, &p.properties,
                                         p.payload.size());
                   FUZZ_CHECK(header_only.size() + p.payload.size() == out.size(), "header + payload = packet");
                   FUZZ_CHECK(publish_packet_size(v, p.topic, p.qos, &p.properties, p.payload.size()) == out.size(),
                              "publish_packet_size is the encoded size");
                 });
      // The owning decoder agrees with the borrowing one.
      PublishPacket into;
      auto r = decode_publish_into(v, flags, body, into);
      auto plain = decode_publish(v, flags, body);
      FUZZ_CHECK(r.has_value() != plain.has_value(), "decode_publish_into fails exactly when decode_publish does");
      if (plain) (void)payload_matches_format(plain->properties, plain->payload);
      break;
    }
    case PacketType::puback:
    case PacketType::pubrec:
    case PacketType::pubrel:
    case PacketType::pubcomp: {
      const PacketType t = h.type;
      round_trip(h, body, [v, t](std::uint8_t, Span b) { return decode_ack(v, t, b); },
                 [v, t](Bytes& out, const AckPacket& p) { encode_ack(out, v, t, p.packet_id, p.reason, &p.properties); });
      break;
    }
    case PacketType::subscribe:
      round_trip(h, body, [v](std::uint8_t, Span b) { return decode_subscribe(v, b); },
                 [v](Bytes& out, const SubscribePacket& p) { encode_subscribe(out, v, p); });
      break;
    case PacketType::suback:
      round_trip(h, body, [v](std::uint8_t, Span b) { return decode_suback(v, PacketType::suback, b); },
                 [v](Bytes& out, const SubackPacket& p) {
                   encode_suback(out, v, p.packet_id, p.codes, &p.properties);
                 });
      break;
    case PacketType::unsubscribe:
      round_trip(h, body, [v](std::uint8_t, Span b) { return decode_unsubscribe(v, b); },
                 [v](Bytes& out, const UnsubscribePacket& p) { encode_unsubscribe(out, v, p); });
      break;
    case PacketType::unsuback:
      round_trip(h, body, [v](std::uint8_t, Span b) { return decode_suback(v, PacketType::unsuback, b); },
                 [v](Bytes& out, const SubackPacket& p) {
                   encode_unsuback(out, v, p.packet_id, p.codes, &p.properties);
                 });
      break;
    case PacketType::pingreq:
    case PacketType::pingresp: {
      const PacketType t = h.type;
      round_trip(h, body, [t](std::uint8_t, Span b) { return decode_ping(t, b); },
                 [](Bytes& out, const PingPacket& p) {
                   if (p.type == PacketType::pingreq) {
                     encode_pingreq(out);
                   } else {
                     encode_pingresp(out);
                   }
                 });
      break;
    }
    case PacketType::disconnect:
      round_trip(h, body, [v](std::uint8_t, Span b) { return decode_disconnect(v, b); },
                 [v](Bytes& out, const DisconnectPacket& p) { encode_disconnect(out, v, p.reason, &p.properties); });
      break;
    case PacketType::auth:
      round_trip(h, body, [](std::uint8_t, Span b) { return decode_auth(b); },
                 [](Bytes& out, const AuthPacket& p) { encode_auth(out, p.reason, &p.properties); });
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const ProtocolVersion v = (mode & 0x03) == 0 ? ProtocolVersion::v31
                            : (mode & 0x03) == 1 ? ProtocolVersion::v311
                                                 : ProtocolVersion::v5;
  const std::uint32_t max_packet_size = (mode & 0x80) != 0 ? 64 : 0;
  Span in(data + 1, size - 1);
  while (!in.empty()) {
    const Frame f = parse_fixed_header(in, max_packet_size);
    if (f.status == FrameStatus::error) {
      FUZZ_CHECK(!f.error.message.empty(), "a framing error says what was wrong");
      break;
    }
    if (f.status == FrameStatus::need_more) break;
    FUZZ_CHECK(f.header.header_length >= 2 && f.header.header_length <= 5, "fixed header is 2..5 bytes");
    const std::size_t total = f.header.header_length + f.header.remaining_length;
    if (max_packet_size != 0) FUZZ_CHECK(total <= max_packet_size, "the packet size limit holds");
    if (total > in.size()) break;
    one_packet(v, f.header, in.subspan(f.header.header_length, f.header.remaining_length));
    in = in.subspan(total);
  }
  return 0;
}
