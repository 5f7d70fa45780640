// SqliteStore: the persistent Store. One SQLite database, <dir>/outpost.db, in WAL mode,
// held under an exclusive lock for the broker's lifetime; one writer thread that commits
// queued operations in groups.
//
// Threads. The constructor and restore() run on the starting thread and may throw
// StoreError. restore() starts the writer thread. Write calls, after_commit, stats,
// would_exceed and next_message_id may be called from any thread; a write call appends to
// a mutex-protected vector and returns (it never waits for the disk). The writer swaps the
// whole vector out, cancels what later operations in the same batch make pointless,
// applies the rest in one transaction with cached statements, commits, and then runs the
// after_commit callbacks of that batch in call order. Operations queued while a commit is
// in progress form the next group. Callbacks run on the writer thread; they must be short
// and must not call close().
//
// The operation log. A batch of queue operations (message and entry puts, updates and
// deletes) is committed by one append to <dir>/outpost.db-log (op_log.hpp) rather than an
// SQLite transaction, synced to the disk before its callbacks run with `sync: full`; the
// writer folds the log into the database in groups (every kFoldAge, or kFoldOperations /
// kFoldBytes). Every other write (sessions, subscriptions, retained messages,
// definitions, messages over kLogMaxMessage) is an SQLite transaction that folds the log
// first, so the database sees the writes in their order.
//
// Commits on the caller's thread. Writes made inside a WriteScope (a session's read) wake
// the writer once, at the end of the scope. With `sync` normal or off a commit waits for
// no disk (the log is written to the page cache), so when the writer thread is idle, a
// barrier is pending, nothing is to be held (GroupCommit) and the last commit ended at
// least a commit's time ago (a lone device, not a busy store whose reads the writer
// groups), end_of_scope commits the pending work on the calling thread and runs its
// callbacks there: no thread switch to the writer and back for a lone device's publish. One thread uses the connection at a
// time (connection_busy_); a commit that fails there is handed to the writer thread,
// which retries it before anything queued later. Checkpoints run on the writer thread
// only (checkpoint_if_due), never inside a caller's commit.
//
// Coalescing. Within one batch: an entry put and deleted (the subscriber was online and
// acknowledged at once) writes nothing, nor does its message if no other entry holds it;
// update_entry after a pending put_entry folds into the put; a later put or delete of
// the same retained topic, session, subscription or incoming QoS 2 id supersedes an
// earlier one; delete_queue / delete_session cancel the pending puts they would delete.
// stats().coalesced counts the cancelled operations. A barrier covers everything queued
// before it: its callback runs after the commit of its whole batch, so every earlier
// operation is on disk or was cancelled by a later one that is.
//
// Messages and references. put_entry counts a reference on its message; delete_entry and
// delete_queue release it; the message row goes with its last reference (checked at the
// end of each batch, so a count that drops to zero and rises again within one batch keeps
// the message). A message that no entry of its batch names is written anyway (an entry
// in the next batch may still name it) and, if nothing ever references it, removed by the
// next restore, once the operation log (whose entries may name it) is applied. Callers
// queue every put_entry of a message before any of its entries can be deleted; a
// put_entry naming a message that is already gone is dropped with a warning.
//
// Errors. A failed transaction (disk full, I/O error) is rolled back, logged, and retried
// with the same operations after 100 ms, doubling to 2 s; no callback of the batch runs
// until its commit succeeds. Meanwhile would_exceed answers true, so durable publishes
// are refused at once (MQTT 5 0x97, AMQP connection.blocked) instead of waiting without
// an answer; when space returns the retry commits and they are accepted again. close() retries a few more times and then gives the batch up
// (logged; no callback runs after that) so a broken disk cannot hang the shutdown. An
// operation SQLite itself rejects (a constraint, a value too big) would fail every retry:
// it alone is dropped, logged, and the rest of its batch retried at once.
//
// Size. stats().bytes, which would_exceed compares with max_bytes, counts topic + payload
// + properties of stored messages (retained messages, which live inline in their own
// table, are not counted); put_message adds on the caller's thread, the writer subtracts
// when a message row is deleted or never written.
#pragma once

#include "store/store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

struct sqlite3;

namespace outpost::store {

namespace detail {
struct Op;
struct Counters;
class Connection;
class OpLog;
class SqliteWriter;
}  // namespace detail

class SqliteStore final : public Store {
 public:
  struct Options {
    // How much a commit waits for the disk: full = fsync of the WAL at every commit (a
    // committed write survives power loss); normal = no fsync at commit, the WAL is synced
    // at checkpoints (survives a broker crash, a power cut may lose the last commits);
    // off = never fsync (tests, throwaway data).
    enum class Sync { full, normal, off };

    std::string dir;            // the data directory; created (mode 0750) if missing
    Sync sync = Sync::full;
    std::uint64_t max_bytes = 0;  // would_exceed limit; 0 = unlimited
    // Run PRAGMA quick_check at open. The file is first read once in order (which also
    // warms the cache for restore); measured on a 141 MB store of a million messages,
    // cold cache: 0.14 s to read, 0.35 s to check. Slower storage (SD cards) scales with
    // its sequential read speed.
    bool quick_check = true;
    // SQLite VFS name; empty = the default. Tests use it to inject I/O errors.
    std::string vfs;
  };

  // Opens or creates the database and checks it; throws StoreError naming the file and
  // the problem (damaged, not a database, newer schema, locked by another process, ...).
  explicit SqliteStore(Options options);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  bool persistent() const override { return true; }
  std::string describe() const override;

  // Hands out every record, removes orphan messages (no entry names them) and entries
  // whose message is missing, then starts the writer thread. Throws StoreError.
  void restore(RestoreVisitor& visitor) override;

  std::uint64_t next_message_id() override;
  bool would_exceed(std::size_t bytes) const override;

  void put_message(MessageWrite m) override;
  void put_entry(EntryRecord e) override;
  void update_entry(const std::string& queue, std::uint64_t seq, EntryState state, std::uint16_t packet_id) override;
  void delete_entry(const std::string& queue, std::uint64_t seq) override;
  void delete_queue(const std::string& queue) override;
  void put_retained(MessageWrite m) override;
  void delete_retained(const std::string& topic) override;
  void put_session(SessionRecord s) override;
  void delete_session(const std::string& client_id) override;
  void put_subscription(SubscriptionRecord s) override;
  void delete_subscription(const std::string& client_id, const std::string& filter) override;
  void put_definition(DefinitionRecord d) override;
  void delete_definition(const std::string& kind, const std::string& name) override;
  void put_incoming_qos2(const std::string& client_id, std::uint16_t packet_id) override;
  void delete_incoming_qos2(const std::string& client_id, std::uint16_t packet_id) override;
  void after_commit(std::function<void()> on_durable) override;

  // Commits everything queued, stops the writer, checkpoints the WAL into the database
  // and closes it. Blocks; idempotent; also run by the destructor.
  void close() override;

  StoreStats stats() const override;

  // The end of a WriteScope in which a write of this thread put off waking the writer.
  // With `sync` normal or off (a commit waits for no disk), when the writer thread is
  // idle, nothing holds the pending work back (GroupCommit), a barrier is among it and
  // commits are not coming back to back, this thread commits the pending work itself and
  // runs its callbacks: two thread switches fewer for a lone device's publish. Otherwise
  // it wakes the writer.
  void end_of_scope() override;

  const std::string& path() const noexcept { return path_; }

  // Applies what the operation log holds to the database now and returns once done (at
  // most 30 s). The figures of stats() that the database keeps (messages, bytes) follow
  // the log at its folds, at most kFoldAge later. For tools and tests.
  void fold_log();

 private:
  // A checkpoint once the log holds this much: SQLite's own automatic checkpoint comes at
  // 1000 pages, 4 MiB with its default 4 KiB pages; the same size in the store's pages
  // (with 1 KiB pages, 1000 would mean four times the checkpoints, and each one syncs).
  static constexpr std::int64_t kCheckpointBytes = 4 * 1024 * 1024;
  // The operation log is folded into the database once it holds
  // this many operations, this many bytes, or operations this old. Between folds an
  // entry put and its delete (a consumer's acknowledgement) cancel and neither is
  // written to the database.
  // The bytes bound is small so that a fold, which needs room in the database for what
  // the log holds until the log is emptied, still finds it when the disk is nearly full;
  // twice these bounds, a batch goes to the database directly (folding the log with it).
  static constexpr std::size_t kFoldOperations = 8192;
  static constexpr std::uint64_t kFoldBytes = 256 * 1024;
  static constexpr std::chrono::milliseconds kFoldAge{50};
  // The writer keeps room for this many operations between batches; a larger batch (a
  // fold) gives its memory back.
  static constexpr std::size_t kKeptOperations = 1024;
  // A message larger than this goes to SQLite directly, not through the log: written
  // twice, large payloads would cost more than the transaction saves.
  static constexpr std::size_t kLogMaxMessage = 64 * 1024;
  // What the writer thread is doing, for push() and end_of_scope().
  // polling: idle, but looking at pending_ again within GroupCommit::kMaxHold (sync
  // normal or off while writes keep coming): work nobody waits for needs no wake-up.
  enum class WriterState { working, idle, polling, lazy, holding };

  void push(detail::Op&& op);
  void writer_main();
  // Takes pending_ into `batch` (mu_ held) and resets what describes it.
  void take_pending(std::vector<detail::Op>& batch);
  // Coalesces and commits `batch`, then runs its callbacks. `coalesced`: done already (a
  // batch handed back by a caller's thread). On a caller's thread (`on_caller`) a commit
  // that fails for a disk reason is not retried there: false, and the batch goes to the
  // writer thread (retry_). On the writer thread it is retried until it succeeds.
  // `fold`: the batch goes to the database with what the operation log holds, even
  // when the log could take it.
  bool write_batch(std::vector<detail::Op>& batch, bool coalesced, bool on_caller, bool fold = false);
  // A passive checkpoint once the log holds checkpoint_frames_ pages (what SQLite's own
  // automatic checkpoint does), on the writer thread: never on a caller's.
  void checkpoint_if_due();
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int frames);
  void restore_records(RestoreVisitor& visitor);
  // At open: applies the operation log's records above the database's mark, then
  // empties the log. Throws StoreError when the log is damaged.
  void apply_log(detail::OpLog& log);
  // Whether `batch` goes to the operation log rather than to SQLite (connection's user).
  bool log_takes(const std::vector<detail::Op>& batch) const;
  // The writer thread folds the log into the database (mu_ held, connection free).
  bool fold_due(std::chrono::steady_clock::time_point now) const;
  // Until when the writer holds what is pending for the acknowledgements of its entries
  // (GroupCommit::hold_for_acks; mu_ held, pending_first_put_ set). The batch counts as
  // queued when its first put came before the last commit ended plus a commit's time.
  std::optional<std::chrono::steady_clock::time_point> ack_hold() const;
  // connection_busy_ = false, and a word to fold_log() (mu_ held).
  void release_connection();
  // Runs the callbacks of a batch that is durable.
  void run_barriers(std::vector<detail::Op>& batch);

  Options options_;
  std::string path_;
  std::unique_ptr<detail::Counters> counters_;
  std::unique_ptr<detail::Connection> db_;
  std::unique_ptr<detail::SqliteWriter> writer_;  // statements and reference counts
  std::string log_path_;
  std::unique_ptr<detail::OpLog> log_;  // synced with full
  // The connection's user: operations the log holds and the database does not yet, in
  // order, and when the first of them was logged.
  std::vector<detail::Op> unfolded_;
  std::chrono::steady_clock::time_point unfolded_since_{};
  std::uint64_t log_seq_ = 0;  // the connection's user: the last record's sequence number
  std::atomic<std::uint64_t> last_id_{0};

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<detail::Op> pending_;  // guarded by mu_
  WriterState writer_state_ = WriterState::working;  // guarded by mu_; set by the writer thread
  bool notified_ = false;            // guarded by mu_: the writer was told of work since it began to wait
  bool wake_owed_ = false;           // guarded by mu_: a push put off waking it to the end of a WriteScope
  bool activity_ = false;            // guarded by mu_: a write came since the writer last began to poll
  // Guarded by mu_: the connection is in use, by the writer thread or by a caller's
  // thread in end_of_scope; nobody else touches it, nor the writer's state, meanwhile.
  bool connection_busy_ = false;
  std::vector<detail::Op> retry_;    // guarded by mu_: a caller's batch whose commit failed; written first
  bool retry_coalesced_ = true;      // guarded by mu_: retry_ went through coalesce() already
  std::uint64_t fold_requests_ = 0;  // guarded by mu_: fold_log() calls waiting
  std::condition_variable folded_;   // a requested fold is done
  bool batch_coalesced_ = false;     // the connection's user: write_batch's batch went through coalesce()
  bool checkpoint_due_ = false;      // guarded by mu_: a caller's commit filled the log; the writer checkpoints
  int wal_frames_ = 0;               // the connection's user: pages in the log after the last commit
  int checkpoint_frames_ = 1000;     // kCheckpointBytes in this database's pages
  // Guarded by mu_: when the last commit ended. A read whose commit would follow another
  // more closely than a commit takes leaves it to the writer thread, which groups it with
  // the work of other reads instead of every read paying a commit of its own.
  std::chrono::steady_clock::time_point last_commit_end_{};
  bool commit_on_caller_ = false;    // sync normal or off
  std::vector<detail::Op> caller_batch_;  // the connection's user: end_of_scope's batch (capacity kept)
  std::size_t pending_barriers_ = 0; // guarded by mu_: barriers in pending_
  std::optional<std::chrono::steady_clock::time_point> pending_first_put_;  // guarded by mu_: of an entry
  // Guarded by mu_: while consumers acknowledge soon after puts (GroupCommit::churn), the
  // entry puts of pending_ not yet followed by their delete, by key hash; the writer's
  // hold for acknowledgements ends when none is left.
  bool track_acks_ = false;
  std::unordered_set<std::uint64_t> unacked_puts_;
  bool closing_ = false;             // guarded by mu_: no more writes accepted
  bool restored_ = false;            // guarded by mu_
  std::atomic<bool> stopping_{false};
  bool gave_up_ = false;             // writer thread: a batch was abandoned at shutdown
  std::mutex close_mu_;              // serializes close()
  bool closed_ = false;              // guarded by close_mu_
  std::thread writer_thread_;
};

}  // namespace outpost::store
