#include "amqp/restore.hpp"

#include "amqp/vhost_tables.hpp"

namespace outpost::amqp {

void AmqpRestorer::definition(store::DefinitionRecord&& d) {
  vhost_.restore_definition(d.kind, d.name, d.body);
  if (d.kind == detail::kQueueKind) ++counts_.queues;
}

void AmqpRestorer::definitions_done() {
  if (definitions_done_) return;
  definitions_done_ = true;
  vhost_.finish_restore();
}

void AmqpRestorer::entry(store::EntryRecord&& e, const core::MessagePtr& message) {
  definitions_done();  // the router says so first; kept for a caller that does not
  if (!e.queue.starts_with(kStoreQueuePrefix)) {
    ++counts_.skipped;
    return;
  }
  auto q = vhost_.restored_queue(e.queue.substr(kStoreQueuePrefix.size()));
  if (!q) {
    ++counts_.skipped;
    return;
  }
  core::Delivery d;
  d.message = message;
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
  definitions_done();
  return counts_;
}

}  // namespace outpost::amqp
