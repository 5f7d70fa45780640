// Broker: the routing core every protocol adapter drives. It owns the exchanges
// (`amq.topic` is the MQTT exchange), the retained messages, the session registry and
// the link to the store, and it turns one publish into deliveries on every matching
// queue: a queue bound by several matching filters gets the message once, at the
// highest granted QoS, with every subscription identifier [MQTT-3.3.4-2..5].
//
// Threading: every method may be called from any I/O thread.
#pragma once

#include "core/client_directory.hpp"
#include "core/client_info.hpp"
#include "core/counters.hpp"
#include "core/exchange.hpp"
#include "core/hooks.hpp"
#include "core/message.hpp"
#include "core/queue.hpp"
#include "core/retained.hpp"
#include "core/session_registry.hpp"
#include "core/shared_groups.hpp"
#include "store/store.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace outpost::core {

struct PublishResult {
  std::uint32_t matched = 0;   // queues the message was routed to
  std::uint32_t queued = 0;    // of those, queues that accepted it
  std::uint32_t dropped = 0;   // queues that refused it because they were full
  std::uint32_t evicted = 0;   // older messages dropped to make room (drop_head queues)
  std::uint32_t stored = 0;    // of the queued, those written to the store (durable queues)
  // The message must be durable before it is acknowledged: it went to a durable queue,
  // or it is a retained message kept by a persistent store.
  bool needs_commit = false;
};

class Broker {
 public:
  explicit Broker(store::Store& store);
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  store::Store& store() noexcept { return store_; }
  Exchange& mqtt_exchange() noexcept { return *mqtt_exchange_; }
  RetainedStore& retained() noexcept { return retained_; }
  SessionRegistry& sessions() noexcept { return sessions_; }
  // The clients connected now, every protocol (the admin API's view).
  ClientDirectory& clients() noexcept { return clients_; }
  // MQTT shared subscription groups on the MQTT exchange.
  SharedGroups& shared_groups() noexcept { return *shared_groups_; }
  // Message counters, per I/O thread (core/counters.hpp); the Publisher counts.
  Counters& counters() noexcept { return counters_; }
  // True if the store keeps what it is given across a restart: acknowledgements of
  // durable messages wait for its commits.
  bool persistent() const { return store_.persistent(); }

  ExchangePtr find_exchange(std::string_view name) const;
  // Creates the exchange or returns the existing one of that name.
  ExchangePtr declare_exchange(const std::string& name, ExchangeType type, bool durable, bool auto_delete);
  bool delete_exchange(std::string_view name);

  QueuePtr make_queue(std::string name, const QueueLimits& limits);
  // A fresh origin for a publisher, whatever its protocol: an MQTT session, an AMQP
  // connection, a plugin (never 0, never reused while the broker runs).
  // The plugin message hook (core/hooks.hpp), step 2 of every Publisher; null: none. Set
  // once at start, before any listener opens.
  void set_message_hook(const MessageHook* hook) noexcept { message_hook_ = hook; }
  const MessageHook* message_hook() const noexcept { return message_hook_; }
  // `tracing.inject`: every Publisher gives a message without a traceparent a fresh one
  // (core/trace_context.hpp). Set once at start, before any listener opens.
  void set_trace_inject(bool inject) noexcept { trace_inject_ = inject; }
  bool trace_inject() const noexcept { return trace_inject_; }

  std::uint64_t next_origin() noexcept { return next_origin_.fetch_add(1, std::memory_order_relaxed); }

  // The routing step of core::Publisher, which every message goes through (nothing else
  // calls this but tests of the routing itself): routes `message` through `exchange`
  // and appends it to every matching queue. Wakes consumers through `wakeups` (the
  // caller flushes after its batch). Queues that passed their flow-control mark are
  // appended to `congested` (if given) so the publisher can pause. On the MQTT exchange,
  // a retained message also updates the retained store.
  // A queue that refuses the message because it is full is logged (rate limited per
  // queue, Queue::full_warnings) naming it and `publisher` (null: not known).
  PublishResult route(const Exchange& exchange, const MessagePtr& message, WakeupBatch& wakeups,
                      std::vector<QueuePtr>* congested, const ClientInfo* publisher = nullptr);

  // Housekeeping, about once a second: ends detached sessions whose expiry passed and
  // publishes the delayed wills that came due. Returns how many sessions ended.
  std::size_t expire_sessions(Clock::time_point now);

 private:
  store::Store& store_;
  ExchangePtr mqtt_exchange_;
  RetainedStore retained_;
  SessionRegistry sessions_;
  ClientDirectory clients_;
  std::unique_ptr<SharedGroups> shared_groups_;
  Counters counters_;
  // Who the broker's own messages (wills due in the sweep) come from.
  ClientInfo self_;
  const MessageHook* message_hook_ = nullptr;
  bool trace_inject_ = false;
  std::atomic<std::uint64_t> next_origin_{1};
  std::atomic<std::uint64_t> next_queue_id_{1};

  mutable std::mutex exchanges_mutex_;
  std::unordered_map<std::string, ExchangePtr> exchanges_;
};

}  // namespace outpost::core
