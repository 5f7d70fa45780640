#include "core/persist.hpp"

#include <cstring>
#include <thread>

namespace outpost::core {
namespace {

enum Tag : std::uint8_t {
  payload_format = 1,
  content_type = 2,
  content_encoding = 3,
  response_topic = 4,
  correlation_data = 5,
  message_id = 6,
  type = 7,
  app_id = 8,
  user_id = 9,
  timestamp = 10,
  priority = 11,
  user_property = 12,
  amqp_exchange = 13,
  amqp_key_verbatim = 14,
  amqp_headers = 15,
  amqp_expiration = 16,
  amqp_cluster_id = 17,
  amqp_delivery_mode = 18,
};

void put_field(std::string& out, Tag tag, std::string_view value) {
  out.push_back(static_cast<char>(tag));
  const auto n = static_cast<std::uint32_t>(value.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  out.append(value);
}

void put_if(std::string& out, Tag tag, const std::string& value) {
  if (!value.empty()) put_field(out, tag, value);
}

std::string bytes_of(std::uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return s;
}

std::uint64_t number_of(std::string_view s) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < s.size() && i < 8; ++i) v |= std::uint64_t{static_cast<std::uint8_t>(s[i])} << (8 * i);
  return v;
}

}  // namespace

std::string encode_properties(const MessageProperties* p) {
  std::string out;
  if (p == nullptr) return out;
  if (p->payload_format) put_field(out, payload_format, bytes_of(*p->payload_format, 1));
  put_if(out, content_type, p->content_type);
  put_if(out, content_encoding, p->content_encoding);
  put_if(out, response_topic, p->response_topic);
  put_if(out, correlation_data, p->correlation_data);
  put_if(out, message_id, p->message_id);
  put_if(out, type, p->type);
  put_if(out, app_id, p->app_id);
  put_if(out, user_id, p->user_id);
  if (p->timestamp) put_field(out, timestamp, bytes_of(*p->timestamp, 8));
  if (p->priority) put_field(out, priority, bytes_of(*p->priority, 1));
  if (p->amqp_exchange) put_field(out, amqp_exchange, *p->amqp_exchange);
  if (p->amqp_key_verbatim) put_field(out, amqp_key_verbatim, bytes_of(1, 1));
  put_if(out, amqp_headers, p->amqp_headers);
  put_if(out, amqp_expiration, p->amqp_expiration);
  put_if(out, amqp_cluster_id, p->amqp_cluster_id);
  if (p->amqp_delivery_mode) put_field(out, amqp_delivery_mode, bytes_of(*p->amqp_delivery_mode, 1));
  for (const auto& up : p->user_properties) {
    // Key and value as two length-prefixed strings inside one field.
    std::string kv = bytes_of(up.key.size(), 4) + up.key + bytes_of(up.value.size(), 4) + up.value;
    put_field(out, user_property, kv);
  }
  return out;
}

std::optional<MessageProperties> decode_properties(std::string_view blob) {
  MessageProperties p;
  std::size_t i = 0;
  auto take = [&](std::string_view from, std::size_t& at, std::string_view& value) {
    if (from.size() - at < 4) return false;
    const auto n = static_cast<std::size_t>(number_of(from.substr(at, 4)));
    at += 4;
    if (from.size() - at < n) return false;
    value = from.substr(at, n);
    at += n;
    return true;
  };
  while (i < blob.size()) {
    const auto tag = static_cast<std::uint8_t>(blob[i++]);
    std::string_view v;
    if (!take(blob, i, v)) return std::nullopt;
    switch (tag) {
      case payload_format: p.payload_format = static_cast<std::uint8_t>(number_of(v)); break;
      case content_type: p.content_type = v; break;
      case content_encoding: p.content_encoding = v; break;
      case response_topic: p.response_topic = v; break;
      case correlation_data: p.correlation_data = v; break;
      case message_id: p.message_id = v; break;
      case type: p.type = v; break;
      case app_id: p.app_id = v; break;
      case user_id: p.user_id = v; break;
      case timestamp: p.timestamp = number_of(v); break;
      case priority: p.priority = static_cast<std::uint8_t>(number_of(v)); break;
      case user_property: {
        std::size_t j = 0;
        std::string_view key, value;
        if (!take(v, j, key) || !take(v, j, value)) return std::nullopt;
        p.user_properties.push_back(UserProperty{std::string(key), std::string(value)});
        break;
      }
      case amqp_exchange: p.amqp_exchange = std::string(v); break;
      case amqp_key_verbatim: p.amqp_key_verbatim = number_of(v) != 0; break;
      case amqp_headers: p.amqp_headers = v; break;
      case amqp_expiration: p.amqp_expiration = v; break;
      case amqp_cluster_id: p.amqp_cluster_id = v; break;
      case amqp_delivery_mode: p.amqp_delivery_mode = static_cast<std::uint8_t>(number_of(v)); break;
      default: return std::nullopt;  // written by a newer version
    }
  }
  return p;
}

store::MessageWrite to_store(const MessagePtr& message, std::uint64_t id) {
  store::MessageWrite w;
  w.id = id;
  w.topic = message->topic();
  w.payload = message->payload();
  w.qos = message->qos();
  w.retain = message->retain();
  w.expiry_unix_ms = message->expiry_unix_ms();
  w.properties = encode_properties(message->properties());
  w.keep_alive = message;
  return w;
}

std::uint64_t ensure_stored(const MessagePtr& message, store::Store& store) {
  if (auto id = message->store_id(); id != 0 && !message->storing()) return id;
  const auto fresh = store.next_message_id();
  if (message->claim_store_id(fresh)) {
    store.put_message(to_store(message, fresh));
    message->assign_store_id(fresh);
    return fresh;
  }
  // Another thread is queueing the write right now: a few instructions away.
  while (message->storing()) std::this_thread::yield();
  return message->store_id();
}

MessagePtr from_store(store::StoredMessage&& s) {
  Message::Init init;
  if (!s.properties.empty()) {
    auto p = decode_properties(s.properties);
    if (!p) return nullptr;
    init.properties = std::make_shared<const MessageProperties>(std::move(*p));
  }
  init.topic = std::move(s.topic);
  init.payload = s.payload;
  init.qos = s.qos;
  init.retain = s.retain;
  init.expiry_unix_ms = s.expiry_unix_ms;
  auto m = Message::make(std::move(init));
  m->assign_store_id(s.id);
  return m;
}

}  // namespace outpost::core
