// PUBLISH from the client and the acknowledgements of both directions' QoS 1 / 2 flows.
#include "core/topic.hpp"
#include "core/trace_context.hpp"
#include "mqtt/message_properties.hpp"
#include "mqtt/mqtt_session.hpp"

#include <spdlog/spdlog.h>

namespace outpost::mqtt {

bool MqttSession::handle_publish(const FixedHeader& h, std::span<const std::uint8_t> body) {
  PublishPacket p;
  if (auto error = decode_publish_into(version_, h.flags, body, p)) {
    fail(error->reason, fmt::format("invalid PUBLISH: {}", error->message));
    return false;
  }
  const auto& s = ctx_->settings;
  std::string_view topic = p.topic;
  if (version_ == ProtocolVersion::v5) {
    if (!p.properties.subscription_identifiers.empty()) {
      fail(ReasonCode::protocol_error, "PUBLISH from a client carries a subscription identifier");  // [MQTT-3.3.4-6]
      return false;
    }
    if (p.properties.topic_alias) {
      auto resolved = resolve_topic_alias(*p.properties.topic_alias, p.topic);
      if (!resolved) return false;
      topic = *resolved;
    }
    if (p.qos > s.maximum_qos) {
      fail(ReasonCode::qos_not_supported, "PUBLISH QoS above the server maximum");  // [MQTT-3.2.2-11]
      return false;
    }
    if (p.retain && !s.retain_available) {
      fail(ReasonCode::retain_not_supported, "retained PUBLISH but retain is not available");  // [MQTT-3.2.2-14]
      return false;
    }
    if (!payload_matches_format(p.properties, p.payload)) {
      // 5.0 section 3.3.2.3.2: the receiver may refuse a payload that is not the UTF-8
      // its format indicator promises. QoS 1/2 get the reason on their acknowledgement;
      // QoS 0 has none, so the connection is told with DISCONNECT.
      if (p.qos == 0) {
        fail(ReasonCode::payload_format_invalid, "PUBLISH payload is not UTF-8 but its format indicator says it is");
        return false;
      }
      spdlog::info("{}: PUBLISH on '{}' refused with 0x99: the payload is not UTF-8 but its format indicator says it is",
                   describe(), topic);
      acknowledge_when_durable(p.qos == 1 ? PacketType::puback : PacketType::pubrec, p.packet_id,
                               ReasonCode::payload_format_invalid, false);
      return true;
    }
  }
  if (topic.empty()) {
    fail(ReasonCode::topic_name_invalid, "PUBLISH with an empty topic");  // [MQTT-4.7.3-1]
    return false;
  }
  if (const std::uint32_t max_levels = ctx_->limits.max_topic_levels; core::level_count(topic) > max_levels) {
    // Not routed. 5.0: 0x90 on the acknowledgement, or DISCONNECT for QoS 0, which has
    // none; 3.1.1 cannot refuse one message: acknowledged and dropped, as for ACLs.
    const auto why = fmt::format("PUBLISH topic has more than {} levels (limits.max_topic_levels)", max_levels);
    ctx_->broker.counters().add(core::Protocol::mqtt, core::Counter::refused_by_limit);
    if (version_ == ProtocolVersion::v5 && p.qos == 0) {
      fail(ReasonCode::topic_name_invalid, why);
      return false;
    }
    log_limit(fmt::format("{}; not delivered", why));
    if (p.qos > 0) {
      acknowledge_when_durable(p.qos == 1 ? PacketType::puback : PacketType::pubrec, p.packet_id,
                               version_ == ProtocolVersion::v5 ? ReasonCode::topic_name_invalid : ReasonCode::success,
                               false);
    }
    return true;
  }
  if (p.qos == 2 && state_->incoming_qos2().contains(p.packet_id)) {
    // A re-sent QoS 2 PUBLISH before PUBREL: already routed, only acknowledge again
    // (exactly once [MQTT-4.3.3-2]).
    acknowledge_when_durable(PacketType::pubrec, p.packet_id, ReasonCode::success, false);
    return true;
  }
  if (p.qos > 0 && version_ == ProtocolVersion::v5 &&
      state_->incoming_qos2_count() + puback_waiting() >= s.receive_maximum) {
    // [MQTT-3.3.4-7/8]: more unacknowledged QoS 1/2 PUBLISH packets than we announced.
    fail(ReasonCode::receive_maximum_exceeded,
         fmt::format("more than the receive maximum of {} QoS 1/2 messages unacknowledged", s.receive_maximum));
    return false;
  }

  auto message = make_message(p, std::string(topic));
  const auto outcome = publisher_.publish(ctx_->broker.mqtt_exchange(), message);
  const auto ack_type = p.qos == 1 ? PacketType::puback : PacketType::pubrec;
  switch (outcome.refused) {
    case core::Refusal::none: break;
    case core::Refusal::not_authorized:
      // Not delivered. MQTT 5 says so on the acknowledgement (0x87); 3.1.1 has no way to
      // refuse one message, so it is acknowledged and dropped, as Mosquitto does.
      spdlog::info("{}: PUBLISH on '{}' not authorized; not delivered{}", describe(), topic,
                   core::trace_note(outcome.routed_message(message)));
      if (p.qos == 0) return true;
      acknowledge_when_durable(ack_type, p.packet_id,
                               version_ == ProtocolVersion::v5 ? ReasonCode::not_authorized : ReasonCode::success,
                               false);
      return true;
    case core::Refusal::store_full:
      // Full: refused visibly, never accepted and then lost.
      if (version_ == ProtocolVersion::v5) {
        log_store_full();
        acknowledge_when_durable(ack_type, p.packet_id, ReasonCode::quota_exceeded, false);
        return true;
      }
      spdlog::warn("{}: QoS {} PUBLISH on '{}' refused: the store is full (persistence.max_bytes reached, or the "
                   "disk is full); closing the connection (MQTT 3.1.1 has no way to refuse one message)",
                   describe(), p.qos, topic);
      close("store full");
      return false;
  }
  // A delivery a full queue refused is counted and logged by the core, naming the queue.
  const auto& result = outcome.routed;

  if (p.qos == 0) return true;
  ReasonCode reason = ReasonCode::success;
  if (version_ == ProtocolVersion::v5) {
    if (result.dropped > 0) {
      reason = ReasonCode::quota_exceeded;
    } else if (result.matched == 0 && !outcome.discarded) {
      // A message a plugin discarded was accepted: success, as if it had been routed.
      reason = ReasonCode::no_matching_subscribers;
    }
  }
  if (p.qos == 2) {
    state_->incoming_qos2().insert(p.packet_id);
    state_->persist_incoming_qos2(p.packet_id);
  }
  acknowledge_when_durable(ack_type, p.packet_id, reason, result.needs_commit || (p.qos == 2 && state_->durable()));
  return true;
}

core::MessagePtr MqttSession::make_message(PublishPacket& p, std::string topic) {
  core::Message::Init init;
  init.topic = std::move(topic);
  init.payload = p.payload;
  init.qos = p.qos;
  init.retain = p.retain;
  init.origin = client().origin;
  if (version_ == ProtocolVersion::v5) {
    init.expiry_unix_ms = expiry_deadline(p.properties, core::now_unix_ms());
    init.properties = take_message_properties(p.properties);
  }
  return core::Message::make(std::move(init));
}

std::optional<std::string_view> MqttSession::resolve_topic_alias(std::uint16_t alias, std::string_view topic) {
  const std::uint16_t max = ctx_->settings.topic_alias_maximum;
  if (alias == 0 || alias > max) {
    // [MQTT-3.3.2-9/10] only aliases 1..the maximum we announced in CONNACK.
    fail(ReasonCode::topic_alias_invalid, fmt::format("topic alias {} outside 1..{}", alias, max));
    return std::nullopt;
  }
  auto& x = extras();
  if (!x.aliases) x.aliases = std::make_unique<TopicAliases>();
  auto& inbound = x.aliases->inbound;
  if (inbound.size() < max) inbound.resize(max);
  std::string& slot = inbound[alias - 1];
  if (!topic.empty()) {
    slot.assign(topic);  // set or replaced [MQTT-3.3.2-12]
    return std::string_view(slot);
  }
  if (slot.empty()) {
    fail(ReasonCode::protocol_error, fmt::format("topic alias {} used before it was set", alias));
    return std::nullopt;
  }
  return std::string_view(slot);
}

bool MqttSession::throttle_publish(std::size_t bytes) {
  const auto& l = ctx_->limits;
  if ((l.max_publish_rate == 0 && l.max_publish_bytes_rate == 0) || closed_ || phase_ != Phase::connected) return false;
  const auto now = std::chrono::steady_clock::now();
  auto& x = extras();
  if (!x.throttle) x.throttle = std::make_unique<proto::PublishThrottle>(l.max_publish_rate, l.max_publish_bytes_rate, now);
  if (!x.throttle->take(bytes, now)) return false;
  ctx_->broker.counters().add(core::Protocol::mqtt, core::Counter::publish_throttled);
  const auto run = x.throttle->paused(now);
  if (run == std::chrono::steady_clock::duration::zero()) {
    // Once per run of pauses (a run ends after a second without one), not per pause.
    spdlog::warn("{}: publishing faster than {}; reading from it paused until it is back under", describe(),
                 proto::describe_publish_limits(l.max_publish_rate, l.max_publish_bytes_rate));
  } else if (version_ == ProtocolVersion::v5 && l.publish_rate_disconnect_after.count() != 0 &&
             run >= l.publish_rate_disconnect_after) {
    const auto why = fmt::format("publishing above the rate limit for {} s without a break",
                                 std::chrono::duration_cast<std::chrono::seconds>(run).count());
    spdlog::warn("{}: {} (limits.publish_rate_disconnect_after {} s); disconnecting with 0x96", describe(), why,
                 l.publish_rate_disconnect_after.count());
    send_disconnect(ReasonCode::message_rate_too_high, why);
    close("message rate too high");
    return true;
  }
  rate_paused_ = true;
  link_.pause_reading();
  arm_deadline();
  return true;
}

void MqttSession::resume_after_throttle(std::chrono::steady_clock::time_point now) {
  rate_paused_ = false;
  extras_->throttle->resumed(now);
  // What waited unread while paused is ours to account for, not the client's silence.
  last_packet_ = now;
  if (!publisher_.paused()) link_.resume_reading();
}

void MqttSession::log_limit(std::string_view line) {
  auto& x = extras();
  const auto now = std::chrono::steady_clock::now();
  if (now - x.limit_logged < std::chrono::seconds(1)) {
    ++x.limit_unlogged;
    return;
  }
  x.limit_logged = now;
  if (x.limit_unlogged != 0) {
    spdlog::warn("{}: {} (and {} more refusals by limits in the last second)", describe(), line, x.limit_unlogged);
  } else {
    spdlog::warn("{}: {}", describe(), line);
  }
  x.limit_unlogged = 0;
}

void MqttSession::log_store_full() {
  const auto now = std::chrono::steady_clock::now();
  auto& x = extras();
  if (now - x.store_full_logged < std::chrono::seconds(1)) return;
  x.store_full_logged = now;
  spdlog::warn("{}: QoS 1/2 PUBLISH refused with 0x97 (quota exceeded): the store is full (persistence.max_bytes "
               "reached, or the disk is full)",
               describe());
}

void MqttSession::acknowledge_when_durable(PacketType type, std::uint16_t packet_id, ReasonCode reason,
                                           bool needs_commit) {
  // PUBACK / PUBREC go out in the order the PUBLISH packets came [MQTT-4.6.0-2, 4.6.0-3]:
  // behind a commit, or behind acknowledgements that wait for one, the publisher holds
  // it and hands it back (Handle::on_durable).
  const core::HeldAck ack{packet_id, 0, static_cast<std::uint8_t>(type), static_cast<std::uint8_t>(reason)};
  if (publisher_.acknowledge(ack, needs_commit)) {
    send_ack(type, packet_id, reason);
    return;
  }
  if (type == PacketType::puback) ++extras().puback_waiting;
}

void MqttSession::send_ack(PacketType type, std::uint16_t packet_id, ReasonCode reason) {
  auto& out = encode_buffer();
  encode_ack(out, version_, type, packet_id, reason, nullptr);
  link_.write(out);
}

bool MqttSession::handle_puback(std::span<const std::uint8_t> body) {
  return complete_outgoing(PacketType::puback, OutFlight::Stage::awaiting_puback, body);
}

bool MqttSession::handle_pubcomp(std::span<const std::uint8_t> body) {
  return complete_outgoing(PacketType::pubcomp, OutFlight::Stage::awaiting_pubcomp, body);
}

// PUBACK (QoS 1) or PUBCOMP (QoS 2) ends an outgoing exchange and frees a window slot.
bool MqttSession::complete_outgoing(PacketType type, OutFlight::Stage expected, std::span<const std::uint8_t> body) {
  const char* name = type == PacketType::puback ? "PUBACK" : "PUBCOMP";
  auto ack = decode_ack(version_, type, body);
  if (!ack) {
    fail(ack.error().reason, fmt::format("invalid {}: {}", name, ack.error().message));
    return false;
  }
  auto& inflight = state_->outflight();
  auto it = inflight.find(ack->packet_id);
  if (it == inflight.end() || it->second.stage != expected) {
    spdlog::debug("{}: {} for unknown packet id {}", describe(), name, ack->packet_id);
    return true;
  }
  if (auto* q = state_->source_of(it->second)) q->entry_done(it->second.delivery);
  inflight.erase(it);
  outgoing_done(ack->packet_id);
  deliver();
  return true;
}

bool MqttSession::handle_pubrec(std::span<const std::uint8_t> body) {
  auto ack = decode_ack(version_, PacketType::pubrec, body);
  if (!ack) {
    fail(ack.error().reason, fmt::format("invalid PUBREC: {}", ack.error().message));
    return false;
  }
  auto& inflight = state_->outflight();
  auto it = inflight.find(ack->packet_id);
  if (it == inflight.end()) {
    if (version_ == ProtocolVersion::v5) {
      send_ack(PacketType::pubrel, ack->packet_id, ReasonCode::packet_identifier_not_found);
    } else {
      send_ack(PacketType::pubrel, ack->packet_id);
    }
    return true;
  }
  if (version_ == ProtocolVersion::v5 && static_cast<std::uint8_t>(ack->reason) >= 0x80) {
    // [MQTT-4.3.3] a failing PUBREC ends the exchange.
    if (auto* q = state_->source_of(it->second)) q->entry_done(it->second.delivery);
    inflight.erase(it);
    outgoing_done(ack->packet_id);
    deliver();
    return true;
  }
  it->second.stage = OutFlight::Stage::awaiting_pubcomp;
  if (auto* q = state_->source_of(it->second)) q->entry_sent(it->second.delivery, to_entry_state(it->second.stage), ack->packet_id);
  send_ack(PacketType::pubrel, ack->packet_id);
  return true;
}

bool MqttSession::handle_pubrel(std::span<const std::uint8_t> body) {
  auto ack = decode_ack(version_, PacketType::pubrel, body);
  if (!ack) {
    fail(ack.error().reason, fmt::format("invalid PUBREL: {}", ack.error().message));
    return false;
  }
  const bool known = state_->incoming_qos2().erase(ack->packet_id) > 0;
  if (known) state_->forget_incoming_qos2(ack->packet_id);
  // [MQTT-4.3.3-2] PUBCOMP even for an id we no longer hold (a PUBREL re-sent after
  // reconnect); 5.0 says it was not found.
  send_ack(PacketType::pubcomp, ack->packet_id,
           known || version_ != ProtocolVersion::v5 ? ReasonCode::success : ReasonCode::packet_identifier_not_found);
  return true;
}

}  // namespace outpost::mqtt
