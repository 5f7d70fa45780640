// Topic names and filters in canonical form ('/'-separated levels, MQTT wildcards),
// their validation, and the mapping to and from AMQP routing keys. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace outpost::core {

// What may be published to: 1..65535 bytes, no wildcard, no U+0000
// [MQTT-4.7.3-1, MQTT-4.7.3-2, MQTT-4.7.1-1]. UTF-8 well-formedness is the codec's job.
bool valid_topic_name(std::string_view topic);

// What may be subscribed to: '#' only alone as the last level, '+' only as a whole
// level [MQTT-4.7.1-2, MQTT-4.7.1-3].
bool valid_topic_filter(std::string_view filter);

// `$share/{group}/{filter}` [MQTT-4.8.2]. `is_shared` tells a shared filter (even a
// malformed one) from an ordinary one; `valid` whether group and filter are well formed.
struct SharedFilter {
  bool is_shared = false;
  bool valid = false;
  std::string_view group;
  std::string_view filter;
};
SharedFilter parse_shared(std::string_view filter);
bool valid_share_name(std::string_view name);

// Walks the levels of a topic or filter without allocating. Empty levels count:
// "a//b" has three levels, "/a" two, "a/" two.
class LevelIterator {
 public:
  explicit LevelIterator(std::string_view s) : rest_(s), done_(false) {}
  // The next level, or false when there is none.
  bool next(std::string_view& level) {
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

 private:
  std::string_view rest_;
  bool done_;
};

// AMQP routing keys use '.' between words. A '.' inside an MQTT level must survive the
// trip to AMQP and back, so it is written "%2E" there (and a literal '%' as "%25"):
// neither is an AMQP wildcard and both are rare in practice. So the MQTT topic
// "p/v1.2" is the AMQP key "p.v1%2E2", and the AMQP key "a.b" is the MQTT topic "a/b".
std::string amqp_key_to_topic(std::string_view key);
std::string topic_to_amqp_key(std::string_view topic);
// Binding patterns: '.' -> '/', '*' -> '+', '#' -> '#', with the same escapes.
std::string amqp_pattern_to_filter(std::string_view pattern);

}  // namespace outpost::core
