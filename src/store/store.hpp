// Store: the narrow interface through which the core makes state durable. The core
// never writes SQL; an implementation decides how. SqliteStore (WAL, one writer thread,
// group commit) is the persistent one; MemoryStore keeps nothing and reports every write
// durable at once.
//
// Model. A *message* is stored once, however many queues hold it. A *queue entry* puts a
// stored message in a named queue (an MQTT session's queue is "mqtt:<client id>", an
// AMQP durable queue "amqp:<name>"; at start each prefix's owner takes its entries back) at a position `seq`, with its per-queue
// delivery state. The store counts the entries that reference each message and deletes
// the message with its last entry. Retained messages are kept by topic, apart from the
// queues. Sessions and their subscriptions are rows of their own.
//
// Two rules keep the counts meaningful: every put_entry of a message is queued before any
// of its entries can be deleted (the core issues a publish's store writes before the
// message becomes deliverable), since a message goes with what is its last entry at the
// time; and a (queue, seq) key is not put again while stored (after delete_entry or
// delete_queue it may be).
//
// Writes are asynchronous: every write call only queues the operation (any thread, never
// blocks on the disk); the writer applies queued operations in call order, many per
// transaction. `after_commit` is the barrier: its callback runs once every write queued
// before it is durable as configured (`sync`). Acknowledgements (PUBACK, PUBREC, AMQP
// confirms) are released from there.
//
// Threading: write calls and after_commit from any thread, in any interleaving; the
// order of calls made by one thread is kept. restore() is called once, at start-up,
// before any write. Callbacks run on the writer thread (inline for MemoryStore); callers
// post them to their own executor.
#pragma once

#include <atomic>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::store {

// Opening or restoring failed: the database cannot be opened, is damaged, or was written
// by a newer schema. The broker refuses to start with this message.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A message to store. The views point into memory kept alive by `keep_alive` (the core's
// immutable Message) until the writer has written it.
struct MessageWrite {
  std::uint64_t id = 0;  // from Store::next_message_id()
  std::string_view topic;
  std::span<const std::uint8_t> payload;
  std::uint8_t qos = 0;
  bool retain = false;
  std::int64_t expiry_unix_ms = 0;  // 0 = never
  std::string properties;           // encoded by the core; opaque to the store
  std::shared_ptr<const void> keep_alive;
};

// A message as restored.
struct StoredMessage {
  std::uint64_t id = 0;
  std::string topic;
  std::vector<std::uint8_t> payload;
  std::uint8_t qos = 0;
  bool retain = false;
  std::int64_t expiry_unix_ms = 0;
  std::string properties;
};

// Delivery state of one queue entry.
enum class EntryState : std::uint8_t {
  queued = 0,            // not sent yet
  awaiting_puback = 1,   // QoS 1 sent with `packet_id`
  awaiting_pubrec = 2,   // QoS 2 PUBLISH sent with `packet_id`
  awaiting_pubcomp = 3,  // QoS 2 PUBREL sent with `packet_id`
};

struct EntryRecord {
  std::string queue;
  std::uint64_t seq = 0;  // order within the queue, ascending
  std::uint64_t message_id = 0;
  std::uint8_t qos = 0;   // effective QoS for this queue's consumer
  bool retain = false;    // retain flag as the consumer sees it
  EntryState state = EntryState::queued;
  std::uint16_t packet_id = 0;
  std::vector<std::uint32_t> subscription_ids;
};

struct SessionRecord {
  std::string client_id;
  std::uint8_t protocol_level = 4;
  // Seconds the session outlives its connection; 0xFFFFFFFF = never expires.
  std::uint32_t expiry_interval = 0xFFFFFFFF;
  // When the client disconnected (ms since the epoch); 0 = connected when last written,
  // in which case expiry counts from the broker's restart.
  std::int64_t disconnected_unix_ms = 0;
};

struct SubscriptionRecord {
  std::string client_id;
  std::string filter;  // as the client sent it
  std::uint8_t qos = 0;
  std::uint8_t options = 0;  // protocol-defined bits (no local, retain as published, ...)
  std::uint32_t subscription_id = 0;
};

// A durable entity a protocol defines, kept as an opaque body under (kind, name): AMQP
// exchanges, queues and bindings. The store neither reads nor orders the body.
struct DefinitionRecord {
  std::string kind;  // "amqp.exchange", "amqp.queue", "amqp.binding"
  std::string name;  // unique within its kind
  std::string body;  // the protocol's encoding
};

// What restore() hands back, in this order: messages, retained, sessions, subscriptions,
// definitions (by kind, then name), entries (ascending seq within each queue), incoming
// QoS 2 packet ids.
class RestoreVisitor {
 public:
  virtual ~RestoreVisitor() = default;
  virtual void message(StoredMessage&& m) = 0;
  virtual void retained(StoredMessage&& m) = 0;
  virtual void session(SessionRecord&& s) = 0;
  virtual void subscription(SubscriptionRecord&& s) = 0;
  virtual void definition(DefinitionRecord&&) {}
  virtual void entry(EntryRecord&& e) = 0;
  virtual void incoming_qos2(const std::string& client_id, std::uint16_t packet_id) = 0;
};

// Upper bounds of the commit histograms' buckets (the last bucket has none).
inline constexpr std::array<double, 12> kCommitSecondsBounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                             0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
inline constexpr std::array<double, 10> kCommitOperationsBounds{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};

struct StoreStats {
  std::uint64_t messages = 0;      // stored messages
  std::uint64_t bytes = 0;         // bytes of stored messages (topic + payload + properties)
  std::uint64_t commits = 0;       // transactions committed
  std::uint64_t operations = 0;    // write operations applied
  std::uint64_t coalesced = 0;     // operations cancelled before reaching the disk
  std::uint64_t commit_failures = 0;  // commits that failed (and were retried)
  bool failing = false;               // the last commit attempt failed: writes are not getting through
  // Per commit: how long the transaction took (writes and the sync) and how many
  // operations it applied. Counts per bucket (not cumulative); the last is above every bound.
  std::array<std::uint64_t, kCommitSecondsBounds.size() + 1> commit_seconds{};
  std::uint64_t commit_microseconds_sum = 0;
  std::array<std::uint64_t, kCommitOperationsBounds.size() + 1> commit_operations{};
};

class Store {
 public:
  virtual ~Store() = default;

  // True if writes survive a restart; decides whether acknowledgements must wait.
  virtual bool persistent() const = 0;
  // A human-readable description for the start-up log.
  virtual std::string describe() const = 0;

  // Start-up, once, before any write: hands every stored record to `visitor`.
  virtual void restore(RestoreVisitor& visitor) = 0;

  // A fresh message id, above every id restored.
  virtual std::uint64_t next_message_id() = 0;
  // True when a message of `bytes` would take the store past its max_bytes, or while its
  // commits fail (a full disk); the caller refuses the publish (MQTT 5: 0x97 quota exceeded).
  virtual bool would_exceed(std::size_t bytes) const = 0;

  // Messages.
  virtual void put_message(MessageWrite m) = 0;

  // Queue entries. A message without entries (and not retained) is deleted.
  virtual void put_entry(EntryRecord e) = 0;
  virtual void update_entry(const std::string& queue, std::uint64_t seq, EntryState state,
                            std::uint16_t packet_id) = 0;
  virtual void delete_entry(const std::string& queue, std::uint64_t seq) = 0;
  virtual void delete_queue(const std::string& queue) = 0;  // every entry of the queue

  // Retained messages, by topic (the message is written with it).
  virtual void put_retained(MessageWrite m) = 0;
  virtual void delete_retained(const std::string& topic) = 0;

  // Sessions. delete_session removes its subscriptions and incoming QoS 2 ids too (not
  // its queue: call delete_queue).
  virtual void put_session(SessionRecord s) = 0;
  virtual void delete_session(const std::string& client_id) = 0;
  virtual void put_subscription(SubscriptionRecord s) = 0;
  virtual void delete_subscription(const std::string& client_id, const std::string& filter) = 0;
  virtual void put_incoming_qos2(const std::string& client_id, std::uint16_t packet_id) = 0;
  virtual void delete_incoming_qos2(const std::string& client_id, std::uint16_t packet_id) = 0;

  // Definitions: a put replaces the body stored under the same (kind, name).
  virtual void put_definition(DefinitionRecord d) = 0;
  virtual void delete_definition(const std::string& kind, const std::string& name) = 0;

  // Runs `on_durable` once everything written before this call is durable as configured.
  virtual void after_commit(std::function<void()> on_durable) = 0;

  // Blocks until every queued write is committed, then stops the writer. Idempotent.
  virtual void close() = 0;

  virtual StoreStats stats() const = 0;

  // The end of a WriteScope in which this store put off waking its writer (see there).
  virtual void end_of_scope() {}
};

// The writes of one network read, grouped: while one is alive on a thread, a store that
// would wake its writer for a write of this thread (SqliteStore) puts that off to the end
// of the outermost scope, by calling defer(). A read that queues a message, its entries
// and the barrier of its acknowledgement then wakes the writer once rather than for its
// first write and again for its barrier; and at the end of the scope the store knows the
// whole group and may commit it on this thread when nothing else is waiting
// (SqliteStore::end_of_scope). Sessions open one around each read (on_data).
class WriteScope {
 public:
  WriteScope() noexcept { ++depth_; }
  ~WriteScope() {
    if (--depth_ != 0 || count_ == 0) return;
    // end_of_scope may run callbacks that write again: those are outside every scope.
    std::array<Store*, kMaxStores> stores = stores_;
    const std::size_t n = count_;
    count_ = 0;
    for (std::size_t i = 0; i < n; ++i) stores[i]->end_of_scope();
  }
  WriteScope(const WriteScope&) = delete;
  WriteScope& operator=(const WriteScope&) = delete;

  // For a store: true when a scope is open on this thread and `s` will get end_of_scope()
  // when the outermost one ends; false when the store must act at once.
  static bool defer(Store& s) noexcept {
    if (depth_ == 0) return false;
    for (std::size_t i = 0; i < count_; ++i) {
      if (stores_[i] == &s) return true;
    }
    if (count_ == kMaxStores) return false;
    stores_[count_++] = &s;
    return true;
  }

 private:
  static constexpr std::size_t kMaxStores = 4;
  static inline thread_local int depth_ = 0;
  static inline thread_local std::size_t count_ = 0;
  static inline thread_local std::array<Store*, kMaxStores> stores_{};
};

// Keeps nothing: state lives only in memory and is lost on restart.
class MemoryStore final : public Store {
 public:
  bool persistent() const override { return false; }
  std::string describe() const override { return "in memory (nothing persisted)"; }
  void restore(RestoreVisitor&) override {}
  std::uint64_t next_message_id() override { return next_id_.fetch_add(1, std::memory_order_relaxed) + 1; }
  bool would_exceed(std::size_t) const override { return false; }
  void put_message(MessageWrite) override {}
  void put_entry(EntryRecord) override {}
  void update_entry(const std::string&, std::uint64_t, EntryState, std::uint16_t) override {}
  void delete_entry(const std::string&, std::uint64_t) override {}
  void delete_queue(const std::string&) override {}
  void put_retained(MessageWrite) override {}
  void delete_retained(const std::string&) override {}
  void put_session(SessionRecord) override {}
  void delete_session(const std::string&) override {}
  void put_subscription(SubscriptionRecord) override {}
  void delete_subscription(const std::string&, const std::string&) override {}
  void put_incoming_qos2(const std::string&, std::uint16_t) override {}
  void delete_incoming_qos2(const std::string&, std::uint16_t) override {}
  void put_definition(DefinitionRecord) override {}
  void delete_definition(const std::string&, const std::string&) override {}
  void after_commit(std::function<void()> on_durable) override { on_durable(); }
  void close() override {}
  StoreStats stats() const override { return {}; }

 private:
  std::atomic<std::uint64_t> next_id_{0};
};

}  // namespace outpost::store
