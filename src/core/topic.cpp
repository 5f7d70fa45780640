#include "core/topic.hpp"

namespace outpost::core {

bool valid_topic_name(std::string_view topic) {
  if (topic.empty() || topic.size() > 65535) return false;
  return topic.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

bool valid_topic_filter(std::string_view filter) {
  if (filter.empty() || filter.size() > 65535) return false;
  if (filter.find('\0') != std::string_view::npos) return false;
  LevelIterator it(filter);
  std::string_view level;
  bool seen_hash = false;
  while (it.next(level)) {
    if (seen_hash) return false;  // '#' must be the last level
    if (level.find_first_of("+#") == std::string_view::npos) continue;
    if (level == "+") continue;
    if (level == "#") {
      seen_hash = true;
      continue;
    }
    return false;  // a wildcard sharing a level with other characters
  }
  return true;
}

bool valid_share_name(std::string_view name) {
  return !name.empty() && name.find_first_of("/+#") == std::string_view::npos;
}

SharedFilter parse_shared(std::string_view filter) {
  SharedFilter r;
  constexpr std::string_view prefix = "$share/";
  if (!filter.starts_with(prefix)) return r;
  r.is_shared = true;
  auto rest = filter.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return r;
  r.group = rest.substr(0, slash);
  r.filter = rest.substr(slash + 1);
  r.valid = valid_share_name(r.group) && valid_topic_filter(r.filter);
  return r;
}

namespace {

std::string convert_to_mqtt(std::string_view key, bool pattern) {
  std::string out;
  out.reserve(key.size());
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (c == '.') {
      out.push_back('/');
    } else if (pattern && c == '*') {
      out.push_back('+');
    } else if (c == '%' && i + 2 < key.size() + 0 && key.substr(i, 3) == "%2E") {
      out.push_back('.');
      i += 2;
    } else if (c == '%' && key.substr(i, 3) == "%25") {
      out.push_back('%');
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string amqp_key_to_topic(std::string_view key) { return convert_to_mqtt(key, false); }

std::string amqp_pattern_to_filter(std::string_view pattern) { return convert_to_mqtt(pattern, true); }

std::string topic_to_amqp_key(std::string_view topic) {
  std::string out;
  out.reserve(topic.size());
  for (const char c : topic) {
    switch (c) {
      case '/': out.push_back('.'); break;
      case '.': out += "%2E"; break;
      case '%': out += "%25"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace outpost::core
