// Method frames (AMQP 0-9-1 section 4.2.4): class id, method id and the method's
// arguments in the order the protocol reference gives them. Every method of the classes
// clients use (connection, channel, exchange, queue, basic, confirm, tx) is described
// once, in a table (method.cpp), by its argument types; decoding and encoding both follow
// that table, so a method is one line, not a struct and two functions.
#pragma once

#include "amqp/codec/field_table.hpp"
#include "amqp/codec/types.hpp"

#include <concepts>
#include <type_traits>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::amqp {

// Argument types as the method table spells them: o octet, s short, l long, L long-long,
// S short string, X long string, b bit (consecutive bits share octets), T field table.
struct MethodSpec {
  std::uint16_t class_id;
  std::uint16_t method_id;
  const char* name;  // "basic.publish"
  const char* args;
  bool content = false;  // followed by a content header and body frames
};

// The method's description, or null for an unknown class / method.
const MethodSpec* find_method(std::uint16_t class_id, std::uint16_t method_id);

struct MethodArg {
  std::uint64_t n = 0;  // numbers and bits
  std::string s;        // strings
  FieldTable t;         // tables
};

struct Method {
  const MethodSpec* spec = nullptr;
  std::vector<MethodArg> args;

  std::uint16_t class_id() const { return spec->class_id; }
  std::uint16_t method_id() const { return spec->method_id; }
  bool is(std::uint16_t c, std::uint16_t m) const { return spec->class_id == c && spec->method_id == m; }
  std::uint64_t num(std::size_t i) const { return args[i].n; }
  bool flag(std::size_t i) const { return args[i].n != 0; }
  const std::string& str(std::size_t i) const { return args[i].s; }
  const FieldTable& table(std::size_t i) const { return args[i].t; }
};

struct MethodDecode {
  Method method;
  Error error;  // 540 NOT_IMPLEMENTED for an unknown class / method, 501 for a malformed one
};
MethodDecode decode_method(std::span<const std::uint8_t> payload);

// One argument as given to encode_method: a number (bits too), a string or a table.
struct ArgIn {
  std::uint64_t n = 0;
  std::string_view s;
  const FieldTable* t = nullptr;
  template <std::integral I>
  ArgIn(I v) : n(static_cast<std::uint64_t>(v)) {}  // NOLINT: implicit on purpose
  template <typename E>
    requires std::is_enum_v<E>
  ArgIn(E v) : n(static_cast<std::uint64_t>(v)) {}  // NOLINT: reply codes
  ArgIn(std::string_view v) : s(v) {}              // NOLINT
  ArgIn(const char* v) : s(v) {}                   // NOLINT
  ArgIn(const std::string& v) : s(v) {}            // NOLINT
  ArgIn(const FieldTable& v) : t(&v) {}            // NOLINT
};

// Appends a whole method frame on `channel`. The arguments must match the method's
// description in number; a missing table argument encodes as an empty table.
void encode_method(std::vector<std::uint8_t>& out, std::uint16_t channel, std::uint16_t class_id,
                   std::uint16_t method_id, std::initializer_list<ArgIn> args);

// Method ids by name, for readable session code.
namespace m {
// connection
inline constexpr std::uint16_t start = 10, start_ok = 11, secure = 20, secure_ok = 21, tune = 30, tune_ok = 31,
                               open = 40, open_ok = 41, close = 50, close_ok = 51, blocked = 60, unblocked = 61,
                               update_secret = 70, update_secret_ok = 71;
// channel (open / close share the connection's ids 10/11 and 40/41 in their class)
inline constexpr std::uint16_t ch_open = 10, ch_open_ok = 11, flow = 20, flow_ok = 21, ch_close = 40, ch_close_ok = 41;
// exchange
inline constexpr std::uint16_t ex_declare = 10, ex_declare_ok = 11, ex_delete = 20, ex_delete_ok = 21, ex_bind = 30,
                               ex_bind_ok = 31, ex_unbind = 40, ex_unbind_ok = 51;
// queue
inline constexpr std::uint16_t q_declare = 10, q_declare_ok = 11, q_bind = 20, q_bind_ok = 21, q_purge = 30,
                               q_purge_ok = 31, q_delete = 40, q_delete_ok = 41, q_unbind = 50, q_unbind_ok = 51;
// basic
inline constexpr std::uint16_t qos = 10, qos_ok = 11, consume = 20, consume_ok = 21, cancel = 30, cancel_ok = 31,
                               publish = 40, return_ = 50, deliver = 60, get = 70, get_ok = 71, get_empty = 72,
                               ack = 80, reject = 90, recover_async = 100, recover = 110, recover_ok = 111,
                               nack = 120;
// confirm
inline constexpr std::uint16_t select = 10, select_ok = 11;
}  // namespace m

}  // namespace outpost::amqp
