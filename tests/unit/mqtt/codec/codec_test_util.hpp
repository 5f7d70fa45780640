// Helpers shared by the codec tests: byte literals and splitting an encoded packet.
#pragma once

#include "mqtt/codec/codec.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace outpost::mqtt::test {

inline Bytes bytes(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(static_cast<std::uint8_t>(x));
  return b;
}

inline Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

inline Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The body of a whole encoded packet (the bytes after its fixed header).
inline std::span<const std::uint8_t> body_of(const Bytes& packet) {
  auto f = parse_fixed_header(packet, 0);
  EXPECT_EQ(f.status, FrameStatus::complete) << f.error.message;
  EXPECT_EQ(f.header.header_length + f.header.remaining_length, packet.size());
  return std::span<const std::uint8_t>(packet).subspan(f.header.header_length, f.header.remaining_length);
}

inline std::uint8_t flags_of(const Bytes& packet) { return packet[0] & 0x0F; }

inline std::string as_string(std::span<const std::uint8_t> b) { return std::string(b.begin(), b.end()); }

inline std::span<const std::uint8_t> span_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// A property block: varint length then the given property bytes.
inline Bytes props_block(const Bytes& props) {
  Bytes b;
  put_varint(b, static_cast<std::uint32_t>(props.size()));
  return concat(b, props);
}

template <class T>
ReasonCode reason_of(const Result<T>& r) {
  EXPECT_FALSE(r) << "decoded although it should fail";
  return r ? ReasonCode::success : r.error().reason;
}

inline constexpr ProtocolVersion kAllVersions[] = {ProtocolVersion::v31, ProtocolVersion::v311, ProtocolVersion::v5};

}  // namespace outpost::mqtt::test
