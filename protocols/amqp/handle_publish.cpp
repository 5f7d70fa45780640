// basic.publish with its content, mandatory returns, and publisher confirms released
// after the store commit that holds the message (confirm.select).
#include "amqp/amqp_session.hpp"

#include "core/topic.hpp"
#include "amqp/properties.hpp"

#include <boost/asio/post.hpp>
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
  static const MethodSpec* publish_spec = find_method(cls::basic, m::publish);
  Method as_method{publish_spec, {}};
  const auto target = ctx_->vhost.resolve(p->exchange);
  if (!target.found) {
    return channel_fail(ch, not_found, fmt::format("NOT_FOUND - no exchange '{}' in vhost '/'", p->exchange), &as_method);
  }
  if (target.internal) {
    return channel_fail(ch, access_refused,
                         fmt::format("ACCESS_REFUSED - cannot publish to internal exchange '{}'", p->exchange), &as_method);
  }
  // The user-id property, when set, must name the user of the connection (as RabbitMQ
  // validates it), so a consumer can trust it.
  if (p->header.properties.has(prop::user_id) && p->header.properties.user_id != user_) {
    return channel_fail(ch, precondition_failed,
                        fmt::format("PRECONDITION_FAILED - user_id property set to '{}' but authenticated user was '{}'",
                                    p->header.properties.user_id, user_),
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
  init.origin = id_;
  init.properties = std::move(props);

  auto& store = ctx_->vhost.broker().store();
  if (init.qos > 0 && store.would_exceed(init.topic.size() + p->body.size())) {
    spdlog::warn("{}: persistent message to '{}' refused: the store is full (persistence.max_bytes)", describe(),
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
  auto message = core::Message::make(std::move(init));
  const auto result = ctx_->vhost.route(target, message, wakeups_, &congested_);
  if (result.evicted > 0) ctx_->vhost.drain_evicted(wakeups_);
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
  const bool wait = needs_commit && ctx_->vhost.broker().store().persistent();
  if (!wait && barriers_in_flight_ == 0 && unsent_confirms_.empty()) {
    send_method(ch.id, cls::basic, ack ? m::ack : m::nack, {seq, false, false});
    return;
  }
  // Behind a commit, or behind confirms that wait for one: kept in publish order.
  unsent_confirms_.push_back(PendingConfirm{ch.id, seq, ack});
}

void AmqpSession::flush_confirms() {
  if (unsent_confirms_.empty()) return;
  // One store barrier for the confirms of this read: it runs once everything they
  // confirm is durable (barriers complete in call order).
  ++barriers_in_flight_;
  auto batch = std::make_shared<std::vector<PendingConfirm>>(std::move(unsent_confirms_));
  unsent_confirms_.clear();
  std::weak_ptr<Handle> weak = handle_;
  auto ex = link_.executor();
  ctx_->vhost.broker().store().after_commit([weak, ex, batch] {
    boost::asio::post(ex, [weak, batch] {
      auto h = weak.lock();
      if (!h || !h->session) return;
      AmqpSession& s = *h->session;
      --s.barriers_in_flight_;
      for (const auto& c : *batch) {
        Channel* ch = s.find_channel(c.channel);
        if (ch == nullptr || ch->closing || s.phase_ != Phase::opened) continue;
        s.send_method(c.channel, cls::basic, c.ack ? m::ack : m::nack, {c.seq, false, false});
      }
    });
  });
}

void AmqpSession::wait_for_congested() {
  // A queue past its flow mark: stop reading from this publisher until it drains.
  for (auto& q : congested_) {
    if (q->wait_for_space(handle_, link_.executor())) ++flow_waits_;
  }
  congested_.clear();
  if (flow_waits_ > 0) link_.pause_reading();
}

}  // namespace outpost::amqp
