#include "core/topic.hpp"

namespace outpost::core {

namespace {

// A UTF-8 Encoded String holds at most 65535 bytes [MQTT-1.5.4], and a topic needs one.
constexpr std::size_t max_topic_bytes = 65535;

constexpr std::string_view share_prefix = "$share/";
constexpr std::string_view escaped_dot = "%2E";
constexpr std::string_view escaped_percent = "%25";

// Calls f(word, is_first) for each `sep`-separated word of s, empty words included.
template <class F>
void for_each_word(std::string_view s, char sep, F&& f) {
  bool first = true;
  while (true) {
    const auto at = s.find(sep);
    f(s.substr(0, at), first);
    if (at == std::string_view::npos) return;
    s.remove_prefix(at + 1);
    first = false;
  }
}

// Appends one AMQP word or key, with its escapes decoded, to `out`.
void append_decoded(std::string_view word, std::string& out) {
  for (std::size_t i = 0; i < word.size(); ++i) {
    const char c = word[i];
    if (c == '%') {
      const auto escape = word.substr(i, 3);
      if (escape == escaped_dot) {
        out.push_back('.');
        i += 2;
        continue;
      }
      if (escape == escaped_percent) {
        out.push_back('%');
        i += 2;
        continue;
      }
    }
    out.push_back(c);
  }
}

// Appends one MQTT level in AMQP form. A '%' is escaped only where a decoder would take
// it for the start of an escape; see topic.hpp for why that keeps both directions exact.
void append_encoded(std::string_view level, std::string& out) {
  for (std::size_t i = 0; i < level.size(); ++i) {
    const char c = level[i];
    if (c == '.') {
      out += escaped_dot;
    } else if (c == '%') {
      const auto after = level.substr(i + 1, 2);
      out += (after == "2E" || after == "25") ? escaped_percent : std::string_view("%");
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

bool valid_topic_name(std::string_view topic) {
  if (topic.empty() || topic.size() > max_topic_bytes) return false;
  return topic.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

bool valid_topic_filter(std::string_view filter) {
  if (filter.empty() || filter.size() > max_topic_bytes) return false;
  if (filter.find('\0') != std::string_view::npos) return false;
  LevelIterator it(filter);
  std::string_view level;
  while (it.next(level)) {
    if (level.size() == 1 && level[0] == '+') continue;
    if (level.size() == 1 && level[0] == '#') {
      if (!it.done()) return false;  // '#' must be the last level [MQTT-4.7.1-2]
      continue;
    }
    // A wildcard sharing its level with other characters [MQTT-4.7.1-2, MQTT-4.7.1-3].
    if (level.find_first_of("+#") != std::string_view::npos) return false;
  }
  return true;
}

bool valid_share_name(std::string_view name) {
  return !name.empty() && name.find_first_of(std::string_view("/+#\0", 4)) == std::string_view::npos;
}

std::optional<SharedFilter> parse_shared(std::string_view filter) {
  if (!filter.starts_with(share_prefix)) return std::nullopt;
  SharedFilter shared;
  const auto rest = filter.substr(share_prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    // "$share/name" with no filter: the ShareName must be followed by '/' and a filter
    // [MQTT-4.8.2-2].
    shared.group = rest;
    return shared;
  }
  shared.group = rest.substr(0, slash);
  shared.filter = rest.substr(slash + 1);
  shared.valid = valid_share_name(shared.group) && valid_topic_filter(shared.filter);
  return shared;
}

std::string amqp_key_to_topic(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for_each_word(key, '.', [&](std::string_view word, bool first) {
    if (!first) out.push_back('/');
    append_decoded(word, out);
  });
  return out;
}

std::string topic_to_amqp_key(std::string_view topic) {
  std::string out;
  out.reserve(topic.size() + topic.size() / 8);
  for_each_word(topic, '/', [&](std::string_view level, bool first) {
    if (!first) out.push_back('.');
    append_encoded(level, out);
  });
  return out;
}

std::string amqp_pattern_to_filter(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size());
  for_each_word(pattern, '.', [&](std::string_view word, bool first) {
    if (!first) out.push_back('/');
    if (word == "*") {
      out.push_back('+');
    } else if (word == "#") {
      out.push_back('#');
    } else {
      append_decoded(word, out);
    }
  });
  return out;
}

std::string filter_to_amqp_pattern(std::string_view filter) {
  std::string out;
  out.reserve(filter.size() + filter.size() / 8);
  for_each_word(filter, '/', [&](std::string_view level, bool first) {
    if (!first) out.push_back('.');
    if (level == "+") {
      out.push_back('*');
    } else if (level == "#") {
      out.push_back('#');
    } else {
      append_encoded(level, out);
    }
  });
  return out;
}

}  // namespace outpost::core
