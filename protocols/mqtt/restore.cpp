#include "mqtt/restore.hpp"

namespace outpost::mqtt {

core::QueueLimits session_queue_limits(const MqttSettings& settings) {
  core::QueueLimits limits;
  limits.max_messages = settings.max_queued_messages;
  limits.max_bytes = settings.max_queued_bytes;
  limits.overflow = core::Overflow::reject_new;
  limits.drop_qos0_without_consumer = true;
  return limits;
}

SessionRestorer::SessionRestorer(core::Broker& broker, const MqttSettings& settings)
    : broker_(broker), settings_(settings) {}

void SessionRestorer::retained(core::MessagePtr message) {
  if (message->expired(core::now_unix_ms())) return;
  broker_.retained().restore(std::move(message));
  ++counts_.retained;
}

void SessionRestorer::session(store::SessionRecord&& s) {
  auto state = std::make_shared<SessionState>(broker_, core::ClientId(s.client_id), broker_.next_origin());
  state->make_durable();
  std::string id = s.client_id;
  sessions_.emplace(std::move(id), Restored{std::move(state), std::move(s)});
}

SessionRestorer::Restored* SessionRestorer::find(const std::string& client_id) {
  auto it = sessions_.find(client_id);
  return it == sessions_.end() ? nullptr : &it->second;
}

void SessionRestorer::subscription(store::SubscriptionRecord&& s) {
  auto* r = find(s.client_id);
  if (r == nullptr) {
    ++counts_.skipped;
    return;
  }
  auto& state = *r->state;
  SubscriptionRecord record;
  record.granted_qos = s.qos;
  SessionState::decode_options(s.options, record);
  record.options.max_qos = s.qos;
  record.options.subscription_id = s.subscription_id;
  record.options.owner = state.origin();
  state.add_subscription(s.filter, record, session_queue_limits(settings_));
  ++counts_.subscriptions;
}

void SessionRestorer::entry(store::EntryRecord&& e, const core::MessagePtr& message) {
  if (auto group = core::SharedGroups::from_store_name(e.queue)) {
    shared_entry(*group, std::move(e), message);
    return;
  }
  if (!e.queue.starts_with(kStoreQueuePrefix)) {  // registered for a prefix it does not know
    ++counts_.skipped;
    return;
  }
  auto* r = find(e.queue.substr(kStoreQueuePrefix.size()));
  if (r == nullptr) {
    ++counts_.skipped;
    return;
  }
  auto& state = *r->state;
  state.ensure_queue(session_queue_limits(settings_));
  core::Delivery d;
  d.message = message;
  d.qos = e.qos;
  d.retain = e.retain;
  d.seq = e.seq;
  d.subscription_ids.assign(e.subscription_ids.begin(), e.subscription_ids.end());
  if (e.state == store::EntryState::queued) {
    state.queue()->restore(std::move(d));
    ++counts_.queued;
    return;
  }
  // Sent before the restart: resent on resume with the same packet id [MQTT-4.4.0-1].
  OutFlight f;
  f.stage = to_stage(e.state);
  f.sequence = state.next_sequence();
  d.redelivered = true;
  f.delivery = std::move(d);
  state.queue()->restored_seq(e.seq);
  state.outflight().emplace(e.packet_id, std::move(f));
  ++counts_.in_flight;
}

void SessionRestorer::shared_entry(const std::pair<std::string, std::string>& group, store::EntryRecord&& e,
                                   const core::MessagePtr& message) {
  auto queue = broker_.shared_groups().find(group.first, group.second);
  if (!queue) {
    // No persistent member came back: nobody will ever take it.
    orphan_queues_.insert(e.queue);  // deleted once the restore has read everything
    ++counts_.skipped;
    return;
  }
  core::Delivery d;
  d.message = message;
  d.qos = e.qos;
  d.retain = e.retain;
  d.seq = e.seq;
  // A member may have been sending it: whoever gets it now gets it as a redelivery.
  d.redelivered = e.state != store::EntryState::queued;
  queue->restore(std::move(d));
  ++counts_.queued;
}

void SessionRestorer::incoming_qos2(const std::string& client_id, std::uint16_t packet_id) {
  if (auto* r = find(client_id)) r->state->incoming_qos2().insert(packet_id);
}

RestoreCounts SessionRestorer::finish() {
  const auto now = core::now_unix_ms();
  for (auto& [client_id, r] : sessions_) {
    std::optional<std::chrono::seconds> expiry;
    if (r.record.expiry_interval != 0xFFFFFFFF) {
      const std::int64_t interval_ms = std::int64_t{r.record.expiry_interval} * 1000;
      // Disconnected before the restart: the time already spent counts. Connected: the
      // connection ended with the broker, so expiry starts now.
      const std::int64_t left_ms =
          r.record.disconnected_unix_ms == 0 ? interval_ms : r.record.disconnected_unix_ms + interval_ms - now;
      if (left_ms <= 0) {
        r.state->destroy();  // deletes it from the store too
        ++counts_.expired_sessions;
        continue;
      }
      expiry = std::chrono::seconds((left_ms + 999) / 1000);
    }
    broker_.sessions().adopt(r.state->client_id(), r.state, expiry);
    ++counts_.sessions;
  }
  for (const auto& name : orphan_queues_) broker_.store().delete_queue(name);
  orphan_queues_.clear();
  sessions_.clear();
  return counts_;
}

}  // namespace outpost::mqtt
