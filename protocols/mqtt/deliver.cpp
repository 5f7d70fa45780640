// Delivery to the client: pull from the session's queue within the in-flight window and
// the connection's write budget, assign packet ids, encode, send.
#include "mqtt/mqtt_session.hpp"

#include <algorithm>

namespace outpost::mqtt {

void MqttSession::deliver() {
  if (phase_ != Phase::connected || closed_ || delivering_ || !state_ || !state_->queue()) return;
  delivering_ = true;
  auto& queue = *state_->queue();
  auto& inflight = state_->outflight();
  const std::size_t window = ctx_->settings.max_inflight;
  // Pulled in batches: one lock of the queue for many messages, and a short batch
  // tells that the queue is empty without another pull.
  constexpr std::size_t kBatch = 64;
  thread_local std::vector<core::Delivery> batch;
  std::int64_t now = 0;
  // Under write pressure, stop: the connection calls on_writable() once it drains, and
  // meanwhile the queue (with its limits and publisher backpressure) holds the rest.
  while (!link_.write_pressure() && inflight.size() < window) {  // PUBACK / PUBCOMP call us again
    // Never more than the window has room for, so every message pulled can be sent.
    const std::size_t want = std::min(kBatch, window - inflight.size());
    batch.clear();
    const std::size_t got = queue.pull(batch, want);
    for (auto& d : batch) {
      if (d.message->expiry_unix_ms() != 0) {
        if (now == 0) now = core::now_unix_ms();
        if (d.message->expired(now)) {
          queue.entry_done(d);
          continue;
        }
      }
      if (d.qos == 0) {
        send_publish(d, 0, false);
        continue;
      }
      const auto id = state_->allocate_packet_id();  // always free below the window
      OutFlight f;
      f.stage = d.qos == 1 ? OutFlight::Stage::awaiting_puback : OutFlight::Stage::awaiting_pubrec;
      f.sequence = state_->next_sequence();
      f.delivery = std::move(d);
      queue.entry_sent(f.delivery, to_entry_state(f.stage), *id);
      send_publish(f.delivery, *id, false);
      inflight.emplace(*id, std::move(f));
    }
    batch.clear();
    if (got < want) break;  // the queue is empty (and re-armed)
  }
  delivering_ = false;
}

void MqttSession::send_publish(const core::Delivery& d, std::uint16_t packet_id, bool dup) {
  const auto& m = *d.message;
  auto& out = encode_buffer();
  encode_publish_header(out, version_, m.topic(), d.qos, d.retain, dup, packet_id, nullptr, m.payload().size());
  link_.write(out);
  if (!m.payload().empty()) link_.write_shared(d.message, m.payload());
}

void MqttSession::resend_inflight() {
  auto& inflight = state_->outflight();
  if (inflight.empty()) return;
  std::vector<std::pair<std::uint64_t, std::uint16_t>> order;
  order.reserve(inflight.size());
  for (const auto& [id, f] : inflight) order.emplace_back(f.sequence, id);
  std::sort(order.begin(), order.end());
  for (const auto& [seq, id] : order) {
    const OutFlight& f = inflight.at(id);
    if (f.stage == OutFlight::Stage::awaiting_pubcomp) {
      send_ack(PacketType::pubrel, id);
    } else {
      send_publish(f.delivery, id, true);  // [MQTT-3.3.1-1] DUP on a re-delivery
    }
  }
}

}  // namespace outpost::mqtt
