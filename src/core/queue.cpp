#include "core/queue.hpp"

#include "core/persist.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace outpost::core {

std::uint64_t Queue::bytes_of(const Delivery& d) const noexcept {
  return limits_.payload_bytes_only ? d.message->payload().size() : d.message->accounted_size();
}

void WakeupBatch::add(boost::asio::any_io_executor ex, std::weak_ptr<Consumer> consumer) {
  items_.push_back(Item{std::move(ex), std::move(consumer)});
}

void WakeupBatch::flush() {
  for (auto& item : items_) {
    boost::asio::post(item.ex, [c = std::move(item.consumer)] {
      if (auto consumer = c.lock()) consumer->on_messages_available();
    });
  }
  items_.clear();
}

Queue::Queue(std::uint64_t id, std::string name, QueueLimits limits)
    : id_(id), name_(std::move(name)), limits_(limits) {
  set_limits(limits);
}

void Queue::set_limits(const QueueLimits& limits) {
  std::lock_guard lock(mutex_);
  limits_ = limits;
  if (limits_.flow_high == 0) {
    // Pause publishers well before the hard limit so that the messages already in
    // their read buffers still fit.
    limits_.flow_high = std::max<std::uint64_t>(1, std::min<std::uint64_t>(limits_.max_messages / 2, 10000));
  }
  if (limits_.flow_low == 0 || limits_.flow_low >= limits_.flow_high) limits_.flow_low = limits_.flow_high / 2;
}

void Queue::wake_locked(WakeupBatch& wakeups) {
  if (!has_consumer_ || items_.empty()) return;
  const std::size_t n = consumers_.size();
  for (std::size_t i = 0; i < n; ++i) {
    ConsumerSlot& c = consumers_[(next_wake_ + i) % n];
    if (c.woken || c.stalled) continue;
    c.woken = true;
    wakeups.add(c.ex, c.consumer);
    next_wake_ = (next_wake_ + i + 1) % n;
    return;
  }
}

bool Queue::draining_locked() const {
  if (!has_consumer_) return false;
  if (!limits_.congestion_needs_credit) return true;
  return std::any_of(consumers_.begin(), consumers_.end(), [](const ConsumerSlot& c) { return !c.stalled; });
}

PushResult Queue::push(Delivery delivery, WakeupBatch& wakeups) {
  PushResult result;
  const std::uint64_t size = bytes_of(delivery);
  std::lock_guard lock(mutex_);
  auto refuse = [&](PushOutcome outcome) {
    // An entry written ahead (store_entry) goes with the refused delivery.
    if (store() && delivery.seq != 0) store()->delete_entry(store_name_, delivery.seq);
    result.outcome = outcome;
    return result;
  };
  if (!has_consumer_ && delivery.qos == 0 && limits_.drop_qos0_without_consumer) {
    return refuse(PushOutcome::dropped_no_consumer);
  }
  if (limits_.message_ttl_ms >= 0 && delivery.expires_unix_ms == 0) {
    delivery.expires_unix_ms = now_unix_ms() + limits_.message_ttl_ms;
  }
  const bool full = items_.size() + 1 > limits_.max_messages || bytes_ + size > limits_.max_bytes;
  if (full) {
    if (limits_.overflow == Overflow::reject_new || items_.empty()) {
      ++dropped_;
      return refuse(PushOutcome::dropped_full);
    }
    while (!items_.empty() &&
           (items_.size() + 1 > limits_.max_messages || bytes_ + size > limits_.max_bytes)) {
      bytes_ -= bytes_of(items_.front());
      if (store() && items_.front().seq != 0) store()->delete_entry(store_name_, items_.front().seq);
      if (limits_.keep_evicted) {
        items_.front().seq = 0;
        evicted_.push_back(std::move(items_.front()));
      }
      items_.pop_front();
      ++dropped_;
      ++result.evicted;
    }
  }
  // Under the queue's lock, so entries reach the store in queue order.
  if (delivery.seq == 0) result.stored = store_entry_locked(delivery);
  items_.push_back(std::move(delivery));
  bytes_ += size;
  ++pushed_;
  result.congested = items_.size() >= limits_.flow_high && draining_locked();
  wake_locked(wakeups);
  return result;
}

bool Queue::store_entry(Delivery& delivery) {
  if (store() == nullptr || delivery.qos == 0) return false;
  std::lock_guard lock(mutex_);
  return store_entry_locked(delivery);
}

bool Queue::store_entry_locked(Delivery& delivery) {
  if (store() == nullptr || delivery.qos == 0) return false;
  store::EntryRecord e;
  e.queue = store_name_;
  e.seq = delivery.seq = next_seq_++;
  e.message_id = ensure_stored(delivery.message, *store());
  e.qos = delivery.qos;
  e.retain = delivery.retain;
  e.subscription_ids.assign(delivery.subscription_ids.begin(), delivery.subscription_ids.end());
  store()->put_entry(std::move(e));
  return true;
}

void Queue::requeue_front(std::vector<Delivery>&& deliveries, WakeupBatch& wakeups) {
  std::lock_guard lock(mutex_);
  for (auto it = deliveries.rbegin(); it != deliveries.rend(); ++it) {
    it->redelivered = true;
    bytes_ += bytes_of(*it);
    items_.push_front(std::move(*it));
  }
  deliveries.clear();
  wake_locked(wakeups);
}

void Queue::after_remove_locked(
    std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>>& out) {
  if (items_.empty()) {
    for (auto& c : consumers_) c.woken = c.stalled = false;
  }
  if (!waiters_.empty() && items_.size() <= limits_.flow_low) release_waiters_locked(out);
}

std::size_t Queue::pull(std::vector<Delivery>& out, std::size_t max) {
  std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>> waiters;
  std::size_t n = 0;
  {
    std::lock_guard lock(mutex_);
    while (n < max && !items_.empty()) {
      bytes_ -= bytes_of(items_.front());
      out.push_back(std::move(items_.front()));
      items_.pop_front();
      ++n;
    }
    after_remove_locked(waiters);
  }
  notify_waiters(waiters);
  return n;
}

bool Queue::pull_one(Delivery& out) {
  std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>> waiters;
  bool got = false;
  {
    std::lock_guard lock(mutex_);
    if (!items_.empty()) {
      bytes_ -= bytes_of(items_.front());
      out = std::move(items_.front());
      items_.pop_front();
      got = true;
    }
    after_remove_locked(waiters);
  }
  notify_waiters(waiters);
  return got;
}

void Queue::rearm(WakeupBatch& wakeups, const Consumer* consumer) {
  std::lock_guard lock(mutex_);
  for (auto& c : consumers_) {
    if (consumer == nullptr || c.raw == consumer) c.woken = c.stalled = false;
  }
  wake_locked(wakeups);
}

void Queue::stall(const Consumer* consumer, WakeupBatch& wakeups) {
  std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>> waiters;
  {
    std::lock_guard lock(mutex_);
    if (items_.empty()) return;
    for (auto& c : consumers_) {
      if (c.raw == consumer) {
        c.stalled = true;
        c.woken = false;
      }
    }
    wake_locked(wakeups);
    // Nobody with credit is left: paused publishers must not wait for this queue.
    if (!waiters_.empty() && !draining_locked()) release_waiters_locked(waiters);
  }
  notify_waiters(waiters);
}

std::size_t Queue::take_expired(std::int64_t now, std::vector<Delivery>& out, std::size_t max) {
  std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>> waiters;
  std::size_t n = 0;
  {
    std::lock_guard lock(mutex_);
    while (n < max && !items_.empty() && items_.front().expired(now)) {
      bytes_ -= bytes_of(items_.front());
      out.push_back(std::move(items_.front()));
      items_.pop_front();
      ++n;
    }
    if (n > 0) after_remove_locked(waiters);
  }
  notify_waiters(waiters);
  return n;
}

std::size_t Queue::take_evicted(std::vector<Delivery>& out) {
  std::lock_guard lock(mutex_);
  const std::size_t n = evicted_.size();
  for (auto& d : evicted_) out.push_back(std::move(d));
  evicted_.clear();
  return n;
}

void Queue::attach(std::weak_ptr<Consumer> consumer, boost::asio::any_io_executor ex, WakeupBatch& wakeups) {
  std::lock_guard lock(mutex_);
  const Consumer* raw = consumer.lock().get();
  auto it = std::find_if(consumers_.begin(), consumers_.end(), [&](const ConsumerSlot& c) { return c.raw == raw; });
  if (it == consumers_.end()) {
    consumers_.push_back(ConsumerSlot{std::move(consumer), raw, std::move(ex), false});
    it = consumers_.end() - 1;
  } else {
    it->consumer = std::move(consumer);
    it->ex = std::move(ex);
  }
  has_consumer_ = true;
  // The new consumer is the next one woken.
  it->woken = it->stalled = false;
  next_wake_ = static_cast<std::size_t>(it - consumers_.begin());
  wake_locked(wakeups);
}

void Queue::detach(const Consumer* consumer) {
  std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>> waiters;
  WakeupBatch wakeups;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(consumers_.begin(), consumers_.end(),
                           [&](const ConsumerSlot& c) { return c.raw == consumer; });
    if (it == consumers_.end()) return;
    consumers_.erase(it);
    next_wake_ = 0;
    has_consumer_ = !consumers_.empty();
    if (has_consumer_) {
      // What the leaving consumer would have pulled goes to the others.
      for (auto& c : consumers_) c.woken = false;
      wake_locked(wakeups);
    } else {
      // Nobody drains an offline queue: publishers must not wait for it.
      release_waiters_locked(waiters);
    }
  }
  notify_waiters(waiters);
  wakeups.flush();
}

std::size_t Queue::consumers() const {
  std::lock_guard lock(mutex_);
  return consumers_.size();
}

bool Queue::wait_for_space(std::weak_ptr<SpaceWaiter> waiter, boost::asio::any_io_executor ex) {
  std::lock_guard lock(mutex_);
  if (!draining_locked() || items_.size() <= limits_.flow_low) return false;
  waiters_.emplace_back(std::move(ex), std::move(waiter));
  return true;
}

void Queue::release_waiters_locked(
    std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>>& out) {
  if (out.empty()) {
    out.swap(waiters_);
  } else {
    for (auto& w : waiters_) out.push_back(std::move(w));
    waiters_.clear();
  }
}

void Queue::notify_waiters(std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>>& waiters) {
  for (auto& [ex, w] : waiters) {
    boost::asio::post(ex, [w = std::move(w)] {
      if (auto waiter = w.lock()) waiter->on_space_available();
    });
  }
}

std::size_t Queue::purge() {
  std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>> waiters;
  std::size_t n = 0;
  {
    std::lock_guard lock(mutex_);
    n = items_.size();
    items_.clear();
    bytes_ = 0;
    if (store()) store()->delete_queue(store_name_);
    after_remove_locked(waiters);
  }
  notify_waiters(waiters);
  return n;
}

QueueStats Queue::stats() const {
  std::lock_guard lock(mutex_);
  QueueStats s;
  s.messages = items_.size();
  s.bytes = bytes_;
  s.dropped = dropped_;
  s.pushed = pushed_;
  s.has_consumer = has_consumer_;
  s.consumers = static_cast<std::uint32_t>(consumers_.size());
  return s;
}

}  // namespace outpost::core

namespace outpost::core {

void Queue::make_durable(store::Store& store, std::string store_name) {
  std::lock_guard lock(mutex_);
  store_.store(&store, std::memory_order_release);
  store_name_ = std::move(store_name);
}

void Queue::entry_sent(const Delivery& d, store::EntryState state, std::uint16_t packet_id) {
  if (store() && d.seq != 0) store()->update_entry(store_name_, d.seq, state, packet_id);
}

void Queue::entry_done(const Delivery& d) {
  if (store() && d.seq != 0) store()->delete_entry(store_name_, d.seq);
}

void Queue::restore(Delivery d) {
  std::lock_guard lock(mutex_);
  next_seq_ = std::max(next_seq_, d.seq + 1);
  bytes_ += bytes_of(d);
  items_.push_back(std::move(d));
}

void Queue::restored_seq(std::uint64_t seq) {
  std::lock_guard lock(mutex_);
  next_seq_ = std::max(next_seq_, seq + 1);
}

}  // namespace outpost::core
