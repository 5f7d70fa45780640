// Big-endian readers and writers for AMQP 0-9-1 data types (section 4.2.5): octets,
// shorts, longs, long-longs, short strings (octet length) and long strings (long length).
// Pure functions over spans; a reader that runs out of input turns `ok` false and
// returns zeros, so a decoder checks once at the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::amqp {

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> data) : data_(data) {}

  bool ok() const noexcept { return ok_; }
  bool at_end() const noexcept { return pos_ == data_.size(); }
  std::size_t remaining() const noexcept { return data_.size() - pos_; }
  std::size_t position() const noexcept { return pos_; }
  void fail() noexcept { ok_ = false; }

  std::uint8_t u8() { return static_cast<std::uint8_t>(take_int(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(take_int(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(take_int(4)); }
  std::uint64_t u64() { return take_int(8); }

  std::span<const std::uint8_t> bytes(std::size_t n) {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return {};
    }
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view view(std::size_t n) {
    auto b = bytes(n);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  std::string_view shortstr() { return view(u8()); }
  std::string_view longstr() { return view(u32()); }

 private:
  std::uint64_t take_int(std::size_t n) {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | data_[pos_ + i];
    pos_ += n;
    return v;
  }

  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// Appends to a byte vector.
class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { put_int(v, 2); }
  void u32(std::uint32_t v) { put_int(v, 4); }
  void u64(std::uint64_t v) { put_int(v, 8); }
  void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void bytes(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  // Short strings longer than 255 octets cannot be encoded: the caller truncates or
  // refuses them before (they come from our own state or were decoded as short strings).
  void shortstr(std::string_view s) {
    const auto n = s.size() > 255 ? std::size_t{255} : s.size();
    u8(static_cast<std::uint8_t>(n));
    bytes(s.substr(0, n));
  }
  void longstr(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    bytes(s);
  }
  std::size_t size() const noexcept { return out_.size(); }
  // Writes a big-endian value over bytes already appended (sizes known afterwards).
  void patch_u32(std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<std::uint8_t>(v >> (8 * (3 - i)));
  }
  std::vector<std::uint8_t>& buffer() noexcept { return out_; }

 private:
  void put_int(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t>& out_;
};

}  // namespace outpost::amqp
