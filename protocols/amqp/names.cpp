#include "amqp/names.hpp"

namespace outpost::amqp {

namespace {
char swap(char c) { return c == '.' ? '/' : c == '/' ? '.' : c; }
}  // namespace

std::string routing_key_to_topic(std::string_view key) {
  std::string out(key);
  for (auto& c : out) c = swap(c);
  return out;
}

std::string binding_key_to_filter(std::string_view key) {
  std::string out = routing_key_to_topic(key);
  // A word that is exactly '*' matches one level: MQTT's '+'. '#' is the same in both.
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '*' && (i == 0 || out[i - 1] == '/') && (i + 1 == out.size() || out[i + 1] == '/')) out[i] = '+';
  }
  return out;
}

std::string topic_to_routing_key(std::string_view topic) { return routing_key_to_topic(topic); }

}  // namespace outpost::amqp
