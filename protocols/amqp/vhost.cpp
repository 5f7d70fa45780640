#include "amqp/vhost.hpp"

#include "amqp/vhost_tables.hpp"
#include "core/persist.hpp"
#include "core/random_name.hpp"
#include "core/topic.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace outpost::amqp {

using namespace detail;

namespace {

// Two values of x-arguments are the same setting (an integer is an integer whatever its width).
bool same_value(const FieldValue* a, const FieldValue* b) {
  if (!a || !b) return a == b;
  auto ia = a->as_integer(), ib = b->as_integer();
  if (ia && ib) return *ia == *ib;
  return *a == *b;
}

// The first x-argument whose value differs between two declarations, or empty.
std::string differing_argument(const FieldTable& a, const FieldTable& b) {
  for (const auto* t : {&a, &b}) {
    for (const auto& e : *t) {
      if (!e.name.starts_with("x-")) continue;
      if (!same_value(field(a, e.name), field(b, e.name))) return e.name;
    }
  }
  return {};
}

Error inequivalent(const char* what, std::string_view arg, std::string_view name) {
  return Error{precondition_failed,
               fmt::format("PRECONDITION_FAILED - inequivalent arg '{}' for {} '{}' in vhost '/'", arg, what, name)};
}

}  // namespace

Error parse_queue_arguments(const FieldTable& arguments, QueueArguments& out) {
  auto bad = [](std::string_view key, std::string_view why) {
    return Error{precondition_failed, fmt::format("PRECONDITION_FAILED - invalid arg '{}': {}", key, why)};
  };
  for (const auto& e : arguments) {
    const auto& v = e.value;
    const auto i = v.as_integer();
    if (e.name == "x-message-ttl") {
      if (!i || *i < 0) return bad(e.name, "expected a non-negative integer");
      out.message_ttl_ms = *i;
    } else if (e.name == "x-expires") {
      if (!i || *i <= 0) return bad(e.name, "expected a positive integer");
      out.expires_ms = *i;
    } else if (e.name == "x-max-length") {
      if (!i || *i < 0) return bad(e.name, "expected a non-negative integer");
      out.max_length = static_cast<std::uint64_t>(*i);
    } else if (e.name == "x-max-length-bytes") {
      if (!i || *i < 0) return bad(e.name, "expected a non-negative integer");
      out.max_length_bytes = static_cast<std::uint64_t>(*i);
    } else if (e.name == "x-overflow") {
      if (v.type != 'S') return bad(e.name, "expected a string");
      if (v.s == "drop-head") {
        out.reject_publish = false;
      } else if (v.s == "reject-publish" || v.s == "reject-publish-dlx") {
        out.reject_publish = true;
      } else {
        return bad(e.name, "expected drop-head or reject-publish");
      }
    } else if (e.name == "x-dead-letter-exchange") {
      if (v.type != 'S') return bad(e.name, "expected a string");
      out.dead_letter_exchange = v.s;
    } else if (e.name == "x-dead-letter-routing-key") {
      if (v.type != 'S') return bad(e.name, "expected a string");
      out.dead_letter_routing_key = v.s;
    }
  }
  if (out.dead_letter_routing_key && !out.dead_letter_exchange) {
    return bad("x-dead-letter-routing-key", "needs x-dead-letter-exchange");
  }
  return {};
}

Vhost::Vhost(core::Broker& broker, const AmqpSettings& settings)
    : broker_(broker),
      settings_(settings),
      self_([&broker] {
        core::ClientInfo self;  // the broker itself: dead letters
        self.origin = broker.next_origin();
        return self;
      }()),
      default_exchange_(broker.declare_exchange("", core::ExchangeType::direct, true, false)) {
  for (const char* name : {"amq.topic", "amq.direct", "amq.fanout"}) {
    exchanges_.emplace(name, ExchangeInfo{broker_.find_exchange(name), {}});
  }
}

// ---------------------------------------------------------------------------------------
// Exchanges

Error Vhost::declare_exchange(const std::string& name, const std::string& type, bool passive, bool durable,
                              bool auto_delete, bool internal, const FieldTable& arguments) {
  std::lock_guard lock(mutex_);
  if (name.empty()) return Error{access_refused, "ACCESS_REFUSED - operation not permitted on the default exchange"};
  auto it = exchanges_.find(name);
  if (passive) {
    if (it == exchanges_.end()) return Error{not_found, fmt::format("NOT_FOUND - no exchange '{}' in vhost '/'", name)};
    return {};
  }
  const auto t = exchange_type(type);
  if (!t) {
    if (type == "headers" || type == "x-consistent-hash" || type == "x-delayed-message") {
      return Error{not_implemented, fmt::format("NOT_IMPLEMENTED - exchange type '{}' is not supported", type)};
    }
    return Error{command_invalid, fmt::format("COMMAND_INVALID - unknown exchange type '{}'", type)};
  }
  if (it != exchanges_.end()) {
    const auto& e = *it->second.exchange;
    if (e.type() != *t) return inequivalent("exchange", "type", name);
    if (e.durable() != durable) return inequivalent("exchange", "durable", name);
    if (e.auto_delete() != auto_delete) return inequivalent("exchange", "auto_delete", name);
    if (it->second.internal != internal) return inequivalent("exchange", "internal", name);
    return {};
  }
  if (name.starts_with("amq.")) {
    return Error{access_refused,
                 fmt::format("ACCESS_REFUSED - exchange name '{}' contains reserved prefix 'amq.*'", name)};
  }
  auto ex = broker_.declare_exchange(name, *t, durable, auto_delete);
  ExchangeInfo info{std::move(ex), arguments, internal};
  if (durable) persist_exchange(name, info);
  exchanges_.emplace(name, std::move(info));
  return {};
}

Error Vhost::delete_exchange(const std::string& name, bool if_unused) {
  std::lock_guard lock(mutex_);
  if (name.empty() || name.starts_with("amq.")) {
    return Error{access_refused, fmt::format("ACCESS_REFUSED - operation not permitted on exchange '{}'", name)};
  }
  auto it = exchanges_.find(name);
  if (it == exchanges_.end()) return {};  // deleting what is not there succeeds (as RabbitMQ 3.x does)
  const bool used = std::any_of(bindings_.begin(), bindings_.end(), [&](const BindingInfo& b) { return b.exchange == name; });
  if (if_unused && used) {
    return Error{precondition_failed, fmt::format("PRECONDITION_FAILED - exchange '{}' in vhost '/' in use", name)};
  }
  erase_exchange_locked(it);
  return {};
}

void Vhost::erase_exchange_locked(std::unordered_map<std::string, ExchangeInfo>::iterator it) {
  const std::string name = it->first;
  for (auto b = bindings_.begin(); b != bindings_.end();) {
    if (b->exchange == name) {
      if (it->second.exchange->durable()) persist_binding(*b, false);
      b = bindings_.erase(b);
    } else {
      ++b;
    }
  }
  if (it->second.exchange->durable()) broker_.store().delete_definition(kExchangeKind, name);
  broker_.delete_exchange(name);
  exchanges_.erase(it);
}

void Vhost::drop_if_unbound_locked(const std::string& exchange) {
  auto it = exchanges_.find(exchange);
  if (it == exchanges_.end() || !it->second.exchange->auto_delete() || exchange.starts_with("amq.")) return;
  const bool used = std::any_of(bindings_.begin(), bindings_.end(), [&](const BindingInfo& b) { return b.exchange == exchange; });
  if (used) return;
  spdlog::debug("amqp: auto-delete exchange '{}' lost its last binding and was deleted", exchange);
  erase_exchange_locked(it);
}

Target Vhost::resolve(std::string_view exchange) const {
  if (exchange.empty()) return Target{true, default_exchange_};
  std::lock_guard lock(mutex_);
  auto it = exchanges_.find(std::string(exchange));
  if (it == exchanges_.end()) return Target{};
  return Target{true, it->second.exchange, it->second.internal};
}

// ---------------------------------------------------------------------------------------
// Queues

AmqpQueuePtr Vhost::create_queue_locked(const std::string& name, bool durable, bool exclusive, bool auto_delete,
                                        const FieldTable& arguments, const QueueArguments& args,
                                        std::uint64_t owner) {
  core::QueueLimits limits;
  // No limit unless asked for: what bounds an AMQP queue is its arguments (and, with a
  // consumer attached, backpressure on publishers from flow_high).
  limits.max_messages = args.max_length.value_or(std::uint64_t{1} << 40);
  limits.max_bytes = args.max_length_bytes.value_or(std::uint64_t{1} << 40);
  limits.payload_bytes_only = true;
  limits.overflow = args.reject_publish ? core::Overflow::reject_new : core::Overflow::drop_head;
  limits.flow_high = 10000;
  limits.flow_low = 5000;
  limits.congestion_needs_credit = true;
  limits.message_ttl_ms = args.message_ttl_ms;
  limits.keep_evicted = args.dead_letter_exchange.has_value();
  auto q = std::make_shared<AmqpQueue>();
  q->name = name;
  q->queue = broker_.make_queue(std::string(kStoreQueuePrefix) + name, limits);
  q->durable = durable && !exclusive;
  q->exclusive = exclusive;
  q->auto_delete = auto_delete;
  q->owner = exclusive ? owner : 0;
  q->arguments = arguments;
  q->args = args;
  q->last_used_ms = core::now_unix_ms();
  if (q->durable) q->queue->make_durable(broker_.store(), std::string(kStoreQueuePrefix) + name);
  default_exchange_->bind(name, q->queue, {});
  queues_.emplace(name, q);
  return q;
}

DeclareQueueResult Vhost::declare_queue(const std::string& requested, bool passive, bool durable, bool exclusive,
                                        bool auto_delete, const FieldTable& arguments, std::uint64_t connection) {
  DeclareQueueResult r;
  std::lock_guard lock(mutex_);
  std::string name = requested;
  auto it = queues_.find(name);
  if (passive || it != queues_.end()) {
    if (it == queues_.end()) {
      r.error = Error{not_found, fmt::format("NOT_FOUND - no queue '{}' in vhost '/'", name)};
      return r;
    }
    auto& q = it->second;
    if (q->exclusive && q->owner != connection) {
      r.error = Error{resource_locked,
                      fmt::format("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{}' in vhost '/'", name)};
      return r;
    }
    if (!passive) {
      // As RabbitMQ: an exclusive queue redeclared without exclusive is a lock conflict
      // (405) even for its owner; a shared queue redeclared as exclusive stays shared.
      if (q->exclusive && !exclusive) {
        r.error = Error{resource_locked,
                        fmt::format("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{}' in vhost '/'", name)};
      } else if (q->durable != durable && !q->exclusive) r.error = inequivalent("queue", "durable", name);
      else if (q->auto_delete != auto_delete) r.error = inequivalent("queue", "auto_delete", name);
      else if (auto arg = differing_argument(q->arguments, arguments); !arg.empty()) r.error = inequivalent("queue", arg, name);
      if (r.error) return r;
    }
    q->last_used_ms = core::now_unix_ms();
    r.queue = q;
  } else {
    if (name.starts_with("amq.")) {
      r.error = Error{access_refused,
                      fmt::format("ACCESS_REFUSED - queue name '{}' contains reserved prefix 'amq.*'", name)};
      return r;
    }
    QueueArguments args;
    if (auto e = parse_queue_arguments(arguments, args)) {
      r.error = std::move(e);
      return r;
    }
    if (name.empty()) {
      do name = core::random_name("amq.gen-", 22, core::NameAlphabet::url_safe);
      while (queues_.contains(name));
    }
    r.queue = create_queue_locked(name, durable, exclusive, auto_delete, arguments, args, connection);
    if (r.queue->durable) persist_queue(*r.queue);
  }
  const auto stats = r.queue->queue->stats();
  r.messages = static_cast<std::uint32_t>(stats.messages);
  r.consumers = r.queue->consumers;
  return r;
}

AmqpQueuePtr Vhost::find_queue(const std::string& name, std::uint64_t connection, Error& error) {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(name);
  if (it == queues_.end()) {
    error = Error{not_found, fmt::format("NOT_FOUND - no queue '{}' in vhost '/'", name)};
    return nullptr;
  }
  if (it->second->exclusive && it->second->owner != connection) {
    error = Error{resource_locked,
                  fmt::format("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{}' in vhost '/'", name)};
    return nullptr;
  }
  return it->second;
}

Error Vhost::bind(const std::string& queue, const std::string& exchange, const std::string& key,
                  const FieldTable& arguments, std::uint64_t connection) {
  Error error;
  auto q = find_queue(queue, connection, error);
  if (!q) return error;
  std::lock_guard lock(mutex_);
  if (exchange.empty()) return Error{access_refused, "ACCESS_REFUSED - operation not permitted on the default exchange"};
  auto it = exchanges_.find(exchange);
  if (it == exchanges_.end()) return Error{not_found, fmt::format("NOT_FOUND - no exchange '{}' in vhost '/'", exchange)};
  auto& ex = *it->second.exchange;
  const std::string filter = ex.type() == core::ExchangeType::topic ? core::amqp_pattern_to_filter(key) : key;
  ex.bind(filter, q->queue, core::BindingOptions{});
  const bool known = std::any_of(bindings_.begin(), bindings_.end(), [&](const BindingInfo& b) {
    return b.exchange == exchange && b.queue == queue && b.key == key;
  });
  if (!known) {
    bindings_.push_back(BindingInfo{exchange, queue, key, arguments});
    if (q->durable && ex.durable()) persist_binding(bindings_.back(), true);
  }
  return {};
}

Error Vhost::unbind(const std::string& queue, const std::string& exchange, const std::string& key,
                    const FieldTable&, std::uint64_t connection) {
  Error error;
  auto q = find_queue(queue, connection, error);
  if (!q) return error;
  std::lock_guard lock(mutex_);
  auto it = exchanges_.find(exchange);
  if (it == exchanges_.end()) return Error{not_found, fmt::format("NOT_FOUND - no exchange '{}' in vhost '/'", exchange)};
  auto& ex = *it->second.exchange;
  ex.unbind(ex.type() == core::ExchangeType::topic ? core::amqp_pattern_to_filter(key) : key, *q->queue);
  for (auto b = bindings_.begin(); b != bindings_.end(); ++b) {
    if (b->exchange == exchange && b->queue == queue && b->key == key) {
      if (q->durable && ex.durable()) persist_binding(*b, false);
      bindings_.erase(b);
      drop_if_unbound_locked(exchange);
      break;
    }
  }
  return {};
}

std::uint32_t Vhost::purge(const AmqpQueuePtr& q) {
  const auto n = static_cast<std::uint32_t>(q->queue->purge());
  return n;
}

void Vhost::remove_queue_locked(const AmqpQueuePtr& q, std::vector<AmqpQueuePtr>& removed) {
  std::vector<std::string> unbound;
  for (auto b = bindings_.begin(); b != bindings_.end();) {
    if (b->queue == q->name) {
      auto ex = exchanges_.find(b->exchange);
      if (ex != exchanges_.end()) {
        auto& e = *ex->second.exchange;
        e.unbind(e.type() == core::ExchangeType::topic ? core::amqp_pattern_to_filter(b->key) : b->key, *q->queue);
        if (q->durable && e.durable()) persist_binding(*b, false);
        unbound.push_back(b->exchange);
      }
      b = bindings_.erase(b);
    } else {
      ++b;
    }
  }
  for (const auto& name : unbound) drop_if_unbound_locked(name);
  default_exchange_->unbind(q->name, *q->queue);
  queues_.erase(q->name);
  removed.push_back(q);
}

void Vhost::finish_removed(std::vector<AmqpQueuePtr>& removed) {
  for (auto& q : removed) {
    q->queue->purge();  // deletes its store entries too
    if (q->durable) broker_.store().delete_definition(kQueueKind, q->name);
    std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<QueueWatcher>>> watchers;
    {
      std::lock_guard lock(mutex_);
      watchers.swap(q->watchers);
    }
    for (auto& [ex, w] : watchers) {
      boost::asio::post(ex, [w = std::move(w), name = q->name] {
        if (auto watcher = w.lock()) watcher->on_queue_deleted(name);
      });
    }
  }
}

Error Vhost::delete_queue(const std::string& name, bool if_unused, bool if_empty, std::uint64_t connection,
                          std::uint32_t& messages) {
  std::vector<AmqpQueuePtr> removed;
  messages = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = queues_.find(name);
    if (it == queues_.end()) return {};  // as RabbitMQ 3.x: deleting a missing queue succeeds
    auto q = it->second;
    if (q->exclusive && q->owner != connection) {
      return Error{resource_locked,
                   fmt::format("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{}' in vhost '/'", name)};
    }
    const auto stats = q->queue->stats();
    if (if_unused && q->consumers > 0) {
      return Error{precondition_failed, fmt::format("PRECONDITION_FAILED - queue '{}' in vhost '/' in use", name)};
    }
    if (if_empty && stats.messages > 0) {
      return Error{precondition_failed, fmt::format("PRECONDITION_FAILED - queue '{}' in vhost '/' not empty", name)};
    }
    messages = static_cast<std::uint32_t>(stats.messages);
    remove_queue_locked(q, removed);
  }
  finish_removed(removed);
  return {};
}

Error Vhost::add_consumer(const AmqpQueuePtr& q, bool exclusive, boost::asio::any_io_executor ex,
                          std::weak_ptr<QueueWatcher> watcher) {
  std::lock_guard lock(mutex_);
  if (q->exclusive_consumer || (exclusive && q->consumers > 0)) {
    return Error{access_refused,
                 fmt::format("ACCESS_REFUSED - queue '{}' in vhost '/' in exclusive use", q->name)};
  }
  ++q->consumers;
  q->exclusive_consumer = exclusive;
  q->had_consumer = true;
  q->last_used_ms = core::now_unix_ms();
  q->watchers.emplace_back(std::move(ex), std::move(watcher));
  return {};
}

void Vhost::remove_consumer(const AmqpQueuePtr& q, bool exclusive, const QueueWatcher* watcher) {
  std::vector<AmqpQueuePtr> removed;
  {
    std::lock_guard lock(mutex_);
    if (q->consumers > 0) --q->consumers;
    if (exclusive) q->exclusive_consumer = false;
    q->last_used_ms = core::now_unix_ms();
    auto w = std::find_if(q->watchers.begin(), q->watchers.end(),
                          [watcher](const auto& e) { return e.second.lock().get() == watcher || e.second.expired(); });
    if (w != q->watchers.end()) q->watchers.erase(w);
    auto it = queues_.find(q->name);
    if (q->auto_delete && q->consumers == 0 && q->had_consumer && it != queues_.end() && it->second == q) {
      remove_queue_locked(q, removed);
    }
  }
  finish_removed(removed);
}

void Vhost::touch(const AmqpQueuePtr& q) {
  std::lock_guard lock(mutex_);
  q->last_used_ms = core::now_unix_ms();
}

void Vhost::connection_closed(std::uint64_t connection) {
  std::vector<AmqpQueuePtr> removed;
  {
    std::lock_guard lock(mutex_);
    std::vector<AmqpQueuePtr> mine;
    for (auto& [name, q] : queues_) {
      if (q->exclusive && q->owner == connection) mine.push_back(q);
    }
    for (auto& q : mine) remove_queue_locked(q, removed);
  }
  finish_removed(removed);
}

}  // namespace outpost::amqp
