// W3C Trace Context (https://www.w3.org/TR/trace-context/) as a message carries it: the
// `traceparent` (and `tracestate`) travel as MQTT 5 user properties, which are the AMQP
// headers of the same name (protocols/amqp/properties.hpp), so one id follows an event
// across MQTT, AMQP and the bridge without a field of its own. A message without
// properties pays nothing; a lookup walks the user properties and is made only where a
// trace id is wanted (a failure's log line, the publisher's injection when enabled).
//
// Pure functions, any thread; nothing blocks. make_traceparent() uses a per-thread
// generator.
#pragma once

#include "core/message.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

namespace outpost::core {

inline constexpr std::string_view kTraceparent = "traceparent";
inline constexpr std::string_view kTracestate = "tracestate";

// The parts of a valid traceparent, viewing the text it was parsed from.
struct TraceParent {
  std::string_view version;    // 2 hex digits, not "ff"
  std::string_view trace_id;   // 32 lowercase hex digits, not all zero
  std::string_view parent_id;  // 16 lowercase hex digits, not all zero
  std::string_view flags;      // 2 hex digits
};

// Parses a traceparent value (Trace Context §3.2). Version 00 is exactly
// "00-<trace-id>-<parent-id>-<flags>"; a later version may append "-..." fields, which
// are ignored (§4.3). Nullopt when malformed: such a value is carried on unchanged but
// not used.
std::optional<TraceParent> parse_traceparent(std::string_view value) noexcept;

// A fresh traceparent: version 00, a random trace id and parent id (never all zero),
// flags 01 (sampled).
std::string make_traceparent();

// The first `traceparent` user property of `m`, as carried (maybe malformed); empty if
// none.
std::string_view find_traceparent(const Message& m) noexcept;
std::string_view find_traceparent(const MessageProperties* p) noexcept;
// Whether `p` has a `traceparent` user property at all (even an empty or malformed one,
// which is passed through as it is, never replaced).
bool has_traceparent(const MessageProperties* p) noexcept;

// The trace id of the message's traceparent when it is valid; empty otherwise.
std::string_view trace_id_of(const Message& m) noexcept;

// `m` with a fresh traceparent added (the publisher's injection). The payload is copied
// into the new message, once per message at the door, never per delivery.
MessagePtr with_new_traceparent(const Message& m);

// For log lines: formats as " trace=<trace-id>", or as nothing when the message has no
// valid traceparent. Views the message, which must outlive it.
struct TraceNote {
  std::string_view trace_id;
};
inline TraceNote trace_note(const Message& m) noexcept { return TraceNote{trace_id_of(m)}; }

}  // namespace outpost::core

template <>
struct fmt::formatter<outpost::core::TraceNote> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <class Context>
  auto format(const outpost::core::TraceNote& n, Context& ctx) const {
    if (n.trace_id.empty()) return ctx.out();
    return fmt::format_to(ctx.out(), " trace={}", n.trace_id);
  }
};
