// Field tables and arrays (AMQP 0-9-1 section 4.2.5.5) with the field type letters of the
// RabbitMQ errata to 0-9-1, which is what clients put on the wire (pika, amqplib, the
// Java client): t bool, b int8, B uint8, s int16, u uint16, I int32, i uint32, l int64,
// L uint64, f float, d double, D decimal, S long string, x byte array, A array,
// T timestamp, F nested table, V void. (The 0-9-1 grammar's own letters differ: its
// 's' is a short string, which no client sends.)
#pragma once

#include "amqp/codec/types.hpp"
#include "amqp/codec/wire.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::amqp {

struct FieldEntry;

struct FieldValue {
  char type = 'V';
  std::int64_t i = 0;      // t b B s u I i l T; L as its bit pattern; D: the unscaled value
  double d = 0;            // f d
  std::uint8_t scale = 0;  // D
  std::string s;           // S x
  std::vector<FieldValue> array;   // A
  std::vector<FieldEntry> table;   // F

  // Defined below FieldEntry: a FieldValue returned by value needs FieldValue's destructor,
  // hence std::vector<FieldEntry>'s, which clang (14) instantiates at once where GCC waits
  // for the end of the class, and FieldEntry is still incomplete inside this class.
  static FieldValue boolean(bool v);
  static FieldValue integer(char type, std::int64_t v);
  static FieldValue string(std::string v, char type = 'S');
  static FieldValue of_table(std::vector<FieldEntry> t);
  static FieldValue of_array(std::vector<FieldValue> a);
  bool operator==(const FieldValue& o) const;
  // Integral value of any integer type, if this is one.
  std::optional<std::int64_t> as_integer() const;
};

struct FieldEntry {
  std::string name;
  FieldValue value;
  bool operator==(const FieldEntry& o) const { return name == o.name && value == o.value; }
};

using FieldTable = std::vector<FieldEntry>;

inline FieldValue FieldValue::integer(char type, std::int64_t v) {
  FieldValue f;
  f.type = type;
  f.i = v;
  return f;
}
inline FieldValue FieldValue::boolean(bool v) { return integer('t', v ? 1 : 0); }
inline FieldValue FieldValue::string(std::string v, char type) {
  FieldValue f;
  f.type = type;
  f.s = std::move(v);
  return f;
}
inline FieldValue FieldValue::of_table(std::vector<FieldEntry> t) {
  FieldValue f;
  f.type = 'F';
  f.table = std::move(t);
  return f;
}
inline FieldValue FieldValue::of_array(std::vector<FieldValue> a) {
  FieldValue f;
  f.type = 'A';
  f.array = std::move(a);
  return f;
}

// Nesting deeper than this is refused (a hostile peer could otherwise exhaust the stack).
inline constexpr int kMaxFieldDepth = 32;

// Decodes a table's content (after its long length) / a length-prefixed table from `r`.
// Errors: unknown type letter, truncated data, too deep.
bool decode_table_body(std::span<const std::uint8_t> body, FieldTable& out, int depth = 0);
bool read_table(Reader& r, FieldTable& out, int depth = 0);
void write_table(Writer& w, const FieldTable& table);
void write_value(Writer& w, const FieldValue& v);

const FieldValue* find_field(const FieldTable& t, std::string_view name);

// A readable form for logs and error texts ("{a: 1, b: "x"}").
std::string describe(const FieldValue& v);

}  // namespace outpost::amqp
