#include "amqp/amqp_session.hpp"

#include "store/store.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace outpost::amqp {

namespace {
using Clock = std::chrono::steady_clock;
// Time a client has to complete start / tune / open, and to answer our close.
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kBlockedRecheck = std::chrono::seconds(1);
// Room the store must have again before a blocked connection is unblocked.
constexpr std::size_t kUnblockRoom = 64 * 1024;
constexpr auto kCloseTimeout = std::chrono::seconds(3);
}  // namespace

AmqpSession::AmqpSession(proto::Link& link, std::shared_ptr<const SessionContext> ctx)
    : link_(link),
      ctx_(std::move(ctx)),
      handle_(std::make_shared<Handle>()),
      publisher_(ctx_->vhost.broker(),
                 core::ClientInfo(core::Protocol::amqp, ctx_->access.name, link.remote_address(), link.peer_identity(),
                                  ctx_->vhost.broker().next_origin()),
                 ctx_->access.access.get(), true),
      dead_letters_(ctx_->vhost.broker(), ctx_->vhost.self(), nullptr),
      id_(publisher_.client().origin) {
  handle_->session = this;
  last_received_ = Clock::now();
  link_.set_deadline(last_received_ + kHandshakeTimeout);
}

AmqpSession::~AmqpSession() { handle_->session = nullptr; }

std::optional<core::ClientFigures> AmqpSession::Handle::figures() {
  if (!session || session->closed_) return std::nullopt;
  core::ClientFigures f;
  std::vector<const core::Queue*> consumed;  // each queue counted once, however many consumers
  for (const auto& [id, ch] : session->channels_) {
    f.subscriptions += ch->consumers.size();
    f.in_flight += ch->unacked.size();
    for (const auto& [tag, c] : ch->consumers) {
      if (!c->queue || !c->queue->queue) continue;
      const core::Queue* q = c->queue->queue.get();
      if (std::find(consumed.begin(), consumed.end(), q) != consumed.end()) continue;
      consumed.push_back(q);
      f.queued += q->stats().messages;
    }
  }
  return f;
}

void AmqpSession::Handle::kick(const std::string& by) {
  if (!session || session->closed_ || session->phase_ != Phase::opened) return;
  spdlog::info("{}: closed by an administrator ({})", session->describe(), by);
  session->send_method(0, cls::connection, m::close,
                       {connection_forced, "CONNECTION_FORCED - closed by an administrator", 0, 0});
  session->close_link("closed by an administrator");
}

void AmqpSession::Handle::on_space_available() {
  if (!session || !session->publisher_.on_space_available()) return;
  if (!session->closed_ && !session->rate_paused_) {
    // Unread frames (heartbeats among them) waited in the socket: silence while paused
    // is ours, not the peer's.
    session->last_received_ = Clock::now();
    session->link_.resume_reading();
  }
}

std::string AmqpSession::describe() const {
  return fmt::format("amqp client {}{}{}", connection_name_.empty() ? std::string() : fmt::format("'{}' ", connection_name_),
                     link_.remote_address(),
                     client().user.empty() ? std::string() : fmt::format(" ({})", client().user.view()));
}

void AmqpSession::set_close_reason(std::string reason) {
  if (close_reason_.empty()) close_reason_ = std::move(reason);
}

void AmqpSession::send_method(std::uint16_t channel, std::uint16_t class_id, std::uint16_t method_id,
                              std::initializer_list<ArgIn> args) {
  out_.clear();
  encode_method(out_, channel, class_id, method_id, args);
  link_.write(out_);
}

AmqpSession::Channel* AmqpSession::find_channel(std::uint16_t id) {
  auto it = channels_.find(id);
  return it == channels_.end() ? nullptr : it->second.get();
}

std::size_t AmqpSession::on_data(std::span<const std::uint8_t> data) {
  // The store hears of this read's writes as one group (store::WriteScope).
  store::WriteScope writes;
  std::size_t consumed = 0;
  if (phase_ == Phase::header) {
    switch (check_protocol_header(data)) {
      case HeaderCheck::need_more: return 0;
      case HeaderCheck::bad:
        // Section 4.2.2: answer with the protocol header we accept, then close.
        spdlog::info("{}: not an AMQP 0-9-1 protocol header; answered with ours and closed", describe());
        link_.write(kProtocolHeader);
        close_link("bad protocol header");
        return data.size();
      case HeaderCheck::ok: break;
    }
    consumed = kProtocolHeader.size();
    phase_ = Phase::start_ok;
    send_start();
  }
  const std::uint32_t limit = phase_ == Phase::opened || phase_ == Phase::closing ? frame_max_ : ctx_->settings.frame_max;
  while (!closed_ && phase_ != Phase::closed && phase_ != Phase::authenticating && !publisher_.paused() &&
         !rate_paused_) {
    const auto f = read_frame(data.subspan(consumed), limit);
    if (f.status == FrameStatus::need_more) break;
    if (f.status == FrameStatus::error) {
      // The frame stream cannot be followed any further: say why and close at once.
      connection_error(f.error.code, "FRAME_ERROR - " + f.error.text);
      close_link(f.error.text);
      consumed = data.size();
      break;
    }
    consumed += f.consumed;
    last_received_ = Clock::now();
    if (!handle_frame(f)) break;
  }
  flush_publisher();
  return consumed;
}

bool AmqpSession::handle_frame(const FrameRead& f) {
  switch (f.type) {
    case FrameType::heartbeat:
      if (f.channel != 0) return connection_error(frame_error, "FRAME_ERROR - heartbeat on a channel other than 0");
      return true;
    case FrameType::method: {
      auto d = decode_method(f.payload);
      if (d.error) {
        if (phase_ == Phase::closing) return true;
        std::uint16_t cls = 0, mid = 0;
        if (f.payload.size() >= 4) {
          cls = static_cast<std::uint16_t>(f.payload[0] << 8 | f.payload[1]);
          mid = static_cast<std::uint16_t>(f.payload[2] << 8 | f.payload[3]);
        }
        return connection_error(d.error.code, (d.error.code == not_implemented ? "NOT_IMPLEMENTED - " : "FRAME_ERROR - ") +
                                                  d.error.text,
                                nullptr, cls, mid);
      }
      return handle_method(f.channel, d.method);
    }
    case FrameType::header:
    case FrameType::body: {
      if (phase_ == Phase::closing) return true;
      if (phase_ != Phase::opened) return connection_error(unexpected_frame, "UNEXPECTED_FRAME - content before the connection is open");
      Channel* ch = find_channel(f.channel);
      if (ch == nullptr) return connection_error(channel_error, fmt::format("CHANNEL_ERROR - channel {} is not open", f.channel));
      if (ch->closing) return true;
      return f.type == FrameType::header ? handle_content_header(*ch, f.payload) : handle_content_body(*ch, f.payload);
    }
  }
  return true;
}

bool AmqpSession::handle_method(std::uint16_t channel, const Method& m) {
  if (phase_ == Phase::closing) {
    // Section 2.2.4: after sending close, only close / close-ok matter.
    if (channel == 0 && m.is(cls::connection, m::close_ok)) {
      close_link("closed");
      return false;
    }
    if (channel == 0 && m.is(cls::connection, m::close)) {
      send_method(0, cls::connection, m::close_ok, {});
      close_link("closed");
      return false;
    }
    return true;
  }
  if (channel == 0) {
    if (m.class_id() != cls::connection) {
      return connection_error(command_invalid, fmt::format("COMMAND_INVALID - {} on channel 0", m.spec->name), &m);
    }
    return handle_connection_method(m);
  }
  if (m.class_id() == cls::connection) {
    return connection_error(command_invalid, fmt::format("COMMAND_INVALID - {} on channel {}", m.spec->name, channel), &m);
  }
  if (phase_ != Phase::opened) {
    return connection_error(command_invalid, fmt::format("COMMAND_INVALID - {} before connection.open", m.spec->name), &m);
  }
  if (m.class_id() == cls::channel) return handle_channel_method(channel, m);
  Channel* ch = find_channel(channel);
  if (ch == nullptr) {
    return connection_error(channel_error, fmt::format("CHANNEL_ERROR - expected 'channel.open' on channel {}", channel), &m);
  }
  if (ch->closing) return true;  // discarded until channel.close-ok (section 2.2.5)
  if (ch->publish) {
    return connection_error(unexpected_frame,
                            fmt::format("UNEXPECTED_FRAME - expected content header for class 60, got {}", m.spec->name), &m);
  }
  switch (m.class_id()) {
    case cls::exchange: return handle_exchange_method(*ch, m);
    case cls::queue: return handle_queue_method(*ch, m);
    case cls::basic: return handle_basic_method(*ch, m);
    case cls::confirm:
      if (m.method_id() == m::select) {
        ch->confirm = true;
        if (!m.flag(0)) send_method(ch->id, cls::confirm, m::select_ok, {});
        return true;
      }
      break;
    case cls::tx:
      return connection_error(not_implemented, "NOT_IMPLEMENTED - transactions (tx class) are not supported; use publisher confirms", &m);
    default: break;
  }
  return connection_error(command_invalid, fmt::format("COMMAND_INVALID - {} is not sent by clients", m.spec->name), &m);
}

bool AmqpSession::handle_content_header(Channel& ch, std::span<const std::uint8_t> payload) {
  auto* p = ch.publish.get();
  if (p == nullptr || p->have_header) {
    return connection_error(unexpected_frame, "UNEXPECTED_FRAME - content header without basic.publish");
  }
  p->header_bytes.assign(payload.begin(), payload.end());
  if (auto e = decode_content_header(p->header_bytes, p->header)) return connection_error(e.code, "FRAME_ERROR - " + e.text);
  if (p->header.class_id != cls::basic) {
    return connection_error(unexpected_frame, fmt::format("UNEXPECTED_FRAME - content header for class {}", p->header.class_id));
  }
  p->have_header = true;
  p->body_size = p->header.body_size;
  if (p->body_size > ctx_->settings.max_message_size) {
    const std::uint64_t size = p->body_size;  // read before the reset frees *p
    ch.publish.reset();
    return channel_fail(ch, precondition_failed,
                         fmt::format("PRECONDITION_FAILED - message size {} is larger than configured max size {}",
                                     size, ctx_->settings.max_message_size),
                         nullptr);
  }
  // Nothing is reserved for the announced size: a few bytes of header must not cost the
  // broker up to max_message_size per channel. The body grows as its frames arrive.
  if (p->body_size == 0) return finish_publish(ch);
  return true;
}

bool AmqpSession::handle_content_body(Channel& ch, std::span<const std::uint8_t> payload) {
  auto* p = ch.publish.get();
  if (p == nullptr || !p->have_header) {
    return connection_error(unexpected_frame, "UNEXPECTED_FRAME - content body without a content header");
  }
  if (p->body.size() + payload.size() > p->body_size) {
    return connection_error(frame_error, "FRAME_ERROR - content body larger than the content header announced");
  }
  const std::size_t need = p->body.size() + payload.size();
  if (need > p->body.capacity()) {
    // At most twice what has arrived, and never past the announced size: a body sent in one
    // frame gets exactly its size, a long one doubles with what it has sent.
    const std::uint64_t grown = std::max<std::uint64_t>(need, 2 * std::uint64_t{p->body.capacity()});
    p->body.reserve(static_cast<std::size_t>(std::min(grown, p->body_size)));
  }
  p->body.insert(p->body.end(), payload.begin(), payload.end());
  if (p->body.size() == p->body_size) return finish_publish(ch);
  return true;
}

// ---------------------------------------------------------------------------------------
// Errors and closing

bool AmqpSession::fail(std::uint16_t channel, const Error& e, const Method* m) {
  if (is_connection_error(e.code)) return connection_error(e.code, e.text, m);
  Channel* ch = find_channel(channel);
  if (ch == nullptr) return connection_error(channel_error, e.text, m);
  return channel_fail(*ch, e.code, e.text, m);
}

bool AmqpSession::channel_fail(Channel& ch, std::uint16_t code, std::string text, const Method* m,
                               core::TraceNote trace) {
  spdlog::info("{}: channel {} closed: {} {}{}", describe(), ch.id, code, text, trace);
  send_method(ch.id, cls::channel, m::ch_close,
              {code, text, m ? m->class_id() : std::uint16_t{0}, m ? m->method_id() : std::uint16_t{0}});
  close_channel_state(ch);
  ch.closing = true;
  return true;
}

bool AmqpSession::connection_error(std::uint16_t code, std::string text, const Method* m, std::uint16_t class_id,
                                   std::uint16_t method_id) {
  if (phase_ == Phase::closing || phase_ == Phase::closed) return false;
  spdlog::warn("{}: connection closed: {} {}", describe(), code, text);
  set_close_reason(fmt::format("connection error {} {}", code, text));
  if (m) {
    class_id = m->class_id();
    method_id = m->method_id();
  }
  if (phase_ == Phase::header) {
    close_link(text);
    return false;
  }
  send_method(0, cls::connection, m::close, {code, text, class_id, method_id});
  end_all_channels();
  phase_ = Phase::closing;
  close_deadline_ = Clock::now() + kCloseTimeout;
  link_.set_deadline(close_deadline_);
  return false;
}

void AmqpSession::close_link(std::string_view why) {
  if (phase_ == Phase::closed) return;
  phase_ = Phase::closed;
  link_.close(why);
}

void AmqpSession::end_all_channels() {
  for (auto& [id, ch] : channels_) close_channel_state(*ch);
  channels_.clear();
}

void AmqpSession::on_closed(proto::CloseCause cause, std::string_view detail) {
  if (closed_) return;
  closed_ = true;
  directory_entry_.reset();
  end_all_channels();
  if (opened_once_ && ctx_->log_connections) {
    std::string reason = !close_reason_.empty()                     ? close_reason_
                         : cause == proto::CloseCause::peer_closed ? std::string("socket closed by the client")
                         : detail.empty()                          ? std::string("socket closed")
                                                                    : fmt::format("socket closed: {}", detail);
    spdlog::info("{} disconnected: {}", describe(), reason);
  }
  // Opened, or closing after it was (a close sent or received keeps the phase it had).
  if (const auto& observer = ctx_->access.observer; observer && opened_once_) observer->disconnected(client());
  ctx_->vhost.connection_closed(id_);
  handle_->session = nullptr;
  publisher_.wakeups().flush();
  dead_letters_.wakeups().flush();
}

void AmqpSession::on_access_changed() {
  if (phase_ != Phase::opened || !ctx_->access.authenticator->revoked(client())) return;
  spdlog::info("{}: user '{}' is no longer valid after the reload; closing the connection", describe(),
               client().user.view());
  set_close_reason("the user is no longer authorized");
  // As RabbitMQ does when a connected user is deleted.
  send_method(0, cls::connection, m::close,
              {connection_forced, "CONNECTION_FORCED - user is no longer authorized", 0, 0});
  close_link("the user is no longer authorized");
}

void AmqpSession::on_shutdown() {
  if (phase_ == Phase::opened) {
    send_method(0, cls::connection, m::close, {connection_forced, "CONNECTION_FORCED - broker shutdown", 0, 0});
  }
  set_close_reason("broker shutdown");
  close_link("broker shutdown");
}

void AmqpSession::on_writable() { resume_starved(nullptr); }

// ---------------------------------------------------------------------------------------
// Deadlines: handshake, heartbeats (section 4.2.7), the close handshake.

void AmqpSession::arm_deadline() {
  if (phase_ == Phase::closing) {
    link_.set_deadline(close_deadline_);
  } else if (phase_ != Phase::opened) {
    link_.set_deadline(last_received_ + kHandshakeTimeout);
  } else {
    auto deadline = heartbeat_ == 0 ? Clock::time_point::max()
                                    : std::min(next_heartbeat_, last_received_ + 2 * std::chrono::seconds(heartbeat_));
    // While blocked, the store is looked at every second for room to unblock.
    if (blocked_) deadline = std::min(deadline, Clock::now() + kBlockedRecheck);
    if (rate_paused_) deadline = std::min(deadline, throttle_->ready_at());
    link_.set_deadline(deadline);
  }
}

void AmqpSession::on_deadline() {
  const auto now = Clock::now();
  if (phase_ == Phase::closed) return;
  if (phase_ == Phase::closing) {
    if (now >= close_deadline_) close_link("no connection.close-ok");
    else arm_deadline();
    return;
  }
  if (phase_ != Phase::opened) {
    if (now >= last_received_ + kHandshakeTimeout) {
      spdlog::info("{}: connection handshake not completed in time; closed", describe());
      close_link("handshake timeout");
      return;
    }
    arm_deadline();
    return;
  }
  if (rate_paused_ && now >= throttle_->ready_at()) {
    rate_paused_ = false;
    throttle_->resumed(now);
    last_received_ = now;  // frames waited unread while paused: our silence, not the peer's
    if (!publisher_.paused()) link_.resume_reading();
  }
  if (blocked_ && publisher_.store_has_room(kUnblockRoom)) {
    blocked_ = false;
    send_method(0, cls::connection, m::unblocked, {});
    spdlog::info("{}: the store has room again; connection unblocked", describe());
  }
  if (heartbeat_ != 0) {
    const auto hb = std::chrono::seconds(heartbeat_);
    // While reading is paused (backpressure) the peer's heartbeats wait unread.
    if (publisher_.paused() || rate_paused_) last_received_ = now;
    if (now >= last_received_ + 2 * hb) {
      // Two heartbeat intervals without a frame: the peer is gone (section 4.2.7).
      spdlog::info("{}: missed heartbeats (nothing received for {} s); closed", describe(), 2 * heartbeat_);
      set_close_reason(fmt::format("heartbeat timeout (nothing received for {} s)", 2 * heartbeat_));
      close_link("missed heartbeats");
      return;
    }
    if (now >= next_heartbeat_) {
      out_.clear();
      write_heartbeat(out_);
      link_.write(out_);
      next_heartbeat_ = now + std::max<std::chrono::milliseconds>(std::chrono::milliseconds(500), hb / 2);
    }
  }
  arm_deadline();
}

proto::SessionFactory make_session_factory(Vhost& vhost, const AmqpSettings& settings, LimitSettings limits,
                                          core::ListenerAccess access, bool log_connections) {
  auto ctx = std::make_shared<const SessionContext>(
      SessionContext{vhost, settings, limits, std::move(access), log_connections});
  return [ctx](proto::Link& link) { return std::make_unique<AmqpSession>(link, ctx); };
}

}  // namespace outpost::amqp
