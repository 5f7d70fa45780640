#include "core/random_name.hpp"

#include <cstdint>
#include <random>

namespace outpost::core {

std::string random_name(std::string_view prefix, int length, NameAlphabet alphabet) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  static constexpr std::string_view kUrlSafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  const std::string_view chars = alphabet == NameAlphabet::hex ? kHex : kUrlSafe;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string name(prefix);
  name.reserve(prefix.size() + static_cast<std::size_t>(length));
  for (int i = 0; i < length; ++i) name.push_back(chars[rng() % chars.size()]);
  return name;
}

}  // namespace outpost::core
