// Which topics cross the bridge and what they are called on the other side, as in a
// Mosquitto `topic <pattern> <direction> <qos> <local_prefix> <remote_prefix>` line:
// out sends local `local_prefix + t` as remote `remote_prefix + t`; in does the reverse;
// both does both. Pure, immutable after construction, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::bridge {

enum class Direction { out, in, both };

struct TopicRule {
  std::string pattern;  // an MQTT topic filter
  Direction direction = Direction::out;
  uint8_t qos = 1;
  std::string local_prefix;
  std::string remote_prefix;

  bool outbound() const { return direction != Direction::in; }
  bool inbound() const { return direction != Direction::out; }
  std::string local_filter() const { return local_prefix + pattern; }
  std::string remote_filter() const { return remote_prefix + pattern; }
};

// [MQTT-4.7.1]: '#' alone and last, '+' alone in its level, not empty.
bool valid_filter(std::string_view filter);
// A topic name: no wildcards, not empty.
bool valid_topic(std::string_view topic);
// Does topic name `topic` match `filter`? Topics starting with '$' match no filter
// starting with a wildcard [MQTT-4.7.2-1].
bool filter_matches(std::string_view filter, std::string_view topic);

struct Mapped {
  std::string topic;
  uint8_t qos;        // the rule's QoS (the maximum the message crosses with)
  size_t rule;        // index of the rule that matched
};

class TopicMap {
 public:
  explicit TopicMap(std::vector<TopicRule> rules) : rules_(std::move(rules)) {}

  const std::vector<TopicRule> &rules() const { return rules_; }

  // Local topic -> remote topic, by the first out/both rule whose local filter matches.
  std::optional<Mapped> to_remote(std::string_view local_topic) const;
  // Remote topic -> local topic, by the first in/both rule whose remote filter matches.
  std::optional<Mapped> to_local(std::string_view remote_topic) const;
  // Would a message on this local topic be forwarded out again?
  bool is_outbound_local(std::string_view local_topic) const { return to_remote(local_topic).has_value(); }
  // Would a message on this remote topic come back in (a subscription of ours matches)?
  bool is_inbound_remote(std::string_view remote_topic) const { return to_local(remote_topic).has_value(); }

  bool has_outbound() const;
  bool has_inbound() const;

 private:
  std::vector<TopicRule> rules_;
};

}  // namespace outpost::bridge
