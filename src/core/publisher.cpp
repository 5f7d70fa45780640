#include "core/publisher.hpp"

#include "core/trace_context.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace outpost::core {

Publisher::Publisher(Broker& broker, ClientInfo client, const AccessControl* access, bool holds)
    : broker_(broker), access_(access), client_(std::move(client)), holds_(holds) {}

Publisher::~Publisher() = default;

namespace {

// What the publisher routed instead of `original`, for the caller's log lines.
void keep_replaced(PublishOutcome& out, const MessagePtr& original, MessagePtr& replaced) {
  if (replaced && replaced != original) out.message = std::move(replaced);
}

}  // namespace

Publisher::Pending& Publisher::pending() {
  if (!pending_) pending_ = std::make_shared<Pending>();
  return *pending_;
}

PublishOutcome Publisher::publish(const Exchange& exchange, const MessagePtr& message, Source source) {
  PublishOutcome out;
  auto& counters = broker_.counters().local();
  // 1. Write authorization: a client's messages and its will, as the client. The broker's
  //    status topics ($SYS/...) are the broker's (and its plugins') alone.
  if (source != Source::broker && client_.protocol != Protocol::plugin &&
      &exchange == &broker_.mqtt_exchange() && message->topic().starts_with("$SYS/")) {
    counters.add(client_.protocol, Counter::refused_not_authorized);
    out.refused = Refusal::not_authorized;
    return out;
  }
  if (access_ && source != Source::broker && !access_->may_publish(client_, exchange.name(), message->topic())) {
    counters.add(client_.protocol, Counter::refused_not_authorized);
    out.refused = Refusal::not_authorized;
    return out;
  }
  // 1b. With tracing.inject, a message without a traceparent gets a fresh one here, where
  //     every message passes, before plugins and subscribers see it (a malformed one is
  //     passed through as it is). Not the broker's status topics ($SYS/...): they are no
  //     event of anyone's.
  const MessagePtr* routed = &message;
  MessagePtr replaced;
  if (broker_.trace_inject() && !has_traceparent(message->properties()) &&
      !(source == Source::broker && message->topic().starts_with('$'))) {
    replaced = with_new_traceparent(*message);
    routed = &replaced;
  }
  // 2. The plugin message hook: inspect, replace, drop or refuse.
  if (const auto* hook = broker_.message_hook();
      hook && source != Source::broker && client_.protocol != Protocol::plugin) {
    if (!replaced) replaced = message;
    const auto verdict = hook->on_message(client_, replaced);
    routed = &replaced;
    switch (verdict) {
      case HookVerdict::pass: break;
      case HookVerdict::drop:
        counters.add(client_.protocol, Counter::published);
        counters.add(client_.protocol, Counter::dropped_no_subscribers);
        out.discarded = true;
        keep_replaced(out, message, replaced);
        return out;
      case HookVerdict::refuse:
        counters.add(client_.protocol, Counter::refused_not_authorized);
        out.refused = Refusal::not_authorized;
        keep_replaced(out, message, replaced);
        return out;
    }
  }
  // 3. Durable messages are refused, visibly, when the store is full: never accepted and
  //    then lost.
  if (source == Source::client && (*routed)->qos() > 0 &&
      broker_.store().would_exceed((*routed)->topic().size() + (*routed)->payload().size())) {
    counters.add(client_.protocol, Counter::refused_store_full);
    out.refused = Refusal::store_full;
    keep_replaced(out, message, replaced);
    return out;
  }
  // 4. Routing.
  std::vector<QueuePtr>* congested = holds_ ? &pending().congested : nullptr;
  out.routed = broker_.route(exchange, *routed, wakeups_, congested, &client_);
  // 5. Counters.
  counters.add(client_.protocol, Counter::published);
  if (out.routed.matched == 0) counters.add(client_.protocol, Counter::dropped_no_subscribers);
  if (out.routed.queued) counters.add(client_.protocol, Counter::routed, out.routed.queued);
  if (out.routed.dropped) counters.add(client_.protocol, Counter::dropped_queue_full, out.routed.dropped);
  keep_replaced(out, message, replaced);
  return out;
}

bool Publisher::acknowledge(const HeldAck& ack, bool needs_commit) {
  const bool wait = needs_commit && broker_.persistent();
  if (!wait && (!pending_ || (pending_->barriers == 0 && pending_->unsent.empty()))) return true;
  if (!holds_) return true;  // nobody to hand it back to: internal sources do not wait
  auto& p = pending();
  // Behind a commit, or behind acknowledgements that wait for one: kept in publish order.
  p.unsent.push_back(ack);
  ++p.held;
  return false;
}

std::size_t Publisher::held() const noexcept { return pending_ ? pending_->held : 0; }

bool Publisher::flush_pending(const boost::asio::any_io_executor& ex, std::weak_ptr<PublisherOwner> owner,
                              const Queue* own) {
  pending_->owner = std::move(owner);
  if (!pending_->unsent.empty()) {
    auto& p = *pending_;
    // One barrier for every acknowledgement of this read: it runs once the store holds
    // all that they acknowledge (barriers complete in call order).
    ++p.barriers;
    // Hands the acknowledgements back to the connection, on its thread.
    auto release = [](Pending& pending, const std::vector<HeldAck>& acks) {
      --pending.barriers;
      pending.held -= acks.size();
      if (auto o = pending.owner.lock()) o->on_durable(acks);
    };
    broker_.store().after_commit(
        [weak = std::weak_ptr<Pending>(pending_), ex, acks = std::move(p.unsent), release]() mutable {
          // Committed on the connection's own thread (at the end of its read) with no other
          // barrier of this publisher outstanding, so none of its acknowledgements can be on
          // the way: released now, ahead of the deliveries the read posted, rather than one
          // more turn of the event loop later.
          const auto* io = ex.target<boost::asio::io_context::executor_type>();
          if (io && io->running_in_this_thread()) {
            if (auto pending = weak.lock(); pending && pending->barriers == 1) {
              release(*pending, acks);
              return;
            }
          }
          boost::asio::post(ex, [weak = std::move(weak), acks = std::move(acks), release] {
            auto pending = weak.lock();
            if (!pending) return;  // the publisher is gone, and its connection with it
            release(*pending, acks);
          });
        });
    p.unsent = {};
  }
  bool pause = false;
  if (!pending_->congested.empty()) {
    auto& p = *pending_;
    auto& congested = p.congested;
    std::sort(congested.begin(), congested.end());
    congested.erase(std::unique(congested.begin(), congested.end()), congested.end());
    for (auto& q : congested) {
      if (q.get() == own) continue;
      if (q->wait_for_space(p.owner, ex)) {
        ++p.flow_waits;
        spdlog::debug("{} client {}: reading paused: queue '{}' is congested", to_string(client_.protocol),
                      client_.remote_address(), q->name());
      }
    }
    congested.clear();
    pause = p.flow_waits > 0;
  }
  wakeups_.flush();
  return pause;
}

bool Publisher::on_space_available() noexcept {
  if (!pending_ || pending_->flow_waits == 0) return false;
  return --pending_->flow_waits == 0;
}

bool Publisher::paused() const noexcept { return pending_ && pending_->flow_waits > 0; }

bool Publisher::store_has_room(std::size_t bytes) const { return !broker_.store().would_exceed(bytes); }

}  // namespace outpost::core
