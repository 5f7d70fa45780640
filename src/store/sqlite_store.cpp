#include "store/sqlite_store.hpp"

#include "store/op_log.hpp"

#include "store/group_commit.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_ops.hpp"
#include "store/sqlite_restore.hpp"
#include "store/sqlite_schema.hpp"
#include "store/sqlite_writer.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace outpost::store {

namespace {

using Sync = SqliteStore::Options::Sync;

const char* sync_pragma(Sync s) {
  switch (s) {
    case Sync::full: return "FULL";
    case Sync::normal: return "NORMAL";
    case Sync::off: return "OFF";
  }
  return "FULL";
}

const char* sync_name(Sync s) {
  switch (s) {
    case Sync::full: return "full";
    case Sync::normal: return "normal";
    case Sync::off: return "off";
  }
  return "full";
}

std::string size_text(std::uint64_t bytes) {
  constexpr std::uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024;
  if (bytes % GiB == 0) return std::to_string(bytes / GiB) + " GiB";
  if (bytes % MiB == 0) return std::to_string(bytes / MiB) + " MiB";
  if (bytes % KiB == 0) return std::to_string(bytes / KiB) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// The data directory: created with mode 0750 (parents as needed) when missing, and it must
// be a writable directory — SQLite creates its -wal file beside the database.
void prepare_dir(const std::string& dir) {
  if (dir.empty()) throw StoreError("store: no data directory configured");
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      throw StoreError("store: data directory " + dir + " cannot be examined: " + std::strerror(errno));
    }
    const std::filesystem::path p(dir);
    std::error_code ec;
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
      throw StoreError("store: cannot create data directory " + dir + ": " + std::strerror(errno));
    }
    if (::stat(dir.c_str(), &st) != 0) {
      throw StoreError("store: cannot create data directory " + dir + ": " + std::strerror(errno));
    }
  }
  if (!S_ISDIR(st.st_mode)) throw StoreError("store: data directory " + dir + " is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw StoreError("store: data directory " + dir + " is not writable: " + std::strerror(errno));
  }
}

// Restores into nothing: builds the reference counts only (close() without restore()).
struct DiscardVisitor final : RestoreVisitor {
  void message(StoredMessage&&) override {}
  void retained(StoredMessage&&) override {}
  void session(SessionRecord&&) override {}
  void subscription(SubscriptionRecord&&) override {}
  void entry(EntryRecord&&) override {}
  void incoming_qos2(const std::string&, std::uint16_t) override {}
};

}  // namespace

SqliteStore::SqliteStore(Options options)
    : options_(std::move(options)), counters_(std::make_unique<detail::Counters>()) {
  prepare_dir(options_.dir);
  path_ = (std::filesystem::path(options_.dir) / "outpost.db").string();
  if (struct stat st {}; ::stat(path_.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) throw StoreError("store database " + path_ + " is not a regular file");
    // SQLite takes an empty file for an empty database. A store file is never empty once
    // created (see open_store_database) unless its WAL still holds everything, so an empty
    // file without a WAL lost its contents: refuse it rather than start empty.
    struct stat wal {};
    const bool wal_has_data = ::stat((path_ + "-wal").c_str(), &wal) == 0 && wal.st_size > 0;
    if (st.st_size == 0 && !wal_has_data) {
      throw StoreError("store database " + path_ +
                       " is empty (0 bytes) and has no write-ahead log: its contents are lost; remove the file "
                       "to start with an empty store");
    }
  }

  detail::OpenSettings open;
  open.path = path_;
  open.vfs = options_.vfs;
  open.synchronous = sync_pragma(options_.sync);
  open.quick_check = options_.quick_check;
  db_ = std::make_unique<detail::Connection>(detail::open_store_database(open));
  writer_ = std::make_unique<detail::SqliteWriter>(*db_, *counters_, path_);
  // Checkpoints are the writer thread's (checkpoint_if_due): this replaces SQLite's
  // automatic one, which would run inside whichever commit filled the log, a caller's
  // thread's included.
  sqlite3_wal_hook(db_->get(), &SqliteStore::on_wal_commit, this);
  if (sqlite3_stmt* ps = nullptr;
      sqlite3_prepare_v2(db_->get(), "PRAGMA page_size", -1, &ps, nullptr) == SQLITE_OK) {
    if (sqlite3_step(ps) == SQLITE_ROW && sqlite3_column_int(ps, 0) > 0) {
      checkpoint_frames_ = static_cast<int>(kCheckpointBytes / sqlite3_column_int(ps, 0));
    }
    sqlite3_finalize(ps);
  }
  commit_on_caller_ = options_.sync != Sync::full;

  // The operation log: what an earlier run left in it is applied now, whatever that
  // run's `sync`. With full, appends are synced and the file is rewritten in place.
  log_path_ = path_ + "-log";
  sqlite3_vfs* vfs = nullptr;
  if (!options_.vfs.empty() && (vfs = sqlite3_vfs_find(options_.vfs.c_str())) == nullptr) {
    throw StoreError("store: no SQLite VFS named " + options_.vfs);
  }
  log_ = std::make_unique<detail::OpLog>(path_, log_path_, vfs);
  log_->set_synced(options_.sync == Sync::full);
  apply_log(*log_);

  // Ids handed out before restore() (there should be none) must not collide either.
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_->get(), "SELECT max(ifnull((SELECT max(id) FROM messages), 0), "
                                     "ifnull((SELECT max(id) FROM retained), 0))",
                         -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    last_id_.store(static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)));
  }
  sqlite3_finalize(s);
}

SqliteStore::~SqliteStore() { close(); }

std::string SqliteStore::describe() const {
  return "SQLite " + path_ + " (WAL, sync " + sync_name(options_.sync) + ", " +
         (options_.max_bytes ? "max " + size_text(options_.max_bytes) : std::string("no size limit")) + ")";
}

void SqliteStore::restore(RestoreVisitor& visitor) {
  {
    std::lock_guard lk(mu_);
    if (restored_) throw StoreError("store " + path_ + ": restore() called twice");
    if (closing_) throw StoreError("store " + path_ + ": restore() after close()");
  }
  restore_records(visitor);
  writer_thread_ = std::thread([this] { writer_main(); });
}

void SqliteStore::restore_records(RestoreVisitor& visitor) {
  detail::RestoreResult r;
  try {
    r = detail::restore_store(*db_, path_, writer_->refs(), visitor);
  } catch (...) {
    if (!sqlite3_get_autocommit(db_->get())) db_->exec("ROLLBACK");
    throw;
  }
  counters_->bytes.fetch_add(r.bytes, std::memory_order_relaxed);
  counters_->messages.store(writer_->refs().size(), std::memory_order_relaxed);
  for (std::uint64_t seen = last_id_.load(); r.max_id > seen && !last_id_.compare_exchange_weak(seen, r.max_id);) {
  }
  std::lock_guard lk(mu_);
  restored_ = true;
}

void SqliteStore::apply_log(detail::OpLog& log) {
  detail::LogContents contents = log.read();
  if (!contents.damage.empty()) {
    throw StoreError("store operation log " + log.path() + " is damaged: " + contents.damage +
                     "; run `outpost store check` for details and `outpost store recover` to keep the records "
                     "before the damage");
  }
  if (contents.torn) {
    spdlog::warn("store: the operation log {} ends in an incomplete record ({} bytes, a write the broker did not "
                 "finish and never acknowledged); it is dropped",
                 log.path(), contents.file_bytes - contents.valid_bytes);
  }
  std::int64_t mark = 0;
  if (sqlite3_stmt* s = nullptr;
      sqlite3_prepare_v2(db_->get(), "SELECT value FROM meta WHERE key='log_applied'", -1, &s, nullptr) == SQLITE_OK) {
    if (sqlite3_step(s) == SQLITE_ROW) mark = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  log_seq_ = static_cast<std::uint64_t>(mark);
  std::vector<detail::Op> ops;
  std::size_t records = 0;
  for (auto& rec : contents.records) {
    log_seq_ = std::max(log_seq_, rec.seq);
    if (rec.seq <= static_cast<std::uint64_t>(mark)) continue;
    ++records;
    for (auto& op : rec.ops) ops.push_back(std::move(op));
  }
  if (records > 0) {
    // Applied with reference counts of their own: the writer's are built by restore().
    // A message no entry of the database names stays for now: a fold may have written it
    // ahead of its entries, which are in the log (the writer took its put a moment before
    // they were queued). restore() removes the ones still unnamed once the log is applied.
    detail::Counters counters;
    detail::SqliteWriter writer(*db_, counters, path_);
    DiscardVisitor discard;
    try {
      detail::restore_store(*db_, path_, writer.refs(), discard, detail::Orphans::keep);
    } catch (...) {
      if (!sqlite3_get_autocommit(db_->get())) db_->exec("ROLLBACK");
      throw;
    }
    const std::size_t total = ops.size();
    writer.coalesce(ops);
    writer.mark_log_applied(log_seq_);
    const auto outcome = writer.commit(ops);
    if (!outcome.committed) {
      throw StoreError("store: the operation log " + log.path() + " cannot be applied to " + path_ + ": " +
                       outcome.error);
    }
    spdlog::info("store: applied {} operations ({} records) of the operation log {}", total, records, log.path());
  }
  if (const int rc = log.clear(log_seq_); rc != SQLITE_OK) {
    throw StoreError("store: the operation log " + log.path() + " cannot be emptied: " + sqlite3_errstr(rc));
  }
}

bool SqliteStore::log_takes(const std::vector<detail::Op>& batch) const {
  if (!log_ || batch.empty() || unfolded_.size() + batch.size() > 2 * kFoldOperations ||
      log_->size() >= 2 * kFoldBytes) {
    return false;
  }
  for (const auto& op : batch) {
    if (!detail::loggable(op)) return false;
    if (const auto* pm = std::get_if<detail::PutMessageOp>(&op.v); pm && pm->bytes > kLogMaxMessage) return false;
  }
  return true;
}

bool SqliteStore::fold_due(std::chrono::steady_clock::time_point now) const {
  if (!log_ || unfolded_.empty()) return false;
  return closing_ || fold_requests_ > 0 || unfolded_.size() >= kFoldOperations || log_->size() >= kFoldBytes ||
         now - unfolded_since_ >= kFoldAge;
}

std::optional<std::chrono::steady_clock::time_point> SqliteStore::ack_hold() const {
  const auto& timing = writer_->group_commit();
  const bool queued = *pending_first_put_ < last_commit_end_ + timing.commit_time();
  return timing.hold_for_acks(*pending_first_put_, queued);
}

std::uint64_t SqliteStore::next_message_id() { return last_id_.fetch_add(1, std::memory_order_relaxed) + 1; }

bool SqliteStore::would_exceed(std::size_t bytes) const {
  // While commits fail (the disk is full, or failing) nothing more can be made durable:
  // a new durable publish is refused at once rather than held without an answer behind
  // the batch being retried. The first commit that succeeds lifts it.
  if (counters_->failing.load(std::memory_order_relaxed)) return true;
  return options_.max_bytes != 0 &&
         counters_->bytes.load(std::memory_order_relaxed) + bytes > options_.max_bytes;
}

// ---------------------------------------------------------------------------------------
// Callers' side: queue and return.

namespace {

std::uint64_t entry_hash(std::string_view queue, std::uint64_t seq) {
  const std::uint64_t h = std::hash<std::string_view>{}(queue);
  return h ^ (seq + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2));
}

}  // namespace

void SqliteStore::push(detail::Op&& op) {
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    if (closing_) {
      spdlog::warn("store: write after close ignored");
      return;
    }
    bool barrier = false;
    if (const auto* put = std::get_if<detail::PutEntryOp>(&op.v)) {
      if (!pending_first_put_) pending_first_put_ = op.at;
      if (track_acks_) unacked_puts_.insert(entry_hash(put->e.queue, put->e.seq));
    } else if (const auto* del = std::get_if<detail::DeleteEntryOp>(&op.v)) {
      // Every entry the held batch stores is acknowledged already: holding longer gains
      // nothing.
      if (track_acks_ && unacked_puts_.erase(entry_hash(del->queue, del->seq)) && unacked_puts_.empty() &&
          writer_state_ == WriterState::holding) {
        wake = true;
      }
    } else if (std::holds_alternative<detail::BarrierOp>(op.v)) {
      ++pending_barriers_;
      barrier = true;
    }
    pending_.push_back(std::move(op));
    activity_ = true;
    // One notification per wait: the writer takes everything pending at once. A batch
    // held for want of a barrier goes when one comes; a polling writer finds the rest
    // by itself.
    if (!notified_ && (writer_state_ == WriterState::idle ||
                       (barrier && (writer_state_ == WriterState::lazy || writer_state_ == WriterState::polling)))) {
      wake = true;
    }
    if (wake) {
      notified_ = true;
      // Inside a WriteScope the rest of the read's writes come first.
      if (WriteScope::defer(*this)) {
        wake_owed_ = true;
        wake = false;
      }
    }
  }
  if (wake) wake_.notify_one();
}

void SqliteStore::put_message(MessageWrite m) {
  if (m.id == 0) {
    spdlog::error("store: put_message without a message id ignored (topic {})", m.topic);
    return;
  }
  const std::uint64_t bytes = m.topic.size() + m.payload.size() + m.properties.size();
  counters_->bytes.fetch_add(bytes, std::memory_order_relaxed);
  push(detail::Op{detail::PutMessageOp{std::move(m), bytes, false, false}});
}

void SqliteStore::put_entry(EntryRecord e) {
  push(detail::Op{detail::PutEntryOp{std::move(e)}, true, std::chrono::steady_clock::now()});
}

void SqliteStore::update_entry(const std::string& queue, std::uint64_t seq, EntryState state,
                               std::uint16_t packet_id) {
  push(detail::Op{detail::UpdateEntryOp{queue, seq, state, packet_id}});
}

void SqliteStore::delete_entry(const std::string& queue, std::uint64_t seq) {
  push(detail::Op{detail::DeleteEntryOp{queue, seq}, true, std::chrono::steady_clock::now()});
}

void SqliteStore::delete_queue(const std::string& queue) { push(detail::Op{detail::DeleteQueueOp{queue}}); }

void SqliteStore::put_retained(MessageWrite m) { push(detail::Op{detail::PutRetainedOp{std::move(m)}}); }

void SqliteStore::delete_retained(const std::string& topic) { push(detail::Op{detail::DeleteRetainedOp{topic}}); }

void SqliteStore::put_session(SessionRecord s) { push(detail::Op{detail::PutSessionOp{std::move(s)}}); }

void SqliteStore::delete_session(const std::string& client_id) {
  push(detail::Op{detail::DeleteSessionOp{client_id}});
}

void SqliteStore::put_subscription(SubscriptionRecord s) { push(detail::Op{detail::PutSubscriptionOp{std::move(s)}}); }

void SqliteStore::delete_subscription(const std::string& client_id, const std::string& filter) {
  push(detail::Op{detail::DeleteSubscriptionOp{client_id, filter}});
}

void SqliteStore::put_incoming_qos2(const std::string& client_id, std::uint16_t packet_id) {
  push(detail::Op{detail::PutQos2Op{client_id, packet_id}});
}

void SqliteStore::delete_incoming_qos2(const std::string& client_id, std::uint16_t packet_id) {
  push(detail::Op{detail::DeleteQos2Op{client_id, packet_id}});
}

void SqliteStore::put_definition(DefinitionRecord d) { push(detail::Op{detail::PutDefinitionOp{std::move(d)}}); }

void SqliteStore::delete_definition(const std::string& kind, const std::string& name) {
  push(detail::Op{detail::DeleteDefinitionOp{kind, name}});
}

void SqliteStore::after_commit(std::function<void()> on_durable) {
  push(detail::Op{detail::BarrierOp{std::move(on_durable)}});
}

// ---------------------------------------------------------------------------------------
// The writer thread.

void SqliteStore::take_pending(std::vector<detail::Op>& batch) {
  // The callers' vector changes hands; its old capacity comes back as the next one.
  batch.swap(pending_);
  pending_barriers_ = 0;
  pending_first_put_.reset();
  unacked_puts_.clear();
  // Which puts of the next batch are still unacknowledged is worth knowing only while
  // holds happen at all.
  track_acks_ = writer_->group_commit().churn();
}

void SqliteStore::writer_main() {
  using detail::GroupCommit;
  std::vector<detail::Op> batch;
  std::unique_lock lk(mu_);
  // Waits as `state` until `done`; the state tells push() and end_of_scope() what the
  // writer is doing meanwhile.
  auto wait_as = [&](WriterState state, auto&& until, auto&& done) {
    writer_state_ = state;
    notified_ = false;
    if constexpr (std::is_same_v<std::decay_t<decltype(until)>, std::nullptr_t>) {
      wake_.wait(lk, done);
    } else {
      wake_.wait_until(lk, until, done);
    }
    writer_state_ = WriterState::working;
  };
  // The last wait was a poll that ran out: what is pending has waited its time for a
  // barrier already.
  bool polled = false;
  // Takes what is pending and commits it (with what the operation log holds, when that
  // is due), then checkpoints if the log has grown enough.
  auto commit_pending = [&](bool fold) {
    take_pending(batch);
    checkpoint_due_ = false;  // checkpoint_if_due runs after this commit
    connection_busy_ = true;
    lk.unlock();
    write_batch(batch, false, false, fold);
    checkpoint_if_due();
    batch.clear();
    // A fold's batch held everything the log held (up to 2 x kFoldOperations): its room
    // is not kept for the small batches that follow.
    if (batch.capacity() > kKeptOperations) std::vector<detail::Op>().swap(batch);
    lk.lock();
    release_connection();
    last_commit_end_ = std::chrono::steady_clock::now();
  };
  for (;;) {
    if (!connection_busy_ && retry_.empty() && fold_due(std::chrono::steady_clock::now())) {
      // What the operation log holds goes into the database, with what is pending.
      const std::uint64_t requests = fold_requests_;
      commit_pending(true);
      if (requests > 0) {
        fold_requests_ -= requests;
        folded_.notify_all();
      }
      continue;
    }
    if (connection_busy_ || (pending_.empty() && retry_.empty() && !checkpoint_due_)) {
      if (closing_ && !connection_busy_) return;
      if (commit_on_caller_ && activity_ && !connection_busy_) {
        // Writes keep coming and callers commit them (sync normal or off): the writes
        // nobody waits for (deletes of acknowledged entries) are picked up from here,
        // rather than each waking this thread. One quiet period ends the polling.
        activity_ = false;
        wait_as(WriterState::polling, std::chrono::steady_clock::now() + GroupCommit::kMaxHold,
                [&] { return notified_ || closing_; });
        polled = !notified_;
        continue;
      }
      // A caller's thread that commits in end_of_scope notifies when it is done.
      if (log_) {
        // ... and the log is folded when its operations are old enough (a caller may be
        // logging more right now: then looked at again after the same time).
        const auto until = !connection_busy_ && !unfolded_.empty() ? unfolded_since_ + kFoldAge
                                                                   : std::chrono::steady_clock::now() + kFoldAge;
        wait_as(WriterState::idle, until, [&] { return notified_ || (closing_ && !connection_busy_); });
      } else {
        wait_as(WriterState::idle, nullptr, [&] { return notified_ || (closing_ && !connection_busy_); });
      }
      polled = false;
      continue;
    }
    if (!retry_.empty()) {
      // A caller's batch whose commit failed: before anything queued after it.
      batch.swap(retry_);
      const bool coalesced = retry_coalesced_;
      connection_busy_ = true;
      lk.unlock();
      write_batch(batch, coalesced, false);
      batch.clear();
      lk.lock();
      release_connection();
      continue;
    }
    if (checkpoint_due_ && pending_.empty()) {
      connection_busy_ = true;
      lk.unlock();
      checkpoint_if_due();
      lk.lock();
      checkpoint_due_ = false;
      release_connection();
      continue;
    }
    // Nobody waits for this work (no barrier): it joins the next barrier's commit rather
    // than paying a transaction of its own, unless none comes within the bound.
    if (!closing_ && pending_barriers_ == 0 && !polled) {
      wait_as(WriterState::lazy, std::chrono::steady_clock::now() + GroupCommit::kMaxHold,
              [&] { return closing_ || pending_barriers_ > 0 || notified_; });
      // A caller's thread may have committed it meanwhile.
      if (connection_busy_ || pending_.empty()) continue;
    }
    // Consumers acknowledge what is stored soon after: give the acknowledgements of the
    // entries pending about as long as they have been taking, so coalesce() cancels the
    // entries and their deletes together (no write, often no transaction). Counted from
    // the first entry's put, so work that waited behind a commit is not held again.
    if (!closing_ && pending_first_put_) {
      const auto until = ack_hold();
      if (until && *until > std::chrono::steady_clock::now()) {
        wait_as(WriterState::holding, *until, [&] { return closing_ || (track_acks_ && unacked_puts_.empty()); });
        if (connection_busy_ || pending_.empty()) continue;
      }
    }
    polled = false;
    commit_pending(false);
  }
}

void SqliteStore::end_of_scope() {
  std::unique_lock lk(mu_);
  if (!wake_owed_) return;
  wake_owed_ = false;
  const bool writer_waits = writer_state_ == WriterState::idle || writer_state_ == WriterState::polling ||
                            writer_state_ == WriterState::lazy;
  bool here = commit_on_caller_ && restored_ && !closing_ && !connection_busy_ && writer_waits && retry_.empty() &&
              !checkpoint_due_ && pending_barriers_ > 0;
  if (here) {
    // Commits back to back: load, not a lone device. The writer groups it with what the
    // other reads bring meanwhile.
    const auto since = std::chrono::steady_clock::now() - last_commit_end_;
    here = since >= writer_->group_commit().commit_time();
  }
  if (here && log_ && !unfolded_.empty() && !log_takes(pending_)) {
    // This batch would fold the log, a transaction of up to kFoldOperations operations:
    // the writer thread's work, not a network thread's.
    here = false;
  }
  if (here && pending_first_put_) {
    // The writer would hold this batch for acknowledgements: it does.
    const auto until = ack_hold();
    here = !until || *until <= std::chrono::steady_clock::now();
  }
  if (!here) {
    lk.unlock();
    wake_.notify_one();
    return;
  }
  take_pending(caller_batch_);
  connection_busy_ = true;
  // The writer keeps waiting: what it was told of is committed here.
  notified_ = false;
  lk.unlock();
  bool committed = false;
  try {
    committed = write_batch(caller_batch_, false, true);
  } catch (const std::exception& e) {
    // Not expected (the writer thread would end the same way); the batch is handed over.
    spdlog::error("store: commit on the caller's thread failed: {}", e.what());
  }
  lk.lock();
  release_connection();
  last_commit_end_ = std::chrono::steady_clock::now();
  if (!committed) {
    retry_.swap(caller_batch_);
    retry_coalesced_ = batch_coalesced_;
  }
  caller_batch_.clear();
  if (wal_frames_ >= checkpoint_frames_) checkpoint_due_ = true;
  // Work that came meanwhile (other threads saw the writer notified and left it), a
  // batch to retry, a checkpoint, a close: the writer's.
  const bool wake = !pending_.empty() || !retry_.empty() || checkpoint_due_ || closing_;
  if (wake) notified_ = true;
  lk.unlock();
  if (wake) wake_.notify_one();
}

void SqliteStore::release_connection() {
  connection_busy_ = false;
  // fold_log() waits for the connection to be free: a fold it asked for that found
  // nothing to fold must not keep it waiting.
  if (fold_requests_ > 0) folded_.notify_all();
}

void SqliteStore::fold_log() {
  std::unique_lock lk(mu_);
  if (!log_ || !restored_ || closing_) return;
  ++fold_requests_;
  notified_ = true;
  wake_.notify_one();
  // Done when nothing is unfolded and no caller is logging (the connection is free).
  folded_.wait_for(lk, std::chrono::seconds(30),
                   [&] { return closing_ || (!connection_busy_ && unfolded_.empty() && retry_.empty()); });
  if (fold_requests_ > 0 && unfolded_.empty()) fold_requests_ = 0;
}

void SqliteStore::checkpoint_if_due() {
  if (wal_frames_ < checkpoint_frames_) return;
  // PASSIVE, as SQLite's automatic checkpoint: copies what it can without waiting.
  int log = 0, copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_->get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
  if (rc != SQLITE_OK) {
    spdlog::warn("store: checkpoint of {} failed: {}", path_, db_->errmsg());
  }
  wal_frames_ = 0;
}

int SqliteStore::on_wal_commit(void* self, sqlite3*, const char*, int frames) {
  static_cast<SqliteStore*>(self)->wal_frames_ = frames;
  return SQLITE_OK;
}

void SqliteStore::run_barriers(std::vector<detail::Op>& batch) {
  for (auto& op : batch) {
    if (auto* b = std::get_if<detail::BarrierOp>(&op.v)) {
      try {
        if (b->on_durable) b->on_durable();
      } catch (const std::exception& e) {
        spdlog::error("store: after_commit callback threw: {}", e.what());
      } catch (...) {
        spdlog::error("store: after_commit callback threw");
      }
    }
  }
}

bool SqliteStore::write_batch(std::vector<detail::Op>& batch, bool coalesced, bool on_caller, bool fold) {
  using namespace std::chrono_literals;
  batch_coalesced_ = coalesced;
  if (!coalesced && !fold && log_takes(batch)) {
    // One append to the operation log makes the batch durable as configured; the
    // database gets it at the next fold. What cancels within the batch (an entry put and
    // its delete) is not logged at all.
    writer_->coalesce(batch, true);
    bool anything = false;
    for (const auto& op : batch) anything = anything || (op.live && !std::holds_alternative<detail::BarrierOp>(op.v));
    const auto started = std::chrono::steady_clock::now();
    const int rc = anything ? log_->append(log_seq_ + 1, batch) : SQLITE_OK;
    if (rc == SQLITE_OK) {
      if (anything) {
        ++log_seq_;
        writer_->group_commit().commit_seen(std::chrono::steady_clock::now() - started);
      }
      if (counters_->failing.exchange(false, std::memory_order_relaxed)) {
        spdlog::warn("store: writes to {} succeed again; durable publishes are accepted", log_->path());
      }
      if (unfolded_.empty()) unfolded_since_ = started;
      // Every operation, the cancelled ones too, is coalesced again at the fold with
      // what came before and after it (a message stored earlier whose entry was put
      // and deleted here may be left without any).
      for (auto& op : batch) {
        if (std::holds_alternative<detail::BarrierOp>(op.v)) continue;
        op.live = true;
        if (auto* pm = std::get_if<detail::PutMessageOp>(&op.v)) {
          pm->referenced = false;
          pm->live_entries = 0;
          pm->written = false;
        }
        unfolded_.push_back(std::move(op));
      }
      run_barriers(batch);
      return true;
    }
    // Not logged: the batch is as it came, for SQLite or for the retry.
    for (auto& op : batch) {
      op.live = true;
      if (auto* pm = std::get_if<detail::PutMessageOp>(&op.v)) {
        pm->referenced = false;
        pm->live_entries = 0;
      }
    }
    counters_->commit_failures.fetch_add(1, std::memory_order_relaxed);
    counters_->failing.store(true, std::memory_order_relaxed);
    if (on_caller) {
      spdlog::debug("store: append to {} failed: {}; handed to the writer", log_->path(), sqlite3_errstr(rc));
      return false;
    }
    // The writer thread: SQLite takes the batch, with what the log holds, and retries
    // until it succeeds.
    spdlog::debug("store: append to {} failed: {}; committing to {} instead", log_->path(), sqlite3_errstr(rc),
                  path_);
  }
  // Anything else folds the log first, in the same transaction: the order of the writes
  // is kept, and the database's mark says the log is applied through its last record.
  bool folding = false;
  if (log_ && (!unfolded_.empty() || log_->size() > 0)) {
    if (!unfolded_.empty()) {
      if (coalesced) {
        // Not expected: a batch handed back after a failed commit is retried before
        // anything else is logged.
        spdlog::error("store: a retried batch met unfolded operations; both are coalesced again");
      }
      for (auto& op : batch) unfolded_.push_back(std::move(op));
      batch.swap(unfolded_);
      unfolded_.clear();
      coalesced = false;
    }
    // The mark matters only while the log holds records to skip at the next start.
    if (log_->size() > 0) writer_->mark_log_applied(log_seq_);
    folding = true;
  }
  if (!coalesced) {
    std::size_t puts = 0, deletes = 0;
    for (const auto& op : batch) {
      if (std::holds_alternative<detail::PutEntryOp>(op.v)) {
        ++puts;
      } else if (std::holds_alternative<detail::DeleteEntryOp>(op.v)) {
        ++deletes;
      }
    }
    writer_->coalesce(batch);
    writer_->group_commit().batch_done(puts, deletes);
    batch_coalesced_ = true;
  }

  auto delay = 100ms;
  int failures_while_stopping = 0;
  for (;;) {
    auto outcome = writer_->commit(batch);
    if (outcome.committed) {
      if (counters_->failing.exchange(false, std::memory_order_relaxed)) {
        spdlog::warn("store: commits to {} succeed again; durable publishes are accepted", path_);
      }
      break;
    }
    counters_->commit_failures.fetch_add(1, std::memory_order_relaxed);
    counters_->failing.store(true, std::memory_order_relaxed);
    const std::string& error = outcome.error;
    if (detail::SqliteWriter::rejects_operation(outcome.rc) && outcome.failed_op != detail::SqliteWriter::kNoOp) {
      // Retrying would fail the same way and hold up every later write: this one
      // operation goes, the rest are retried at once.
      auto& failed = batch[outcome.failed_op];
      spdlog::error("store: {} rejects an operation ({}); it is dropped and the rest of its batch retried", path_,
                    error);
      failed.live = false;
      if (const auto* pm = std::get_if<detail::PutMessageOp>(&failed.v)) {
        counters_->bytes.fetch_sub(pm->bytes, std::memory_order_relaxed);
      }
      continue;
    }
    if (on_caller) {
      // Waiting for the disk to recover is the writer thread's job, not a network
      // thread's: it retries this batch before anything else.
      spdlog::debug("store: commit of {} operations to {} failed: {}; handed to the writer", batch.size(), path_,
                    error);
      return false;
    }
    const bool stopping = stopping_.load();
    if (stopping && ++failures_while_stopping > 3) {
      spdlog::error("store: giving up on {} operations for {} at shutdown: {}", batch.size(), path_, error);
      // No callback runs from here on, this batch's or a later one's: each barrier
      // promises that everything before it is durable, and these operations are not.
      gave_up_ = true;
      return true;
    }
    if (delay == 100ms) {
      spdlog::error("store: commit of {} operations to {} failed: {}; durable publishes are refused (MQTT 5 0x97, "
                    "AMQP connection.blocked) and the commit retried until it succeeds",
                    batch.size(), path_, error);
    } else {
      spdlog::debug("store: commit of {} operations to {} failed again: {}; retrying in {} ms", batch.size(), path_,
                    error, delay.count());
    }
    // Sleep in slices so close() need not wait out a long backoff.
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until && stopping == stopping_.load()) std::this_thread::sleep_for(10ms);
    delay = std::min<std::chrono::milliseconds>(delay * 2, 2s);
  }

  if (gave_up_) return true;
  if (folding) {
    // Applied: what the log holds is now below the mark. Emptied here; should that fail,
    // the mark still tells the next start to skip it.
    if (const int rc = log_->clear(log_seq_); rc != SQLITE_OK) {
      spdlog::warn("store: the operation log {} cannot be emptied: {}", log_->path(), sqlite3_errstr(rc));
    }
  }
  run_barriers(batch);
  return true;
}

void SqliteStore::close() {
  std::lock_guard close_lock(close_mu_);
  if (closed_) return;
  closed_ = true;
  bool restored;
  {
    std::lock_guard lk(mu_);
    closing_ = true;
    restored = restored_;
  }
  stopping_.store(true);
  wake_.notify_all();
  if (writer_thread_.joinable()) {
    writer_thread_.join();
  } else if (!restored && db_) {
    // Writes queued without a restore: build the reference counts first, then drain.
    bool pending;
    {
      std::lock_guard lk(mu_);
      pending = !pending_.empty();
    }
    if (pending) {
      try {
        DiscardVisitor discard;
        restore_records(discard);
        writer_main();
      } catch (const std::exception& e) {
        spdlog::error("store: cannot write the operations queued before restore: {}", e.what());
      }
    }
  }
  {
    std::lock_guard lk(mu_);
    pending_.clear();
  }
  if (log_) {
    // Folded at the writer's end: an empty log goes. One still holding records (the
    // database refused them at shutdown) stays for the next start to apply.
    const bool empty = log_->size() == 0 && unfolded_.empty();
    log_.reset();
    unfolded_.clear();
    if (empty) ::unlink(log_path_.c_str());
  }
  if (db_ && db_->get()) {
    // Copy the WAL into the database and empty it, so the next start has nothing to
    // replay and the data directory holds one self-contained file.
    bool marked_closed = false;
    if (const int rc = db_->exec("PRAGMA wal_checkpoint(TRUNCATE)"); rc != SQLITE_OK) {
      spdlog::warn("store: checkpoint of {} at close failed: {}", path_, db_->errmsg());
    } else {
      // The database file holds everything committed, so the next start needs no log.
      try {
        detail::set_open_mark(*db_, path_, false);
        marked_closed = true;
      } catch (const StoreError& e) {
        spdlog::warn("store: {}", e.what());
      }
    }
    if (!marked_closed) {
      // Still marked open: SQLite must not delete the log on close, or the next start
      // would take the store for one that lost its log.
      int keep = 1;
      sqlite3_file_control(db_->get(), "main", SQLITE_FCNTL_PERSIST_WAL, &keep);
    }
  }
  writer_.reset();  // finalizes the statements before the connection closes
  if (db_) db_->close();
}

StoreStats SqliteStore::stats() const {
  StoreStats s;
  s.messages = counters_->messages.load(std::memory_order_relaxed);
  s.bytes = counters_->bytes.load(std::memory_order_relaxed);
  s.commits = counters_->commits.load(std::memory_order_relaxed);
  s.operations = counters_->operations.load(std::memory_order_relaxed);
  s.coalesced = counters_->coalesced.load(std::memory_order_relaxed);
  s.commit_failures = counters_->commit_failures.load(std::memory_order_relaxed);
  s.failing = counters_->failing.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < s.commit_seconds.size(); ++i) {
    s.commit_seconds[i] = counters_->commit_seconds[i].load(std::memory_order_relaxed);
  }
  s.commit_microseconds_sum = counters_->commit_microseconds_sum.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < s.commit_operations.size(); ++i) {
    s.commit_operations[i] = counters_->commit_operations[i].load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace outpost::store
