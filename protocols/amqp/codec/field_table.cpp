#include "amqp/codec/field_table.hpp"

#include <bit>
#include <cstring>

namespace outpost::amqp {

bool FieldValue::operator==(const FieldValue& o) const {
  if (type != o.type) return false;
  switch (type) {
    case 'f':
    case 'd': return std::memcmp(&d, &o.d, sizeof d) == 0;
    case 'D': return scale == o.scale && i == o.i;
    case 'S':
    case 'x': return s == o.s;
    case 'A': return array == o.array;
    case 'F': return table == o.table;
    case 'V': return true;
    default: return i == o.i;
  }
}

std::optional<std::int64_t> FieldValue::as_integer() const {
  switch (type) {
    case 'b': case 'B': case 's': case 'u': case 'I': case 'i': case 'l': case 'L': case 'T': return i;
    default: return std::nullopt;
  }
}

namespace {

bool read_value(Reader& r, FieldValue& v, int depth) {
  v.type = static_cast<char>(r.u8());
  if (!r.ok()) return false;
  switch (v.type) {
    case 't': v.i = r.u8() != 0; break;
    case 'b': v.i = static_cast<std::int8_t>(r.u8()); break;
    case 'B': v.i = r.u8(); break;
    case 's': v.i = static_cast<std::int16_t>(r.u16()); break;
    case 'u': v.i = r.u16(); break;
    case 'I': v.i = static_cast<std::int32_t>(r.u32()); break;
    case 'i': v.i = r.u32(); break;
    case 'l':
    case 'L':
    case 'T': v.i = static_cast<std::int64_t>(r.u64()); break;
    case 'f': v.d = std::bit_cast<float>(r.u32()); break;
    case 'd': v.d = std::bit_cast<double>(r.u64()); break;
    case 'D':
      v.scale = r.u8();
      v.i = static_cast<std::int32_t>(r.u32());
      break;
    case 'S':
    case 'x': v.s = r.longstr(); break;
    case 'A': {
      const auto body = r.bytes(r.u32());
      if (!r.ok()) return false;
      if (depth >= kMaxFieldDepth) return false;
      Reader ar(body);
      while (ar.ok() && !ar.at_end()) {
        FieldValue item;
        if (!read_value(ar, item, depth + 1)) return false;
        v.array.push_back(std::move(item));
      }
      return ar.ok();
    }
    case 'F':
      if (depth >= kMaxFieldDepth) return false;
      return read_table(r, v.table, depth + 1);
    case 'V': break;
    default: return false;
  }
  return r.ok();
}

}  // namespace

bool decode_table_body(std::span<const std::uint8_t> body, FieldTable& out, int depth) {
  Reader r(body);
  while (r.ok() && !r.at_end()) {
    FieldEntry e;
    e.name = r.shortstr();
    if (!r.ok() || !read_value(r, e.value, depth)) return false;
    out.push_back(std::move(e));
  }
  return r.ok();
}

bool read_table(Reader& r, FieldTable& out, int depth) {
  const auto body = r.bytes(r.u32());
  if (!r.ok()) return false;
  return decode_table_body(body, out, depth);
}

void write_value(Writer& w, const FieldValue& v) {
  w.u8(static_cast<std::uint8_t>(v.type));
  switch (v.type) {
    case 't':
    case 'b':
    case 'B': w.u8(static_cast<std::uint8_t>(v.i)); break;
    case 's':
    case 'u': w.u16(static_cast<std::uint16_t>(v.i)); break;
    case 'I':
    case 'i': w.u32(static_cast<std::uint32_t>(v.i)); break;
    case 'l':
    case 'L':
    case 'T': w.u64(static_cast<std::uint64_t>(v.i)); break;
    case 'f': w.u32(std::bit_cast<std::uint32_t>(static_cast<float>(v.d))); break;
    case 'd': w.u64(std::bit_cast<std::uint64_t>(v.d)); break;
    case 'D':
      w.u8(v.scale);
      w.u32(static_cast<std::uint32_t>(v.i));
      break;
    case 'S':
    case 'x': w.longstr(v.s); break;
    case 'A': {
      const auto at = w.size();
      w.u32(0);
      for (const auto& item : v.array) write_value(w, item);
      w.patch_u32(at, static_cast<std::uint32_t>(w.size() - at - 4));
      break;
    }
    case 'F': write_table(w, v.table); break;
    default: break;  // 'V'
  }
}

void write_table(Writer& w, const FieldTable& table) {
  const auto at = w.size();
  w.u32(0);
  for (const auto& e : table) {
    w.shortstr(e.name);
    write_value(w, e.value);
  }
  w.patch_u32(at, static_cast<std::uint32_t>(w.size() - at - 4));
}

const FieldValue* find_field(const FieldTable& t, std::string_view name) {
  for (const auto& e : t) {
    if (e.name == name) return &e.value;
  }
  return nullptr;
}

std::string describe(const FieldValue& v) {
  switch (v.type) {
    case 't': return v.i ? "true" : "false";
    case 'f':
    case 'd': return std::to_string(v.d);
    case 'S':
    case 'x': return "\"" + v.s + "\"";
    case 'V': return "void";
    case 'A': {
      std::string out = "[";
      for (std::size_t k = 0; k < v.array.size(); ++k) out += (k ? ", " : "") + describe(v.array[k]);
      return out + "]";
    }
    case 'F': {
      std::string out = "{";
      for (std::size_t k = 0; k < v.table.size(); ++k) {
        out += (k ? ", " : "") + v.table[k].name + ": " + describe(v.table[k].value);
      }
      return out + "}";
    }
    case 'L': return std::to_string(static_cast<std::uint64_t>(v.i));
    default: return std::to_string(v.i);
  }
}

}  // namespace outpost::amqp
