#include "core/trace_context.hpp"

#include <cstdint>
#include <random>

namespace outpost::core {

namespace {

bool is_lower_hex(std::string_view s) noexcept {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) noexcept { return s.find_first_not_of('0') == std::string_view::npos; }

void append_hex(std::string& out, std::uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out.push_back(kHex[(v >> (4 * i)) & 0xF]);
}

// A headers table kept encoded for AMQP consumers (MessageProperties::amqp_headers) gets
// the new entry too, or they would not see it: a field table entry is a short string name
// followed by a typed value, here 'S' (long string: 32-bit big-endian length, bytes)
// [AMQP 0-9-1 4.2.5.5]. The single '\0' marker stands for a present but empty table.
void append_amqp_header(std::string& table, std::string_view name, std::string_view value) {
  if (table.size() == 1 && table[0] == '\0') table.clear();
  table.push_back(static_cast<char>(name.size()));
  table.append(name);
  table.push_back('S');
  const auto n = static_cast<std::uint32_t>(value.size());
  for (int shift = 24; shift >= 0; shift -= 8) table.push_back(static_cast<char>((n >> shift) & 0xFF));
  table.append(value);
}

}  // namespace

std::optional<TraceParent> parse_traceparent(std::string_view v) noexcept {
  // version "-" trace-id "-" parent-id "-" trace-flags: 2+1+32+1+16+1+2 = 55 characters.
  constexpr std::size_t kLength = 55;
  if (v.size() < kLength || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  TraceParent t{v.substr(0, 2), v.substr(3, 32), v.substr(36, 16), v.substr(53, 2)};
  if (!is_lower_hex(t.version) || t.version == "ff") return std::nullopt;
  // Version 00 has exactly these fields; a later version may add more after a '-'.
  if (t.version == "00" ? v.size() != kLength : (v.size() > kLength && v[kLength] != '-')) return std::nullopt;
  if (!is_lower_hex(t.trace_id) || all_zero(t.trace_id)) return std::nullopt;
  if (!is_lower_hex(t.parent_id) || all_zero(t.parent_id)) return std::nullopt;
  if (!is_lower_hex(t.flags)) return std::nullopt;
  return t;
}

std::string make_traceparent() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  std::uint64_t parent = 0;
  // All zero is invalid for both ids (§3.2.2.3, §3.2.2.4).
  while ((hi | lo) == 0) {
    hi = rng();
    lo = rng();
  }
  while (parent == 0) parent = rng();
  std::string out;
  out.reserve(55);
  out.append("00-");
  append_hex(out, hi, 16);
  append_hex(out, lo, 16);
  out.push_back('-');
  append_hex(out, parent, 16);
  out.append("-01");
  return out;
}

std::string_view find_traceparent(const MessageProperties* p) noexcept {
  if (p == nullptr) return {};
  for (const auto& up : p->user_properties) {
    if (up.key == kTraceparent) return up.value;
  }
  return {};
}

bool has_traceparent(const MessageProperties* p) noexcept {
  if (p == nullptr) return false;
  for (const auto& up : p->user_properties) {
    if (up.key == kTraceparent) return true;
  }
  return false;
}

std::string_view find_traceparent(const Message& m) noexcept { return find_traceparent(m.properties()); }

std::string_view trace_id_of(const Message& m) noexcept {
  const auto value = find_traceparent(m);
  if (value.empty()) return {};
  const auto parsed = parse_traceparent(value);
  return parsed ? parsed->trace_id : std::string_view();
}

MessagePtr with_new_traceparent(const Message& m) {
  auto props = m.properties() ? std::make_shared<MessageProperties>(*m.properties())
                              : std::make_shared<MessageProperties>();
  auto value = make_traceparent();
  if (!props->amqp_headers.empty()) append_amqp_header(props->amqp_headers, kTraceparent, value);
  props->user_properties.push_back(UserProperty{std::string(kTraceparent), std::move(value)});
  Message::Init init;
  init.topic = m.topic();
  init.payload = m.payload();
  init.qos = m.qos();
  init.retain = m.retain();
  init.origin = m.origin();
  init.expiry_unix_ms = m.expiry_unix_ms();
  init.properties = std::move(props);
  return Message::make(std::move(init));
}

}  // namespace outpost::core
