#include "mqtt/session_state.hpp"

namespace outpost::mqtt {

SessionState::SessionState(core::Broker& broker, std::string client_id, std::uint64_t origin)
    : core::Session(std::move(client_id), origin), broker_(broker) {}

bool SessionState::ensure_queue(const core::QueueLimits& limits) {
  if (queue_) return false;
  queue_ = broker_.make_queue("mqtt/" + client_id(), limits);
  return true;
}

SessionState::~SessionState() {
  if (!destroyed_) destroy();
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
