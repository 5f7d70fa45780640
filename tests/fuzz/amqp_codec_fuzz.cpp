// Fuzz target: the AMQP 0-9-1 codec (protocols/amqp/codec): the protocol header check,
// frames, methods, field tables and content headers.
//
// Input: byte 0 is a mode (bit 0: frame_max 4096 instead of none; bit 1: also decode the
// rest as one field table), the rest a stream of frames read with read_frame as a
// session reads them.
//
// Invariants beyond "no crash, no UB, no leak": a method, content header or field table
// the decoder accepts is encoded again and decodes to an equal value (every argument,
// every property, every field); a frame read is consumed whole and within frame_max.
#include "amqp/codec/content.hpp"
#include "amqp/codec/field_table.hpp"
#include "amqp/codec/frame.hpp"
#include "amqp/codec/method.hpp"
#include "fuzz_check.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace {

using namespace outpost::amqp;
using Span = std::span<const std::uint8_t>;
using Bytes = std::vector<std::uint8_t>;

// More than any method of the table has; encode_method ignores what its spec does not name.
constexpr std::size_t kMaxArgs = 16;

template <std::size_t... I>
void encode_args(Bytes& out, std::uint16_t channel, const Method& m, const std::array<ArgIn, kMaxArgs>& a,
                 std::index_sequence<I...>) {
  encode_method(out, channel, m.class_id(), m.method_id(), {a[I]...});
}

// The payload of the single frame `frame` holds.
Span payload_of(const Bytes& frame, FrameType expected) {
  const FrameRead f = read_frame(frame, 0);
  FUZZ_CHECK(f.status == FrameStatus::ok, "an encoded frame reads back");
  FUZZ_CHECK(f.type == expected, "an encoded frame has its type");
  FUZZ_CHECK(f.consumed == frame.size(), "an encoded frame is read whole");
  return f.payload;
}

bool same_args(const Method& a, const Method& b) {
  if (a.spec != b.spec || a.args.size() != b.args.size()) return false;
  for (std::size_t i = 0; i < a.args.size(); ++i) {
    if (a.args[i].n != b.args[i].n || a.args[i].s != b.args[i].s || !(a.args[i].t == b.args[i].t)) return false;
  }
  return true;
}

void method_frame(std::uint16_t channel, Span payload) {
  const MethodDecode first = decode_method(payload);
  if (first.error) {
    FUZZ_CHECK(first.error.code == frame_error || first.error.code == not_implemented, "501 or 540");
    FUZZ_CHECK(!first.error.text.empty(), "a decoding error says what was wrong");
    return;
  }
  FUZZ_CHECK(first.method.spec != nullptr, "a decoded method has its description");
  FUZZ_CHECK(find_method(first.method.class_id(), first.method.method_id()) == first.method.spec, "find_method");
  std::array<ArgIn, kMaxArgs> args{ArgIn(0), ArgIn(0), ArgIn(0), ArgIn(0), ArgIn(0), ArgIn(0), ArgIn(0), ArgIn(0),
                                   ArgIn(0), ArgIn(0), ArgIn(0), ArgIn(0), ArgIn(0), ArgIn(0), ArgIn(0), ArgIn(0)};
  FUZZ_CHECK(first.method.args.size() <= kMaxArgs, "kMaxArgs covers every method");
  for (std::size_t i = 0; i < first.method.args.size(); ++i) {
    const char type = first.method.spec->args[i];
    const MethodArg& a = first.method.args[i];
    if (type == 'S' || type == 'X') {
      args[i] = ArgIn(std::string_view(a.s));
    } else if (type == 'T') {
      args[i] = ArgIn(a.t);
    } else {
      args[i] = ArgIn(a.n);
    }
  }
  Bytes out;
  encode_args(out, channel, first.method, args, std::make_index_sequence<kMaxArgs>{});
  const MethodDecode second = decode_method(payload_of(out, FrameType::method));
  FUZZ_CHECK(!second.error, "a re-encoded method decodes");
  FUZZ_CHECK(same_args(first.method, second.method), "a method survives decode/encode/decode");
  for (const auto& a : first.method.args) {
    for (const auto& e : a.t) (void)describe(e.value);
  }
}

void header_frame(std::uint16_t channel, Span payload) {
  ContentHeader first;
  const Error e = decode_content_header(payload, first);
  if (e) {
    FUZZ_CHECK(e.code == frame_error && !e.text.empty(), "a bad content header is a 501 with a text");
    return;
  }
  // Both ways of encoding the headers: re-encoded from the table, and passed on as received.
  for (const bool raw : {false, true}) {
    Bytes out;
    encode_content_header(out, channel, first.class_id, first.body_size, first.properties,
                          raw ? first.headers_raw : Span{});
    ContentHeader second;
    FUZZ_CHECK(!decode_content_header(payload_of(out, FrameType::header), second), "a re-encoded header decodes");
    FUZZ_CHECK(second.class_id == first.class_id && second.body_size == first.body_size, "class and body size kept");
    FUZZ_CHECK(second.properties == first.properties, "a content header survives decode/encode/decode");
  }
}

void field_table(Span body) {
  FieldTable first;
  if (!decode_table_body(body, first)) return;
  Bytes out;
  Writer w(out);
  write_table(w, first);
  Reader r(out);
  FieldTable second;
  FUZZ_CHECK(read_table(r, second) && r.at_end(), "a re-encoded table decodes whole");
  FUZZ_CHECK(first == second, "a field table survives decode/encode/decode");
  for (const auto& e : first) {
    (void)describe(e.value);
    (void)e.value.as_integer();
    FUZZ_CHECK(find_field(first, e.name) != nullptr, "find_field finds every name");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  Span in(data + 1, size - 1);
  (void)check_protocol_header(in);
  if ((mode & 0x02) != 0) field_table(in);

  const std::uint32_t frame_max = (mode & 0x01) != 0 ? kFrameMinSize : 0;
  while (!in.empty()) {
    const FrameRead f = read_frame(in, frame_max);
    if (f.status == FrameStatus::error) {
      FUZZ_CHECK(f.error.code == frame_error && !f.error.text.empty(), "a framing error is a 501 with a text");
      break;
    }
    if (f.status == FrameStatus::need_more) break;
    FUZZ_CHECK(f.consumed == f.payload.size() + kFrameOverhead && f.consumed <= in.size(), "a frame is read whole");
    if (frame_max != 0) FUZZ_CHECK(f.consumed <= frame_max, "frame_max holds");
    switch (f.type) {
      case FrameType::method: method_frame(f.channel, f.payload); break;
      case FrameType::header: header_frame(f.channel, f.payload); break;
      case FrameType::body:
      case FrameType::heartbeat: break;
    }
    in = in.subspan(f.consumed);
  }
  return 0;
}
