// Primitive fields of the MQTT wire format (3.1.1 / 5.0 section 1.5): big-endian
// integers, variable byte integers, length-prefixed UTF-8 strings and binary data. The
// Reader never reads past its span and keeps the first failure; the put_* functions
// append to a byte vector. Used by the codec and by tests that build raw packets.
#pragma once

#include "mqtt/codec/types.hpp"
#include "mqtt/codec/utf8.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <span>
#include <string_view>
#include <vector>

namespace outpost::mqtt {

using Bytes = std::vector<std::uint8_t>;

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}

  std::size_t remaining() const noexcept { return in_.size() - pos_; }
  bool empty() const noexcept { return pos_ >= in_.size(); }
  bool failed() const noexcept { return failed_; }
  const CodecError& error() const noexcept { return error_; }

  bool u8(std::uint8_t& v, const char* what) {
    if (!need(1, what)) return false;
    v = in_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& v, const char* what) {
    if (!need(2, what)) return false;
    v = static_cast<std::uint16_t>((in_[pos_] << 8) | in_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v, const char* what) {
    if (!need(4, what)) return false;
    v = (std::uint32_t{in_[pos_]} << 24) | (std::uint32_t{in_[pos_ + 1]} << 16) | (std::uint32_t{in_[pos_ + 2]} << 8) |
        std::uint32_t{in_[pos_ + 3]};
    pos_ += 4;
    return true;
  }
  // Variable byte integer: at most four bytes [MQTT-1.5.5-1].
  bool varint(std::uint32_t& v, const char* what) {
    v = 0;
    for (int i = 0; i < 4; ++i) {
      if (!need(1, what)) return false;
      const std::uint8_t b = in_[pos_++];
      v |= std::uint32_t{b & 0x7Fu} << (7 * i);
      if ((b & 0x80) == 0) return true;
    }
    return fail(malformed(std::string(what) + ": variable byte integer longer than 4 bytes"));
  }
  bool binary(std::span<const std::uint8_t>& v, const char* what) {
    std::uint16_t len = 0;
    if (!u16(len, what)) return false;
    if (remaining() < len) {
      return fail(malformed(std::string(what) + ": length " + std::to_string(len) + " runs past the end of the packet"));
    }
    v = in_.subspan(pos_, len);
    pos_ += len;
    return true;
  }
  bool string(std::string_view& v, const char* what) {
    std::span<const std::uint8_t> b;
    if (!binary(b, what)) return false;
    v = std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
    if (!valid_utf8(v)) return fail(malformed(std::string(what) + ": not valid UTF-8 (or contains U+0000)"));
    return true;
  }
  std::span<const std::uint8_t> rest() {
    auto r = in_.subspan(pos_);
    pos_ = in_.size();
    return r;
  }
  // The next `n` bytes (fewer if the span ends first).
  std::span<const std::uint8_t> take(std::size_t n) {
    n = std::min(n, remaining());
    auto r = in_.subspan(pos_, n);
    pos_ += n;
    return r;
  }

  bool fail(CodecError e) {
    if (!failed_) {
      failed_ = true;
      error_ = std::move(e);
    }
    return false;
  }

 private:
  bool need(std::size_t n, const char* what) {
    if (failed_) return false;
    if (in_.size() - pos_ < n) return fail(malformed(std::string(what) + ": packet ends too early"));
    return true;
  }

  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
  CodecError error_;
};

// Grows `out` to exactly what the next packet needs, once, instead of letting push_back
// double it. A caller batching many packets into one vector reserves ahead itself.
inline void reserve_more(Bytes& out, std::size_t n) {
  if (out.capacity() - out.size() < n) out.reserve(out.size() + n);
}

inline bool is_v5(ProtocolVersion v) noexcept { return v == ProtocolVersion::v5; }

// The largest remaining length a fixed header can state (four varint bytes, 1.5.5).
inline constexpr std::uint32_t max_remaining_length = 268'435'455;

// [MQTT-2.3.1-1] SUBSCRIBE, UNSUBSCRIBE, QoS>0 PUBLISH and their acknowledgements carry a
// non-zero packet identifier.
inline bool read_packet_id(Reader& r, std::uint16_t& id) {
  if (!r.u16(id, "packet identifier")) return false;
  if (id == 0) return r.fail(protocol_error("packet identifier 0"));
  return true;
}

inline void put_u8(Bytes& out, std::uint8_t v) { out.push_back(v); }
inline void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
inline void put_u32(Bytes& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
inline void put_varint(Bytes& out, std::uint32_t v) {
  do {
    std::uint8_t b = v & 0x7F;
    v >>= 7;
    if (v) b |= 0x80;
    out.push_back(b);
  } while (v);
}
inline std::size_t varint_size(std::uint32_t v) { return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4; }
inline void put_binary(Bytes& out, std::span<const std::uint8_t> b) {
  put_u16(out, static_cast<std::uint16_t>(b.size()));
  out.insert(out.end(), b.begin(), b.end());
}
inline void put_string(Bytes& out, std::string_view s) {
  put_binary(out, {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

}  // namespace outpost::mqtt
