#include "mqtt/session_state.hpp"

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
  // store; destroy() is what deletes it.
  if (destroyed_ || !queue_) return;
  for (const auto& [filter, record] : subscriptions_) broker_.mqtt_exchange().unbind(filter, *queue_);
}

void SessionState::destroy() {
  if (destroyed_) return;
  destroyed_ = true;
  if (queue_) {
    for (const auto& [filter, record] : subscriptions_) {
      broker_.mqtt_exchange().unbind(filter, *queue_);
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
