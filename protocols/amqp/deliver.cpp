// The basic class towards consumers: qos, consume, cancel, deliver, get, ack / nack /
// reject, recover; and the content (header and body frames) of a message sent out.
#include "amqp/amqp_session.hpp"

#include "amqp/properties.hpp"
#include "core/random_name.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>


namespace outpost::amqp {

namespace {
// A stored delivery handed to a client is marked as sent, so that after a restart it
// comes back with redelivered set: the client may have seen it (section 1.8.3.9, as
// RabbitMQ's durable queues do). The store folds this into a put still pending.
void mark_sent(core::Queue& queue, const core::Delivery& d) {
  if (d.seq != 0) queue.entry_sent(d, store::EntryState::awaiting_puback, 0);
}
}  // namespace

void ConsumerState::on_messages_available() {
  if (session) session->deliver(*this);
}

void ConsumerState::on_queue_deleted(const std::string&) {
  if (session) session->queue_deleted(*this);
}

bool AmqpSession::handle_basic_method(Channel& ch, const Method& m) {
  switch (m.method_id()) {
    case m::publish: return start_publish(ch, m);
    case m::qos:
      // prefetch-size, prefetch-count, global. global=true bounds the channel, false each
      // consumer created afterwards (RabbitMQ's reading of 0-9-1). A byte window is not
      // kept: refused as RabbitMQ refuses it, rather than silently ignored.
      if (m.num(0) != 0) {
        return connection_error(not_implemented, fmt::format("NOT_IMPLEMENTED - prefetch_size!=0 ({})", m.num(0)), &m);
      }
      if (m.flag(2)) {
        ch.prefetch_channel = static_cast<std::uint32_t>(m.num(1));
      } else {
        ch.prefetch_consumer = static_cast<std::uint32_t>(m.num(1));
      }
      send_method(ch.id, cls::basic, m::qos_ok, {});
      resume_starved(&ch);
      return true;
    case m::consume: return handle_consume(ch, m);
    case m::cancel: {
      const std::string tag = m.str(0);
      cancel_consumer(ch, tag);
      if (!m.flag(1)) send_method(ch.id, cls::basic, m::cancel_ok, {tag});
      return true;
    }
    case m::get: return handle_get(ch, m);
    case m::ack: return handle_ack(ch, m.num(0), m.flag(1), true, false);
    case m::reject: return handle_ack(ch, m.num(0), false, false, m.flag(1));
    case m::nack: return handle_ack(ch, m.num(0), m.flag(1), false, m.flag(2));
    case m::recover_async:
    case m::recover:
      // Unacknowledged deliveries of the channel go back to their queues, redelivered.
      requeue_all(ch);
      if (m.method_id() == m::recover) send_method(ch.id, cls::basic, m::recover_ok, {});
      resume_starved(&ch);
      return true;
    default: break;
  }
  return connection_error(command_invalid, fmt::format("COMMAND_INVALID - {} is not sent by clients", m.spec->name), &m);
}

bool AmqpSession::handle_consume(Channel& ch, const Method& m) {
  // ticket, queue, consumer-tag, no-local, no-ack, exclusive, no-wait, arguments
  Error e;
  auto q = ctx_->vhost.find_queue(m.str(1).empty() ? ch.last_queue : m.str(1), id_, e);
  if (!q) return fail(ch.id, e, &m);
  if (!may_consume(q->name)) {
    return channel_fail(ch, access_refused,
                        fmt::format("ACCESS_REFUSED - access to queue '{}' in vhost '/' refused for user '{}'", q->name,
                                    client().user.view()),
                        &m);
  }
  if (const std::uint32_t max = ctx_->limits.max_subscriptions_per_client; max != 0) {
    std::size_t consumers = 0;
    for (const auto& [id, other] : channels_) consumers += other->consumers.size();
    if (consumers >= max) {
      ctx_->vhost.broker().counters().add(core::Protocol::amqp, core::Counter::refused_by_limit);
      // A refusal per basic.consume, each closing its channel: the client cannot flood the log.
      spdlog::warn("{}: basic.consume on '{}' refused: the connection has {} consumers "
                   "(limits.max_subscriptions_per_client)",
                   describe(), q->name, consumers);
      return channel_fail(ch, precondition_failed,
                          fmt::format("PRECONDITION_FAILED - reached the maximum of {} consumers per connection", max),
                          &m);
    }
  }
  std::string tag = m.str(2);
  if (tag.empty()) {
    do tag = core::random_name("amq.ctag-", 22, core::NameAlphabet::url_safe);
    while (ch.consumers.contains(tag));
  } else if (ch.consumers.contains(tag)) {
    return connection_error(not_allowed, fmt::format("NOT_ALLOWED - attempt to reuse consumer tag '{}'", tag), &m);
  }
  auto c = std::make_shared<ConsumerState>();
  c->session = this;
  c->channel = ch.id;
  c->tag = tag;
  c->queue = q;
  c->no_ack = m.flag(4);
  c->exclusive = m.flag(5);
  c->prefetch = ch.prefetch_consumer;
  if (auto err = ctx_->vhost.add_consumer(q, c->exclusive, link_.executor(), c)) {
    c->session = nullptr;
    return fail(ch.id, err, &m);
  }
  ch.consumers.emplace(tag, c);
  if (!m.flag(6)) send_method(ch.id, cls::basic, m::consume_ok, {tag});
  // The wake-up is posted: deliveries follow consume-ok.
  q->queue->attach(c, link_.executor(), publisher_.wakeups());
  return true;
}

void AmqpSession::cancel_consumer(Channel& ch, const std::string& tag, bool) {
  auto it = ch.consumers.find(tag);
  if (it == ch.consumers.end()) return;
  auto c = it->second;
  ch.consumers.erase(it);
  c->session = nullptr;
  c->queue->queue->detach(c.get());
  ctx_->vhost.remove_consumer(c->queue, c->exclusive, c.get());
}

void AmqpSession::queue_deleted(ConsumerState& c) {
  Channel* ch = find_channel(c.channel);
  if (ch == nullptr || ch->closing) return;
  const std::string tag = c.tag;
  // Section 1.8.3.3 extension (consumer_cancel_notify): the client learns its consumer is gone.
  if (client_cancel_notify_ && phase_ == Phase::opened) send_method(ch->id, cls::basic, m::cancel, {tag, true});
  cancel_consumer(*ch, tag);
}

std::uint32_t AmqpSession::credit(const Channel& ch, const ConsumerState& c) const {
  std::uint32_t n = 0xFFFFFFFF;
  if (c.prefetch != 0) n = c.unacked >= c.prefetch ? 0 : c.prefetch - c.unacked;
  if (ch.prefetch_channel != 0) {
    n = std::min(n, ch.unacked_count >= ch.prefetch_channel ? 0 : ch.prefetch_channel - ch.unacked_count);
  }
  return n;
}

void AmqpSession::deliver(ConsumerState& c) {
  Channel* ch = find_channel(c.channel);
  if (ch == nullptr || ch->closing || phase_ != Phase::opened || closed_) return;
  auto self = c.shared_from_this();  // a queue deletion inside may drop the channel's reference
  auto& queue = *c.queue->queue;
  const auto now = core::now_unix_ms();
  for (;;) {
    if (c.session == nullptr) return;
    const bool no_credit = !ch->flow || (!c.no_ack && credit(*ch, c) == 0);
    if (no_credit || link_.write_pressure()) {
      c.starved = true;
      if (no_credit && !c.stalled) {
        // Without credit this consumer drains nothing: the queue wakes another one and
        // does not hold publishers back on its account.
        c.stalled = true;
        queue.stall(&c, publisher_.wakeups());
      }
      break;
    }
    if (c.stalled) {
      c.stalled = false;
      queue.rearm(publisher_.wakeups(), &c);
    }
    core::Delivery d;
    if (!queue.pull_one(d)) {
      c.starved = false;
      break;
    }
    if (d.expired(now)) {
      ctx_->vhost.broker().counters().add(core::Protocol::amqp, core::Counter::expired);
      ctx_->vhost.dead_letter(*c.queue, d, "expired", dead_letters_);
      queue.entry_done(d);
      continue;
    }
    const std::uint64_t tag = ch->next_tag++;
    send_method(ch->id, cls::basic, m::deliver,
                {c.tag, tag, d.redelivered, delivery_exchange(*d.message), delivery_routing_key(*d.message)});
    send_content(ch->id, *d.message);
    ctx_->vhost.broker().counters().add(core::Protocol::amqp, core::Counter::delivered);
    if (c.no_ack) {
      queue.entry_done(d);
    } else {
      mark_sent(queue, d);
      ++c.unacked;
      ++ch->unacked_count;
      ch->unacked.emplace(tag, Unacked{tag, c.queue, std::move(d), self});
    }
  }
  publisher_.wakeups().flush();
  dead_letters_.wakeups().flush();
}

void AmqpSession::resume_starved(Channel* only) {
  if (phase_ != Phase::opened) return;
  std::vector<std::shared_ptr<ConsumerState>> starved;
  auto collect = [&](Channel& ch) {
    for (auto& [tag, c] : ch.consumers) {
      if (c->starved) starved.push_back(c);
    }
  };
  if (only) {
    collect(*only);
  } else {
    for (auto& [id, ch] : channels_) collect(*ch);
  }
  for (auto& c : starved) deliver(*c);
}

void AmqpSession::send_content(std::uint16_t channel, const core::Message& m) {
  std::span<const std::uint8_t> headers_raw;
  const auto props = to_amqp_properties(m, core::now_unix_ms(), headers_raw);
  const auto payload = m.payload();
  out_.clear();
  encode_content_header(out_, channel, cls::basic, payload.size(), props, headers_raw);
  write_body_frames(out_, channel, payload, frame_max_);
  link_.write(out_);
}

bool AmqpSession::handle_get(Channel& ch, const Method& m) {
  // ticket, queue, no-ack
  Error e;
  auto q = ctx_->vhost.find_queue(m.str(1).empty() ? ch.last_queue : m.str(1), id_, e);
  if (!q) return fail(ch.id, e, &m);
  if (!may_consume(q->name)) {
    return channel_fail(ch, access_refused,
                        fmt::format("ACCESS_REFUSED - access to queue '{}' in vhost '/' refused for user '{}'", q->name,
                                    client().user.view()),
                        &m);
  }
  ctx_->vhost.touch(q);
  const bool no_ack = m.flag(2);
  const auto now = core::now_unix_ms();
  core::Delivery d;
  for (;;) {
    if (!q->queue->pull_one(d)) {
      send_method(ch.id, cls::basic, m::get_empty, {""});
      return true;
    }
    if (!d.expired(now)) break;
    ctx_->vhost.broker().counters().add(core::Protocol::amqp, core::Counter::expired);
    ctx_->vhost.dead_letter(*q, d, "expired", dead_letters_);
    q->queue->entry_done(d);
  }
  const std::uint64_t tag = ch.next_tag++;
  const auto left = static_cast<std::uint32_t>(q->queue->stats().messages);
  send_method(ch.id, cls::basic, m::get_ok,
              {tag, d.redelivered, delivery_exchange(*d.message), delivery_routing_key(*d.message), left});
  send_content(ch.id, *d.message);
  ctx_->vhost.broker().counters().add(core::Protocol::amqp, core::Counter::delivered);
  if (no_ack) {
    q->queue->entry_done(d);
  } else {
    mark_sent(*q->queue, d);
    ++ch.unacked_count;
    ch.unacked.emplace(tag, Unacked{tag, q, std::move(d), nullptr});
  }
  return true;
}

bool AmqpSession::handle_ack(Channel& ch, std::uint64_t tag, bool multiple, bool ack, bool requeue) {
  std::vector<Unacked> done;
  if (multiple) {
    // tag 0 with multiple: everything outstanding.
    auto end = tag == 0 ? ch.unacked.end() : ch.unacked.upper_bound(tag);
    if (tag != 0 && !ch.unacked.contains(tag) && ch.unacked.begin() == end) {
      return channel_fail(ch, precondition_failed, fmt::format("PRECONDITION_FAILED - unknown delivery tag {}", tag), nullptr);
    }
    for (auto it = ch.unacked.begin(); it != end;) {
      done.push_back(std::move(it->second));
      it = ch.unacked.erase(it);
    }
  } else {
    auto it = ch.unacked.find(tag);
    if (it == ch.unacked.end()) {
      static const MethodSpec* ack_spec = find_method(cls::basic, m::ack);
      Method as_method{ack_spec, {}};
      return channel_fail(ch, precondition_failed, fmt::format("PRECONDITION_FAILED - unknown delivery tag {}", tag),
                           &as_method);
    }
    done.push_back(std::move(it->second));
    ch.unacked.erase(it);
  }
  std::map<core::Queue*, std::pair<core::QueuePtr, std::vector<core::Delivery>>> back;
  for (auto& u : done) {
    if (u.consumer && u.consumer->unacked > 0) --u.consumer->unacked;
    if (ch.unacked_count > 0) --ch.unacked_count;
    auto& queue = *u.queue->queue;
    if (ack) {
      queue.entry_done(u.delivery);
    } else if (requeue) {
      auto& slot = back[&queue];
      slot.first = u.queue->queue;
      slot.second.push_back(std::move(u.delivery));
    } else {
      ctx_->vhost.dead_letter(*u.queue, u.delivery, "rejected", dead_letters_);
      queue.entry_done(u.delivery);
    }
  }
  for (auto& [raw, slot] : back) slot.first->requeue_front(std::move(slot.second), publisher_.wakeups());
  resume_starved(&ch);
  return true;
}

void AmqpSession::requeue_all(Channel& ch) {
  std::map<core::Queue*, std::pair<core::QueuePtr, std::vector<core::Delivery>>> back;
  for (auto& [tag, u] : ch.unacked) {
    if (u.consumer && u.consumer->unacked > 0) --u.consumer->unacked;
    auto& slot = back[u.queue->queue.get()];
    slot.first = u.queue->queue;
    slot.second.push_back(std::move(u.delivery));
  }
  ch.unacked.clear();
  ch.unacked_count = 0;
  for (auto& [raw, slot] : back) slot.first->requeue_front(std::move(slot.second), publisher_.wakeups());
}

void AmqpSession::close_channel_state(Channel& ch) {
  std::vector<std::string> tags;
  for (auto& [tag, c] : ch.consumers) tags.push_back(tag);
  for (auto& tag : tags) cancel_consumer(ch, tag);
  // Unacknowledged deliveries go back to their queues (section 1.8.3.9 / channel close).
  requeue_all(ch);
  ch.publish.reset();
}

bool AmqpSession::may_consume(const std::string& queue) const {
  const auto* access = ctx_->access.access.get();
  return !access || access->may_consume(client(), queue, {});
}

}  // namespace outpost::amqp
