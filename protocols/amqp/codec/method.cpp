#include "amqp/codec/method.hpp"

#include "amqp/codec/frame.hpp"
#include "amqp/codec/wire.hpp"

#include <string>

namespace outpost::amqp {
namespace {

// The AMQP 0-9-1 protocol reference, class by class.
constexpr MethodSpec kMethods[] = {
    {10, 10, "connection.start", "ooTXX"},
    {10, 11, "connection.start-ok", "TSXS"},
    {10, 20, "connection.secure", "X"},
    {10, 21, "connection.secure-ok", "X"},
    {10, 30, "connection.tune", "sls"},
    {10, 31, "connection.tune-ok", "sls"},
    {10, 40, "connection.open", "SSb"},
    {10, 41, "connection.open-ok", "S"},
    {10, 50, "connection.close", "sSss"},
    {10, 51, "connection.close-ok", ""},
    {10, 60, "connection.blocked", "S"},
    {10, 61, "connection.unblocked", ""},
    {10, 70, "connection.update-secret", "XS"},
    {10, 71, "connection.update-secret-ok", ""},
    {20, 10, "channel.open", "S"},
    {20, 11, "channel.open-ok", "X"},
    {20, 20, "channel.flow", "b"},
    {20, 21, "channel.flow-ok", "b"},
    {20, 40, "channel.close", "sSss"},
    {20, 41, "channel.close-ok", ""},
    {40, 10, "exchange.declare", "sSSbbbbbT"},
    {40, 11, "exchange.declare-ok", ""},
    {40, 20, "exchange.delete", "sSbb"},
    {40, 21, "exchange.delete-ok", ""},
    {40, 30, "exchange.bind", "sSSSbT"},
    {40, 31, "exchange.bind-ok", ""},
    {40, 40, "exchange.unbind", "sSSSbT"},
    {40, 51, "exchange.unbind-ok", ""},
    {50, 10, "queue.declare", "sSbbbbbT"},
    {50, 11, "queue.declare-ok", "Sll"},
    {50, 20, "queue.bind", "sSSSbT"},
    {50, 21, "queue.bind-ok", ""},
    {50, 30, "queue.purge", "sSb"},
    {50, 31, "queue.purge-ok", "l"},
    {50, 40, "queue.delete", "sSbbb"},
    {50, 41, "queue.delete-ok", "l"},
    {50, 50, "queue.unbind", "sSSST"},
    {50, 51, "queue.unbind-ok", ""},
    {60, 10, "basic.qos", "lsb"},
    {60, 11, "basic.qos-ok", ""},
    {60, 20, "basic.consume", "sSSbbbbT"},
    {60, 21, "basic.consume-ok", "S"},
    {60, 30, "basic.cancel", "Sb"},
    {60, 31, "basic.cancel-ok", "S"},
    {60, 40, "basic.publish", "sSSbb", true},
    {60, 50, "basic.return", "sSSS", true},
    {60, 60, "basic.deliver", "SLbSS", true},
    {60, 70, "basic.get", "sSb"},
    {60, 71, "basic.get-ok", "LbSSl", true},
    {60, 72, "basic.get-empty", "S"},
    {60, 80, "basic.ack", "Lb"},
    {60, 90, "basic.reject", "Lb"},
    {60, 100, "basic.recover-async", "b"},
    {60, 110, "basic.recover", "b"},
    {60, 111, "basic.recover-ok", ""},
    {60, 120, "basic.nack", "Lbb"},
    {85, 10, "confirm.select", "b"},
    {85, 11, "confirm.select-ok", ""},
    {90, 10, "tx.select", ""},
    {90, 11, "tx.select-ok", ""},
    {90, 20, "tx.commit", ""},
    {90, 21, "tx.commit-ok", ""},
    {90, 30, "tx.rollback", ""},
    {90, 31, "tx.rollback-ok", ""},
};

}  // namespace

const MethodSpec* find_method(std::uint16_t class_id, std::uint16_t method_id) {
  for (const auto& s : kMethods) {
    if (s.class_id == class_id && s.method_id == method_id) return &s;
  }
  return nullptr;
}

MethodDecode decode_method(std::span<const std::uint8_t> payload) {
  MethodDecode out;
  Reader r(payload);
  const auto class_id = r.u16();
  const auto method_id = r.u16();
  if (!r.ok()) {
    out.error = Error{frame_error, "method frame shorter than its class and method ids"};
    return out;
  }
  const MethodSpec* spec = find_method(class_id, method_id);
  if (spec == nullptr) {
    out.error = Error{not_implemented, "unknown method: class " + std::to_string(class_id) + ", method " +
                                           std::to_string(method_id)};
    return out;
  }
  out.method.spec = spec;
  auto& args = out.method.args;
  std::uint8_t bits = 0;
  int bit_index = 8;  // a fresh octet is read at the first bit after a non-bit
  for (const char* a = spec->args; *a; ++a) {
    MethodArg arg;
    if (*a != 'b') bit_index = 8;
    switch (*a) {
      case 'o': arg.n = r.u8(); break;
      case 's': arg.n = r.u16(); break;
      case 'l': arg.n = r.u32(); break;
      case 'L': arg.n = r.u64(); break;
      case 'S': arg.s = r.shortstr(); break;
      case 'X': arg.s = r.longstr(); break;
      case 'b':
        if (bit_index == 8) {
          bits = r.u8();
          bit_index = 0;
        }
        arg.n = (bits >> bit_index++) & 1;
        break;
      case 'T':
        if (!read_table(r, arg.t)) {
          out.error = Error{frame_error, std::string("malformed field table in ") + spec->name};
          return out;
        }
        break;
      default: break;
    }
    args.push_back(std::move(arg));
  }
  if (!r.ok()) out.error = Error{frame_error, std::string("truncated ") + spec->name};
  return out;
}

void encode_method(std::vector<std::uint8_t>& out, std::uint16_t channel, std::uint16_t class_id,
                   std::uint16_t method_id, std::initializer_list<ArgIn> args) {
  const MethodSpec* spec = find_method(class_id, method_id);
  const auto start = out.size();
  write_frame_header(out, FrameType::method, channel, 0);
  Writer w(out);
  w.u16(class_id);
  w.u16(method_id);
  static const FieldTable kEmpty;
  std::size_t bits_at = 0;
  int bit_index = 8;
  auto it = args.begin();
  for (const char* a = spec ? spec->args : ""; *a; ++a) {
    const ArgIn arg = it != args.end() ? *it++ : ArgIn(0);
    if (*a != 'b') bit_index = 8;
    switch (*a) {
      case 'o': w.u8(static_cast<std::uint8_t>(arg.n)); break;
      case 's': w.u16(static_cast<std::uint16_t>(arg.n)); break;
      case 'l': w.u32(static_cast<std::uint32_t>(arg.n)); break;
      case 'L': w.u64(arg.n); break;
      case 'S': w.shortstr(arg.s); break;
      case 'X': w.longstr(arg.s); break;
      case 'b':
        if (bit_index == 8) {
          bits_at = out.size();
          w.u8(0);
          bit_index = 0;
        }
        if (arg.n) out[bits_at] = static_cast<std::uint8_t>(out[bits_at] | (1u << bit_index));
        ++bit_index;
        break;
      case 'T': write_table(w, arg.t ? *arg.t : kEmpty); break;
      default: break;
    }
  }
  w.patch_u32(start + 3, static_cast<std::uint32_t>(out.size() - start - 7));
  out.push_back(kFrameEnd);
}

}  // namespace outpost::amqp
