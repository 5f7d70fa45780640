// Topics in canonical form: levels separated by '/', MQTT wildcards '+' and '#'.
// Validation of names and filters, shared-subscription parsing, a level splitter that
// does not allocate, and the mapping to and from AMQP routing keys and patterns.
//
// Everything here is a pure function (or a value type): any thread may call it, nothing
// blocks, nothing throws except std::bad_alloc from the functions returning std::string.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::core {

// What a client may PUBLISH to: 1..65535 bytes [MQTT-4.7.3-1, MQTT-4.7.3-3], no '+' or
// '#' [MQTT-4.7.1-1], no U+0000 [MQTT-4.7.3-2]. UTF-8 well-formedness is the codec's job.
// A leading '$' is allowed here; whether a client may publish to "$SYS/..." is policy.
bool valid_topic_name(std::string_view topic);

// What a client may SUBSCRIBE to: 1..65535 bytes, no U+0000, '#' only as the whole last
// level [MQTT-4.7.1-2], '+' only as a whole level [MQTT-4.7.1-3]. "$share/..." is
// checked like any other filter here; see parse_shared for its own rules.
bool valid_topic_filter(std::string_view filter);

// A ShareName: at least one character, none of '/', '+', '#' [MQTT-4.8.2-1, MQTT-4.8.2-2].
bool valid_share_name(std::string_view name);

// A shared subscription `$share/{ShareName}/{filter}` split into its parts (views into the
// argument). `valid` is false when the text starts with "$share/" but the ShareName or
// the filter after it is malformed; the caller then refuses the subscription (MQTT 5:
// reason code 0x8F Topic Filter invalid) rather than treating it as an ordinary filter.
struct SharedFilter {
  std::string_view group;
  std::string_view filter;
  bool valid = false;
};
// nullopt: not a shared subscription (does not start with "$share/"). MQTT 3.1.1 has no
// shared subscriptions, so a 3.1.1 session may choose not to call this at all.
std::optional<SharedFilter> parse_shared(std::string_view filter);

// Walks the levels of a topic or filter as views into it, without allocating. Empty
// levels count: "a//b" has three levels, "/a" two, "a/" two, "" one. It is a small
// value: copy it to remember a position and resume from there later.
class LevelIterator {
 public:
  explicit constexpr LevelIterator(std::string_view s) noexcept : rest_(s) {}

  // An iterator with no level at all.
  static constexpr LevelIterator none() noexcept {
    LevelIterator it({});
    it.done_ = true;
    return it;
  }

  // Stores the next level and returns true, or returns false when none is left.
  constexpr bool next(std::string_view& level) noexcept {
    if (done_) return false;
    const auto slash = rest_.find('/');
    if (slash == std::string_view::npos) {
      level = rest_;
      done_ = true;
    } else {
      level = rest_.substr(0, slash);
      rest_.remove_prefix(slash + 1);
    }
    return true;
  }

  // True once every level has been returned.
  constexpr bool done() const noexcept { return done_; }

 private:
  std::string_view rest_;
  bool done_ = false;
};

// The number of levels in a topic or filter ("a//b" -> 3, "" -> 1).
constexpr std::size_t level_count(std::string_view s) noexcept {
  std::size_t n = 1;
  for (const char c : s) n += c == '/' ? 1 : 0;
  return n;
}

// Hash for maps keyed by std::string that are looked up with a std::string_view (with
// std::equal_to<>), so a lookup by level does not build a string.
struct TransparentStringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// --- AMQP routing keys and binding patterns -------------------------------------------
//
// AMQP topic exchanges separate words with '.', MQTT topics levels with '/'. The core
// keeps topics in MQTT form; an AMQP key or pattern is converted by exchanging '.' and '/'
// (and, in patterns, a whole word '*' becomes '+'; '#' is '#' in both):
//
//   AMQP key "sensors.room1.temp"  <->  MQTT topic "sensors/room1/temp"
//   AMQP pattern "sensors.*.temp"  <->  MQTT filter "sensors/+/temp"
//   MQTT topic "p/v1.2"            <->  AMQP key "p.v1/2"
//
// The exchange is its own inverse, so both directions are exact for every string: an
// MQTT topic whose level holds a '.' reaches MQTT subscribers exactly as published, and
// AMQP consumers see the '.' inside the level as '/' (a pattern "p.*" matches it). '*'
// and '#' are wildcards in a pattern only as whole words; a pattern word that is exactly
// "+" (literal in AMQP) becomes the MQTT single-level wildcard.
std::string amqp_key_to_topic(std::string_view key);
std::string topic_to_amqp_key(std::string_view topic);
std::string amqp_pattern_to_filter(std::string_view pattern);
// The reverse of amqp_pattern_to_filter, to show an MQTT subscription as a binding
// pattern ('+' level -> '*', '#' level -> '#', other levels escaped as in keys).
std::string filter_to_amqp_pattern(std::string_view filter);

}  // namespace outpost::core
