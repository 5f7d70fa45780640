// Error-message building for the codec without a formatting library: the codec links
// only the standard library. Used on error paths only, so allocation does not matter.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

namespace outpost::mqtt::text {

inline void append(std::string& s, std::string_view v) { s += v; }
inline void append(std::string& s, const char* v) { s += v; }
template <class T>
  requires std::is_integral_v<T>
void append(std::string& s, T v) {
  s += std::to_string(+v);  // '+' so a std::uint8_t prints as a number
}

template <class... A>
std::string cat(const A&... parts) {
  std::string s;
  (append(s, parts), ...);
  return s;
}

// "0x2A": how the specifications write packet bytes and identifiers.
inline std::string hex(unsigned v) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string s = "0x";
  s += digits[(v >> 4) & 0x0F];
  s += digits[v & 0x0F];
  return s;
}

}  // namespace outpost::mqtt::text
