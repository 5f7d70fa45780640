// SUBSCRIBE / UNSUBSCRIBE: bindings of the session's queue on the MQTT exchange, and
// the retained messages a new subscription receives.
#include "core/topic.hpp"
#include "core/trace_context.hpp"
#include "mqtt/mqtt_session.hpp"

#include "core/persist.hpp"

#include <spdlog/spdlog.h>

namespace outpost::mqtt {

namespace {
bool has_wildcard(std::string_view filter) { return filter.find_first_of("+#") != std::string_view::npos; }

// The first filter that breaks the topic filter syntax (section 4.7, shared subscriptions
// 4.8.2), or nothing. The specifications name no reason code for one; the broker closes
// the connection as for a malformed packet (0x81), as Mosquitto does, before it applies
// any filter of the packet.
template <typename Filters, typename Get>
std::optional<std::string_view> invalid_filter(const Filters& filters, Get get) {
  for (const auto& f : filters) {
    const std::string_view filter = get(f);
    if (!core::valid_topic_filter(filter)) return filter;
    if (core::is_shared_filter(filter) && !core::parse_shared(filter)->valid) return filter;
  }
  return std::nullopt;
}
}  // namespace

bool MqttSession::handle_subscribe(std::span<const std::uint8_t> body) {
  auto decoded = decode_subscribe(version_, body);
  if (!decoded) {
    fail(decoded.error().reason, fmt::format("invalid SUBSCRIBE: {}", decoded.error().message));
    return false;
  }
  const SubscribePacket& p = *decoded;
  if (auto bad = invalid_filter(p.subscriptions, [](const Subscription& sub) { return sub.filter; })) {
    fail(ReasonCode::malformed_packet, fmt::format("SUBSCRIBE to invalid filter '{}'", bad->substr(0, 100)));
    return false;
  }
  const auto& s = ctx_->settings;
  const bool v5 = version_ == ProtocolVersion::v5;
  std::uint32_t subscription_id = p.properties.subscription_identifier().value_or(0);
  if (subscription_id != 0 && !s.subscription_identifiers) {
    fail(ReasonCode::subscription_identifiers_not_supported, "subscription identifiers are disabled");
    return false;
  }
  std::vector<ReasonCode> codes;
  codes.reserve(p.subscriptions.size());
  std::vector<std::pair<std::string, SubscriptionRecord>> retained_for;
  for (const auto& sub : p.subscriptions) {
    std::string filter(sub.filter);
    const bool shared = core::is_shared_filter(filter);
    const auto& limits = ctx_->limits;
    if (core::level_count(shared ? std::string_view(core::parse_shared(filter)->filter) : std::string_view(filter)) >
        limits.max_topic_levels) {
      ctx_->broker.counters().add(core::Protocol::mqtt, core::Counter::refused_by_limit);
      log_limit(fmt::format("SUBSCRIBE to '{}' refused: more than {} levels (limits.max_topic_levels)",
                            std::string_view(filter).substr(0, 100), limits.max_topic_levels));
      codes.push_back(v5 ? ReasonCode::topic_filter_invalid : ReasonCode::unspecified_error);
      continue;
    }
    if (limits.max_subscriptions_per_client != 0 && !state_->subscriptions().contains(filter) &&
        state_->subscriptions().size() >= limits.max_subscriptions_per_client) {
      ctx_->broker.counters().add(core::Protocol::mqtt, core::Counter::refused_by_limit);
      log_limit(fmt::format("SUBSCRIBE to '{}' refused: the client has {} subscriptions "
                            "(limits.max_subscriptions_per_client)",
                            std::string_view(filter).substr(0, 100), state_->subscriptions().size()));
      codes.push_back(v5 ? ReasonCode::quota_exceeded : ReasonCode::unspecified_error);
      continue;
    }
    if (shared) {
      // Shared subscriptions are accepted from 3.1.1 clients too, as other brokers do.
      if (!s.shared_subscriptions) {
        codes.push_back(v5 ? ReasonCode::shared_subscriptions_not_supported : ReasonCode::unspecified_error);
        continue;
      }
      if (sub.options.no_local) {
        fail(ReasonCode::protocol_error, "no local on a shared subscription");  // [MQTT-3.8.3-4]
        return false;
      }
    }
    if (!s.wildcard_subscriptions && has_wildcard(filter)) {
      codes.push_back(v5 ? ReasonCode::wildcard_subscriptions_not_supported : ReasonCode::unspecified_error);
      continue;
    }
    if (const auto* access = ctx_->access.access.get();
        access && !access->may_subscribe(client(), ctx_->broker.mqtt_exchange().name(),
                                         shared ? std::string_view(core::parse_shared(filter)->filter) : filter)) {
      spdlog::info("{}: SUBSCRIBE to '{}' not authorized", describe(), filter);
      codes.push_back(v5 ? ReasonCode::not_authorized : ReasonCode::unspecified_error);
      continue;
    }
    SubscriptionRecord record;
    record.granted_qos = std::min<std::uint8_t>(sub.options.qos, s.maximum_qos);
    record.retain_handling = sub.options.retain_handling;
    record.options.max_qos = record.granted_qos;
    record.options.no_local = sub.options.no_local;
    record.options.retain_as_published = sub.options.retain_as_published;
    record.options.subscription_id = subscription_id;
    record.options.owner = state_->origin();
    const bool had_queue = state_->queue() != nullptr;
    // [MQTT-3.8.4-3] a subscription to an existing filter replaces it.
    const bool is_new = state_->add_subscription(filter, record, queue_limits());
    if (!had_queue && state_->queue()) state_->queue()->attach(handle_, link_.executor(), publisher_.wakeups());
    if (shared && is_new) state_->shared()[filter].queue->attach(handle_, link_.executor(), publisher_.wakeups());
    state_->persist_subscription(filter, record);
    codes.push_back(static_cast<ReasonCode>(record.granted_qos));
    // Retain handling 0: always send retained; 1: only for a new subscription; 2: never.
    // A shared subscription gets no retained messages (section 4.8.2).
    if (!shared && (record.retain_handling == 0 || (record.retain_handling == 1 && is_new))) {
      retained_for.emplace_back(std::move(filter), record);
    }
  }
  auto& out = encode_buffer();
  encode_suback(out, version_, p.packet_id, codes, nullptr);
  link_.write(out);
  // Retained messages follow the SUBACK [MQTT-3.8.4-4] through the session's queue, so
  // they keep their place among live messages and respect the in-flight window.
  for (const auto& [filter, record] : retained_for) queue_retained(filter, record);
  return true;
}

void MqttSession::queue_retained(const std::string& filter, const SubscriptionRecord& record) {
  if (!ctx_->settings.retain_available) return;
  std::vector<core::MessagePtr> found;
  ctx_->broker.retained().match(filter, found, core::now_unix_ms());
  for (auto& m : found) {
    core::Delivery d;
    d.qos = std::min(m->qos(), record.granted_qos);
    d.retain = true;  // [MQTT-3.3.1-8] retained on subscribe: retain flag set
    if (record.options.subscription_id != 0) d.subscription_ids.push_back(record.options.subscription_id);
    // A durable queue stores its own copy: the retained message's stored row (if it was
    // ever stored for a queue) goes away with the entries that held it.
    d.message = state_->durable() && d.qos > 0 ? m->with_retain(true) : m;
    const auto r = state_->queue()->push(std::move(d), publisher_.wakeups());
    if (r.outcome == core::PushOutcome::dropped_full) {
      spdlog::warn("{}: retained message for '{}' dropped: the session queue is full{}", describe(), filter,
                   core::trace_note(*m));
    }
  }
}

bool MqttSession::handle_unsubscribe(std::span<const std::uint8_t> body) {
  auto decoded = decode_unsubscribe(version_, body);
  if (!decoded) {
    fail(decoded.error().reason, fmt::format("invalid UNSUBSCRIBE: {}", decoded.error().message));
    return false;
  }
  if (auto bad = invalid_filter(decoded->filters, [](std::string_view f) { return f; })) {
    fail(ReasonCode::malformed_packet, fmt::format("UNSUBSCRIBE from invalid filter '{}'", bad->substr(0, 100)));
    return false;
  }
  std::vector<ReasonCode> codes;
  codes.reserve(decoded->filters.size());
  for (const auto& f : decoded->filters) {
    std::string filter(f);
    if (auto it = state_->shared().find(filter); it != state_->shared().end()) it->second.queue->detach(handle_.get());
    if (!state_->remove_subscription(filter)) {
      codes.push_back(ReasonCode::no_subscription_existed);
      continue;
    }
    state_->forget_subscription(filter);
    codes.push_back(ReasonCode::success);
  }
  auto& out = encode_buffer();
  // [MQTT-3.10.4-4] UNSUBACK even when nothing was subscribed.
  encode_unsuback(out, version_, decoded->packet_id, codes, nullptr);
  link_.write(out);
  return true;
}

}  // namespace outpost::mqtt
