// CONNECT, CONNACK, DISCONNECT, keepalive and the will: the life of a connection.
#include "core/random_name.hpp"
#include "core/topic.hpp"
#include "core/trace_context.hpp"
#include "mqtt/message_properties.hpp"
#include "mqtt/mqtt_session.hpp"

#include <spdlog/spdlog.h>


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
  client().client_id = core::ClientId(c.client_id);
  const auto& s = ctx_->settings;

  if (client().client_id.empty()) {
    // [MQTT-3.1.3-7/8]: 3.1.1 assigns an id only to a clean session; 5.0 always may.
    if (version_ == ProtocolVersion::v31 || (version_ == ProtocolVersion::v311 && !clean_start_)) {
      refuse_connect(ReasonCode::client_identifier_not_valid, "empty client id without clean session");
      return false;
    }
    client().client_id = core::ClientId(core::random_name("outpost-", 16, core::NameAlphabet::hex));
    assigned_client_id_ = true;
  } else if (version_ == ProtocolVersion::v31 && client().client_id.size() > 23) {
    refuse_connect(ReasonCode::client_identifier_not_valid, "MQTT 3.1 client ids are at most 23 characters");
    return false;
  } else if (const std::uint32_t max = ctx_->limits.max_client_id_length; client().client_id.size() > max) {
    const std::size_t length = client().client_id.size();
    ctx_->broker.counters().add(core::Protocol::mqtt, core::Counter::refused_by_limit);
    // The log names the client by the start of its id only.
    client().client_id = core::ClientId(std::string(c.client_id.substr(0, 32)) + "...");
    refuse_connect(ReasonCode::client_identifier_not_valid,
                   fmt::format("client id of {} bytes, longer than {} (limits.max_client_id_length)", length, max));
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

  if (version_ == ProtocolVersion::v5) {
    if (c.properties.authentication_method) {
      // Enhanced authentication (section 4.12) needs a method the broker knows.
      const std::string& method = *c.properties.authentication_method;
      std::unique_ptr<AuthExchange> exchange;
      if (ctx_->enhanced_auth) exchange = ctx_->enhanced_auth->begin(method, client().client_id);
      if (!exchange) {
        refuse_connect(ReasonCode::bad_authentication_method,
                       fmt::format("authentication method '{}' is not supported", method));
        return false;
      }
      extras().auth = std::make_unique<AuthState>(AuthState{method, std::move(exchange), {}});
    }
    client_receive_maximum_ = c.properties.receive_maximum.value_or(65535);
    client_receive_maximum_set_ = c.properties.receive_maximum.has_value();
    client_alias_maximum_ = c.properties.topic_alias_maximum.value_or(0);
    client_max_packet_ = c.properties.maximum_packet_size.value_or(0);
    problem_information_ = c.properties.request_problem_information.value_or(1) != 0;
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
    if (version_ == ProtocolVersion::v5) {
      auto& wp = c.will->properties;
      if (!payload_matches_format(wp, w.payload)) {
        refuse_connect(ReasonCode::payload_format_invalid, "will payload is not UTF-8 but its format indicator says it is");
        return false;
      }
      // The will's expiry counts from when it is published, so only the interval is kept.
      pending_will_->expiry_interval = wp.message_expiry_interval;
      pending_will_->delay = wp.will_delay_interval.value_or(0);
      pending_will_->init.properties = take_message_properties(wp);
    }
  }

  if (version_ == ProtocolVersion::v5) {
    session_expiry_ = std::min(c.properties.session_expiry_interval.value_or(0), s.max_session_expiry);
  }

  if (auth()) {
    // The method proves who the client is (section 4.12): its exchange decides.
    if (c.username) client().user = core::ClientId(*c.username);
    const auto& data = c.properties.authentication_data;
    return auth_step(data ? std::string_view(*data) : std::string_view{}, false);
  }
  core::AuthRequest request;
  request.protocol = core::Protocol::mqtt;
  request.listener = std::string(client().listener());
  request.remote_address = std::string(client().remote_address());
  request.client_id = client().client_id.str();
  if (c.username) request.user = std::string(*c.username);
  if (c.password) request.password = std::string(c.password->begin(), c.password->end());
  // A client certificate the TLS handshake verified, whose identity the listener takes as
  // the user name (tls.use_identity_as_username), authenticates the client.
  request.certificate_identity = std::string(client().certificate_identity());
  // Nothing more is read until the authenticator answers (on this thread, later).
  phase_ = Phase::authenticating;
  link_.pause_reading();
  ctx_->access.authenticator->authenticate(std::move(request), link_.executor(),
                                           [w = std::weak_ptr<Handle>(handle_)](core::AuthDecision decision) {
                                             auto h = w.lock();
                                             if (h && h->session) h->session->on_authenticated(std::move(decision));
                                           });
  return false;
}

void MqttSession::on_authenticated(core::AuthDecision decision) {
  if (closed_ || phase_ != Phase::authenticating) return;
  switch (decision.status) {
    case core::AuthStatus::accepted: break;
    case core::AuthStatus::bad_credentials:
      refuse_connect(ReasonCode::bad_user_name_or_password, decision.reason);
      return;
    case core::AuthStatus::not_authorized:
      refuse_connect(ReasonCode::not_authorized, decision.reason);
      return;
  }
  client().user = core::ClientId(decision.user);
  client().plugin_authenticated = decision.by_plugin;
  // A will the client could not publish itself is refused now rather than dropped later.
  if (pending_will_ && ctx_->access.access &&
      !ctx_->access.access->may_publish(client(), ctx_->broker.mqtt_exchange().name(), pending_will_->init.topic)) {
    refuse_connect(ReasonCode::not_authorized, fmt::format("not authorized to publish the will on '{}'",
                                                           pending_will_->init.topic));
    return;
  }
  claim_session();
}

void MqttSession::claim_session() {
  phase_ = Phase::awaiting_session;
  link_.set_deadline(std::chrono::steady_clock::time_point::max());
  // Nothing more is read until the session is ours: a takeover may first have to close
  // the previous holder on another thread.
  link_.pause_reading();
  auto& registry = ctx_->broker.sessions();
  // Before the registry can see the handle: other threads read it from then on.
  handle_->link = link_.weak_from_link();
  registry.claim(client().client_id, handle_, link_.executor(),
                 [w = std::weak_ptr<Handle>(handle_), &registry, id = client().client_id, clean = clean_start_](
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
}

void MqttSession::on_session_claimed(std::shared_ptr<core::Session> existing, bool superseded) {
  if (closed_ || phase_ != Phase::awaiting_session) {
    // The registry already counts us as the holder: give the session straight back.
    if (existing && clean_start_) {
      existing->destroy();
      existing.reset();
    }
    ctx_->broker.sessions().release(client().client_id, handle_.get(), std::move(existing), std::nullopt);
    return;
  }
  if (superseded) {
    spdlog::info("{}: a newer connection claimed the same client id first", describe());
    close("superseded by a newer connection");
    return;
  }
  auto& broker = ctx_->broker;
  // A delayed will of the previous connection: resuming the session cancels it
  // [MQTT-3.1.3-9]; discarding the session ends it, which publishes the will now.
  core::MessagePtr delayed_will = existing ? existing->take_delayed_will() : nullptr;
  auto resumed = std::dynamic_pointer_cast<SessionState>(existing);
  if (existing && (clean_start_ || !resumed)) {
    // [MQTT-3.1.2-6] clean session: the previous session is discarded.
    existing->destroy();
    resumed.reset();
  }
  const bool session_present = resumed != nullptr;
  // The previous connection's will: the broker publishes it on that client's behalf.
  if (delayed_will && !session_present) publisher_.publish(broker.mqtt_exchange(), delayed_will, core::Source::broker);
  if (resumed) {
    state_ = std::move(resumed);
    client().client_id = state_->client_id();  // one copy of the id, the one the registry keys on
  } else {
    state_ = std::make_shared<SessionState>(broker, client().client_id, broker.next_origin());
  }
  if (keep_session()) {
    // A persistent session is kept by the store (when there is one) from now on.
    state_->make_durable();
    state_->persist_session(static_cast<std::uint8_t>(version_), session_expiry_, 0);
  }
  client().origin = state_->origin();
  if (pending_will_) pending_will_->init.origin = state_->origin();
  phase_ = Phase::connected;
  send_connack(session_present, ReasonCode::success);
  if (ctx_->log_connections) {
    spdlog::info("{} connected over {}: {}, {}, keepalive {}s{}{}", describe(), link_.transport_name(),
                 version_name(version_), clean_start_ ? "clean session" : "persistent session", keepalive_,
                 session_present ? ", session resumed" : "",
                 !link_.peer_identity().empty() ? fmt::format(", user '{}' (client certificate)", link_.peer_identity())
                 : client().user.empty()        ? std::string()
                                                : fmt::format(", user '{}'", client().user.view()));
  }
  if (const auto& observer = ctx_->access.observer) observer->connected(client());
  {
    core::ClientRecord record;
    record.protocol = core::Protocol::mqtt;
    record.id = std::string(client().client_id.view());
    record.protocol_version = version_ == ProtocolVersion::v5 ? "5.0" : version_ == ProtocolVersion::v311 ? "3.1.1" : "3.1";
    record.listener = std::string(client().listener());
    record.remote_address = link_.remote_address();
    record.user = std::string(client().user.view());
    record.connected_unix_ms = core::now_unix_ms();
    auto& directory = ctx_->broker.clients();
    directory_entry_ = core::DirectoryEntry(directory, directory.add(std::move(record), link_.executor(), handle_));
  }
  if (auto* q = state_->queue()) q->attach(handle_, link_.executor(), publisher_.wakeups());
  if (state_->has_shared()) {
    for (auto& [filter, membership] : state_->shared()) membership.queue->attach(handle_, link_.executor(), publisher_.wakeups());
  }
  // [MQTT-4.4.0-1] unacknowledged PUBLISH and PUBREL packets are re-sent on resume.
  resend_inflight();
  deliver();
  start_keepalive();
  link_.resume_reading();
  flush_wakeups();
}

void MqttSession::refuse_connect(ReasonCode reason, std::string_view why) {
  spdlog::info("{}: connection refused: {}", describe(), why);
  send_connack(false, reason, why);
  close(why);
}

void MqttSession::send_connack(bool session_present, ReasonCode reason, std::string_view why) {
  auto& out = encode_buffer();
  if (version_ == ProtocolVersion::v5) {
    Properties props;
    if (reason == ReasonCode::success) {
      const auto& s = ctx_->settings;
      if (assigned_client_id_) props.assigned_client_identifier = client().client_id.str();
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
      if (auto* a = auth()) {
        // Section 4.12: the CONNACK of an enhanced authentication names its method and
        // carries the final authentication data, if any.
        props.authentication_method = a->method;
        if (!a->final_data.empty()) props.authentication_data = a->final_data;
      }
    } else if (!why.empty()) {
      props.reason_string = reason_text(why);
    }
    encode_connack(out, version_, session_present, reason, &props);
    if (client_max_packet_ != 0 && out.size() > client_max_packet_ && props.reason_string) {
      // The client accepts smaller packets: the reason string goes [MQTT-3.1.2-24].
      props.reason_string.reset();
      out.clear();
      encode_connack(out, version_, session_present, reason, &props);
    }
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

core::MessagePtr MqttSession::build_will(std::int64_t publish_unix_ms) {
  auto& w = *pending_will_;
  core::Message::Init init = w.init;
  init.payload = w.payload;
  // The will's expiry interval counts from when it is published (section 3.1.3.2.4).
  if (w.expiry_interval) init.expiry_unix_ms = publish_unix_ms + std::int64_t{*w.expiry_interval} * 1000;
  return core::Message::make(std::move(init));
}

void MqttSession::publish_will() {
  if (!pending_will_ || !state_) return;
  const std::uint32_t delay = pending_will_->delay;
  if (delay > 0 && keep_session()) {
    // Will delay interval: published when the delay or the session ends, whichever comes
    // first, unless a new connection resumes the session before [MQTT-3.1.3-9].
    const std::uint32_t wait = std::min(delay, session_expiry_.value_or(0xFFFFFFFF));
    spdlog::debug("{}: will on '{}' delayed by {}s", describe(), pending_will_->init.topic, wait);
    state_->set_delayed_will(build_will(core::now_unix_ms() + std::int64_t{wait} * 1000),
                             core::Clock::now() + std::chrono::seconds(wait));
  } else {
    spdlog::debug("{}: publishing will on '{}'", describe(), pending_will_->init.topic);
    const auto will = build_will(core::now_unix_ms());
    const auto outcome = publisher_.publish(ctx_->broker.mqtt_exchange(), will, core::Source::will);
    if (outcome.refused == core::Refusal::not_authorized) {
      spdlog::info("{}: will on '{}' not authorized; not published{}", describe(), pending_will_->init.topic,
                   core::trace_note(outcome.routed_message(will)));
    }
  }
  pending_will_.reset();
}

void MqttSession::start_keepalive() { arm_deadline(); }

void MqttSession::arm_deadline() {
  auto when = std::chrono::steady_clock::time_point::max();
  // [MQTT-3.1.2-24] one and a half keepalive periods without a packet end the connection.
  // Packets only move last_packet_; the deadline is re-armed when it comes due.
  if (keepalive_ != 0) when = last_packet_ + std::chrono::milliseconds(keepalive_ * 1500);
  if (rate_paused_) when = std::min(when, extras_->throttle->ready_at());
  link_.set_deadline(when);
}

void MqttSession::on_deadline() {
  if (closed_) return;
  if (phase_ == Phase::awaiting_connect || phase_ == Phase::authenticating) {
    spdlog::info("{}: no CONNECT (or no answer from authentication) within {}s, closing", describe(),
                 ctx_->settings.connect_timeout.count());
    close("connect timeout");
    return;
  }
  if (phase_ != Phase::connected) return;
  const auto now = std::chrono::steady_clock::now();
  if (rate_paused_ && now >= extras_->throttle->ready_at()) resume_after_throttle(now);
  const auto limit = std::chrono::milliseconds(keepalive_ * 1500);
  // While a congested queue holds the publisher, its packets wait unread: our silence, not
  // the client's.
  if (publisher_.paused()) last_packet_ = now;
  if (keepalive_ != 0 && !rate_paused_ && now - last_packet_ >= limit) {
    spdlog::info("{}: keepalive of {}s expired", describe(), keepalive_);
    if (version_ == ProtocolVersion::v5) send_disconnect(ReasonCode::keep_alive_timeout, "keep alive timeout");
    close("keepalive expired");
    return;
  }
  arm_deadline();
}

bool MqttSession::auth_step(std::string_view client_data, bool reauthenticating) {
  AuthOutcome outcome = auth()->exchange->step(client_data);
  auto send_auth = [&](ReasonCode reason) {
    Properties props;
    props.authentication_method = auth()->method;  // every AUTH names the method (section 3.15.2.2)
    if (!outcome.data.empty()) props.authentication_data = std::move(outcome.data);
    auto& out = encode_buffer();
    encode_auth(out, reason, &props);
    link_.write(out);
  };
  switch (outcome.kind) {
    case AuthOutcome::Kind::proceed:
      send_auth(ReasonCode::continue_authentication);
      if (!reauthenticating) phase_ = Phase::awaiting_auth;
      return true;
    case AuthOutcome::Kind::success:
      if (reauthenticating) {
        spdlog::info("{}: re-authenticated with '{}'", describe(), auth()->method);
        send_auth(ReasonCode::success);
        return true;
      }
      auth()->final_data = std::move(outcome.data);
      claim_session();
      return false;
    case AuthOutcome::Kind::failure:
      break;
  }
  if (reauthenticating) {
    fail(ReasonCode::not_authorized, fmt::format("re-authentication with '{}' failed", auth()->method));
  } else {
    refuse_connect(ReasonCode::not_authorized, fmt::format("authentication with '{}' failed", auth()->method));
  }
  return false;
}

bool MqttSession::handle_auth(std::span<const std::uint8_t> body) {
  auto decoded = decode_auth(body);
  const bool connecting = phase_ == Phase::awaiting_auth;
  auto refuse = [&](ReasonCode reason, std::string_view why) {
    if (connecting) {
      refuse_connect(reason, why);
    } else {
      fail(reason, why);
    }
    return false;
  };
  if (!decoded) return refuse(decoded.error().reason, fmt::format("invalid AUTH: {}", decoded.error().message));
  if (!auth()) {
    // Section 4.12: a client that named no method in CONNECT must not send AUTH.
    return refuse(ReasonCode::protocol_error, "AUTH without an authentication method in CONNECT");
  }
  const auto& p = decoded->properties;
  if (!p.authentication_method || *p.authentication_method != auth()->method) {
    return refuse(ReasonCode::protocol_error, "AUTH with another authentication method than CONNECT's");
  }
  const std::string_view data = p.authentication_data ? std::string_view(*p.authentication_data) : std::string_view{};
  if (connecting) {
    if (decoded->reason != ReasonCode::continue_authentication) {
      return refuse(ReasonCode::protocol_error, "AUTH during CONNECT must continue the authentication (0x18)");
    }
    return auth_step(data, false);
  }
  if (decoded->reason == ReasonCode::re_authenticate) {
    auto exchange = ctx_->enhanced_auth ? ctx_->enhanced_auth->begin(auth()->method, client().client_id) : nullptr;
    if (!exchange) return refuse(ReasonCode::bad_authentication_method, "authentication method no longer available");
    auth()->exchange = std::move(exchange);
    return auth_step(data, true);
  }
  if (decoded->reason == ReasonCode::continue_authentication) return auth_step(data, true);
  return refuse(ReasonCode::protocol_error, "AUTH with a reason code a client may not send");
}

}  // namespace outpost::mqtt
