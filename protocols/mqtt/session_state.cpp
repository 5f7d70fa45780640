#include "mqtt/session_state.hpp"

#include <algorithm>
#include <vector>

namespace outpost::mqtt {

SessionState::SessionState(core::Broker& broker, core::ClientId client_id, std::uint64_t origin)
    : core::Session(std::move(client_id), origin), broker_(broker) {}

bool SessionState::ensure_queue(const core::QueueLimits& limits) {
  if (queue_) return false;
  queue_ = broker_.make_queue("mqtt/" + id(), limits);
  if (durable_) queue_->make_durable(broker_.store(), store_queue_name(client_id()));
  return true;
}

void SessionState::make_durable() {
  if (durable_ || !broker_.persistent()) return;
  durable_ = true;
  auto& store = broker_.store();
  if (queue_) queue_->make_durable(store, store_queue_name(client_id()));
  if (!extras_) return;
  for (const auto& [filter, record] : extras_->subscriptions) persist_subscription(filter, record);
  const std::string client = id();
  for (auto packet_id : extras_->incoming_qos2) store.put_incoming_qos2(client, packet_id);
}

void SessionState::persist_session(std::uint8_t protocol_level, std::optional<std::uint32_t> expiry,
                                   std::int64_t disconnected_unix_ms) {
  if (!durable_) return;
  store::SessionRecord r;
  r.client_id = id();
  r.protocol_level = protocol_level;
  r.expiry_interval = expiry.value_or(0xFFFFFFFF);
  r.disconnected_unix_ms = disconnected_unix_ms;
  broker_.store().put_session(std::move(r));
}

void SessionState::persist_subscription(const std::string& filter, const SubscriptionRecord& record) {
  if (!durable_) return;
  store::SubscriptionRecord r;
  r.client_id = id();
  r.filter = filter;
  r.qos = record.granted_qos;
  r.options = encode_options(record);
  r.subscription_id = record.options.subscription_id;
  broker_.store().put_subscription(std::move(r));
}

void SessionState::forget_subscription(const std::string& filter) {
  if (durable_) broker_.store().delete_subscription(id(), filter);
}

void SessionState::persist_incoming_qos2(std::uint16_t packet_id) {
  if (durable_) broker_.store().put_incoming_qos2(id(), packet_id);
}

void SessionState::forget_incoming_qos2(std::uint16_t packet_id) {
  if (durable_) broker_.store().delete_incoming_qos2(id(), packet_id);
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
  if (destroyed_ || !queue_ || !extras_) return;
  for (const auto& [filter, record] : extras_->subscriptions) {
    if (!core::is_shared_filter(filter)) broker_.mqtt_exchange().unbind(filter, *queue_);
  }
}

bool SessionState::add_subscription(const std::string& filter, const SubscriptionRecord& record,
                                    const core::QueueLimits& limits) {
  auto& x = extras();
  const bool is_new = !x.subscriptions.contains(filter);
  x.subscriptions[filter] = record;
  if (auto shared = core::parse_shared(filter)) {
    if (is_new) {
      core::QueueLimits group_limits = limits;
      group_limits.drop_qos0_without_consumer = false;  // other members may come back
      x.shared[filter] = SharedMembership{broker_.shared_groups().join(shared->group, shared->filter, group_limits), record};
    } else {
      x.shared[filter].record = record;
    }
    return is_new;
  }
  ensure_queue(limits);
  broker_.mqtt_exchange().bind(filter, queue_, record.options);
  return is_new;
}

bool SessionState::remove_subscription(const std::string& filter) {
  if (!extras_) return false;
  auto it = extras_->subscriptions.find(filter);
  if (it == extras_->subscriptions.end()) return false;
  extras_->subscriptions.erase(it);
  if (auto shared = core::parse_shared(filter)) {
    extras_->shared.erase(filter);
    broker_.shared_groups().leave(shared->group, shared->filter);
  } else if (queue_) {
    broker_.mqtt_exchange().unbind(filter, *queue_);
  }
  return true;
}

void SessionState::return_shared_inflight(core::WakeupBatch& wakeups) {
  if (!extras_) return;
  auto& outflight = extras_->outflight;
  std::map<core::Queue*, std::vector<std::pair<std::uint64_t, core::Delivery>>> back;
  for (auto it = outflight.begin(); it != outflight.end();) {
    if (it->second.source && it->second.stage == OutFlight::Stage::awaiting_puback) {
      back[it->second.source.get()].emplace_back(it->second.sequence, std::move(it->second.delivery));
      it = outflight.erase(it);
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
  if (extras_) {
    for (const auto& [filter, membership] : extras_->shared) {
      auto shared = core::parse_shared(filter);
      broker_.shared_groups().leave(shared->group, shared->filter);
    }
    extras_->shared.clear();
    if (queue_) {
      for (const auto& [filter, record] : extras_->subscriptions) {
        if (!core::is_shared_filter(filter)) broker_.mqtt_exchange().unbind(filter, *queue_);
      }
    }
    // Cleared, not freed: callers may still hold references to the containers.
    extras_->subscriptions.clear();
    extras_->outflight.clear();
    extras_->incoming_qos2.clear();
  }
  if (queue_) queue_->purge();
  if (durable_) broker_.store().delete_session(id());
}

std::optional<std::uint16_t> SessionState::allocate_packet_id() {
  auto& x = extras();
  if (x.outflight.size() >= 65535) return std::nullopt;
  // Packet ids are unique among the messages in flight [MQTT-2.3.1-2]; cycle through
  // the space so a recently acknowledged id is not reused at once.
  for (;;) {
    x.last_packet_id = static_cast<std::uint16_t>(x.last_packet_id == 65535 ? 1 : x.last_packet_id + 1);
    if (!x.outflight.contains(x.last_packet_id)) return x.last_packet_id;
  }
}

}  // namespace outpost::mqtt
