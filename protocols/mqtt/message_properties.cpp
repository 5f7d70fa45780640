#include "mqtt/message_properties.hpp"

#include <algorithm>

namespace outpost::mqtt {

std::shared_ptr<const core::MessageProperties> take_message_properties(Properties& p) {
  if (!p.payload_format_indicator && !p.content_type && !p.response_topic && !p.correlation_data &&
      p.user_properties.empty()) {
    return nullptr;
  }
  auto m = std::make_shared<core::MessageProperties>();
  m->payload_format = p.payload_format_indicator;
  if (p.content_type) m->content_type = std::move(*p.content_type);
  if (p.response_topic) m->response_topic = std::move(*p.response_topic);
  if (p.correlation_data) m->correlation_data = std::move(*p.correlation_data);
  m->user_properties.reserve(p.user_properties.size());
  for (auto& [key, value] : p.user_properties) {
    m->user_properties.push_back(core::UserProperty{std::move(key), std::move(value)});
  }
  return m;
}

std::int64_t expiry_deadline(const Properties& p, std::int64_t now_unix_ms) noexcept {
  if (!p.message_expiry_interval) return 0;
  return now_unix_ms + std::int64_t{*p.message_expiry_interval} * 1000;
}

bool delivery_properties(const core::Delivery& d, std::int64_t now_unix_ms, Properties& out) {
  const core::Message& m = *d.message;
  bool any = false;
  if (const auto* mp = m.properties()) {
    if (mp->payload_format) out.payload_format_indicator = *mp->payload_format;
    if (!mp->content_type.empty()) out.content_type = mp->content_type;
    if (!mp->response_topic.empty()) out.response_topic = mp->response_topic;
    if (!mp->correlation_data.empty()) out.correlation_data = mp->correlation_data;
    // Views into the message (a traceparent, say): nothing copied per delivery.
    out.user_property_views.reserve(mp->user_properties.size());
    for (const auto& u : mp->user_properties) out.user_property_views.emplace_back(u.key, u.value);
    any = true;
  }
  if (m.expiry_unix_ms() != 0) {
    // The time left, rounded up so that a message not yet expired never says 0.
    const std::int64_t left_ms = std::max<std::int64_t>(m.expiry_unix_ms() - now_unix_ms, 1);
    out.message_expiry_interval = static_cast<std::uint32_t>(std::min<std::int64_t>((left_ms + 999) / 1000, 0xFFFFFFFF));
    any = true;
  }
  if (!d.subscription_ids.empty()) {
    out.subscription_identifiers.assign(d.subscription_ids.begin(), d.subscription_ids.end());
    any = true;
  }
  return any;
}

}  // namespace outpost::mqtt
