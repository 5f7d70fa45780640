#include "bridge.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <mqtt/async_client.h>

#include "backoff.hpp"

namespace outpost::bridge {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kDefaultWindow5 = 1000;   // cap of the remote's Receive Maximum (default 65535)
constexpr uint32_t kDefaultWindow311 = 100;  // 3.1.1 has no Receive Maximum

std::string_view view(outpost_str s) { return {s.data ? s.data : "", s.len}; }
outpost_str str(std::string_view s) { return {s.data(), s.size()}; }

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex(int v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(v) & 0xFFu);
  return buf;
}

// CONNACK refusals: 3.1.1 return codes 1-5, MQTT 5 reason codes from 0x80. Paho's own
// failures (network, TLS, timeouts) are negative.
bool is_refusal(int rc, int reason) { return (rc > 0 && rc < 0x80) || reason >= 0x80 || rc >= 0x80; }

std::string refusal_text(int code, bool v5) {
  if (!v5) {
    switch (code) {
      case 1: return "unacceptable protocol version";
      case 2: return "client identifier rejected";
      case 3: return "server unavailable";
      case 4: return "bad user name or password";
      case 5: return "not authorized";
    }
  }
  switch (code) {
    case 0x80: return "unspecified error";
    case 0x81: return "malformed packet";
    case 0x82: return "protocol error";
    case 0x84: return "unsupported protocol version";
    case 0x85: return "client identifier not valid";
    case 0x86: return "bad user name or password";
    case 0x87: return "not authorized";
    case 0x88: return "server unavailable";
    case 0x89: return "server busy";
    case 0x8A: return "banned";
    case 0x8C: return "bad authentication method";
    case 0x97: return "quota exceeded";
    case 0x9C: return "use another server";
    case 0x9D: return "server moved";
  }
  return "reason " + hex(code);
}

}  // namespace

// One connection (attempt) to the remote: a fresh async_client with no persistence, so
// that after a loss only the outbox's own redeliveries are sent again, never Paho's copies.
struct Bridge::Link final : mqtt::iaction_listener {
  explicit Link(Bridge *b) : bridge(b) {}
  ~Link() override { client.reset(); }

  void on_success(const mqtt::token &tok) override {
    bridge->published(*this, reinterpret_cast<uintptr_t>(tok.get_user_context()), true, 0);
  }
  void on_failure(const mqtt::token &tok) override {
    bridge->published(*this, reinterpret_cast<uintptr_t>(tok.get_user_context()), false,
                      static_cast<int>(tok.get_reason_code()));
  }

  Bridge *bridge;
  std::unique_ptr<mqtt::async_client> client;
  std::atomic<bool> up{false};    // deliveries may be published on it
  std::atomic<bool> lost{false};  // Paho reported the connection gone (or we gave it up)
  std::atomic<int64_t> outstanding{0};    // published and not yet completed by Paho
  std::atomic<int64_t> last_progress{0};  // steady-clock ms of the last completion (or first publish)
  std::mutex ssl_mutex;    // guards cause
  std::string cause;       // why the connection ended, as Paho or the remote said
};

Bridge::Bridge(const outpost_api *api, outpost_plugin *self, std::string name, Config config)
    : api_(api), self_(self), name_(std::move(name)), config_(std::move(config)), map_(config_.topics) {}

Bridge::~Bridge() { stop(); }

void Bridge::log(outpost_log_level level, const std::string &text) const { api_->log(self_, level, text.c_str()); }

outpost_result Bridge::open() {
  forwarded_counter_ = api_->counter(self_, "bridge_forwarded_total", "messages the remote acknowledged", OUTPOST_COUNTER);
  received_counter_ = api_->counter(self_, "bridge_received_total", "messages from the remote published locally", OUTPOST_COUNTER);
  dropped_counter_ = api_->counter(self_, "bridge_refused_by_remote_total", "outbound messages the remote refused (dropped)", OUTPOST_COUNTER);
  connects_counter_ = api_->counter(self_, "bridge_connects_total", "connections made to the remote", OUTPOST_COUNTER);
  connected_gauge_ = api_->counter(self_, "bridge_connected", "1 while connected to the remote", OUTPOST_GAUGE);
  queued_gauge_ = api_->counter(self_, "bridge_queued", "messages in the outbox", OUTPOST_GAUGE);

  if (map_.has_outbound()) {
    std::vector<std::string> filters;
    for (const auto &rule : map_.rules())
      if (rule.outbound()) filters.push_back(rule.local_filter());
    std::vector<outpost_subscription> subs;
    size_t i = 0;
    for (const auto &rule : map_.rules())
      if (rule.outbound()) {
        outpost_subscription sub{};
        sub.filter = str(filters[i++]);
        sub.qos = rule.qos;
        // What the bridge publishes locally came from the remote: it never goes back out.
        sub.no_local = 1;
        subs.push_back(sub);
      }
    outpost_queue_options options{};
    options.size = sizeof options;
    options.name = "out";
    options.subscriptions = subs.data();
    options.subscription_count = subs.size();
    options.max_bytes = config_.queue_max_bytes;
    options.max_messages = config_.queue_max_messages;
    options.overflow = config_.on_full;
    options.window = 0;  // paused until the remote is connected
    options.on_delivery = [](void *userdata, outpost_queue *queue, const outpost_delivery *delivery) {
      static_cast<Bridge *>(userdata)->on_delivery(queue, delivery);
    };
    options.userdata = this;
    if (api_->queue_open(self_, &options, &queue_) != OUTPOST_OK || !queue_) {
      api_->set_error(self_, nullptr, "the outbox queue could not be opened");
      return OUTPOST_ERROR;
    }
  }

  outpost_callbacks callbacks{};
  callbacks.size = sizeof callbacks;
  callbacks.tick = [](void *state, int64_t now) { static_cast<Bridge *>(state)->on_tick(now); };
  if (api_->set_callbacks(self_, &callbacks) != OUTPOST_OK) {
    api_->set_error(self_, nullptr, "the bridge's callbacks could not be registered");
    return OUTPOST_ERROR;
  }
  set_state(false);
  return OUTPOST_OK;
}

void Bridge::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_ = true;
  }
  cv_.notify_all();
  if (connector_.joinable()) connector_.join();
}

void Bridge::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  cv_.notify_all();
}

// ---------------------------------------------------------------- status

void Bridge::set_state(bool connected) {
  const std::string state = connected ? "connected" : "disconnected";
  {
    std::lock_guard lock(mutex_);
    if (state == state_) return;
    state_ = state;
  }
  api_->publish_sys(self_, str("bridge/" + name_ + "/state"), str(state));
  if (connected_gauge_) api_->counter_set(connected_gauge_, connected ? 1 : 0);
}

void Bridge::set_error(const std::string &error) {
  {
    std::lock_guard lock(mutex_);
    if (error == last_error_) return;  // logged once per change, not per attempt
    last_error_ = error;
  }
  log(OUTPOST_LOG_WARN, error);
  api_->publish_sys(self_, str("bridge/" + name_ + "/last_error"), str(error));
}

void Bridge::publish_status(bool force) {
  uint64_t queued = 0, dropped = refused_by_remote_.load(), in_flight = 0;
  if (queue_) {
    outpost_queue_stats stats{};
    stats.size = sizeof stats;
    api_->queue_stats(queue_, &stats);
    queued = stats.messages;
    in_flight = stats.in_flight;
    if (OUTPOST_HAS_FIELD(&stats, outpost_queue_stats, dropped)) dropped += stats.dropped;
  }
  const uint64_t forwarded = forwarded_.load();
  if (queued_gauge_) api_->counter_set(queued_gauge_, static_cast<int64_t>(queued));
  const auto base = "bridge/" + name_ + "/";
  auto show = [&](uint64_t value, uint64_t &shown, const char *topic) {
    if (!force && value == shown) return;
    shown = value;
    const auto text = std::to_string(value);
    api_->publish_sys(self_, str(base + topic), str(text));
  };
  show(queued, shown_queued_, "queued");
  show(forwarded, shown_forwarded_, "forwarded");
  show(dropped, shown_dropped_, "dropped");
  show(in_flight, shown_in_flight_, "in_flight");
}

void Bridge::on_tick(int64_t) {
  if (!started_) {
    // The connector starts once the broker runs (ticks come from the running broker), so
    // inbound messages never meet a broker that is still starting.
    started_ = true;
    connector_ = std::thread([this] { run(); });
    publish_status(true);
    return;
  }
  publish_status(false);
  // A connection on which messages are outstanding and nothing completes for this long is
  // given up: a new one sends them again, so the outbox never stalls behind a lost ack.
  std::shared_ptr<Link> link;
  {
    std::lock_guard lock(mutex_);
    link = current_;
  }
  const int64_t stall_ms = std::max<int64_t>(30'000, 2 * int64_t(config_.keepalive.count()) * 1000);
  if (link && link->up && link->outstanding > 0 && steady_ms() - link->last_progress > stall_ms) {
    {
      std::lock_guard lock(link->ssl_mutex);
      link->cause = "no acknowledgement from the remote for " + std::to_string(stall_ms / 1000) + "s with " +
                    std::to_string(link->outstanding.load()) + " message(s) outstanding: reconnecting";
    }
    link->lost = true;
    wake();
  }
}

// ---------------------------------------------------------------- outbound

void Bridge::on_delivery(outpost_queue *queue, const outpost_delivery *delivery) {
  std::shared_ptr<Link> link;
  {
    std::lock_guard lock(mutex_);
    link = current_;
  }
  // Not connected: left unacknowledged; queue_recover at the next connection hands it over again.
  if (!link || !link->up) return;
  const outpost_message &m = *delivery->message;
  const auto topic = view(m.topic);
  const bool has_props = OUTPOST_HAS_FIELD(&m, outpost_message, user_property_count);
  const auto mapped = map_.to_remote(topic);
  if (!mapped) {
    api_->queue_ack(queue, delivery->id);
    return;
  }
  if (mapped->topic.empty()) {
    // An AMQP publish with an empty routing key, under a mapping without a remote prefix:
    // no MQTT topic to send it on. Offering it again could never succeed.
    api_->queue_ack(queue, delivery->id);
    if (dropped_counter_) api_->counter_add(dropped_counter_, 1);
    log(OUTPOST_LOG_WARN, "a message with an empty topic (an AMQP routing key '') cannot be forwarded; dropped");
    return;
  }
  const bool v5 = config_.protocol_version == 5;
  mqtt::properties props;
  if (v5 && has_props) {
    if (m.payload_format >= 0) props.add({mqtt::property::PAYLOAD_FORMAT_INDICATOR, m.payload_format});
    if (m.expiry_unix_ms > 0) {
      const int64_t left = m.expiry_unix_ms - now_ms();
      if (left <= 0) {  // expired in the outbox: as a broker would, it is not delivered
        api_->queue_ack(queue, delivery->id);
        return;
      }
      props.add({mqtt::property::MESSAGE_EXPIRY_INTERVAL, static_cast<int32_t>(std::max<int64_t>(1, (left + 999) / 1000))});
    }
    if (m.content_type.len) props.add({mqtt::property::CONTENT_TYPE, std::string(view(m.content_type))});
    if (m.response_topic.len) props.add({mqtt::property::RESPONSE_TOPIC, std::string(view(m.response_topic))});
    if (m.correlation_data.len)
      props.add({mqtt::property::CORRELATION_DATA, std::string(view(m.correlation_data))});
    for (size_t i = 0; i < m.user_property_count; ++i) {
      const auto &p = m.user_properties[i];
      props.add({mqtt::property::USER_PROPERTY, std::string(view(p.key)), std::string(view(p.value))});
    }
  }
  const int qos = std::min<int>(m.qos, mapped->qos);
  auto msg = mqtt::message::create(mapped->topic, m.payload.data, m.payload.len, qos, m.retain != 0, props);
  if (!v5 && map_.is_inbound_remote(mapped->topic)) echoes_.sent(mapped->topic, view(m.payload));
  try {
    if (link->outstanding.fetch_add(1) == 0) link->last_progress = steady_ms();
    link->client->publish(msg, reinterpret_cast<void *>(static_cast<uintptr_t>(delivery->id)), *link);
  } catch (const mqtt::exception &e) {
    // Paho would not take it (the connection is going down): start over on a new one,
    // where queue_recover hands this delivery over again, in order.
    {
      std::lock_guard lock(link->ssl_mutex);
      if (link->cause.empty()) link->cause = std::string("Paho did not take a message: ") + e.what() + ": reconnecting";
    }
    link->lost = true;
    wake();
  }
}

void Bridge::published(Link &link, uint64_t id, bool ok, int reason) {
  link.outstanding--;
  link.last_progress = steady_ms();
  if (!link.up) return;  // that connection ended: the outbox hands the message over again
  if (ok) {
    api_->queue_ack(queue_, id);
    forwarded_++;
    if (forwarded_counter_) api_->counter_add(forwarded_counter_, 1);
    return;
  }
  if (reason >= 0x80 && reason != 0x97 && reason != 0x89 && reason != 0x88) {
    // The remote refused this message (not authorized, topic invalid, ...): sending it
    // again cannot help, so it leaves the outbox, counted as dropped.
    api_->queue_ack(queue_, id);
    refused_by_remote_++;
    if (dropped_counter_) api_->counter_add(dropped_counter_, 1);
    set_error("the remote refused a message: " + refusal_text(reason, true));
    return;
  }
  // Quota exceeded, busy, or the connection failed: a new connection sends it again.
  if (reason >= 0x80) {
    std::lock_guard lock(link.ssl_mutex);
    if (link.cause.empty()) link.cause = "the remote answered a message with " + refusal_text(reason, true) + ": reconnecting to send it again";
  }
  link.lost = true;
  wake();
}

// ---------------------------------------------------------------- inbound

void Bridge::inbound_done(void *userdata, outpost_result result) {
  auto *self = static_cast<Bridge *>(userdata);
  // OK: routed and stored as needed; DEFER: no local subscriber, nothing to keep.
  if (result == OUTPOST_OK || result == OUTPOST_DEFER) {
    self->inbound_refusal_ = OUTPOST_OK;
    return;
  }
  self->refused_locally_++;
  // Logged when the kind of refusal changes, not once per message.
  if (self->inbound_refusal_.exchange(result) == result) return;
  self->log(OUTPOST_LOG_WARN, result == OUTPOST_DENY   ? "messages from the remote are refused locally: the bridge's user may not publish them (ACL)"
                              : result == OUTPOST_FULL ? "messages from the remote are refused locally: the store or a target queue is full"
                                                       : "messages from the remote could not be published locally");
}

void Bridge::arrived(Link &, const void *p) {
  const auto &msg = *static_cast<const mqtt::const_message_ptr *>(p);
  const std::string &rtopic = msg->get_topic();
  const auto &payload = msg->get_payload_ref();
  const std::string_view body(payload.data(), payload.size());
  if (config_.protocol_version != 5 && echoes_.is_echo(rtopic, body)) {
    echoes_dropped_++;
    return;
  }
  const auto mapped = map_.to_local(rtopic);
  if (!mapped) return;

  std::vector<outpost_user_property> users;
  std::vector<std::string> keep;  // storage for the strings the outpost_message points at
  outpost_message om{};
  om.size = sizeof om;
  om.topic = str(mapped->topic);
  om.payload = str(body);
  om.qos = static_cast<uint8_t>(std::min<int>(msg->get_qos(), mapped->qos));
  om.retain = msg->is_retained() ? 1 : 0;
  om.payload_format = -1;
  const auto &props = msg->get_properties().c_struct();
  keep.reserve(static_cast<size_t>(props.count) * 2 + 2);
  for (int i = 0; i < props.count; ++i) {
    const MQTTProperty &prop = props.array[i];
    const std::string_view data(prop.value.data.data ? prop.value.data.data : "", prop.value.data.len);
    switch (prop.identifier) {
      case MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR: om.payload_format = prop.value.byte; break;
      case MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL: om.expiry_unix_ms = now_ms() + int64_t(prop.value.integer4) * 1000; break;
      case MQTTPROPERTY_CODE_CONTENT_TYPE: om.content_type = str(keep.emplace_back(data)); break;
      case MQTTPROPERTY_CODE_RESPONSE_TOPIC: om.response_topic = str(keep.emplace_back(data)); break;
      case MQTTPROPERTY_CODE_CORRELATION_DATA: om.correlation_data = str(keep.emplace_back(data)); break;
      case MQTTPROPERTY_CODE_USER_PROPERTY: {
        const std::string_view value(prop.value.value.data ? prop.value.value.data : "", prop.value.value.len);
        users.push_back({str(keep.emplace_back(data)), str(keep.emplace_back(value))});
        break;
      }
      default: break;
    }
  }
  om.user_properties = users.empty() ? nullptr : users.data();
  om.user_property_count = users.size();
  received_++;
  if (received_counter_) api_->counter_add(received_counter_, 1);
  const auto result = api_->publish(self_, &om, inbound_done, this);
  if (result != OUTPOST_OK && result != OUTPOST_PENDING)
    log(OUTPOST_LOG_WARN, "a message from the remote on '" + rtopic + "' was not published locally (result " +
                              std::to_string(static_cast<int>(result)) + ")");
}

// ---------------------------------------------------------------- connections

std::shared_ptr<Bridge::Link> Bridge::make_link() {
  auto link = std::make_shared<Link>(this);
  const bool v5 = config_.protocol_version == 5;
  // Paho refuses a publish (MQTTASYNC_MAX_BUFFERED_MESSAGES) when more than
  // maxBufferedMessages wait in its command queue (default 100), even while connected; the
  // window bounds what the bridge hands it, so room for the whole window avoids that.
  const int window_cap = static_cast<int>(config_.max_inflight ? config_.max_inflight : (v5 ? kDefaultWindow5 : kDefaultWindow311));
  mqtt::create_options create(v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1, window_cap + 64);
  link->client = std::make_unique<mqtt::async_client>(config_.remote.paho_uri(), config_.client_id, create, nullptr);
  Link *raw = link.get();
  link->client->set_connection_lost_handler([this, raw](const std::string &cause) {
    {
      std::lock_guard lock(raw->ssl_mutex);
      if (raw->cause.empty()) raw->cause = "the connection to the remote was lost" + (cause.empty() ? "" : ": " + cause);
    }
    raw->lost = true;
    wake();
  });
  link->client->set_disconnected_handler([this, raw](const mqtt::properties &, mqtt::ReasonCode reason) {
    {
      std::lock_guard lock(raw->ssl_mutex);
      raw->cause = "the remote disconnected the bridge: " + refusal_text(static_cast<int>(reason), true);
    }
    raw->lost = true;
    wake();
  });
  link->client->set_message_callback([this, raw](mqtt::const_message_ptr msg) { arrived(*raw, &msg); });
  return link;
}

bool Bridge::connect(Link &link, std::string &error, bool &refused, uint32_t &window) {
  const bool v5 = config_.protocol_version == 5;
  mqtt::connect_options opts;
  opts.set_mqtt_version(v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
  if (v5) {
    opts.set_clean_session(false);
    opts.set_clean_start(config_.clean_start);
    mqtt::properties props;
    // A persistent session outlives the connection ("never expires", as in 3.1.1).
    props.add({mqtt::property::SESSION_EXPIRY_INTERVAL, config_.clean_start ? 0 : static_cast<int32_t>(0xFFFFFFFF)});
    opts.set_properties(props);
  } else {
    opts.set_clean_start(false);
    opts.set_clean_session(config_.clean_start);
  }
  opts.set_keep_alive_interval(static_cast<int>(config_.keepalive.count()));
  opts.set_connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(config_.connect_timeout));
  opts.set_automatic_reconnect(false);
  const uint32_t cap = config_.max_inflight ? config_.max_inflight : (v5 ? kDefaultWindow5 : kDefaultWindow311);
  opts.set_max_inflight(static_cast<int>(cap));
  if (config_.username) opts.set_user_name(*config_.username);
  if (config_.password) opts.set_password(*config_.password);
  if (config_.tls.enabled) {
    mqtt::ssl_options ssl;
    if (!config_.tls.ca_file.empty()) ssl.set_trust_store(config_.tls.ca_file);
    if (!config_.tls.cert_file.empty()) ssl.set_key_store(config_.tls.cert_file);
    if (!config_.tls.key_file.empty()) ssl.set_private_key(config_.tls.key_file);
    if (!config_.tls.key_password.empty()) ssl.set_private_key_password(config_.tls.key_password);
    ssl.set_enable_server_cert_auth(!config_.tls.insecure);
    ssl.set_verify(!config_.tls.insecure);
    if (!config_.tls.alpn.empty()) ssl.set_alpn_protos(config_.tls.alpn);
    // No ssl.set_error_handler: Paho C++ 1.2 passes its C library the address of the
    // ssl_options copy inside the by-value connect_options argument of connect() as the
    // callback's context, which is gone when the handshake fails (AddressSanitizer:
    // stack-use-after-scope). The failure is reported without OpenSSL's reason.
    opts.set_ssl(ssl);
  }
  const auto where = config_.remote.scheme + "://" + config_.remote.host + ":" + std::to_string(config_.remote.port);
  try {
    auto tok = link.client->connect(opts);
    // Waited in slices so that a broker shutting down is not held up by an attempt.
    const auto deadline = std::chrono::steady_clock::now() + config_.connect_timeout + 2s;
    while (!tok->wait_for(100ms)) {
      bool stopping;
      {
        std::lock_guard lock(mutex_);
        stopping = stopping_;
      }
      if (stopping || std::chrono::steady_clock::now() > deadline) {
        error = stopping ? "stopping" : "connecting to " + where + " timed out";
        return false;
      }
    }
    window = cap;
    if (v5) {
      const auto rsp = tok->get_connect_response();
      const auto &props = rsp.get_properties();
      uint32_t receive_max = 65535;
      if (props.contains(mqtt::property::RECEIVE_MAXIMUM))
        receive_max = mqtt::get<uint16_t>(props, mqtt::property::RECEIVE_MAXIMUM);
      window = std::min(cap, receive_max);
    }
    return true;
  } catch (const mqtt::exception &e) {
    const int rc = e.get_return_code(), reason = e.get_reason_code();
    refused = is_refusal(rc, reason);
    if (refused) {
      error = where + " refused the connection: " + refusal_text(reason >= 0x80 ? reason : rc, v5 && reason >= 0x80);
    } else {
      error = "cannot connect to " + where + ": " + e.what();
      if (config_.tls.enabled && e.get_return_code() == MQTTASYNC_FAILURE)
        error += " (TLS: the handshake failed or the remote is unreachable; check ca_file, cert_file and key_file)";
    }
    return false;
  }
}

void Bridge::subscribe(Link &link) {
  const bool v5 = config_.protocol_version == 5;
  for (const auto &rule : map_.rules()) {
    if (!rule.inbound()) continue;
    const auto filter = rule.remote_filter();
    try {
      // No Local [MQTT-3.8.3-3]: the remote does not send back what the bridge published.
      auto tok = v5 ? link.client->subscribe(filter, rule.qos, mqtt::subscribe_options(mqtt::subscribe_options::SUBSCRIBE_NO_LOCAL))
                    : link.client->subscribe(filter, rule.qos);
      if (!tok->wait_for(config_.connect_timeout)) {
        set_error("subscribing to '" + filter + "' on the remote timed out");
        continue;
      }
      const auto rsp = tok->get_subscribe_response();
      for (auto code : rsp.get_reason_codes())
        if (static_cast<int>(code) >= 0x80)
          set_error("the remote refused the subscription '" + filter + "': " + refusal_text(static_cast<int>(code), v5));
    } catch (const mqtt::exception &e) {
      set_error("subscribing to '" + filter + "' on the remote failed: " + e.what());
    }
  }
}

void Bridge::run() {
  Backoff backoff(config_.min_delay, config_.max_delay);
  auto wait = [this](std::chrono::milliseconds delay, Link *link) {
    std::unique_lock lock(mutex_);
    const auto until = std::chrono::steady_clock::now() + delay;
    cv_.wait_until(lock, until, [&] { return stopping_ || (link && wake_ && link->lost); });
    wake_ = false;
    return !stopping_;
  };
  bool was_refused = false;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    std::shared_ptr<Link> link;
    std::string error;
    bool refused = false;
    uint32_t window = 0;
    try {
      link = make_link();
    } catch (const std::exception &e) {
      error = std::string("cannot create the MQTT client: ") + e.what();
    }
    if (link && connect(*link, error, refused, window)) {
      if (was_refused) log(OUTPOST_LOG_INFO, "the remote accepts the bridge again");
      was_refused = false;
      subscribe(*link);
      backoff.reset();
      if (queue_) api_->queue_recover(queue_);  // what a previous connection left unacknowledged, in order
      link->up = true;
      {
        std::lock_guard lock(mutex_);
        current_ = link;
      }
      if (queue_) api_->queue_set_window(queue_, window);
      if (connects_counter_) api_->counter_add(connects_counter_, 1);
      log(OUTPOST_LOG_INFO, "connected to " + config_.remote.host + ":" + std::to_string(config_.remote.port) +
                                " (MQTT " + (config_.protocol_version == 5 ? "5" : "3.1.1") + ", window " +
                                std::to_string(window) + ")");
      set_state(true);
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stopping_ || link->lost; });
        wake_ = false;
        current_.reset();
      }
      link->up = false;
      if (queue_) {
        api_->queue_set_window(queue_, 0);
        api_->queue_recover(queue_);
      }
      bool stopping;
      {
        std::lock_guard lock(mutex_);
        stopping = stopping_;
      }
      // Still connected when we gave the connection up ourselves (a message to send again
      // on a new one) or when the broker stops: end it properly.
      try {
        if (link->client->is_connected()) link->client->disconnect(stopping ? 1s : 0s)->wait_for(2s);
      } catch (const mqtt::exception &) {
      }
      if (stopping) return;
      {
        // The reason first: whoever sees "disconnected" finds why.
        std::string cause;
        {
          std::lock_guard lock(link->ssl_mutex);
          cause = link->cause;
        }
        set_error(cause.empty() ? "the connection to the remote was lost" : cause);
      }
      set_state(false);
      link.reset();
      wait(backoff.next_failure(), nullptr);
      continue;
    }
    link.reset();
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    set_error(error);
    if (refused && !was_refused)
      log(OUTPOST_LOG_WARN, "the remote refuses the bridge: trying again every " +
                                std::to_string(config_.max_delay.count() / 1000) + "s");
    was_refused = refused;
    if (!wait(refused ? backoff.next_refusal() : backoff.next_failure(), nullptr)) return;
  }
}

}  // namespace outpost::bridge
