// How the stateful fuzz targets cut their input into steps: bytes 0 and 1 seed a small
// generator that decides where the rest is split (chunks of 1 to 64 bytes, so a packet
// arrives whole, in pieces or with the next one) and what happens between chunks (the
// deadline comes due, the write queue fills and drains). The rest of the input is the
// peer's byte stream unchanged, so seeds are real sessions with a two-byte prefix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace outpost::fuzz {

class Steps {
 public:
  explicit Steps(std::span<const std::uint8_t> input) {
    if (input.size() >= 2) {
      state_ = (std::uint32_t{input[0]} << 8 | input[1]) * 2654435761u + 1;
      rest_ = input.subspan(2);
    }
  }
  // The bytes the peer sends.
  std::span<const std::uint8_t> stream() const noexcept { return rest_; }
  // The next chunk's size (1..64), or the rest when the generator says "all at once".
  std::size_t chunk(std::size_t left) {
    const std::uint32_t r = next();
    if ((r & 0x0F) == 0) return left;
    const std::size_t n = 1 + (r >> 4) % 64;
    return n < left ? n : left;
  }
  // One step in `one_in`.
  bool event(std::uint32_t one_in) { return next() % one_in == 0; }

 private:
  std::uint32_t next() {
    // xorshift32: cheap and deterministic for a given input.
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }
  std::uint32_t state_ = 1;
  std::span<const std::uint8_t> rest_;
};

}  // namespace outpost::fuzz
