// Primitive fields of the MQTT wire format: big-endian integers, variable byte
// integers, length-prefixed strings and binary data. The Reader never reads past its
// span and reports the first failure; the writer appends to a byte vector.
#pragma once

#include "mqtt/codec/types.hpp"
#include "mqtt/codec/utf8.hpp"

#include <cstdint>
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
    if (!need(len, what)) return false;
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
  std::span<const std::uint8_t> take(std::size_t n) {
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
