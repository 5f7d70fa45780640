#include "topic_map.hpp"

namespace outpost::bridge {
namespace {

std::vector<std::string_view> levels(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const auto slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

bool valid_filter(std::string_view filter) {
  if (filter.empty() || filter.find('\0') != std::string_view::npos) return false;
  const auto parts = levels(filter);
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto p = parts[i];
    if (p.find('#') != std::string_view::npos && (p != "#" || i + 1 != parts.size())) return false;
    if (p.find('+') != std::string_view::npos && p != "+") return false;
  }
  return true;
}

bool valid_topic(std::string_view topic) {
  return !topic.empty() && topic.find_first_of("+#") == std::string_view::npos &&
         topic.find('\0') == std::string_view::npos;
}

bool filter_matches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic.front() == '$' && !filter.empty() && (filter.front() == '+' || filter.front() == '#'))
    return false;
  const auto f = levels(filter);
  const auto t = levels(topic);
  size_t i = 0;
  for (; i < f.size(); ++i) {
    if (f[i] == "#") return true;  // also matches the parent level [MQTT-4.7.1-2]
    if (i >= t.size()) return false;
    if (f[i] != "+" && f[i] != t[i]) return false;
  }
  return i == t.size();
}

std::optional<Mapped> TopicMap::to_remote(std::string_view local_topic) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    const auto &r = rules_[i];
    if (!r.outbound() || !starts_with(local_topic, r.local_prefix)) continue;
    if (!filter_matches(r.local_filter(), local_topic)) continue;
    return Mapped{r.remote_prefix + std::string(local_topic.substr(r.local_prefix.size())), r.qos, i};
  }
  return std::nullopt;
}

std::optional<Mapped> TopicMap::to_local(std::string_view remote_topic) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    const auto &r = rules_[i];
    if (!r.inbound() || !starts_with(remote_topic, r.remote_prefix)) continue;
    if (!filter_matches(r.remote_filter(), remote_topic)) continue;
    return Mapped{r.local_prefix + std::string(remote_topic.substr(r.remote_prefix.size())), r.qos, i};
  }
  return std::nullopt;
}

bool TopicMap::has_outbound() const {
  for (const auto &r : rules_)
    if (r.outbound()) return true;
  return false;
}

bool TopicMap::has_inbound() const {
  for (const auto &r : rules_)
    if (r.inbound()) return true;
  return false;
}

}  // namespace outpost::bridge
