#include "plugin/message_view.hpp"

#include <algorithm>
#include <cstring>

namespace outpost::plugin {

void make_view(const core::Message& m, MessageView& out) {
  auto& v = out.message;
  v = outpost_message{};
  v.size = sizeof(outpost_message);
  v.topic = str(m.topic());
  const auto payload = m.payload();
  v.payload = outpost_str{reinterpret_cast<const char*>(payload.data()), payload.size()};
  v.qos = m.qos();
  v.retain = m.retain() ? 1 : 0;
  v.payload_format = -1;
  v.expiry_unix_ms = m.expiry_unix_ms();
  out.properties.clear();
  if (const auto* p = m.properties()) {
    if (p->payload_format) v.payload_format = *p->payload_format;
    v.content_type = str(p->content_type);
    v.response_topic = str(p->response_topic);
    v.correlation_data = str(p->correlation_data);
    for (const auto& up : p->user_properties) out.properties.push_back({str(up.key), str(up.value)});
  }
  v.user_properties = out.properties.empty() ? nullptr : out.properties.data();
  v.user_property_count = out.properties.size();
}

namespace {

bool same(outpost_str a, outpost_str b) noexcept { return view(a) == view(b); }

bool has(const outpost_message& m, std::size_t end) noexcept { return m.size >= end; }
#define OUTPOST_HAS(m, field) has(m, offsetof(outpost_message, field) + sizeof(((outpost_message*)nullptr)->field))

void fill_properties(const outpost_message& m, core::MessageProperties& p) {
  if (OUTPOST_HAS(m, payload_format)) {
    if (m.payload_format >= 0) {
      p.payload_format = static_cast<std::uint8_t>(m.payload_format);
    } else {
      p.payload_format.reset();
    }
  }
  if (OUTPOST_HAS(m, content_type)) p.content_type = std::string(view(m.content_type));
  if (OUTPOST_HAS(m, response_topic)) p.response_topic = std::string(view(m.response_topic));
  if (OUTPOST_HAS(m, correlation_data)) p.correlation_data = std::string(view(m.correlation_data));
  if (OUTPOST_HAS(m, user_property_count)) {
    p.user_properties.clear();
    for (std::size_t i = 0; i < m.user_property_count && m.user_properties; ++i) {
      p.user_properties.push_back({std::string(view(m.user_properties[i].key)), std::string(view(m.user_properties[i].value))});
    }
  }
}

bool empty(const core::MessageProperties& p) {
  return !p.payload_format && p.content_type.empty() && p.response_topic.empty() && p.correlation_data.empty() &&
         p.user_properties.empty() && p.content_encoding.empty() && p.message_id.empty() && p.type.empty() &&
         p.app_id.empty() && p.user_id.empty() && !p.timestamp && !p.priority && !p.amqp_exchange &&
         p.amqp_headers.empty() && p.amqp_expiration.empty() && p.amqp_cluster_id.empty() && !p.amqp_delivery_mode;
}

}  // namespace

core::MessagePtr make_message(const outpost_message& m, std::uint64_t origin) {
  core::Message::Init init;
  init.topic = std::string(view(m.topic));
  init.payload = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(m.payload.data), m.payload.len);
  init.qos = std::min<std::uint8_t>(m.qos, 2);
  init.retain = m.retain != 0;
  init.origin = origin;
  if (OUTPOST_HAS(m, expiry_unix_ms)) init.expiry_unix_ms = m.expiry_unix_ms;
  core::MessageProperties p;
  fill_properties(m, p);
  if (!empty(p)) init.properties = std::make_shared<const core::MessageProperties>(std::move(p));
  return core::Message::make(std::move(init));
}

core::MessagePtr apply_edit(const core::MessagePtr& original, const MessageView& before, const outpost_message& e) {
  const auto& b = before.message;
  bool props_changed = e.payload_format != b.payload_format || !same(e.content_type, b.content_type) ||
                       !same(e.response_topic, b.response_topic) || !same(e.correlation_data, b.correlation_data) ||
                       e.user_property_count != b.user_property_count;
  if (!props_changed) {
    for (std::size_t i = 0; i < e.user_property_count; ++i) {
      if (e.user_properties == b.user_properties) break;
      if (!same(e.user_properties[i].key, b.user_properties[i].key) ||
          !same(e.user_properties[i].value, b.user_properties[i].value)) {
        props_changed = true;
        break;
      }
    }
  }
  const bool changed = props_changed || !same(e.topic, b.topic) || !same(e.payload, b.payload) || e.qos != b.qos ||
                       e.retain != b.retain || e.expiry_unix_ms != b.expiry_unix_ms;
  if (!changed) return original;
  core::Message::Init init;
  init.topic = std::string(view(e.topic));
  init.payload = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(e.payload.data), e.payload.len);
  init.qos = std::min<std::uint8_t>(e.qos, 2);
  init.retain = e.retain != 0;
  init.origin = original->origin();
  init.expiry_unix_ms = e.expiry_unix_ms;
  if (props_changed) {
    // What the ABI does not show (AMQP properties) is kept as it was.
    core::MessageProperties p = original->properties() ? *original->properties() : core::MessageProperties{};
    fill_properties(e, p);
    if (!empty(p)) init.properties = std::make_shared<const core::MessageProperties>(std::move(p));
  } else {
    init.properties = original->properties_ptr();
  }
  return core::Message::make(std::move(init));
}

outpost_protocol protocol_of(core::Protocol p) noexcept {
  switch (p) {
    case core::Protocol::mqtt: return OUTPOST_PROTOCOL_MQTT;
    case core::Protocol::amqp: return OUTPOST_PROTOCOL_AMQP;
    case core::Protocol::plugin: return OUTPOST_PROTOCOL_PLUGIN;
    case core::Protocol::broker: break;
  }
  return OUTPOST_PROTOCOL_BROKER;
}

outpost_client client_view(const core::ClientInfo& c) noexcept {
  outpost_client v{};
  v.size = sizeof(v);
  v.protocol = protocol_of(c.protocol);
  v.listener = str(c.listener());
  v.address = str(c.remote_address());
  v.client_id = str(c.client_id.view());
  v.user = str(c.user.view());
  v.certificate_identity = str(c.certificate_identity());
  v.origin = c.origin;
  return v;
}

outpost_client client_view(const core::AuthRequest& r) noexcept {
  outpost_client v{};
  v.size = sizeof(v);
  v.protocol = protocol_of(r.protocol);
  v.listener = str(r.listener);
  v.address = str(r.remote_address);
  v.client_id = str(r.client_id);
  v.user = r.user ? str(*r.user) : outpost_str{"", 0};
  v.certificate_identity = str(r.certificate_identity);
  return v;
}

OwnedClient::OwnedClient(const core::ClientInfo& c)
    : protocol(protocol_of(c.protocol)),
      listener(c.listener()),
      address(c.remote_address()),
      client_id(c.client_id.view()),
      user(c.user.view()),
      certificate_identity(c.certificate_identity()),
      origin(c.origin) {}

outpost_client OwnedClient::view() const noexcept {
  outpost_client v{};
  v.size = sizeof(v);
  v.protocol = protocol;
  v.listener = str(listener);
  v.address = str(address);
  v.client_id = str(client_id);
  v.user = str(user);
  v.certificate_identity = str(certificate_identity);
  v.origin = origin;
  return v;
}

}  // namespace outpost::plugin
