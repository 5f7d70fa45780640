// Queue: an ordered buffer of deliveries with consumers, bounded by message count and
// bytes. An MQTT session owns one with one consumer; an AMQP queue is one; a shared
// subscription group is one with a consumer per member. Each message goes to one
// consumer: whichever pulls it.
//
// Threading: push() may be called from any I/O thread (publishers live everywhere); it
// takes the queue's own short lock. The consumer side (pull, ack bookkeeping) runs on the
// consumer's thread. A consumer is woken by a post to its executor once per batch, not
// per message: after a wake-up the queue does not post again until the consumer has
// pulled it empty. With several consumers, each push wakes the next consumer in turn that
// is not already awake, so messages spread over the consumers that have credit.
//
// Slow consumers: past `flow_high` queued messages with a consumer attached, push()
// reports `congested` and publishers pause reading until the queue drains below
// `flow_low` (backpressure). Past the hard limits, the overflow policy decides and the
// outcome is reported to the caller, which counts and logs it; nothing is dropped
// without the caller knowing.
#pragma once

#include "core/log_limiter.hpp"
#include "core/message.hpp"
#include "store/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/container/small_vector.hpp>

#include <atomic>
#include <cstdint>
#include "core/ring_buffer.hpp"
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace outpost::core {

using SubscriptionIds = boost::container::small_vector<std::uint32_t, 1>;

// One message on its way to one subscriber.
struct Delivery {
  MessagePtr message;
  std::uint8_t qos = 0;      // effective QoS for this subscriber: min(published, granted)
  bool retain = false;       // the retain flag this subscriber sees
  bool redelivered = false;  // sent before and not acknowledged (MQTT DUP, AMQP redelivered)
  SubscriptionIds subscription_ids;
  std::uint64_t seq = 0;     // its entry in a durable queue's store records (0 = not stored)
  // Per-queue message TTL (AMQP x-message-ttl): wall-clock ms after which this delivery
  // expires in this queue; 0 = only the message's own expiry applies.
  std::int64_t expires_unix_ms = 0;

  bool expired(std::int64_t now_unix_ms) const noexcept {
    return message->expired(now_unix_ms) || (expires_unix_ms != 0 && now_unix_ms >= expires_unix_ms);
  }
};

enum class Overflow {
  reject_new,  // refuse the new message (MQTT default; AMQP x-overflow reject-publish)
  drop_head,   // drop the oldest to make room (AMQP default)
};

struct QueueLimits {
  std::uint64_t max_messages = 100000;
  std::uint64_t max_bytes = 64ull << 20;
  Overflow overflow = Overflow::reject_new;
  // With a consumer attached, pushes past flow_high report congestion; publishers
  // resume below flow_low. 0 = derive from max_messages.
  std::uint64_t flow_high = 0;
  std::uint64_t flow_low = 0;
  // MQTT: QoS 0 messages are not kept for a session that is offline [MQTT-3.1.2-5 allows it].
  bool drop_qos0_without_consumer = false;
  // AMQP x-message-ttl in ms; negative = none. Deliveries pushed get a deadline.
  std::int64_t message_ttl_ms = -1;
  // Keep what drop_head evicts for take_evicted() (an AMQP queue with a dead-letter
  // exchange), instead of dropping it.
  bool keep_evicted = false;
  // max_bytes counts message bodies only (AMQP x-max-length-bytes), not the overhead.
  bool payload_bytes_only = false;
  // Congestion only while some consumer can pull (is not stalled for lack of credit).
  // AMQP: a consumer that holds its whole prefetch window unacknowledged must not pause
  // publishers (and, on its own connection, its own acks); the queue buffers up to its
  // limits instead, as it does without consumers. MQTT keeps pausing publishers.
  bool congestion_needs_credit = false;
};

// Implemented by whoever consumes a queue (an MQTT session, an AMQP consumer).
class Consumer {
 public:
  virtual ~Consumer() = default;
  // Runs on the consumer's executor: the queue has messages for it. The consumer pulls
  // as many as its credit allows; it is woken again only after it has pulled the queue
  // empty or called Queue::rearm().
  virtual void on_messages_available() = 0;
};

// Implemented by a publisher that paused because a queue it fed was congested.
class SpaceWaiter {
 public:
  virtual ~SpaceWaiter() = default;
  // Runs on the waiter's executor once the queue drained below its low watermark (or
  // lost its consumer).
  virtual void on_space_available() = 0;
};

// Collects consumer wake-ups during one publish batch and posts them when flushed, one
// post per consumer. Owned by one thread.
class WakeupBatch {
 public:
  void add(boost::asio::any_io_executor ex, std::weak_ptr<Consumer> consumer);
  void flush();
  ~WakeupBatch() { flush(); }

 private:
  struct Item {
    boost::asio::any_io_executor ex;
    std::weak_ptr<Consumer> consumer;
  };
  std::vector<Item> items_;
};

enum class PushOutcome : std::uint8_t {
  queued,
  dropped_full,        // refused: over the queue's limit (reject_new)
  dropped_no_consumer, // QoS 0 for an offline MQTT session: not kept, by design
};

struct PushResult {
  PushOutcome outcome = PushOutcome::queued;
  bool congested = false;       // queued past flow_high with a consumer attached
  std::uint32_t evicted = 0;    // drop_head: older messages dropped to make room
  bool stored = false;          // written to the store (a durable queue, QoS 1/2)
};

struct QueueStats {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t dropped = 0;  // refused or evicted because of the limits
  std::uint64_t pushed = 0;
  bool has_consumer = false;
  std::uint32_t consumers = 0;
};

class Queue : public std::enable_shared_from_this<Queue> {
 public:
  Queue(std::uint64_t id, std::string name, QueueLimits limits);
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  std::uint64_t id() const noexcept { return id_; }
  const std::string& name() const noexcept { return name_; }

  // Any thread. Adds a wake-up for the consumer to `wakeups` when it must be woken.
  PushResult push(Delivery delivery, WakeupBatch& wakeups);
  // Any thread, before push(), for a message going to several queues: a durable queue
  // writes the delivery's entry (and the message, once) and sets its seq now. The store
  // deletes a message with its last entry, so every queue's entry must be written before
  // any copy becomes visible to a consumer that could acknowledge it. True if written.
  // push() then only appends (or, if it refuses the delivery, deletes the entry).
  bool store_entry(Delivery& delivery);
  // Any thread. Puts deliveries back at the FRONT in their original order (a consumer
  // went away with messages it had not finished), marking them redelivered.
  void requeue_front(std::vector<Delivery>&& deliveries, WakeupBatch& wakeups);

  // Consumer thread. Moves up to `max` deliveries to `out`; returns how many.
  std::size_t pull(std::vector<Delivery>& out, std::size_t max);
  // Consumer thread. Takes one delivery; false when empty.
  bool pull_one(Delivery& out);
  // Consumer thread: the consumer stopped pulling with messages left (no credit) and
  // now has credit again; wakes it if there is anything queued. `consumer` null = every
  // consumer.
  void rearm(WakeupBatch& wakeups, const Consumer* consumer = nullptr);
  // Consumer thread: `consumer` was woken (or pulled) but has no credit left while
  // messages wait; another consumer with credit is woken in its place. It is woken again
  // after rearm() or once the queue has been pulled empty.
  void stall(const Consumer* consumer, WakeupBatch& wakeups);
  // Any thread. Removes the deliveries at the head that expired (message expiry or
  // message TTL), up to `max`; the caller dead-letters or drops them and calls
  // entry_done. Only the head is looked at, as in RabbitMQ: an expired message behind
  // a live one goes when it reaches the head (or when a consumer pulls it).
  std::size_t take_expired(std::int64_t now_unix_ms, std::vector<Delivery>& out, std::size_t max);
  // Any thread. Deliveries evicted by drop_head since the last call (keep_evicted only).
  std::size_t take_evicted(std::vector<Delivery>& out);

  // Adds a consumer (or moves an attached one to `ex`); it is woken if messages wait.
  void attach(std::weak_ptr<Consumer> consumer, boost::asio::any_io_executor ex, WakeupBatch& wakeups);
  // Removes a consumer; the others are woken for what it leaves queued.
  void detach(const Consumer* consumer);
  std::size_t consumers() const;

  // Any thread: register for a call when the queue drains. Returns false (and does not
  // register) if the queue is already below its low watermark.
  bool wait_for_space(std::weak_ptr<SpaceWaiter> waiter, boost::asio::any_io_executor ex);

  // Removes every queued message; returns how many. A durable queue's entries go too.
  std::size_t purge();

  // Durability: from now on, each QoS 1/2 delivery pushed is written to `store` as an
  // entry of the queue `store_name` (the message itself once, whatever the number of
  // queues). The consumer reports progress with entry_sent / entry_done. Call before
  // the queue is bound anywhere.
  void make_durable(store::Store& store, std::string store_name);
  bool durable() const noexcept { return store() != nullptr; }
  const std::string& store_name() const noexcept { return store_name_; }
  // Consumer thread: a stored delivery was sent (with its packet id) or finished
  // (acknowledged, expired, refused). No effect for deliveries that are not stored.
  void entry_sent(const Delivery& d, store::EntryState state, std::uint16_t packet_id);
  void entry_done(const Delivery& d);
  // Start-up: appends a restored delivery (its seq kept) without limits or writes.
  void restore(Delivery d);
  // Start-up: the seq the next stored delivery takes is above `seq`.
  void restored_seq(std::uint64_t seq);

  QueueStats stats() const;
  const QueueLimits& limits() const noexcept { return limits_; }
  // Any thread: the "queue full" warnings of this queue, one a second for the whole broker.
  LogLimiter& full_warnings() noexcept { return full_warnings_; }
  void set_limits(const QueueLimits& limits);

 private:
  void wake_locked(WakeupBatch& wakeups);
  // Someone drains the queue: a consumer is attached (with credit, if limits_ say so).
  bool draining_locked() const;
  bool store_entry_locked(Delivery& delivery);
  void release_waiters_locked(std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>>& out);
  void after_remove_locked(std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>>& out);
  static void notify_waiters(std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>>& waiters);

  const std::uint64_t id_;
  const std::string name_;
  QueueLimits limits_;
  LogLimiter full_warnings_;

  mutable std::mutex mutex_;
  RingBuffer<Delivery> items_;
  std::uint64_t bytes_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t pushed_ = 0;
  struct ConsumerSlot {
    std::weak_ptr<Consumer> consumer;
    const Consumer* raw = nullptr;
    boost::asio::any_io_executor ex;
    bool woken = false;  // a wake-up is on its way, or it has not pulled the queue empty
    bool stalled = false;  // no credit (stall()); skipped until rearm() or the queue empties
  };
  boost::container::small_vector<ConsumerSlot, 1> consumers_;
  std::size_t next_wake_ = 0;  // round-robin start among consumers
  bool has_consumer_ = false;
  std::vector<Delivery> evicted_;
  std::uint64_t bytes_of(const Delivery& d) const noexcept;
  std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<SpaceWaiter>>> waiters_;
  // Set once (make_durable); read without the lock on the publish path.
  std::atomic<store::Store*> store_{nullptr};
  store::Store* store() const noexcept { return store_.load(std::memory_order_acquire); }
  std::string store_name_;
  std::uint64_t next_seq_ = 1;
};

using QueuePtr = std::shared_ptr<Queue>;

}  // namespace outpost::core
