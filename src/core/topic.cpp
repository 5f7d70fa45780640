#include "core/topic.hpp"

namespace outpost::core {

namespace {

// A UTF-8 Encoded String holds at most 65535 bytes [MQTT-1.5.4], and a topic needs one.
constexpr std::size_t max_topic_bytes = 65535;

constexpr std::string_view share_prefix = "$share/";

// '.' and '/' exchanged: the one rule between AMQP words and MQTT levels.
char swap_separator(char c) noexcept { return c == '.' ? '/' : c == '/' ? '.' : c; }

std::string swapped(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = swap_separator(c);
  return out;
}

// Replaces every whole word (between `sep`s) equal to `from` with `to`.
void replace_words(std::string& s, char sep, char from, char to) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == from && (i == 0 || s[i - 1] == sep) && (i + 1 == s.size() || s[i + 1] == sep)) s[i] = to;
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

std::string amqp_key_to_topic(std::string_view key) { return swapped(key); }

std::string topic_to_amqp_key(std::string_view topic) { return swapped(topic); }

std::string amqp_pattern_to_filter(std::string_view pattern) {
  std::string out = swapped(pattern);
  replace_words(out, '/', '*', '+');  // '#' is the same word in both
  return out;
}

std::string filter_to_amqp_pattern(std::string_view filter) {
  std::string out = swapped(filter);
  replace_words(out, '.', '+', '*');
  return out;
}

}  // namespace outpost::core
