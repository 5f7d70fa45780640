// Durable exchanges, queues and bindings: their records in the store and their restore.
#include "amqp/vhost.hpp"

#include "amqp/vhost_tables.hpp"
#include "core/persist.hpp"
#include "core/topic.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace outpost::amqp {

using namespace detail;

void Vhost::persist_exchange(const std::string& name, const ExchangeInfo& e) {
  FieldTable t{
      {"type", FieldValue::string(core::to_string(e.exchange->type()))},
      {"durable", FieldValue::boolean(true)},
      {"auto_delete", FieldValue::boolean(e.exchange->auto_delete())},
      {"internal", FieldValue::boolean(e.internal)},
      {"arguments", FieldValue::of_table(e.arguments)},
  };
  broker_.store().put_definition(store::DefinitionRecord{kExchangeKind, name, encode(t)});
}

void Vhost::persist_queue(const AmqpQueue& q) {
  FieldTable t{
      {"auto_delete", FieldValue::boolean(q.auto_delete)},
      {"arguments", FieldValue::of_table(q.arguments)},
  };
  broker_.store().put_definition(store::DefinitionRecord{kQueueKind, q.name, encode(t)});
}

std::string Vhost::binding_name(const BindingInfo& b) {
  return fmt::format("{}:{}|{}:{}|{}", b.exchange.size(), b.exchange, b.queue.size(), b.queue, b.key);
}

void Vhost::persist_binding(const BindingInfo& b, bool add) {
  if (!add) {
    broker_.store().delete_definition(kBindingKind, binding_name(b));
    return;
  }
  FieldTable t{
      {"exchange", FieldValue::string(b.exchange)},
      {"queue", FieldValue::string(b.queue)},
      {"key", FieldValue::string(b.key)},
      {"arguments", FieldValue::of_table(b.arguments)},
  };
  broker_.store().put_definition(store::DefinitionRecord{kBindingKind, binding_name(b), encode(t)});
}

void Vhost::restore_definition(const std::string& kind, const std::string& name, const std::string& body) {
  FieldTable t;
  if (!decode(body, t)) {
    spdlog::warn("store: AMQP {} '{}' has a damaged definition; skipped", kind, name);
    return;
  }
  const auto* args = field(t, "arguments");
  const FieldTable arguments = args && args->type == 'F' ? args->table : FieldTable{};
  std::lock_guard lock(mutex_);
  if (kind == kExchangeKind) {
    const auto type = exchange_type(text_of(t, "type"));
    if (!type || exchanges_.contains(name)) return;
    auto ex = broker_.declare_exchange(name, *type, true, flag_of(t, "auto_delete"));
    exchanges_.emplace(name, ExchangeInfo{std::move(ex), arguments, flag_of(t, "internal")});
  } else if (kind == kQueueKind) {
    QueueArguments qa;
    if (parse_queue_arguments(arguments, qa) || queues_.contains(name)) return;
    create_queue_locked(name, true, false, flag_of(t, "auto_delete"), arguments, qa, 0);
  } else if (kind == kBindingKind) {
    // Bindings sort before exchanges and queues: applied by finish_restore.
    bindings_.push_back(BindingInfo{text_of(t, "exchange"), text_of(t, "queue"), text_of(t, "key"), arguments});
  }
}

void Vhost::finish_restore() {
  std::lock_guard lock(mutex_);
  for (auto b = bindings_.begin(); b != bindings_.end();) {
    auto ex = exchanges_.find(b->exchange);
    auto q = queues_.find(b->queue);
    if (ex == exchanges_.end() || q == queues_.end()) {
      b = bindings_.erase(b);
      continue;
    }
    auto& e = *ex->second.exchange;
    e.bind(e.type() == core::ExchangeType::topic ? core::amqp_pattern_to_filter(b->key) : b->key, q->second->queue, {});
    ++b;
  }
}

AmqpQueuePtr Vhost::restored_queue(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : it->second;
}

}  // namespace outpost::amqp
