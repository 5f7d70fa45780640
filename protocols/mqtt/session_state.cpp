#include "mqtt/session_state.hpp"

#include <algorithm>
#include <vector>

namespace outpost::mqtt {

SessionState::SessionState(core::Broker& broker, std::string client_id, std::uint64_t origin)
    : core::Session(std::move(client_id), origin), broker_(broker) {}

bool SessionState::ensure_queue(const core::QueueLimits& limits) {
  if (queue_) return false;
  queue_ = broker_.make_queue("mqtt/" + client_id(), limits);
  if (durable_) queue_->make_durable(broker_.store(), store_queue_name(client_id()));
  return true;
}

void SessionState::make_durable() {
  if (durable_ || !broker_.store().persistent()) return;
  durable_ = true;
  auto& store = broker_.store();
  if (queue_) queue_->make_durable(store, store_queue_name(client_id()));
  for (const auto& [filter, record] : subscriptions_) persist_subscription(filter, record);
  for (auto id : incoming_qos2_) store.put_incoming_qos2(client_id(), id);
}

void SessionState::persist_session(std::uint8_t protocol_level, std::optional<std::uint32_t> expiry,
                                   std::int64_t disconnected_unix_ms) {
  if (!durable_) return;
  store::SessionRecord r;
  r.client_id = client_id();
  r.protocol_level = protocol_level;
  r.expiry_interval = expiry.value_or(0xFFFFFFFF);
  r.disconnected_unix_ms = disconnected_unix_ms;
  broker_.store().put_session(std::move(r));
}

void SessionState::persist_subscription(const std::string& filter, const SubscriptionRecord& record) {
  if (!durable_) return;
  store::SubscriptionRecord r;
  r.client_id = client_id();
  r.filter = filter;
  r.qos = record.granted_qos;
  r.options = encode_options(record);
  r.subscription_id = record.options.subscription_id;
  broker_.store().put_subscription(std::move(r));
}

void SessionState::forget_subscription(const std::string& filter) {
  if (durable_) broker_.store().delete_subscription(client_id(), filter);
}

void SessionState::persist_incoming_qos2(std::uint16_t packet_id) {
  if (durable_) broker_.store().put_incoming_qos2(client_id(), packet_id);
}

void SessionState::forget_incoming_qos2(std::uint16_t packet_id) {
  if (durable_) broker_.store().delete_incoming_qos2(client_id(), packet_id);
}

std::uint8_t SessionState::encode_options(const SubscriptionRecord& record) {
  return static_cast<std::uint8_t>((record.options.no_local ? 1 : 0) | (record.options.retain_as_published ? 2 : 0) |
                                   ((record.retain_handling & 3) << 2));
}

void SessionState::decode_options(std::uint8_t bits, SubscriptionRecord& record) {
  record.options.no_local = (bits & 1) != 0;
  record.options.retain_as_published = (bits & 2) != 0;
  record.retain_handling = static_cast<std::uint8_t>((bits >> 2) & 3);
}

SessionState::~SessionState() {
  // Memory only: a session that ends with the process (broker shutdown) stays in the
  // store; destroy() is what deletes it. Shared groups are left alone for the same reason.
  if (destroyed_ || !queue_) return;
  for (const auto& [filter, record] : subscriptions_) {
    if (!core::is_shared_filter(filter)) broker_.mqtt_exchange().unbind(filter, *queue_);
  }
}

bool SessionState::add_subscription(const std::string& filter, const SubscriptionRecord& record,
                                    const core::QueueLimits& limits) {
  const bool is_new = !subscriptions_.contains(filter);
  subscriptions_[filter] = record;
  if (auto shared = core::parse_shared(filter)) {
    if (is_new) {
      core::QueueLimits group_limits = limits;
      group_limits.drop_qos0_without_consumer = false;  // other members may come back
      shared_[filter] = SharedMembership{broker_.shared_groups().join(shared->group, shared->filter, group_limits), record};
    } else {
      shared_[filter].record = record;
    }
    return is_new;
  }
  ensure_queue(limits);
  broker_.mqtt_exchange().bind(filter, queue_, record.options);
  return is_new;
}

bool SessionState::remove_subscription(const std::string& filter) {
  auto it = subscriptions_.find(filter);
  if (it == subscriptions_.end()) return false;
  subscriptions_.erase(it);
  if (auto shared = core::parse_shared(filter)) {
    shared_.erase(filter);
    broker_.shared_groups().leave(shared->group, shared->filter);
  } else if (queue_) {
    broker_.mqtt_exchange().unbind(filter, *queue_);
  }
  return true;
}

void SessionState::return_shared_inflight(core::WakeupBatch& wakeups) {
  std::map<core::Queue*, std::vector<std::pair<std::uint64_t, core::Delivery>>> back;
  for (auto it = outflight_.begin(); it != outflight_.end();) {
    if (it->second.source && it->second.stage == OutFlight::Stage::awaiting_puback) {
      back[it->second.source.get()].emplace_back(it->second.sequence, std::move(it->second.delivery));
      it = outflight_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [queue, items] : back) {
    std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<core::Delivery> deliveries;
    deliveries.reserve(items.size());
    for (auto& [seq, d] : items) deliveries.push_back(std::move(d));
    queue->requeue_front(std::move(deliveries), wakeups);
  }
}

void SessionState::destroy() {
  if (destroyed_) return;
  destroyed_ = true;
  {
    core::WakeupBatch wakeups;
    return_shared_inflight(wakeups);
  }
  for (const auto& [filter, membership] : shared_) {
    auto shared = core::parse_shared(filter);
    broker_.shared_groups().leave(shared->group, shared->filter);
  }
  shared_.clear();
  if (queue_) {
    for (const auto& [filter, record] : subscriptions_) {
      if (!core::is_shared_filter(filter)) broker_.mqtt_exchange().unbind(filter, *queue_);
    }
    queue_->purge();
  }
  subscriptions_.clear();
  outflight_.clear();
  incoming_qos2_.clear();
  if (durable_) broker_.store().delete_session(client_id());
}

std::optional<std::uint16_t> SessionState::allocate_packet_id() {
  if (outflight_.size() >= 65535) return std::nullopt;
  // Packet ids are unique among the messages in flight [MQTT-2.3.1-2]; cycle through
  // the space so a recently acknowledged id is not reused at once.
  for (;;) {
    last_packet_id_ = static_cast<std::uint16_t>(last_packet_id_ == 65535 ? 1 : last_packet_id_ + 1);
    if (!outflight_.contains(last_packet_id_)) return last_packet_id_;
  }
}

}  // namespace outpost::mqtt
