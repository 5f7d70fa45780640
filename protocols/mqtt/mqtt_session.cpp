#include "mqtt/mqtt_session.hpp"

#include "mqtt/restore.hpp"
#include "store/store.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace outpost::mqtt {

MqttSession::MqttSession(proto::Link& link, const SessionContext& ctx)
    : link_(link),
      ctx_(&ctx),
      handle_(std::make_shared<Handle>()),
      publisher_(ctx.broker,
                 core::ClientInfo(core::Protocol::mqtt, ctx.access.name, link.remote_address(), link.peer_identity()),
                 ctx.access.access.get(), true) {
  handle_->session = this;
  last_packet_ = std::chrono::steady_clock::now();
  // A connection that never sends CONNECT must not hold a slot forever [MQTT-3.1.4-1 leaves
  // the time to the server].
  link_.set_deadline(last_packet_ + ctx_->settings.connect_timeout);
}

MqttSession::~MqttSession() { handle_->session = nullptr; }

core::QueueLimits MqttSession::queue_limits() const { return session_queue_limits(ctx_->settings); }

std::string MqttSession::reason_text(std::string_view why) {
  // Short, and cut on a UTF-8 character boundary: a reason string must be valid UTF-8.
  std::size_t n = std::min<std::size_t>(why.size(), 200);
  while (n > 0 && n < why.size() && (static_cast<unsigned char>(why[n]) & 0xC0) == 0x80) --n;
  return std::string(why.substr(0, n));
}

std::vector<std::uint8_t>& MqttSession::encode_buffer() {
  // Link::write copies, so one buffer per thread serves every session on it.
  thread_local std::vector<std::uint8_t> buffer;
  buffer.clear();
  return buffer;
}

void MqttSession::Handle::on_messages_available() {
  if (session) session->deliver();
}

boost::asio::any_io_executor MqttSession::Handle::executor() const {
  auto l = link.lock();
  if (!l) return {};
  auto ex = l->executor();
  // Called from other threads: should ours be the connection's last reference, it must
  // still go on the connection's own thread (its destructor leaves that thread's
  // connection registry), so it is handed back there.
  boost::asio::post(ex, [l = std::move(l)] {});
  return ex;
}

void MqttSession::Handle::on_taken_over() {
  if (!session) return;
  spdlog::info("{}: session taken over by a new connection with the same client id", session->describe());
  if (session->version_ == ProtocolVersion::v5 && session->phase_ == Phase::connected) {
    session->send_disconnect(ReasonCode::session_taken_over, "another connection took over the session");
  }
  session->close("session taken over");
}

void MqttSession::Handle::on_space_available() {
  if (!session || !session->publisher_.on_space_available()) return;
  if (!session->closed_ && session->phase_ == Phase::connected && !session->rate_paused_) {
    session->last_packet_ = std::chrono::steady_clock::now();  // what waited unread is ours to account for
    session->link_.resume_reading();
  }
}

void MqttSession::Handle::on_durable(std::span<const core::HeldAck> acks) {
  if (!session || session->closed_) return;
  for (const auto& a : acks) {
    const auto type = static_cast<PacketType>(a.b);
    if (type == PacketType::puback) --session->extras_->puback_waiting;  // made when it was held
    session->send_ack(type, static_cast<std::uint16_t>(a.id), static_cast<ReasonCode>(a.c));
  }
}

std::optional<core::ClientFigures> MqttSession::Handle::figures() {
  if (!session || session->closed_) return std::nullopt;
  core::ClientFigures f;
  if (const auto& state = session->state_) {
    f.subscriptions = state->subscription_count();
    f.in_flight = state->outflight_count();
    if (auto* q = state->queue()) f.queued = q->stats().messages;
  }
  return f;
}

void MqttSession::Handle::kick(const std::string& by) {
  if (!session || session->closed_ || session->phase_ != Phase::connected) return;
  spdlog::info("{}: disconnected by an administrator ({})", session->describe(), by);
  if (session->version_ == ProtocolVersion::v5) {
    session->send_disconnect(ReasonCode::administrative_action, "disconnected by an administrator");
  }
  session->close("disconnected by an administrator");
}

std::string MqttSession::describe() const {
  if (client().client_id.empty()) return fmt::format("client <unknown> ({})", link_.remote_address());
  return fmt::format("client '{}' ({})", client().client_id.view(), link_.remote_address());
}

std::size_t MqttSession::on_data(std::span<const std::uint8_t> data) {
  // The store hears of this read's writes as one group (store::WriteScope).
  store::WriteScope writes;
  std::size_t consumed = 0;
  while (!closed_ && phase_ != Phase::closing && phase_ != Phase::awaiting_session && phase_ != Phase::authenticating &&
         !publisher_.paused() && !rate_paused_) {
    auto frame = parse_fixed_header(data.subspan(consumed), ctx_->settings.max_packet_size);
    if (frame.status == FrameStatus::need_more) break;
    if (frame.status == FrameStatus::error) {
      fail(frame.error.reason, frame.error.message);
      break;
    }
    const FixedHeader& h = frame.header;
    const std::size_t total = h.header_length + h.remaining_length;
    if (data.size() - consumed < total) break;
    auto body = data.subspan(consumed + h.header_length, h.remaining_length);
    consumed += total;
    last_packet_ = std::chrono::steady_clock::now();
    if (!handle_packet(h, body)) break;
    if (h.type == PacketType::publish && throttle_publish(total)) break;
  }
  flush_publisher();
  return consumed;
}

bool MqttSession::handle_packet(const FixedHeader& h, std::span<const std::uint8_t> body) {
  if (phase_ == Phase::awaiting_connect) {
    if (h.type != PacketType::connect) {
      fail(ReasonCode::protocol_error, "first packet is not CONNECT");  // [MQTT-3.1.0-1]
      return false;
    }
    return handle_connect(body);
  }
  if (phase_ == Phase::awaiting_auth) {
    if (h.type != PacketType::auth) {
      refuse_connect(ReasonCode::protocol_error, "packet other than AUTH during authentication");
      return false;
    }
    return handle_auth(body);
  }
  switch (h.type) {
    case PacketType::publish: return handle_publish(h, body);
    case PacketType::puback: return handle_puback(body);
    case PacketType::pubrec: return handle_pubrec(body);
    case PacketType::pubrel: return handle_pubrel(body);
    case PacketType::pubcomp: return handle_pubcomp(body);
    case PacketType::subscribe: return handle_subscribe(body);
    case PacketType::unsubscribe: return handle_unsubscribe(body);
    case PacketType::pingreq: {
      if (h.remaining_length != 0) {
        fail(ReasonCode::malformed_packet, "PINGREQ with a body");
        return false;
      }
      auto& out = encode_buffer();
      encode_pingresp(out);
      link_.write(out);
      return true;
    }
    case PacketType::disconnect:
      handle_disconnect(body);
      return false;
    case PacketType::connect:
      fail(ReasonCode::protocol_error, "second CONNECT on one connection");  // [MQTT-3.1.0-2]
      return false;
    case PacketType::auth:
      if (version_ == ProtocolVersion::v5) return handle_auth(body);
      [[fallthrough]];  // 3.1.1 has no AUTH
    default:
      fail(ReasonCode::protocol_error, fmt::format("unexpected packet type {} from a client",
                                                   static_cast<int>(h.type)));
      return false;
  }
}

void MqttSession::on_writable() { deliver(); }

void MqttSession::fail(ReasonCode reason, std::string_view why) {
  spdlog::warn("{}: protocol error: {}; closing the connection", describe(), why);
  if (version_ == ProtocolVersion::v5 && phase_ == Phase::connected) send_disconnect(reason, why);
  close(why);
}

void MqttSession::close(std::string_view why) {
  if (phase_ == Phase::closing || closed_) return;
  phase_ = Phase::closing;
  extras().close_reason = std::string(why);
  link_.close(why);
}

void MqttSession::send_disconnect(ReasonCode reason, std::string_view why) {
  auto& out = encode_buffer();
  // A reason string says why in words; it may go on DISCONNECT whatever the client asked
  // about problem information [MQTT-3.1.2-29 covers the other packets].
  Properties props;
  if (!why.empty()) props.reason_string = reason_text(why);
  encode_disconnect(out, version_, reason, &props);
  if (client_max_packet_ != 0 && out.size() > client_max_packet_) {
    // The client accepts smaller packets: the reason string goes [MQTT-3.1.2-24].
    out.clear();
    encode_disconnect(out, version_, reason, nullptr);
  }
  link_.write(out);
}

void MqttSession::on_shutdown() {
  shutting_down_ = true;
  if (version_ == ProtocolVersion::v5 && phase_ == Phase::connected) {
    send_disconnect(ReasonCode::server_shutting_down, "the server is shutting down");
  }
  close("server shutting down");
}

void MqttSession::on_access_changed() {
  if (phase_ != Phase::connected || closed_) return;
  if (!ctx_->access.authenticator->revoked(client())) {
    // The new ACL applies from the next message on: subscriptions stay, and what they
    // match is checked per delivery. Messages may now be readable: look again.
    deliver();
    return;
  }
  spdlog::info("{}: user '{}' is no longer valid after the reload; disconnecting", describe(), client().user.view());
  if (version_ == ProtocolVersion::v5) send_disconnect(ReasonCode::not_authorized, "the user is no longer authorized");
  close("the user is no longer authorized");
}

void MqttSession::on_closed(proto::CloseCause cause, std::string_view detail) {
  if (closed_) return;
  const bool was_connected = phase_ == Phase::connected || (phase_ == Phase::closing && state_);
  closed_ = true;
  link_.set_deadline(std::chrono::steady_clock::time_point::max());
  if (was_connected) {
    std::string reason = extras_ && !extras_->close_reason.empty() ? extras_->close_reason
                         : cause == proto::CloseCause::peer_closed ? "connection closed by the client"
                                                                    : std::string(detail);
    if (ctx_->log_connections) spdlog::info("{} disconnected: {}", describe(), reason);
    directory_entry_.reset();
    end_session();
    if (const auto& observer = ctx_->access.observer) observer->disconnected(client());
  }
  handle_->session = nullptr;
  flush_wakeups();
}

void MqttSession::end_session() {
  if (!state_) return;
  if (auto* q = state_->queue()) q->detach(handle_.get());
  if (state_->has_shared()) {
    for (auto& [filter, membership] : state_->shared()) membership.queue->detach(handle_.get());
  }
  state_->return_shared_inflight(publisher_.wakeups());
  if (!will_cleared_ && pending_will_ && (!shutting_down_ || ctx_->settings.publish_will_on_shutdown)) publish_will();
  auto& registry = ctx_->broker.sessions();
  const core::SessionOwner* owner = handle_.get();
  if (keep_session()) {
    std::optional<std::chrono::seconds> expiry;
    if (session_expiry_ && *session_expiry_ != 0xFFFFFFFF) expiry = std::chrono::seconds(*session_expiry_);
    // Expiry counts from the disconnection, across restarts too.
    state_->persist_session(static_cast<std::uint8_t>(version_), session_expiry_, core::now_unix_ms());
    registry.release(client().client_id, owner, std::move(state_), expiry);
  } else {
    state_->destroy();
    state_.reset();
    registry.release(client().client_id, owner, nullptr, std::nullopt);
  }
}

bool MqttSession::keep_session() const {
  if (version_ == ProtocolVersion::v5) return session_expiry_.value_or(0) != 0;
  return !clean_start_;
}

void MqttSession::flush_publisher() {
  // A publisher feeding its own queue would wait for itself.
  if (publisher_.flush(link_.executor(), handle_, state_ ? state_->queue() : nullptr)) {
    spdlog::debug("{}: reading paused: a queue it publishes to is congested", describe());
    link_.pause_reading();
  }
}

proto::SessionFactory make_session_factory(core::Broker& broker, const MqttSettings& settings, LimitSettings limits,
                                          core::ListenerAccess access, std::shared_ptr<const EnhancedAuth> enhanced_auth,
                                          bool log_connections) {
  auto ctx = std::make_shared<const SessionContext>(
      SessionContext{broker, settings, limits, std::move(access), std::move(enhanced_auth), log_connections});
  return [ctx](proto::Link& link) -> std::unique_ptr<proto::Session> { return std::make_unique<MqttSession>(link, *ctx); };
}

}  // namespace outpost::mqtt
