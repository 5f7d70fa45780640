// The connection class (start, tune, open, close) and the channel class (open, flow, close).
#include "amqp/amqp_session.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace outpost::amqp {

void AmqpSession::send_start() {
  FieldTable capabilities{
      {"publisher_confirms", FieldValue::boolean(true)},
      {"basic.nack", FieldValue::boolean(true)},
      {"consumer_cancel_notify", FieldValue::boolean(true)},
      {"connection.blocked", FieldValue::boolean(true)},
      {"per_consumer_qos", FieldValue::boolean(true)},
      {"authentication_failure_close", FieldValue::boolean(true)},
      {"exchange_exchange_bindings", FieldValue::boolean(false)},
  };
  FieldTable server{
      {"product", FieldValue::string("Outpost")},
      {"version", FieldValue::string(OUTPOST_VERSION)},
      {"platform", FieldValue::string("C++")},
      {"capabilities", FieldValue::of_table(std::move(capabilities))},
  };
  send_method(0, cls::connection, m::start, {0, 9, server, "PLAIN AMQPLAIN", "en_US"});
}

bool AmqpSession::handle_connection_method(const Method& m) {
  switch (m.method_id()) {
    case m::start_ok:
      if (phase_ != Phase::start_ok) break;
      return handle_start_ok(m);
    case m::tune_ok:
      if (phase_ != Phase::tune_ok) break;
      return handle_tune_ok(m);
    case m::open:
      if (phase_ != Phase::open) break;
      return handle_open(m);
    case m::close:
      // The client closes (section 2.2.4): close-ok, then the socket. Its channels end
      // and its exclusive queues go first, so a client that reconnects once it has the
      // close-ok finds the queue names free (on_closed would do it only later).
      set_close_reason(fmt::format("closed by the client ({} {})", m.num(0), m.str(1)));
      end_all_channels();
      ctx_->vhost.connection_closed(id_);
      send_method(0, cls::connection, m::close_ok, {});
      close_link("closed by the client");
      return false;
    case m::close_ok:
      close_link("closed");
      return false;
    case m::blocked:
    case m::unblocked: return true;
    case m::update_secret:
      send_method(0, cls::connection, m::update_secret_ok, {});
      return true;
    default: break;
  }
  return connection_error(command_invalid, fmt::format("COMMAND_INVALID - unexpected {}", m.spec->name), &m);
}

bool AmqpSession::handle_start_ok(const Method& m) {
  const auto& client = m.table(0);
  if (const auto* name = find_field(client, "connection_name"); name && name->type == 'S') {
    connection_name_ = name->s.substr(0, 255);
  }
  if (const auto* caps = find_field(client, "capabilities"); caps && caps->type == 'F') {
    if (const auto* v = find_field(caps->table, "consumer_cancel_notify")) client_cancel_notify_ = v->i != 0;
    if (const auto* v = find_field(caps->table, "connection.blocked")) client_blocked_notify_ = v->i != 0;
  }
  const std::string& mechanism = m.str(1);
  const std::string& response = m.str(2);
  core::AuthRequest request;
  if (mechanism == "PLAIN") {
    // authzid NUL authcid NUL password (RFC 4616).
    const auto first = response.find('\0');
    const auto second = first == std::string::npos ? std::string::npos : response.find('\0', first + 1);
    if (second == std::string::npos) {
      return connection_error(access_refused, "ACCESS_REFUSED - malformed PLAIN response", &m);
    }
    request.user = response.substr(first + 1, second - first - 1);
    request.password = response.substr(second + 1);
  } else if (mechanism == "AMQPLAIN") {
    // A field table without its length prefix (as clients send it), or with one.
    FieldTable t;
    std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(response.data()), response.size());
    if (!decode_table_body(bytes, t)) {
      t.clear();
      Reader r(bytes);
      if (!read_table(r, t)) return connection_error(access_refused, "ACCESS_REFUSED - malformed AMQPLAIN response", &m);
    }
    const auto* login = find_field(t, "LOGIN");
    const auto* pass = find_field(t, "PASSWORD");
    if (!login || !pass) return connection_error(access_refused, "ACCESS_REFUSED - AMQPLAIN without LOGIN and PASSWORD", &m);
    request.user = login->s;
    request.password = pass->s;
  } else {
    return connection_error(access_refused, fmt::format("ACCESS_REFUSED - unsupported mechanism '{}'", mechanism), &m);
  }
  request.protocol = core::Protocol::amqp;
  request.listener = std::string(this->client().listener());
  request.remote_address = std::string(this->client().remote_address());
  request.certificate_identity = std::string(this->client().certificate_identity());
  request.mechanism = mechanism;
  // Nothing more is read until the authenticator answers (on this thread, later): the
  // client waits for connection.tune anyway.
  phase_ = Phase::authenticating;
  link_.pause_reading();
  ctx_->access.authenticator->authenticate(
      std::move(request), link_.executor(),
      [w = std::weak_ptr<Handle>(handle_), mechanism](core::AuthDecision decision) {
        auto h = w.lock();
        if (h && h->session) h->session->on_authenticated(std::move(decision), mechanism);
      });
  return true;
}

void AmqpSession::on_authenticated(core::AuthDecision decision, const std::string& mechanism) {
  if (closed_ || phase_ != Phase::authenticating) return;
  if (decision.status != core::AuthStatus::accepted) {
    // As RabbitMQ: 403 ACCESS_REFUSED closes the connection (authentication_failure_close).
    spdlog::info("{}: login refused ({}): {}", describe(), mechanism, decision.reason);
    connection_error(access_refused,
                     fmt::format("ACCESS_REFUSED - Login was refused using authentication mechanism {}: {}", mechanism,
                                 decision.reason),
                     nullptr, cls::connection, m::start_ok);
    link_.resume_reading();  // for the client's close-ok
    return;
  }
  client().user = core::ClientId(decision.user);
  client().plugin_authenticated = decision.by_plugin;
  const auto& s = ctx_->settings;
  send_method(0, cls::connection, m::tune, {s.channel_max, s.frame_max, s.heartbeat});
  phase_ = Phase::tune_ok;
  link_.resume_reading();
}

bool AmqpSession::handle_tune_ok(const Method& m) {
  const auto& s = ctx_->settings;
  const auto channel_max = static_cast<std::uint16_t>(m.num(0));
  const auto frame_max = static_cast<std::uint32_t>(m.num(1));
  channel_max_ = channel_max == 0 ? s.channel_max : std::min(channel_max, s.channel_max);
  if (channel_max_ == 0) channel_max_ = 65535;
  if (frame_max != 0 && frame_max < kFrameMinSize) {
    return connection_error(not_allowed, fmt::format("NOT_ALLOWED - frame_max {} is below the minimum {}", frame_max, kFrameMinSize), &m);
  }
  if (frame_max > s.frame_max) {
    return connection_error(not_allowed, fmt::format("NOT_ALLOWED - frame_max {} is above the server's {}", frame_max, s.frame_max), &m);
  }
  frame_max_ = frame_max == 0 ? s.frame_max : frame_max;
  // The client's answer decides (it took the lower of both, or 0 to disable).
  heartbeat_ = static_cast<std::uint16_t>(m.num(2));
  phase_ = Phase::open;
  return true;
}

bool AmqpSession::handle_open(const Method& m) {
  if (m.str(0) != "/") {
    return connection_error(not_allowed, fmt::format("NOT_ALLOWED - vhost '{}' not found (only '/')", m.str(0)), &m);
  }
  send_method(0, cls::connection, m::open_ok, {""});
  phase_ = Phase::opened;
  opened_once_ = true;
  vhost_ = m.str(0);
  if (const auto& observer = ctx_->access.observer) observer->connected(client());
  if (ctx_->log_connections) {
    spdlog::info("{} connected over {}: AMQP 0-9-1, vhost '{}', {}, heartbeat {}s, channel_max {}, frame_max {}",
                 describe(), link_.transport_name(), vhost_,
                 !client().certificate_identity().empty() && client().user.view() == client().certificate_identity()
                     ? fmt::format("user '{}' (client certificate)", client().user.view())
                 : client().user.empty() ? std::string("anonymous")
                                         : fmt::format("user '{}'", client().user.view()),
                 heartbeat_, channel_max_, frame_max_);
  }
  {
    core::ClientRecord record;
    record.protocol = core::Protocol::amqp;
    record.id = connection_name_.empty() ? link_.remote_address() : connection_name_;
    record.protocol_version = "0-9-1";
    record.listener = std::string(client().listener());
    record.remote_address = link_.remote_address();
    record.user = std::string(client().user.view());
    record.connected_unix_ms = core::now_unix_ms();
    auto& directory = ctx_->vhost.broker().clients();
    directory_entry_ = core::DirectoryEntry(directory, directory.add(std::move(record), link_.executor(), handle_));
  }
  spdlog::debug("{}: connection open (frame_max {}, channel_max {}, heartbeat {} s)", describe(), frame_max_,
                channel_max_, heartbeat_);
  next_heartbeat_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(heartbeat_ * 500);
  arm_deadline();
  return true;
}

bool AmqpSession::handle_channel_method(std::uint16_t channel, const Method& m) {
  Channel* ch = find_channel(channel);
  switch (m.method_id()) {
    case m::ch_open: {
      if (channel > channel_max_) {
        return connection_error(channel_error, fmt::format("CHANNEL_ERROR - channel {} is above channel_max {}", channel, channel_max_), &m);
      }
      if (ch != nullptr) {
        return connection_error(channel_error, fmt::format("CHANNEL_ERROR - second 'channel.open' seen on channel {}", channel), &m);
      }
      auto fresh = std::make_unique<Channel>();
      fresh->id = channel;
      fresh->opening = ++channels_opened_;
      channels_.emplace(channel, std::move(fresh));
      send_method(channel, cls::channel, m::ch_open_ok, {""});
      return true;
    }
    case m::flow:
      if (ch == nullptr) break;
      if (ch->closing) return true;
      ch->flow = m.flag(0);
      send_method(channel, cls::channel, m::flow_ok, {ch->flow});
      if (ch->flow) resume_starved(ch);
      return true;
    case m::flow_ok: return true;
    case m::ch_close:
      if (ch == nullptr) break;
      close_channel_state(*ch);
      channels_.erase(channel);
      send_method(channel, cls::channel, m::ch_close_ok, {});
      return true;
    case m::ch_close_ok:
      if (ch != nullptr && ch->closing) channels_.erase(channel);
      return true;
    default: break;
  }
  if (ch == nullptr) {
    return connection_error(channel_error, fmt::format("CHANNEL_ERROR - expected 'channel.open' on channel {}", channel), &m);
  }
  return connection_error(command_invalid, fmt::format("COMMAND_INVALID - unexpected {}", m.spec->name), &m);
}

}  // namespace outpost::amqp
