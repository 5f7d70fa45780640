// SqliteWriter: what SqliteStore's writer thread owns — the cached statements, the
// per-message reference counts, and the two steps applied to each batch of queued
// operations: coalesce() (cancel what later operations make pointless, no SQL) and
// commit() (one transaction; all or nothing, memory included, so a failed attempt can be
// retried with the same batch). Writer thread only, after restore.
#pragma once

#include "store/group_commit.hpp"
#include "store/ref_counts.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_ops.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace outpost::store::detail {

class SqliteWriter {
 public:
  // Prepares every statement; throws StoreError.
  SqliteWriter(Connection& db, Counters& counters, std::string path);

  // Built by restore before the writer thread starts.
  RefCounts& refs() noexcept { return refs_; }

  // Marks operations of `batch` that later ones in the same batch make pointless as not
  // live and counts them in Counters::coalesced. Call once per batch, before commit().
  // Also tells group_commit() how long each entry delete came after its put, when the put
  // was in this batch or one of the two before.
  // `preview`: marks what is pointless within the batch and nothing else (no counters,
  // no acknowledgement samples), for a batch that goes to the operation log: the
  // operations are coalesced again, all of them, when the log is folded.
  void coalesce(std::vector<Op>& batch, bool preview = false);

  // What decides how long the writer holds a batch (SqliteStore::writer_main).
  GroupCommit& group_commit() noexcept { return group_commit_; }

  struct Outcome {
    bool committed = true;
    int rc = SQLITE_OK;                 // on failure: the SQLite result code
    std::string error;                  // on failure: SQLite's message
    std::size_t failed_op = kNoOp;      // the operation whose statement failed, if one did
  };
  static constexpr std::size_t kNoOp = static_cast<std::size_t>(-1);

  // Applies the live operations of `batch` in one transaction. Committed once COMMIT
  // returns (or when nothing needed writing). After a failure the transaction and every
  // in-memory change of this attempt are rolled back, so the batch can be retried.
  Outcome commit(std::vector<Op>& batch);
  // The next commit also records that the operation log is applied through record `seq`
  // (meta.log_applied), in the same transaction; kept until a commit succeeds.
  void mark_log_applied(std::uint64_t seq) noexcept { log_mark_ = seq; }

  // Adds a successful commit to the histograms of stats().
  void record_commit(std::chrono::steady_clock::duration took, std::uint64_t operations);

  // True for failures that retrying cannot cure: SQLite rejects the operation itself
  // (a constraint, a value too big), as opposed to the disk failing under it.
  static bool rejects_operation(int rc) noexcept;

 private:
  struct EntryKey {
    std::string_view queue;
    std::uint64_t seq;
    bool operator==(const EntryKey&) const = default;
  };
  struct PairKey {
    std::string_view a;
    std::string_view b;
    bool operator==(const PairKey&) const = default;
  };
  struct Qos2Key {
    std::string_view client_id;
    std::uint16_t packet_id;
    bool operator==(const Qos2Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const EntryKey& k) const noexcept;
    std::size_t operator()(const PairKey& k) const noexcept;
    std::size_t operator()(const Qos2Key& k) const noexcept;
  };

  // A delete whose put was in an earlier batch: a sample if that was one of the last two.
  void acknowledged_late(const EntryKey& key, std::chrono::steady_clock::time_point deleted_at);

  // One transaction's worth of work; returns an SQLite result code.
  int apply_all(std::vector<Op>& batch, std::uint64_t& freed, std::uint64_t& applied);
  int apply(Op& op, std::vector<Op>& batch, std::uint64_t& applied);
  int put_entry(const EntryRecord& e, std::vector<Op>& batch, std::uint64_t& applied);
  int release_rows(Statement& s);  // steps a DELETE ... RETURNING message_id
  int write_message(const PutMessageOp& pm);
  // Makes sure message `id` is in the messages table (writing a pending put); false when
  // the id is neither stored nor pending.
  int ensure_message(std::uint64_t id, std::vector<Op>& batch, bool& known, std::uint64_t& applied);
  int finish_messages(std::vector<Op>& batch, std::uint64_t& freed, std::uint64_t& applied);

  // Reference count changes, recorded so a failed transaction can take them back.
  void set_count(std::uint64_t id, std::uint32_t count);
  void add_new(std::uint64_t id);
  void erase_count(std::uint64_t id);
  void increment(std::uint64_t id);
  void decrement(std::uint64_t id);
  void undo_counts();

  Connection& db_;
  Counters& counters_;
  std::string path_;
  RefCounts refs_;

  struct Statements {
    Statement begin, commit, rollback;
    Statement insert_message, delete_message;
    Statement insert_entry, entry_message, replace_entry, update_entry, delete_entry, delete_queue;
    Statement put_retained, delete_retained;
    Statement put_session, delete_session, delete_session_subscriptions, delete_session_qos2;
    Statement put_subscription, delete_subscription;
    Statement put_qos2, delete_qos2;
    Statement put_definition, delete_definition;
    Statement log_mark;
  } st_;
  std::optional<std::uint64_t> log_mark_;

  // coalesce() bookkeeping, kept between batches for its capacity. Keys view strings
  // inside the batch's operations, which stay put until the batch is cleared.
  std::unordered_map<std::uint64_t, std::size_t> pending_messages_;  // id -> PutMessageOp index
  // Messages of earlier batches whose entries were cancelled in this one: deleted if
  // nothing references them once the batch is applied.
  std::vector<std::uint64_t> unreferenced_;
  std::unordered_map<EntryKey, std::size_t, KeyHash> entry_ops_;    // live put/update per entry
  std::unordered_map<std::string_view, std::vector<std::size_t>> queue_ops_;
  std::unordered_map<std::string_view, std::size_t> retained_ops_;
  std::unordered_map<std::string_view, std::size_t> session_ops_;
  std::unordered_map<std::string_view, std::vector<std::size_t>> client_ops_;
  std::unordered_map<PairKey, std::size_t, KeyHash> subscription_ops_;
  std::unordered_map<Qos2Key, std::size_t, KeyHash> qos2_ops_;

  GroupCommit group_commit_;
  // When each entry put of the last batch ([0]) and the one before ([1]) was queued, by
  // the hash of its key (a collision only blurs an estimate): a delete of a later batch
  // that finds its put here tells how long the acknowledgement took.
  std::unordered_map<std::size_t, std::chrono::steady_clock::time_point> recent_puts_[2];

  // commit() bookkeeping.
  std::vector<std::pair<std::uint64_t, std::int64_t>> undo_;  // id, previous count or -1 (absent)
  std::vector<std::uint64_t> zeroed_;                         // counts that reached zero
  std::size_t failed_op_ = kNoOp;
  std::string subscription_ids_;                              // encoding scratch
};

}  // namespace outpost::store::detail
