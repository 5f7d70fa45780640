// basic.publish with its content, mandatory returns, and publisher confirms released
// after the store commit that holds the message (confirm.select).
#include "amqp/amqp_session.hpp"

#include "core/topic.hpp"
#include "core/trace_context.hpp"
#include "amqp/properties.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace outpost::amqp {

bool AmqpSession::start_publish(Channel& ch, const Method& m) {
  // ticket, exchange, routing-key, mandatory, immediate
  if (m.flag(4)) return connection_error(not_implemented, "NOT_IMPLEMENTED - immediate=true", &m);
  auto p = std::make_unique<PendingPublish>();
  p->exchange = m.str(1);
  p->routing_key = m.str(2);
  p->mandatory = m.flag(3);
  ch.publish = std::move(p);
  return true;
}

bool AmqpSession::finish_publish(Channel& ch) {
  auto p = std::move(ch.publish);
  throttle_publish(p->body_size);
  static const MethodSpec* publish_spec = find_method(cls::basic, m::publish);
  Method as_method{publish_spec, {}};
  const auto target = ctx_->vhost.resolve(p->exchange);
  if (!target.found) {
    return channel_fail(ch, not_found, fmt::format("NOT_FOUND - no exchange '{}' in vhost '/'", p->exchange), &as_method);
  }
  if (bool closed = false; p->exchange != write_permitted_exchange_) {
    if (!permitted(ch, &as_method, core::AccessControl::Permission::write, core::AccessControl::Resource::exchange,
                   p->exchange, closed)) {
      return closed;
    }
    // Permissions do not change while the broker runs: one check per exchange in a row.
    write_permitted_exchange_ = p->exchange;
  }
  if (target.internal) {
    return channel_fail(ch, access_refused,
                         fmt::format("ACCESS_REFUSED - cannot publish to internal exchange '{}'", p->exchange), &as_method);
  }
  // The user-id property, when set, must name the user of the connection (as RabbitMQ
  // validates it), so a consumer can trust it.
  if (p->header.properties.has(prop::user_id) && p->header.properties.user_id != client().user.view()) {
    return channel_fail(ch, precondition_failed,
                        fmt::format("PRECONDITION_FAILED - user_id property set to '{}' but authenticated user was '{}'",
                                    p->header.properties.user_id, client().user.view()),
                        &as_method);
  }
  const bool topic = target.exchange && target.exchange->type() == core::ExchangeType::topic;
  const auto now = core::now_unix_ms();
  auto props = std::make_shared<core::MessageProperties>();
  core::Message::Init init;
  if (!to_core_properties(p->header, p->exchange, !topic, now, *props, init.expiry_unix_ms)) {
    return channel_fail(ch, precondition_failed,
                         fmt::format("PRECONDITION_FAILED - invalid expiration '{}'", p->header.properties.expiration),
                         &as_method);
  }
  init.topic = topic ? core::amqp_key_to_topic(p->routing_key) : p->routing_key;
  init.payload = p->body;
  // Persistent (delivery-mode 2) is QoS 1 in the core: a durable queue stores it.
  init.qos = p->header.properties.delivery_mode == 2 ? 1 : 0;
  init.origin = client().origin;
  init.properties = std::move(props);

  auto message = core::Message::make(std::move(init));
  const auto outcome = publisher_.publish(*target.exchange, message);
  if (outcome.refused == core::Refusal::not_authorized) {
    return channel_fail(ch,
                        access_refused,
                        fmt::format("ACCESS_REFUSED - access to routing key '{}' of exchange '{}' refused for user '{}'",
                                    p->routing_key, p->exchange.empty() ? "amq.default" : p->exchange,
                                    client().user.view()),
                        &as_method, core::trace_note(outcome.routed_message(message)));
  }
  if (outcome.refused == core::Refusal::store_full) {
    spdlog::warn("{}: persistent message to '{}' refused: the store is full (persistence.max_bytes reached, or the "
                 "disk is full)",
                 describe(),
                 p->exchange);
    if (client_blocked_notify_ && !blocked_) {
      // Told once; connection.unblocked follows when the store has room again (on_deadline).
      send_method(0, cls::connection, m::blocked, {"store full"});
      blocked_ = true;
      arm_deadline();
    }
    if (ch.confirm) confirm(ch, ++ch.publish_seq, false, false);
    return true;
  }
  const auto& result = outcome.routed;
  if (result.evicted > 0) ctx_->vhost.drain_evicted(dead_letters_);
  if (result.matched == 0 && p->mandatory) {
    // Unroutable and mandatory: back to the publisher (basic.return 312 NO_ROUTE).
    send_method(ch.id, cls::basic, m::return_, {no_route, "NO_ROUTE", p->exchange, p->routing_key});
    send_content(ch.id, *message);
  }
  if (ch.confirm) {
    // Refused by every queue it reached (x-overflow reject-publish): nack.
    const bool ack = !(result.dropped > 0 && result.queued == 0);
    confirm(ch, ++ch.publish_seq, ack, result.needs_commit);
  }
  return true;
}

void AmqpSession::confirm(Channel& ch, std::uint64_t seq, bool ack, bool needs_commit) {
  // Behind a commit, or behind confirms that wait for one, it is held by the publisher and
  // comes back (Handle::on_durable) in publish order.
  if (publisher_.acknowledge(core::HeldAck{seq, ch.id, static_cast<std::uint8_t>(ack ? 1 : 0), 0, ch.opening},
                             needs_commit)) {
    send_confirm(ch.id, seq, ack);
  }
}

void AmqpSession::send_confirm(std::uint16_t channel, std::uint64_t seq, bool ack) {
  send_method(channel, cls::basic, ack ? m::ack : m::nack, {seq, false, false});
}

void AmqpSession::Handle::on_durable(std::span<const core::HeldAck> acks) {
  if (!session) return;
  AmqpSession& s = *session;
  for (const auto& c : acks) {
    Channel* ch = s.find_channel(c.a);
    // Not to a channel closed since, nor to one opened again under its number: that one
    // gave no such tag (confirm tags count per channel from its channel.open).
    if (ch == nullptr || ch->closing || ch->opening != c.d || s.phase_ != Phase::opened) continue;
    s.send_confirm(c.a, c.id, c.b != 0);
  }
}

void AmqpSession::throttle_publish(std::uint64_t bytes) {
  const auto& l = ctx_->limits;
  if (l.max_publish_rate == 0 && l.max_publish_bytes_rate == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (!throttle_) throttle_ = std::make_unique<proto::PublishThrottle>(l.max_publish_rate, l.max_publish_bytes_rate, now);
  if (!throttle_->take(bytes, now)) return;
  ctx_->vhost.broker().counters().add(core::Protocol::amqp, core::Counter::publish_throttled);
  // AMQP has no way to say "too fast" but to slow the reader down: TCP flow control does.
  if (throttle_->paused(now) == std::chrono::steady_clock::duration::zero()) {
    spdlog::warn("{}: publishing faster than {}; reading from it paused until it is back under", describe(),
                 proto::describe_publish_limits(l.max_publish_rate, l.max_publish_bytes_rate));
  }
  rate_paused_ = true;
  link_.pause_reading();
  arm_deadline();
}

void AmqpSession::flush_publisher() {
  // A queue past its flow mark: stop reading from this publisher until it drains.
  if (publisher_.flush(link_.executor(), handle_)) link_.pause_reading();
  dead_letters_.wakeups().flush();
}

}  // namespace outpost::amqp
