#include "mqtt/codec/properties.hpp"

#include "mqtt/codec/text.hpp"

namespace outpost::mqtt {

namespace {

enum class Kind : std::uint8_t { byte, u16, u32, varint, string, binary, pair };

constexpr std::uint16_t bit(PropertyContext c) { return static_cast<std::uint16_t>(1u << static_cast<unsigned>(c)); }
constexpr std::uint16_t kConnect = bit(PropertyContext::connect);
constexpr std::uint16_t kConnack = bit(PropertyContext::connack);
constexpr std::uint16_t kPublish = bit(PropertyContext::publish);
constexpr std::uint16_t kWill = bit(PropertyContext::will);
constexpr std::uint16_t kAck = bit(PropertyContext::ack);
constexpr std::uint16_t kSubscribe = bit(PropertyContext::subscribe);
constexpr std::uint16_t kSuback = bit(PropertyContext::suback);
constexpr std::uint16_t kUnsubscribe = bit(PropertyContext::unsubscribe);
constexpr std::uint16_t kUnsuback = bit(PropertyContext::unsuback);
constexpr std::uint16_t kDisconnect = bit(PropertyContext::disconnect);
constexpr std::uint16_t kAuth = bit(PropertyContext::auth);
constexpr std::uint16_t kAll = 0x7FF;

struct Spec {
  std::uint8_t id;
  Kind kind;
  std::uint16_t allowed;
  const char* name;
};

// MQTT 5.0 section 2.2.2.2, table 2-4.
constexpr Spec kSpecs[] = {
    {0x01, Kind::byte, kPublish | kWill, "payload format indicator"},
    {0x02, Kind::u32, kPublish | kWill, "message expiry interval"},
    {0x03, Kind::string, kPublish | kWill, "content type"},
    {0x08, Kind::string, kPublish | kWill, "response topic"},
    {0x09, Kind::binary, kPublish | kWill, "correlation data"},
    {0x0B, Kind::varint, kPublish | kSubscribe, "subscription identifier"},
    {0x11, Kind::u32, kConnect | kConnack | kDisconnect, "session expiry interval"},
    {0x12, Kind::string, kConnack, "assigned client identifier"},
    {0x13, Kind::u16, kConnack, "server keep alive"},
    {0x15, Kind::string, kConnect | kConnack | kAuth, "authentication method"},
    {0x16, Kind::binary, kConnect | kConnack | kAuth, "authentication data"},
    {0x17, Kind::byte, kConnect, "request problem information"},
    {0x18, Kind::u32, kWill, "will delay interval"},
    {0x19, Kind::byte, kConnect, "request response information"},
    {0x1A, Kind::string, kConnack, "response information"},
    {0x1C, Kind::string, kConnack | kDisconnect, "server reference"},
    {0x1F, Kind::string, kConnack | kAck | kSuback | kUnsuback | kDisconnect | kAuth, "reason string"},
    {0x21, Kind::u16, kConnect | kConnack, "receive maximum"},
    {0x22, Kind::u16, kConnect | kConnack, "topic alias maximum"},
    {0x23, Kind::u16, kPublish, "topic alias"},
    {0x24, Kind::byte, kConnack, "maximum QoS"},
    {0x25, Kind::byte, kConnack, "retain available"},
    {0x26, Kind::pair, kAll, "user property"},
    {0x27, Kind::u32, kConnect | kConnack, "maximum packet size"},
    {0x28, Kind::byte, kConnack, "wildcard subscription available"},
    {0x29, Kind::byte, kConnack, "subscription identifier available"},
    {0x2A, Kind::byte, kConnack, "shared subscription available"},
};

const Spec* find_spec(std::uint32_t id) {
  for (const auto& s : kSpecs) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

template <class T>
bool set_once(Reader& r, std::optional<T>& slot, T value, const Spec& s) {
  if (slot) return r.fail(protocol_error(text::cat("property '", s.name, "' appears twice")));
  slot = std::move(value);
  return true;
}

bool check_flag(Reader& r, std::uint8_t v, const Spec& s) {
  if (v > 1) return r.fail(protocol_error(text::cat("property '", s.name, "' must be 0 or 1, got ", v)));
  return true;
}

const char* context_name(PropertyContext ctx) {
  switch (ctx) {
    case PropertyContext::connect: return "CONNECT";
    case PropertyContext::connack: return "CONNACK";
    case PropertyContext::publish: return "PUBLISH";
    case PropertyContext::will: return "the will";
    case PropertyContext::ack: return "PUBACK / PUBREC / PUBREL / PUBCOMP";
    case PropertyContext::subscribe: return "SUBSCRIBE";
    case PropertyContext::suback: return "SUBACK";
    case PropertyContext::unsubscribe: return "UNSUBSCRIBE";
    case PropertyContext::unsuback: return "UNSUBACK";
    case PropertyContext::disconnect: return "DISCONNECT";
    case PropertyContext::auth: return "AUTH";
  }
  return "this packet";
}

}  // namespace

bool Properties::empty() const {
  return !payload_format_indicator && !message_expiry_interval && !content_type && !response_topic &&
         !correlation_data && subscription_identifiers.empty() && !session_expiry_interval &&
         !assigned_client_identifier && !server_keep_alive && !authentication_method && !authentication_data &&
         !request_problem_information && !will_delay_interval && !request_response_information &&
         !response_information && !server_reference && !reason_string && !receive_maximum && !topic_alias_maximum &&
         !topic_alias && !maximum_qos && !retain_available && user_properties.empty() && user_property_views.empty() &&
         !maximum_packet_size &&
         !wildcard_subscription_available && !subscription_identifiers_available && !shared_subscription_available;
}

bool read_properties(Reader& r, PropertyContext ctx, Properties& p) {
  std::uint32_t length = 0;
  if (!r.varint(length, "property length")) return false;
  if (length > r.remaining()) return r.fail(malformed("property length runs past the end of the packet"));
  Reader pr(r.take(length));
  while (!pr.empty()) {
    std::uint32_t id = 0;
    if (!pr.varint(id, "property identifier")) break;
    const Spec* s = find_spec(id);
    if (!s) {
      pr.fail(malformed(text::cat("unknown property identifier ", text::hex(id))));
      break;
    }
    if ((s->allowed & bit(ctx)) == 0) {
      // Section 2.2.2.2: an identifier not valid for the packet type is a Malformed Packet.
      pr.fail(malformed(text::cat("property '", s->name, "' is not allowed on ", context_name(ctx))));
      break;
    }
    std::uint8_t b = 0;
    std::uint16_t u16 = 0;
    std::uint32_t u32 = 0;
    std::string_view str;
    std::span<const std::uint8_t> bin;
    bool ok = true;
    switch (id) {
      case 0x01:
        ok = pr.u8(b, s->name) && check_flag(pr, b, *s) && set_once(pr, p.payload_format_indicator, b, *s);
        break;
      case 0x02: ok = pr.u32(u32, s->name) && set_once(pr, p.message_expiry_interval, u32, *s); break;
      case 0x03: ok = pr.string(str, s->name) && set_once(pr, p.content_type, std::string(str), *s); break;
      case 0x08:
        ok = pr.string(str, s->name);
        // [MQTT-3.3.2-14] the response topic is a topic name, so no wildcards.
        if (ok && str.find_first_of("+#") != std::string_view::npos) {
          ok = pr.fail(protocol_error("response topic contains a wildcard"));
        }
        ok = ok && set_once(pr, p.response_topic, std::string(str), *s);
        break;
      case 0x09:
        ok = pr.binary(bin, s->name) &&
             set_once(pr, p.correlation_data, std::string(bin.begin(), bin.end()), *s);
        break;
      case 0x0B:
        ok = pr.varint(u32, s->name);
        if (ok && u32 == 0) ok = pr.fail(protocol_error("subscription identifier 0"));
        if (ok && ctx == PropertyContext::subscribe && !p.subscription_identifiers.empty()) {
          ok = pr.fail(protocol_error("property 'subscription identifier' appears twice"));
        }
        if (ok) p.subscription_identifiers.push_back(u32);
        break;
      case 0x11: ok = pr.u32(u32, s->name) && set_once(pr, p.session_expiry_interval, u32, *s); break;
      case 0x12:
        ok = pr.string(str, s->name) && set_once(pr, p.assigned_client_identifier, std::string(str), *s);
        break;
      case 0x13: ok = pr.u16(u16, s->name) && set_once(pr, p.server_keep_alive, u16, *s); break;
      case 0x15:
        ok = pr.string(str, s->name) && set_once(pr, p.authentication_method, std::string(str), *s);
        break;
      case 0x16:
        ok = pr.binary(bin, s->name) &&
             set_once(pr, p.authentication_data, std::string(bin.begin(), bin.end()), *s);
        break;
      case 0x17:
        ok = pr.u8(b, s->name) && check_flag(pr, b, *s) && set_once(pr, p.request_problem_information, b, *s);
        break;
      case 0x18: ok = pr.u32(u32, s->name) && set_once(pr, p.will_delay_interval, u32, *s); break;
      case 0x19:
        ok = pr.u8(b, s->name) && check_flag(pr, b, *s) && set_once(pr, p.request_response_information, b, *s);
        break;
      case 0x1A:
        ok = pr.string(str, s->name) && set_once(pr, p.response_information, std::string(str), *s);
        break;
      case 0x1C: ok = pr.string(str, s->name) && set_once(pr, p.server_reference, std::string(str), *s); break;
      case 0x1F: ok = pr.string(str, s->name) && set_once(pr, p.reason_string, std::string(str), *s); break;
      case 0x21:
        ok = pr.u16(u16, s->name);
        if (ok && u16 == 0) ok = pr.fail(protocol_error("receive maximum 0"));
        ok = ok && set_once(pr, p.receive_maximum, u16, *s);
        break;
      case 0x22: ok = pr.u16(u16, s->name) && set_once(pr, p.topic_alias_maximum, u16, *s); break;
      case 0x23:
        ok = pr.u16(u16, s->name);
        // [MQTT-3.3.2-8] alias 0 is not permitted: topic alias invalid, not a plain protocol error.
        if (ok && u16 == 0) ok = pr.fail(CodecError{ReasonCode::topic_alias_invalid, "topic alias 0"});
        ok = ok && set_once(pr, p.topic_alias, u16, *s);
        break;
      case 0x24:
        ok = pr.u8(b, s->name) && check_flag(pr, b, *s) && set_once(pr, p.maximum_qos, b, *s);
        break;
      case 0x25:
        ok = pr.u8(b, s->name) && check_flag(pr, b, *s) && set_once(pr, p.retain_available, b, *s);
        break;
      case 0x26: {
        std::string_view k, v;
        ok = pr.string(k, "user property name") && pr.string(v, "user property value");
        if (ok) p.user_properties.emplace_back(std::string(k), std::string(v));
        break;
      }
      case 0x27:
        ok = pr.u32(u32, s->name);
        if (ok && u32 == 0) ok = pr.fail(protocol_error("maximum packet size 0"));
        ok = ok && set_once(pr, p.maximum_packet_size, u32, *s);
        break;
      case 0x28:
        ok = pr.u8(b, s->name) && check_flag(pr, b, *s) && set_once(pr, p.wildcard_subscription_available, b, *s);
        break;
      case 0x29:
        ok = pr.u8(b, s->name) && check_flag(pr, b, *s) &&
             set_once(pr, p.subscription_identifiers_available, b, *s);
        break;
      case 0x2A:
        ok = pr.u8(b, s->name) && check_flag(pr, b, *s) && set_once(pr, p.shared_subscription_available, b, *s);
        break;
      default: break;
    }
    if (!ok) break;
  }
  if (pr.failed()) return r.fail(pr.error());
  // 5.0 (CONNECT, CONNACK, AUTH): authentication data without a method is a protocol error.
  if (p.authentication_data && !p.authentication_method) {
    return r.fail(protocol_error("authentication data without an authentication method"));
  }
  return true;
}

namespace {

struct VarInt {
  std::uint32_t value;
};

// Visits every present property as (id, value) in identifier order, so sizing and
// writing cannot disagree.
template <class F>
void each(const Properties& p, F&& f) {
  if (p.payload_format_indicator) f(0x01, *p.payload_format_indicator);
  if (p.message_expiry_interval) f(0x02, *p.message_expiry_interval);
  if (p.content_type) f(0x03, std::string_view(*p.content_type));
  if (p.response_topic) f(0x08, std::string_view(*p.response_topic));
  if (p.correlation_data) f(0x09, std::string_view(*p.correlation_data));
  for (auto id : p.subscription_identifiers) f(0x0B, VarInt{id});
  if (p.session_expiry_interval) f(0x11, *p.session_expiry_interval);
  if (p.assigned_client_identifier) f(0x12, std::string_view(*p.assigned_client_identifier));
  if (p.server_keep_alive) f(0x13, *p.server_keep_alive);
  if (p.authentication_method) f(0x15, std::string_view(*p.authentication_method));
  if (p.authentication_data) f(0x16, std::string_view(*p.authentication_data));
  if (p.request_problem_information) f(0x17, *p.request_problem_information);
  if (p.will_delay_interval) f(0x18, *p.will_delay_interval);
  if (p.request_response_information) f(0x19, *p.request_response_information);
  if (p.response_information) f(0x1A, std::string_view(*p.response_information));
  if (p.server_reference) f(0x1C, std::string_view(*p.server_reference));
  if (p.reason_string) f(0x1F, std::string_view(*p.reason_string));
  if (p.receive_maximum) f(0x21, *p.receive_maximum);
  if (p.topic_alias_maximum) f(0x22, *p.topic_alias_maximum);
  if (p.topic_alias) f(0x23, *p.topic_alias);
  if (p.maximum_qos) f(0x24, *p.maximum_qos);
  if (p.retain_available) f(0x25, *p.retain_available);
  for (const auto& kv : p.user_properties) f(0x26, kv);
  for (const auto& kv : p.user_property_views) f(0x26, kv);
  if (p.maximum_packet_size) f(0x27, *p.maximum_packet_size);
  if (p.wildcard_subscription_available) f(0x28, *p.wildcard_subscription_available);
  if (p.subscription_identifiers_available) f(0x29, *p.subscription_identifiers_available);
  if (p.shared_subscription_available) f(0x2A, *p.shared_subscription_available);
}

}  // namespace

std::size_t properties_size(const Properties& p) {
  std::size_t n = 0;
  each(p, [&](std::uint8_t, const auto& v) {
    using T = std::decay_t<decltype(v)>;
    n += 1;
    if constexpr (std::is_same_v<T, std::uint8_t>) n += 1;
    else if constexpr (std::is_same_v<T, std::uint16_t>) n += 2;
    else if constexpr (std::is_same_v<T, std::uint32_t>) n += 4;
    else if constexpr (std::is_same_v<T, VarInt>) n += varint_size(v.value);
    else if constexpr (std::is_same_v<T, std::string_view>) n += 2 + v.size();
    else n += 4 + v.first.size() + v.second.size();
  });
  return n;
}

void write_properties(Bytes& out, const Properties& p) {
  put_varint(out, static_cast<std::uint32_t>(properties_size(p)));
  each(p, [&](std::uint8_t id, const auto& v) {
    using T = std::decay_t<decltype(v)>;
    out.push_back(id);
    if constexpr (std::is_same_v<T, std::uint8_t>) put_u8(out, v);
    else if constexpr (std::is_same_v<T, std::uint16_t>) put_u16(out, v);
    else if constexpr (std::is_same_v<T, std::uint32_t>) put_u32(out, v);
    else if constexpr (std::is_same_v<T, VarInt>) put_varint(out, v.value);
    else if constexpr (std::is_same_v<T, std::string_view>) put_string(out, v);
    else {
      put_string(out, v.first);
      put_string(out, v.second);
    }
  });
}

}  // namespace outpost::mqtt
