#include "amqp/restore.hpp"

#include "core/persist.hpp"

namespace outpost::amqp {

void AmqpRestorer::message(store::StoredMessage&& m) {
  // Both sides may hold the message: the AMQP side keeps its own copy until finish().
  store::StoredMessage copy = m;
  const auto id = copy.id;
  if (auto message = core::from_store(std::move(copy))) messages_.emplace(id, std::move(message));
  next_.message(std::move(m));
}

void AmqpRestorer::definition(store::DefinitionRecord&& d) {
  if (d.kind.starts_with("amqp.")) {
    vhost_.restore_definition(d.kind, d.name, d.body);
    if (d.kind == "amqp.queue") ++counts_.queues;
    return;
  }
  next_.definition(std::move(d));
}

void AmqpRestorer::entry(store::EntryRecord&& e) {
  if (!definitions_done_) {
    definitions_done_ = true;
    vhost_.finish_restore();
  }
  static const std::string prefix = "amqp:";
  if (!e.queue.starts_with(prefix)) {
    next_.entry(std::move(e));
    return;
  }
  auto q = vhost_.restored_queue(e.queue.substr(prefix.size()));
  auto m = messages_.find(e.message_id);
  if (!q || m == messages_.end()) return;
  core::Delivery d;
  d.message = m->second;
  d.qos = e.qos;
  d.seq = e.seq;
  d.redelivered = e.state != store::EntryState::queued;
  // x-message-ttl: the store keeps no enqueue time, so the queue's TTL counts again from
  // the restart (a message may outlive its TTL by the downtime, but never stays forever).
  if (q->args.message_ttl_ms >= 0) d.expires_unix_ms = core::now_unix_ms() + q->args.message_ttl_ms;
  q->queue->restore(std::move(d));
  ++counts_.messages;
}

AmqpRestorer::Counts AmqpRestorer::finish() {
  if (!definitions_done_) vhost_.finish_restore();
  definitions_done_ = true;
  messages_.clear();
  return counts_;
}

}  // namespace outpost::amqp
