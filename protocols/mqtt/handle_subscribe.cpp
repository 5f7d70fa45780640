// SUBSCRIBE / UNSUBSCRIBE: bindings of the session's queue on the MQTT exchange, and
// the retained messages a new subscription receives.
#include "core/topic.hpp"
#include "mqtt/mqtt_session.hpp"

#include "core/persist.hpp"

#include <spdlog/spdlog.h>

namespace outpost::mqtt {

namespace {
bool has_wildcard(std::string_view filter) { return filter.find_first_of("+#") != std::string_view::npos; }
}  // namespace

bool MqttSession::handle_subscribe(std::span<const std::uint8_t> body) {
  auto decoded = decode_subscribe(version_, body);
  if (!decoded) {
    fail(decoded.error().reason, fmt::format("invalid SUBSCRIBE: {}", decoded.error().message));
    return false;
  }
  const SubscribePacket& p = *decoded;
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
  auto& exchange = ctx_->broker.mqtt_exchange();
  for (const auto& sub : p.subscriptions) {
    std::string filter(sub.filter);
    if (!core::valid_topic_filter(filter)) {
      spdlog::info("{}: SUBSCRIBE to invalid filter '{}' refused", describe(), filter);
      codes.push_back(v5 ? ReasonCode::topic_filter_invalid : ReasonCode::unspecified_error);
      continue;
    }
    if (filter.starts_with("$share/")) {
      // Shared subscriptions arrive with the MQTT 5 work; until then they are refused.
      codes.push_back(v5 ? ReasonCode::shared_subscriptions_not_supported : ReasonCode::unspecified_error);
      continue;
    }
    if (!s.wildcard_subscriptions && has_wildcard(filter)) {
      codes.push_back(v5 ? ReasonCode::wildcard_subscriptions_not_supported : ReasonCode::unspecified_error);
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
    if (state_->ensure_queue(queue_limits())) state_->queue()->attach(handle_, link_.executor(), wakeups_);
    // [MQTT-3.8.4-3] a subscription to an existing filter replaces it.
    const bool is_new = exchange.bind(filter, state_->queue_ptr(), record.options);
    state_->subscriptions()[filter] = record;
    state_->persist_subscription(filter, record);
    codes.push_back(static_cast<ReasonCode>(record.granted_qos));
    // Retain handling 0: always send retained; 1: only for a new subscription; 2: never.
    if (record.retain_handling == 0 || (record.retain_handling == 1 && is_new)) {
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
    d.message = state_->durable() && d.qos > 0 ? m->with_retain(true) : std::move(m);
    const auto r = state_->queue()->push(std::move(d), wakeups_);
    if (r.outcome == core::PushOutcome::dropped_full) {
      spdlog::warn("{}: retained message for '{}' dropped: the session queue is full", describe(), filter);
    }
  }
}

bool MqttSession::handle_unsubscribe(std::span<const std::uint8_t> body) {
  auto decoded = decode_unsubscribe(version_, body);
  if (!decoded) {
    fail(decoded.error().reason, fmt::format("invalid UNSUBSCRIBE: {}", decoded.error().message));
    return false;
  }
  std::vector<ReasonCode> codes;
  codes.reserve(decoded->filters.size());
  for (const auto& f : decoded->filters) {
    std::string filter(f);
    auto& subs = state_->subscriptions();
    auto it = subs.find(filter);
    if (it == subs.end()) {
      codes.push_back(ReasonCode::no_subscription_existed);
      continue;
    }
    ctx_->broker.mqtt_exchange().unbind(filter, *state_->queue());
    subs.erase(it);
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
