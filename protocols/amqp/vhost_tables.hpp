// Helpers shared by the vhost's source files (vhost.cpp, dead_letter.cpp,
// definitions.cpp): field-table access and the encoding of durable definitions.
#pragma once

#include "amqp/codec/field_table.hpp"
#include "amqp/codec/wire.hpp"
#include "core/exchange.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::amqp::detail {

// The kinds of definition records in the store.
inline constexpr const char* kExchangeKind = "amqp.exchange";
inline constexpr const char* kQueueKind = "amqp.queue";
inline constexpr const char* kBindingKind = "amqp.binding";

inline std::string encode(const FieldTable& t) {
  std::vector<std::uint8_t> out;
  Writer w(out);
  write_table(w, t);
  return {out.begin(), out.end()};
}

inline bool decode(const std::string& body, FieldTable& t) {
  std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
  Reader r(bytes);
  return read_table(r, t) && r.at_end();
}

inline const FieldValue* field(const FieldTable& t, std::string_view name) { return find_field(t, name); }
inline std::string text_of(const FieldTable& t, std::string_view name) {
  const auto* v = field(t, name);
  return v && (v->type == 'S' || v->type == 'x') ? v->s : std::string();
}
inline bool flag_of(const FieldTable& t, std::string_view name) {
  const auto* v = field(t, name);
  return v && v->i != 0;
}

inline std::optional<core::ExchangeType> exchange_type(std::string_view t) {
  if (t == "direct") return core::ExchangeType::direct;
  if (t == "fanout") return core::ExchangeType::fanout;
  if (t == "topic") return core::ExchangeType::topic;
  return std::nullopt;
}

}  // namespace outpost::amqp::detail
