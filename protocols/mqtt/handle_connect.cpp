// CONNECT, CONNACK, DISCONNECT, keepalive and the will: the life of a connection.
#include "core/topic.hpp"
#include "mqtt/mqtt_session.hpp"

#include <spdlog/spdlog.h>

#include <random>

namespace outpost::mqtt {

namespace {

const char* version_name(ProtocolVersion v) {
  switch (v) {
    case ProtocolVersion::v31: return "MQTT 3.1";
    case ProtocolVersion::v311: return "MQTT 3.1.1";
    case ProtocolVersion::v5: return "MQTT 5.0";
  }
  return "MQTT";
}

std::string assign_client_id() {
  static constexpr char hex[] = "0123456789abcdef";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id = "outpost-";
  std::uint64_t r = rng();
  for (int i = 0; i < 16; ++i) {
    id.push_back(hex[r & 0xF]);
    r >>= 4;
  }
  return id;
}

}  // namespace

bool MqttSession::handle_connect(std::span<const std::uint8_t> body) {
  auto decoded = decode_connect(body);
  if (!decoded) {
    const CodecError& err = decoded.error();
    if (err.reason == ReasonCode::unsupported_protocol_version) {
      // [MQTT-3.1.2-2]: answer with return code 0x01 and close. The 3.1.1 form of
      // CONNACK is what a client of an unknown level can be expected to read.
      version_ = ProtocolVersion::v311;
      refuse_connect(ReasonCode::unsupported_protocol_version, err.message);
    } else {
      version_ = decoded_version_hint(body);
      fail(err.reason, fmt::format("invalid CONNECT: {}", err.message));
    }
    return false;
  }
  ConnectPacket& c = *decoded;
  version_ = c.version;
  clean_start_ = c.clean_start;
  keepalive_ = c.keep_alive;
  client_id_ = std::string(c.client_id);
  const auto& s = ctx_->settings;

  if (client_id_.empty()) {
    // [MQTT-3.1.3-7/8]: 3.1.1 assigns an id only to a clean session; 5.0 always may.
    if (version_ == ProtocolVersion::v31 || (version_ == ProtocolVersion::v311 && !clean_start_)) {
      refuse_connect(ReasonCode::client_identifier_not_valid, "empty client id without clean session");
      return false;
    }
    client_id_ = assign_client_id();
    assigned_client_id_ = true;
  } else if (version_ == ProtocolVersion::v31 && client_id_.size() > 23) {
    refuse_connect(ReasonCode::client_identifier_not_valid, "MQTT 3.1 client ids are at most 23 characters");
    return false;
  }

  if (version_ != ProtocolVersion::v5 && keepalive_ > s.max_keepalive) {
    refuse_connect(ReasonCode::client_identifier_not_valid,
                   fmt::format("keepalive {}s above the limit of {}s", keepalive_, s.max_keepalive));
    return false;
  }
  if (keepalive_ < s.min_keepalive && (keepalive_ == 0 || version_ != ProtocolVersion::v5)) {
    refuse_connect(ReasonCode::client_identifier_not_valid,
                   fmt::format("keepalive {}s below the minimum of {}s", keepalive_, s.min_keepalive));
    return false;
  }
  if (version_ == ProtocolVersion::v5) {
    if (keepalive_ > s.max_keepalive || (keepalive_ < s.min_keepalive)) {
      keepalive_ = keepalive_ > s.max_keepalive ? s.max_keepalive : s.min_keepalive;
      server_keepalive_ = true;
    }
  }

  // A client certificate the TLS handshake verified, whose common name the listener takes
  // as the user name (tls.use_identity_as_username), authenticates the client: the user
  // name and password in CONNECT are not used then.
  const bool certified = !link_.peer_identity().empty();
  if (!certified && !c.username && !ctx_->allow_anonymous) {
    refuse_connect(ReasonCode::not_authorized, "anonymous access is not allowed on this listener");
    return false;
  }
  if (!certified && c.username && !ctx_->allow_anonymous) {
    // No authentication backend is configured yet: nobody can prove who they are.
    refuse_connect(ReasonCode::bad_user_name_or_password, "no authentication backend accepts this user");
    return false;
  }

  if (c.will) {
    const auto& w = *c.will;
    if (!core::valid_topic_name(w.topic)) {
      if (version_ == ProtocolVersion::v5) {
        refuse_connect(ReasonCode::topic_name_invalid, "will topic is not a valid topic name");
      } else {
        fail(ReasonCode::protocol_error, "will topic is not a valid topic name");
      }
      return false;
    }
    if (version_ == ProtocolVersion::v5 && w.qos > s.maximum_qos) {
      refuse_connect(ReasonCode::qos_not_supported, "will QoS above the server maximum");
      return false;
    }
    if (version_ == ProtocolVersion::v5 && w.retain && !s.retain_available) {
      refuse_connect(ReasonCode::retain_not_supported, "retained will but retain is not available");
      return false;
    }
    pending_will_ = std::make_unique<PendingWill>();
    pending_will_->init.topic = std::string(w.topic);
    pending_will_->payload.assign(w.payload.begin(), w.payload.end());  // the input buffer is transient
    pending_will_->init.qos = w.qos;
    pending_will_->init.retain = w.retain;
  }

  if (version_ == ProtocolVersion::v5) {
    session_expiry_ = std::min(c.properties.session_expiry_interval.value_or(0), s.max_session_expiry);
  }

  phase_ = Phase::awaiting_session;
  link_.set_deadline(std::chrono::steady_clock::time_point::max());
  // Nothing more is read until the session is ours: a takeover may first have to close
  // the previous holder on another thread.
  link_.pause_reading();
  auto& registry = ctx_->broker.sessions();
  registry.claim(client_id_, handle_, link_.executor(),
                 [w = std::weak_ptr<Handle>(handle_), &registry, id = client_id_, clean = clean_start_](
                     std::shared_ptr<core::Session> existing, bool superseded) {
                   auto h = w.lock();
                   if (h && h->session) {
                     h->session->on_session_claimed(std::move(existing), superseded);
                   } else if (h && !superseded) {
                     // The connection ended while the hand-over was under way: the id is
                     // ours in the registry, so give the session back (or end it).
                     if (existing && clean) {
                       existing->destroy();
                       existing.reset();
                     }
                     registry.release(id, h.get(), std::move(existing), std::nullopt);
                   }
                 });
  return false;
}

void MqttSession::on_session_claimed(std::shared_ptr<core::Session> existing, bool superseded) {
  if (closed_ || phase_ != Phase::awaiting_session) {
    // The registry already counts us as the holder: give the session straight back.
    if (existing && clean_start_) {
      existing->destroy();
      existing.reset();
    }
    ctx_->broker.sessions().release(client_id_, handle_.get(), std::move(existing), std::nullopt);
    return;
  }
  if (superseded) {
    spdlog::info("{}: a newer connection claimed the same client id first", describe());
    close("superseded by a newer connection");
    return;
  }
  auto& broker = ctx_->broker;
  auto resumed = std::dynamic_pointer_cast<SessionState>(existing);
  if (existing && (clean_start_ || !resumed)) {
    // [MQTT-3.1.2-6] clean session: the previous session is discarded.
    existing->destroy();
    resumed.reset();
  }
  const bool session_present = resumed != nullptr;
  if (resumed) {
    state_ = std::move(resumed);
  } else {
    state_ = std::make_shared<SessionState>(broker, client_id_, broker.next_origin());
  }
  if (keep_session()) {
    // A persistent session is kept by the store (when there is one) from now on.
    state_->make_durable();
    state_->persist_session(static_cast<std::uint8_t>(version_), session_expiry_, 0);
  }
  if (pending_will_) {
    pending_will_->init.origin = state_->origin();
    pending_will_->init.payload = pending_will_->payload;
    will_ = core::Message::make(std::move(pending_will_->init));
    pending_will_.reset();
  }
  phase_ = Phase::connected;
  send_connack(session_present, ReasonCode::success);
  spdlog::info("{} connected over {}: {}, {}, keepalive {}s{}{}", describe(), link_.transport_name(),
               version_name(version_), clean_start_ ? "clean session" : "persistent session", keepalive_,
               session_present ? ", session resumed" : "",
               link_.peer_identity().empty() ? std::string()
                                             : fmt::format(", user '{}' (client certificate)", link_.peer_identity()));
  if (auto* q = state_->queue()) q->attach(handle_, link_.executor(), wakeups_);
  // [MQTT-4.4.0-1] unacknowledged PUBLISH and PUBREL packets are re-sent on resume.
  resend_inflight();
  deliver();
  start_keepalive();
  link_.resume_reading();
  flush_wakeups();
}

void MqttSession::refuse_connect(ReasonCode reason, std::string_view why) {
  spdlog::info("{}: connection refused: {}", describe(), why);
  send_connack(false, reason);
  close(why);
}

void MqttSession::send_connack(bool session_present, ReasonCode reason) {
  auto& out = encode_buffer();
  if (version_ == ProtocolVersion::v5) {
    Properties props;
    if (reason == ReasonCode::success) {
      const auto& s = ctx_->settings;
      if (assigned_client_id_) props.assigned_client_identifier = client_id_;
      if (server_keepalive_) props.server_keep_alive = keepalive_;
      if (session_expiry_ && *session_expiry_ != 0) props.session_expiry_interval = *session_expiry_;
      props.receive_maximum = s.receive_maximum;
      props.maximum_packet_size = s.max_packet_size;
      props.topic_alias_maximum = s.topic_alias_maximum;
      if (s.maximum_qos < 2) props.maximum_qos = s.maximum_qos;
      if (!s.retain_available) props.retain_available = 0;
      if (!s.wildcard_subscriptions) props.wildcard_subscription_available = 0;
      if (!s.shared_subscriptions) props.shared_subscription_available = 0;
      if (!s.subscription_identifiers) props.subscription_identifiers_available = 0;
    }
    encode_connack(out, version_, session_present, reason, &props);
  } else {
    encode_connack(out, version_, session_present, reason, nullptr);
  }
  link_.write(out);
}

void MqttSession::handle_disconnect(std::span<const std::uint8_t> body) {
  auto decoded = decode_disconnect(version_, body);
  if (!decoded) {
    fail(decoded.error().reason, fmt::format("invalid DISCONNECT: {}", decoded.error().message));
    return;
  }
  // [MQTT-3.14.4-3] a normal DISCONNECT discards the will; 5.0 reason 0x04 keeps it.
  if (!(version_ == ProtocolVersion::v5 && decoded->reason == ReasonCode::disconnect_with_will_message)) {
    will_cleared_ = true;
  }
  if (version_ == ProtocolVersion::v5 && decoded->properties.session_expiry_interval) {
    // [MQTT-3.14.2-2] a session that was created with expiry 0 cannot be given one now.
    if (session_expiry_.value_or(0) == 0 && *decoded->properties.session_expiry_interval != 0) {
      fail(ReasonCode::protocol_error, "DISCONNECT sets a session expiry after CONNECT set none");
      return;
    }
    session_expiry_ = std::min(*decoded->properties.session_expiry_interval, ctx_->settings.max_session_expiry);
  }
  close("client sent DISCONNECT");
}

void MqttSession::publish_will() {
  if (!will_) return;
  spdlog::debug("{}: publishing will on '{}'", describe(), will_->topic());
  ctx_->broker.publish(ctx_->broker.mqtt_exchange(), will_, wakeups_, nullptr);
  will_.reset();
}

void MqttSession::start_keepalive() {
  if (keepalive_ == 0) return;
  // [MQTT-3.1.2-24] one and a half keepalive periods without a packet end the connection.
  // Packets only move last_packet_; the deadline is re-armed when it comes due.
  link_.set_deadline(last_packet_ + std::chrono::milliseconds(keepalive_ * 1500));
}

void MqttSession::on_deadline() {
  if (closed_) return;
  if (phase_ == Phase::awaiting_connect) {
    spdlog::info("{}: no CONNECT within {}s, closing", describe(), ctx_->settings.connect_timeout.count());
    close("connect timeout");
    return;
  }
  if (phase_ != Phase::connected || keepalive_ == 0) return;
  const auto limit = std::chrono::milliseconds(keepalive_ * 1500);
  if (std::chrono::steady_clock::now() - last_packet_ >= limit) {
    spdlog::info("{}: keepalive of {}s expired", describe(), keepalive_);
    if (version_ == ProtocolVersion::v5) send_disconnect(ReasonCode::keep_alive_timeout);
    close("keepalive expired");
    return;
  }
  start_keepalive();
}

}  // namespace outpost::mqtt
