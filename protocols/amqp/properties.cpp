#include "amqp/properties.hpp"

#include "core/topic.hpp"

#include <charconv>

namespace outpost::amqp {

namespace {

std::string as_text(const FieldValue& v) {
  if (v.type == 'S' || v.type == 'x') return v.s;
  return describe(v);
}

}  // namespace

bool to_core_properties(const ContentHeader& header, std::string exchange, bool key_verbatim, std::int64_t now_ms,
                        core::MessageProperties& out, std::int64_t& expiry_unix_ms) {
  const auto& p = header.properties;
  out.amqp_exchange = std::move(exchange);
  out.amqp_key_verbatim = key_verbatim;
  expiry_unix_ms = 0;
  if (p.has(prop::content_type)) out.content_type = p.content_type;
  if (p.has(prop::content_encoding)) out.content_encoding = p.content_encoding;
  if (p.has(prop::headers)) {
    out.amqp_headers.assign(reinterpret_cast<const char*>(header.headers_raw.data()), header.headers_raw.size());
    if (out.amqp_headers.empty()) out.amqp_headers.push_back('\0');  // present but empty: one marker byte
    for (const auto& e : p.headers) out.user_properties.push_back(core::UserProperty{e.name, as_text(e.value)});
  }
  if (p.has(prop::delivery_mode)) out.amqp_delivery_mode = p.delivery_mode;
  if (p.has(prop::priority)) out.priority = p.priority;
  if (p.has(prop::correlation_id)) out.correlation_data = p.correlation_id;
  // reply-to names a routing key on amq.topic (the MQTT exchange): kept in topic form so
  // that an MQTT responder publishes where the AMQP requester listens, and exactly back.
  if (p.has(prop::reply_to)) out.response_topic = core::amqp_key_to_topic(p.reply_to);
  if (p.has(prop::expiration)) {
    std::int64_t ms = 0;
    const auto* first = p.expiration.data();
    const auto* last = first + p.expiration.size();
    auto [end, ec] = std::from_chars(first, last, ms);
    if (ec != std::errc() || end != last || ms < 0) return false;
    out.amqp_expiration = p.expiration;
    expiry_unix_ms = now_ms + ms;
  }
  if (p.has(prop::message_id)) out.message_id = p.message_id;
  if (p.has(prop::timestamp)) out.timestamp = p.timestamp;
  if (p.has(prop::type)) out.type = p.type;
  if (p.has(prop::user_id)) out.user_id = p.user_id;
  if (p.has(prop::app_id)) out.app_id = p.app_id;
  if (p.has(prop::cluster_id)) out.amqp_cluster_id = p.cluster_id;
  return true;
}

BasicProperties to_amqp_properties(const core::Message& m, std::int64_t now_ms,
                                   std::span<const std::uint8_t>& headers_raw) {
  BasicProperties b;
  headers_raw = {};
  const core::MessageProperties* p = m.properties();
  if (p != nullptr && p->amqp_delivery_mode) {
    b.flags |= prop::delivery_mode;
    b.delivery_mode = *p->amqp_delivery_mode;
  } else if (m.qos() > 0) {
    b.flags |= prop::delivery_mode;
    b.delivery_mode = 2;
  }
  if (p == nullptr) {
    if (m.expiry_unix_ms() != 0) {
      b.flags |= prop::expiration;
      b.expiration = std::to_string(std::max<std::int64_t>(0, m.expiry_unix_ms() - now_ms));
    }
    return b;
  }
  if (!p->content_type.empty()) {
    b.flags |= prop::content_type;
    b.content_type = p->content_type;
  }
  if (!p->content_encoding.empty()) {
    b.flags |= prop::content_encoding;
    b.content_encoding = p->content_encoding;
  }
  if (!p->amqp_headers.empty()) {
    b.flags |= prop::headers;
    if (!(p->amqp_headers.size() == 1 && p->amqp_headers[0] == '\0')) {
      headers_raw = {reinterpret_cast<const std::uint8_t*>(p->amqp_headers.data()), p->amqp_headers.size()};
    }
  }
  // Short strings hold 255 bytes: longer MQTT correlation data and response topics travel
  // in headers instead of being cut.
  const bool long_correlation = p->correlation_data.size() > 255;
  const bool long_reply_to = p->response_topic.size() > 255;
  if (p->amqp_headers.empty() && !p->user_properties.empty()) {
    // MQTT user properties (a traceparent, say) are written as long strings straight into
    // a table body kept per thread: no string is copied per delivery.
    b.flags |= prop::headers;
    thread_local std::vector<std::uint8_t> table;
    table.clear();
    Writer w(table);
    for (const auto& up : p->user_properties) {
      w.shortstr(up.key);
      w.u8('S');
      w.longstr(up.value);
    }
    if (long_correlation) {
      w.shortstr("x-correlation-id");
      write_value(w, FieldValue::string(p->correlation_data, 'x'));
    }
    if (long_reply_to) {
      w.shortstr("x-reply-to");
      write_value(w, FieldValue::string(core::topic_to_amqp_key(p->response_topic)));
    }
    headers_raw = table;
  } else if ((long_correlation || long_reply_to) && headers_raw.empty()) {
    b.flags |= prop::headers;
    if (long_correlation) b.headers.push_back(FieldEntry{"x-correlation-id", FieldValue::string(p->correlation_data, 'x')});
    if (long_reply_to) b.headers.push_back(FieldEntry{"x-reply-to", FieldValue::string(core::topic_to_amqp_key(p->response_topic))});
  }
  if (p->priority) {
    b.flags |= prop::priority;
    b.priority = *p->priority;
  }
  if (!p->correlation_data.empty() && !long_correlation) {
    b.flags |= prop::correlation_id;
    b.correlation_id = p->correlation_data;
  }
  if (!p->response_topic.empty() && !long_reply_to) {
    b.flags |= prop::reply_to;
    b.reply_to = core::topic_to_amqp_key(p->response_topic);
  }
  if (!p->amqp_expiration.empty()) {
    b.flags |= prop::expiration;
    b.expiration = p->amqp_expiration;
  } else if (m.expiry_unix_ms() != 0) {
    b.flags |= prop::expiration;
    b.expiration = std::to_string(std::max<std::int64_t>(0, m.expiry_unix_ms() - now_ms));
  }
  if (!p->message_id.empty()) {
    b.flags |= prop::message_id;
    b.message_id = p->message_id;
  }
  if (p->timestamp) {
    b.flags |= prop::timestamp;
    b.timestamp = *p->timestamp;
  }
  if (!p->type.empty()) {
    b.flags |= prop::type;
    b.type = p->type;
  }
  if (!p->user_id.empty()) {
    b.flags |= prop::user_id;
    b.user_id = p->user_id;
  }
  if (!p->app_id.empty()) {
    b.flags |= prop::app_id;
    b.app_id = p->app_id;
  }
  if (!p->amqp_cluster_id.empty()) {
    b.flags |= prop::cluster_id;
    b.cluster_id = p->amqp_cluster_id;
  }
  return b;
}

std::string delivery_exchange(const core::Message& m) {
  const auto* p = m.properties();
  if (p != nullptr && p->amqp_exchange) return *p->amqp_exchange;
  return "amq.topic";  // every MQTT publish goes through the MQTT exchange
}

std::string delivery_routing_key(const core::Message& m) {
  const auto* p = m.properties();
  if (p != nullptr && p->amqp_key_verbatim) return m.topic();
  return core::topic_to_amqp_key(m.topic());
}

}  // namespace outpost::amqp
