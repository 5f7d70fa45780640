// Exchange: a named routing table from a message's routing key (its topic) to bindings.
// Types: topic (a trie over '/'-separated levels with MQTT wildcards; `amq.topic` is the
// MQTT exchange and every MQTT subscription is a binding on it), direct (exact key; the
// AMQP default exchange is one, with every queue bound by its name) and fanout (every
// binding).
//
// Threading: any thread may route; bind/unbind may come from any thread too. A
// shared_mutex guards the table: routing takes it shared, for the whole route call, so a
// binding's queue stays alive while the sink uses it without touching reference counts.
#pragma once

#include "core/queue.hpp"
#include "core/topic_trie.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace outpost::core {

enum class ExchangeType { direct, fanout, topic };
const char* to_string(ExchangeType t);

// Per-binding delivery options. MQTT subscription options live here.
struct BindingOptions {
  std::uint8_t max_qos = 2;           // granted QoS: deliveries are downgraded to it
  bool no_local = false;              // MQTT 5: not to the publishing session itself
  bool retain_as_published = false;   // MQTT 5: keep the publish's retain flag
  std::uint32_t subscription_id = 0;  // MQTT 5: 0 = none
  std::uint64_t owner = 0;            // the subscribing session's origin id (for no_local)
};

struct Binding {
  QueuePtr queue;
  BindingOptions options;
};

// Receives the bindings a message matches, while the exchange's read lock is held.
class RouteSink {
 public:
  virtual void on_match(const Binding& binding) = 0;
  // After the last match, still under the lock: queues are safe to use by reference.
  virtual void on_done() {}

 protected:
  ~RouteSink() = default;
};

class Exchange {
 public:
  Exchange(std::string name, ExchangeType type, bool durable, bool auto_delete, bool internal = false);
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  ~Exchange();

  const std::string& name() const noexcept { return name_; }
  ExchangeType type() const noexcept { return type_; }
  bool durable() const noexcept { return durable_; }
  bool auto_delete() const noexcept { return auto_delete_; }
  bool internal() const noexcept { return internal_; }

  // Adds a binding, or replaces the options of the same queue under the same key.
  // Returns true if it was new. For topic exchanges `key` is a canonical filter.
  bool bind(std::string_view key, QueuePtr queue, BindingOptions options);
  bool unbind(std::string_view key, const Queue& queue);
  std::size_t binding_count() const;

  // Calls sink.on_match for every binding that `routing_key` matches (a queue bound by
  // several matching keys is reported once per key: merging is the caller's job).
  void route(std::string_view routing_key, RouteSink& sink) const;

 private:
  const std::string name_;
  const ExchangeType type_;
  const bool durable_;
  const bool auto_delete_;
  const bool internal_;

  mutable std::shared_mutex mutex_;
  TopicTrie<std::uint64_t, Binding> trie_;                               // topic
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const noexcept { return std::hash<std::string_view>{}(k); }
  };
  // Found by string_view: no temporary string per routed message.
  std::unordered_map<std::string, std::vector<Binding>, KeyHash, std::equal_to<>> direct_;  // direct
  std::vector<std::pair<std::string, Binding>> fanout_;                  // fanout (key kept for unbind)
  std::size_t count_ = 0;
};

using ExchangePtr = std::shared_ptr<Exchange>;

}  // namespace outpost::core
