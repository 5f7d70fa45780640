// Delivery to the client: pull from the session's queue within the in-flight window and
// the connection's write budget, assign packet ids, encode, send.
#include "core/trace_context.hpp"
#include "mqtt/message_properties.hpp"
#include "mqtt/mqtt_session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace outpost::mqtt {

void MqttSession::deliver() {
  if (phase_ != Phase::connected || closed_ || delivering_ || !state_) return;
  delivering_ = true;
  if (auto* q = state_->queue()) drain(*q, nullptr, nullptr);
  // Shared subscriptions after the session's own queue; each group's queue hands a
  // message to whichever member pulls it.
  if (state_->has_shared()) {
    for (auto& [filter, membership] : state_->shared()) drain(*membership.queue, &membership.queue, &membership.record);
  }
  delivering_ = false;
}

std::size_t MqttSession::send_window() const noexcept {
  const std::size_t cap = ctx_->settings.max_inflight;
  // The client's receive maximum bounds what we send unacknowledged [MQTT-3.3.4-9].
  if (client_receive_maximum_set_) return std::min<std::size_t>(cap, client_receive_maximum_);
  // Without one, a window that adapts to how promptly it acknowledges, within the cap.
  if (const auto* w = window()) return w->size();
  return std::min<std::size_t>(cap, InflightWindow::kInitial);
}

void MqttSession::drain(core::Queue& queue, const core::QueuePtr* shared, const SubscriptionRecord* record) {
  auto& inflight = state_->outflight();
  const std::size_t limit = send_window();
  // Pulled in batches: one lock of the queue for many messages, and a short batch
  // tells that the queue is empty without another pull.
  constexpr std::size_t kBatch = 64;
  thread_local std::vector<core::Delivery> batch;
  std::int64_t now = 0;
  // Read access is checked per message, whatever subscription matched it (a wider filter
  // is granted when part of it is readable; retained and queued messages are checked too).
  const core::AccessControl* access = ctx_->access.access.get();
  // Under write pressure, stop: the connection calls on_writable() once it drains, and
  // meanwhile the queue (with its limits and publisher backpressure) holds the rest.
  while (!link_.write_pressure() && inflight.size() < limit) {  // PUBACK / PUBCOMP call us again
    // Never more than the window has room for, so every message pulled can be sent.
    const std::size_t want = std::min(kBatch, limit - inflight.size());
    batch.clear();
    const std::size_t got = queue.pull(batch, want);
    for (auto& d : batch) {
      if (d.message->expiry_unix_ms() != 0) {
        if (now == 0) now = core::now_unix_ms();
        if (d.message->expired(now)) {
          ctx_->broker.counters().add(core::Protocol::mqtt, core::Counter::expired);
          if (spdlog::should_log(spdlog::level::debug)) {
            spdlog::debug("{}: message on '{}' expired before delivery; dropped{}", describe(), d.message->topic(),
                          core::trace_note(*d.message));
          }
          queue.entry_done(d);
          continue;
        }
      }
      if (d.message->topic().empty()) {
        // An AMQP publish with an empty routing key matches '#', but an empty Topic Name
        // is not MQTT [MQTT-4.7.3-1]: not sent, rather than breaking the client's session.
        if (spdlog::should_log(spdlog::level::debug)) {
          spdlog::debug("{}: message with an empty topic (AMQP routing key '') not delivered{}", describe(),
                        core::trace_note(*d.message));
        }
        queue.entry_done(d);
        continue;
      }
      if (access != nullptr && !access->may_consume(client(), {}, d.message->topic())) {
        if (spdlog::should_log(spdlog::level::debug)) {
          spdlog::debug("{}: message on '{}' not delivered: not authorized to read it{}", describe(),
                        d.message->topic(), core::trace_note(*d.message));
        }
        queue.entry_done(d);
        continue;
      }
      if (record != nullptr) {
        // A shared group's delivery: this member's own subscription options apply.
        d.qos = std::min(d.qos, record->granted_qos);
        d.retain = d.retain && record->options.retain_as_published;
        if (record->options.subscription_id != 0) d.subscription_ids.assign(1, record->options.subscription_id);
      }
      if (d.qos == 0) {
        send_publish(d, 0, false);
        queue.entry_done(d);  // stored only if it was QoS 1/2 for the group
        continue;
      }
      const auto id = state_->allocate_packet_id();  // always free below the window
      if (!send_publish(d, *id, false)) {
        // Too large for the client: as if sent and acknowledged [MQTT-3.1.2-25].
        queue.entry_done(d);
        continue;
      }
      OutFlight f;
      f.stage = d.qos == 1 ? OutFlight::Stage::awaiting_puback : OutFlight::Stage::awaiting_pubrec;
      f.sequence = state_->next_sequence();
      f.delivery = std::move(d);
      if (shared != nullptr) f.source = *shared;
      queue.entry_sent(f.delivery, to_entry_state(f.stage), *id);
      inflight.emplace(*id, std::move(f));
      if (auto* w = window(); w && w->wants_probe()) w->start(*id, std::chrono::steady_clock::now());
    }
    batch.clear();
    if (got < want) return;  // the queue is empty (and re-armed)
  }
  if (!client_receive_maximum_set_ && inflight.size() >= limit && !link_.write_pressure()) {
    // The window, not the client's connection, holds delivery back.
    auto& w = extras().window;
    if (!w) w = std::make_unique<InflightWindow>(ctx_->settings.max_inflight);
    w->held_back();
  }
  // A shared group's queue: while this member's window is full, another member takes
  // what waits (this one pulls again on its next PUBACK/PUBCOMP).
  if (shared != nullptr && inflight.size() >= limit) queue.stall(handle_.get(), publisher_.wakeups());
}

bool MqttSession::send_publish(const core::Delivery& d, std::uint16_t packet_id, bool dup) {
  const auto& m = *d.message;
  auto& out = encode_buffer();
  if (version_ != ProtocolVersion::v5 ||
      (!has_delivery_properties(d) && client_alias_maximum_ == 0 && client_max_packet_ == 0)) {
    encode_publish_header(out, version_, m.topic(), d.qos, d.retain, dup, packet_id, nullptr, m.payload().size());
  } else {
    thread_local Properties props;
    // The views' vector keeps its capacity from one delivery to the next.
    auto views = std::move(props.user_property_views);
    views.clear();
    props = Properties{};
    props.user_property_views = std::move(views);
    const bool any = delivery_properties(d, core::now_unix_ms(), props);
    // Topic alias towards the client: a topic gets an alias the first time it is sent
    // while the client's maximum allows, and later sends carry only the alias.
    std::string_view topic = m.topic();
    std::uint16_t new_alias = 0;
    if (client_alias_maximum_ > 0) {
      auto& x = extras();
      if (!x.aliases) x.aliases = std::make_unique<TopicAliases>();
      auto& outbound = x.aliases->outbound;
      if (auto it = outbound.find(m.topic()); it != outbound.end()) {
        props.topic_alias = it->second;
        topic = {};
      } else if (outbound.size() < client_alias_maximum_) {
        new_alias = static_cast<std::uint16_t>(outbound.size() + 1);
        props.topic_alias = new_alias;
      }
    }
    const Properties* p = any || props.topic_alias ? &props : nullptr;
    if (client_max_packet_ != 0 &&
        publish_packet_size(version_, topic, d.qos, p, m.payload().size()) > client_max_packet_) {
      spdlog::debug("{}: message on '{}' not sent: larger than the client's maximum packet size {}", describe(),
                    m.topic(), client_max_packet_);
      return false;
    }
    if (new_alias != 0) extras_->aliases->outbound.emplace(m.topic(), new_alias);
    encode_publish_header(out, version_, topic, d.qos, d.retain, dup, packet_id, p, m.payload().size());
  }
  link_.write(out);
  if (!m.payload().empty()) link_.write_shared(d.message, m.payload());
  ctx_->broker.counters().add(core::Protocol::mqtt, core::Counter::delivered);
  return true;
}

void MqttSession::resend_inflight() {
  if (!state_->has_outflight()) return;
  auto& inflight = state_->outflight();
  std::vector<std::pair<std::uint64_t, std::uint16_t>> order;
  order.reserve(inflight.size());
  for (const auto& [id, f] : inflight) order.emplace_back(f.sequence, id);
  std::sort(order.begin(), order.end());
  for (const auto& [seq, id] : order) {
    const OutFlight& f = inflight.at(id);
    if (f.stage == OutFlight::Stage::awaiting_pubcomp) {
      send_ack(PacketType::pubrel, id);
    } else if (!send_publish(f.delivery, id, true)) {  // [MQTT-3.3.1-1] DUP on a re-delivery
      // This connection's client accepts smaller packets than the last one did.
      if (auto* q = state_->source_of(f)) q->entry_done(f.delivery);
      inflight.erase(id);
    }
  }
}

}  // namespace outpost::mqtt
