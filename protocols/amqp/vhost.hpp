// Vhost: the AMQP entities of the broker's one virtual host "/": exchanges as AMQP sees
// them (on the core's exchanges), queues with their arguments and owners, bindings, and
// the durable definitions of all three in the store. Every AMQP connection shares it.
//
// Threading: any I/O thread. One mutex guards the tables (declarations are rare); the
// publish path takes it only for the default exchange's queue lookup. Notifications to
// consumers on other connections are posted to their executors.
#pragma once

#include "amqp/codec/field_table.hpp"
#include "amqp/codec/types.hpp"
#include "core/broker.hpp"
#include "core/publisher.hpp"
#include "settings.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace outpost::amqp {

// In the store: a durable queue's entries are those of "amqp:<queue>"; the exchanges,
// queues and bindings are definitions of kinds "amqp.exchange", "amqp.queue", "amqp.binding".
inline constexpr std::string_view kStoreQueuePrefix = "amqp:";
inline constexpr std::string_view kDefinitionKindPrefix = "amqp.";

// Told when its queue goes away under it (deleted by another channel, expired).
class QueueWatcher {
 public:
  virtual ~QueueWatcher() = default;
  virtual void on_queue_deleted(const std::string& queue) = 0;  // on the watcher's executor
};

struct QueueArguments {
  std::int64_t message_ttl_ms = -1;  // x-message-ttl
  std::int64_t expires_ms = 0;       // x-expires: deleted after this long unused
  std::optional<std::uint64_t> max_length;
  std::optional<std::uint64_t> max_length_bytes;
  bool reject_publish = false;  // x-overflow reject-publish (default drop-head)
  std::optional<std::string> dead_letter_exchange;
  std::optional<std::string> dead_letter_routing_key;
};

struct AmqpQueue {
  std::string name;
  core::QueuePtr queue;
  bool durable = false;
  bool exclusive = false;
  bool auto_delete = false;
  std::uint64_t owner = 0;  // exclusive: the owning connection
  FieldTable arguments;     // as declared, for the equivalence check of a redeclare
  QueueArguments args;
  // Guarded by the vhost's mutex.
  std::uint32_t consumers = 0;
  bool exclusive_consumer = false;
  bool had_consumer = false;
  std::int64_t last_used_ms = 0;
  std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<QueueWatcher>>> watchers;
};
using AmqpQueuePtr = std::shared_ptr<AmqpQueue>;

struct ExchangeInfo {
  core::ExchangePtr exchange;
  FieldTable arguments;
  bool internal = false;  // only reached through bindings, never by a publish
};

struct BindingInfo {
  std::string exchange;
  std::string queue;
  std::string key;  // as AMQP gave it
  FieldTable arguments;
};

// Where a publish goes: an exchange of the core. The default exchange ("") is a core
// direct exchange on which every queue is bound by its name.
struct Target {
  bool found = false;
  core::ExchangePtr exchange;
  bool internal = false;
};

// What the metrics show of a queue.
struct QueueInfo {
  std::string name;
  bool durable = false;
  std::uint32_t consumers = 0;
  core::QueueStats stats;
};

struct DeclareQueueResult {
  Error error;
  AmqpQueuePtr queue;
  std::uint32_t messages = 0;
  std::uint32_t consumers = 0;
};

class Vhost {
 public:
  Vhost(core::Broker& broker, const AmqpSettings& settings);
  Vhost(const Vhost&) = delete;
  Vhost& operator=(const Vhost&) = delete;

  core::Broker& broker() noexcept { return broker_; }
  const AmqpSettings& settings() const noexcept { return settings_; }

  // exchange.declare / delete (AMQP 0-9-1 class exchange). Errors are channel errors
  // (404, 403, 406) or connection errors (503 for an unknown type).
  Error declare_exchange(const std::string& name, const std::string& type, bool passive, bool durable,
                         bool auto_delete, bool internal, const FieldTable& arguments);
  Error delete_exchange(const std::string& name, bool if_unused);
  Target resolve(std::string_view exchange) const;

  // queue.declare; `name` empty = a server-named queue. `connection` owns exclusive ones.
  DeclareQueueResult declare_queue(const std::string& name, bool passive, bool durable, bool exclusive,
                                   bool auto_delete, const FieldTable& arguments, std::uint64_t connection);
  // The queue if it exists and `connection` may use it (else 404 / 405).
  AmqpQueuePtr find_queue(const std::string& name, std::uint64_t connection, Error& error);
  Error bind(const std::string& queue, const std::string& exchange, const std::string& key,
             const FieldTable& arguments, std::uint64_t connection);
  Error unbind(const std::string& queue, const std::string& exchange, const std::string& key,
               const FieldTable& arguments, std::uint64_t connection);
  // Returns the number of messages purged / deleted.
  std::uint32_t purge(const AmqpQueuePtr& q);
  Error delete_queue(const std::string& name, bool if_unused, bool if_empty, std::uint64_t connection,
                     std::uint32_t& messages);
  // Consumers: 403 when an exclusive consumer holds the queue or one is asked for on a
  // queue with consumers.
  Error add_consumer(const AmqpQueuePtr& q, bool exclusive, boost::asio::any_io_executor ex,
                     std::weak_ptr<QueueWatcher> watcher);
  // The last consumer of an auto-delete queue going deletes it.
  void remove_consumer(const AmqpQueuePtr& q, bool exclusive, const QueueWatcher* watcher);
  void touch(const AmqpQueuePtr& q);
  // A connection ended: its exclusive queues go.
  void connection_closed(std::uint64_t connection);

  // Who dead letters come from: the broker itself. A publisher of dead letters is made
  // with this identity (core::Source::broker: no authorization, no store-full refusal,
  // since the copy replaces a message the broker already held).
  const core::ClientInfo& self() const noexcept { return self_; }

  // Dead-lettering [RabbitMQ's x-dead-letter-exchange]: a copy with an x-death entry goes
  // through `via` (a publisher with the vhost's identity) to the queue's dead-letter
  // exchange; without one the delivery is only dropped. The caller still calls
  // entry_done on the original.
  void dead_letter(const AmqpQueue& q, const core::Delivery& d, std::string_view reason, core::Publisher& via);
  // Periodic: expired messages at queue heads, evicted messages of dead-lettering
  // queues, unused queues past x-expires.
  void sweep();
  // Dead-letters what drop-head evicted (called after a publish that evicted).
  void drain_evicted(core::Publisher& via);

  // Start-up (restore): entities from the store's definitions.
  void restore_definition(const std::string& kind, const std::string& name, const std::string& body);
  AmqpQueuePtr restored_queue(const std::string& name);
  void finish_restore();  // binds the restored bindings

  // Every queue now, by name. Any thread.
  std::vector<QueueInfo> queue_infos() const;

  // The sweep timer, on one I/O thread.
  void start(boost::asio::any_io_executor ex);
  void stop();

 private:
  AmqpQueuePtr create_queue_locked(const std::string& name, bool durable, bool exclusive, bool auto_delete,
                                   const FieldTable& arguments, const QueueArguments& args, std::uint64_t owner);
  void remove_queue_locked(const AmqpQueuePtr& q, std::vector<AmqpQueuePtr>& removed);
  // An auto-delete exchange goes once its last binding is gone.
  void drop_if_unbound_locked(const std::string& exchange);
  void erase_exchange_locked(std::unordered_map<std::string, ExchangeInfo>::iterator it);
  void finish_removed(std::vector<AmqpQueuePtr>& removed);
  void persist_queue(const AmqpQueue& q);
  void persist_exchange(const std::string& name, const ExchangeInfo& e);
  void persist_binding(const BindingInfo& b, bool add);
  static std::string binding_name(const BindingInfo& b);
  void arm_timer();

  core::Broker& broker_;
  const AmqpSettings& settings_;
  core::ClientInfo self_;
  core::ExchangePtr default_exchange_;  // "": every queue bound by its name
  mutable std::mutex mutex_;
  std::unordered_map<std::string, AmqpQueuePtr> queues_;
  std::unordered_map<std::string, ExchangeInfo> exchanges_;  // AMQP-visible exchanges (not the default)
  std::vector<BindingInfo> bindings_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

// Parses and checks x-arguments of queue.declare; 406 for a wrong type or value.
Error parse_queue_arguments(const FieldTable& arguments, QueueArguments& out);

}  // namespace outpost::amqp
