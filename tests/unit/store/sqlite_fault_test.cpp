// Runtime write failures: an SQLite VFS that wraps the default one and fails writes or
// syncs on demand stands in for a full or failing disk. The writer must roll back, keep
// the operations, retry, and hold every acknowledgement until the commit succeeds. The
// same VFS counts the syncs of the operation log: with `sync: full` every commit's
// callbacks run after one.
#include "store/sqlite_store.hpp"

#include "store_test_util.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace outpost::store::test {
namespace {

constexpr const char* kFaultyVfs = "outpost-test-faulty";
std::atomic<int> g_write_error{0};  // the code xWrite returns; 0 = write normally
std::atomic<int> g_sync_error{0};   // the code xSync returns; 0 = sync normally
std::atomic<sqlite3_file*> g_log_file{nullptr};  // the operation log's file, last opened
std::atomic<int> g_log_syncs{0};                 // syncs of it that succeeded

// Files opened through the wrapper keep the default VFS's file object; only their method
// table is swapped for a copy whose xWrite can fail. The copy remembers the original.
struct Methods {
  const sqlite3_io_methods* real = nullptr;
  sqlite3_io_methods faulty{};
};
std::mutex g_methods_mu;
std::array<Methods, 8> g_methods;
sqlite3_vfs* g_default_vfs = nullptr;
sqlite3_vfs g_faulty_vfs;

const sqlite3_io_methods* real_methods(const sqlite3_io_methods* faulty) {
  std::lock_guard lk(g_methods_mu);
  for (auto& m : g_methods) {
    if (&m.faulty == faulty) return m.real;
  }
  return nullptr;
}

int faulty_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  if (const int rc = g_write_error.load()) return rc;
  return real_methods(f->pMethods)->xWrite(f, data, amount, offset);
}

int faulty_sync(sqlite3_file* f, int flags) {
  if (const int rc = g_sync_error.load()) return rc;
  const int rc = real_methods(f->pMethods)->xSync(f, flags);
  if (rc == SQLITE_OK && f == g_log_file.load()) ++g_log_syncs;
  return rc;
}

int faulty_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  const int rc = g_default_vfs->xOpen(g_default_vfs, name, file, flags, out_flags);
  if (rc != SQLITE_OK || !file->pMethods) return rc;
  // The store opens its operation log as the database's journal (SQLite's own WAL
  // mode opens none).
  if ((flags & SQLITE_OPEN_MAIN_JOURNAL) != 0) g_log_file = file;
  std::lock_guard lk(g_methods_mu);
  for (auto& m : g_methods) {
    if (m.real == file->pMethods || !m.real) {
      if (!m.real) {
        m.real = file->pMethods;
        m.faulty = *file->pMethods;
        m.faulty.xWrite = faulty_write;
        m.faulty.xSync = faulty_sync;
      }
      file->pMethods = &m.faulty;
      return rc;
    }
  }
  return rc;  // more method tables than slots: writes to this file just never fail
}

void register_faulty_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_default_vfs = sqlite3_vfs_find(nullptr);
    g_faulty_vfs = *g_default_vfs;
    g_faulty_vfs.zName = kFaultyVfs;
    g_faulty_vfs.pNext = nullptr;
    g_faulty_vfs.xOpen = faulty_open;
    sqlite3_vfs_register(&g_faulty_vfs, 0);
  });
}

class SqliteStoreFaults : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { register_faulty_vfs(); }
  void TearDown() override {
    g_write_error = 0;
    g_sync_error = 0;
  }
};

TEST_P(SqliteStoreFaults, FailedCommitsAreRetriedAndHoldAcknowledgements) {
  TempDir dir;
  {
    auto o = options(dir, SqliteStore::Options::Sync::full);
    o.vfs = kFaultyVfs;
    SqliteStore s(o);
    Recorder r;
    s.restore(r);
    s.put_message(message(1, "t", "before"));
    s.put_entry(entry("q", 1, 1));
    flush(s);
    const auto commits = s.stats().commits;

    // SQLITE_IOERR_FSYNC: the writes go through and the sync after them fails (EIO from
    // fsync), which makes nothing durable either.
    (GetParam() == SQLITE_IOERR_FSYNC ? g_sync_error : g_write_error) = GetParam();
    std::atomic<bool> acked{false};
    s.put_message(message(2, "t", "during"));
    s.put_entry(entry("q", 2, 2));
    s.delete_entry("q", 1);
    s.after_commit([&] { acked = true; });
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // several failed attempts
    EXPECT_FALSE(acked.load());
    EXPECT_EQ(s.stats().commits, commits);
    EXPECT_EQ(s.stats().messages, 1u);  // the failed attempts changed nothing in memory either
    // New durable publishes are refused while commits fail, not held without an answer.
    EXPECT_TRUE(s.stats().failing);
    EXPECT_TRUE(s.would_exceed(1));

    g_write_error = 0;
    g_sync_error = 0;
    for (int i = 0; i < 1000 && !acked; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(acked.load());
    EXPECT_FALSE(s.would_exceed(1));  // accepted again once a commit gets through
    EXPECT_EQ(s.stats().messages, 1u);  // message 1 went with its entry, message 2 came
    EXPECT_EQ(s.stats().bytes, 7u);     // "t" + "during"
  }
  Recorder r = reopen(dir);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(text(r.messages[0].payload), "during");
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].seq, 2u);
}

INSTANTIATE_TEST_SUITE_P(Errors, SqliteStoreFaults, ::testing::Values(SQLITE_IOERR_WRITE, SQLITE_FULL, SQLITE_IOERR_FSYNC),
                         [](const auto& param_info) {
                           switch (param_info.param) {
                             case SQLITE_FULL: return "DiskFull";
                             case SQLITE_IOERR_FSYNC: return "SyncFails";
                             default: return "IoError";
                           }
                         });

// A lone device's publish with `sync: full`: its acknowledgement (the barrier's callback)
// runs after a sync of the operation log that holds it, one sync per commit; with normal
// the log is never synced.
TEST(SqliteStoreLogSync, FullSyncsTheLogBeforeEachCommitsCallbacksAndNormalNever) {
  register_faulty_vfs();
  for (const auto sync : {SqliteStore::Options::Sync::full, SqliteStore::Options::Sync::normal}) {
    TempDir dir;
    auto o = options(dir, sync);
    o.vfs = kFaultyVfs;
    SqliteStore s(o);
    Recorder r;
    s.restore(r);
    const int before = g_log_syncs.load();
    std::vector<int> seen;  // syncs done when each callback ran
    for (std::uint64_t i = 1; i <= 10; ++i) {
      auto done = std::make_shared<std::promise<void>>();
      auto f = done->get_future();
      {
        WriteScope scope;
        const std::uint64_t id = s.next_message_id();
        s.put_message(message(id, "t", "p"));
        s.put_entry(entry("q", i, id));
        s.after_commit([&seen, done] {
          seen.push_back(g_log_syncs.load());
          done->set_value();
        });
      }
      ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    }
    ASSERT_EQ(seen.size(), 10u);
    if (sync == SqliteStore::Options::Sync::full) {
      int last = before;
      for (const int n : seen) {
        EXPECT_GT(n, last) << "a callback ran without a sync of its own";
        last = n;
      }
    } else {
      EXPECT_EQ(seen.back(), before) << "normal does not sync the log";
    }
    s.close();
  }
}

TEST(SqliteStoreFaultsOnCaller, ACommitThatFailsOnTheCallersThreadIsRetriedByTheWriterInOrder) {
  // With `sync: normal` an idle writer leaves a read's commit to the reading thread
  // (SqliteStore::end_of_scope). When that commit fails, the thread does not wait for the
  // disk: the writer retries the batch, before anything queued after it.
  register_faulty_vfs();
  TempDir dir;
  {
    auto o = options(dir, SqliteStore::Options::Sync::normal);
    o.vfs = kFaultyVfs;
    SqliteStore s(o);
    Recorder r;
    s.restore(r);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the writer waits for work
    g_write_error = SQLITE_IOERR_WRITE;
    std::mutex mu;
    std::vector<int> ran;
    for (int i = 1; i <= 2; ++i) {
      WriteScope scope;
      const std::uint64_t id = s.next_message_id();
      s.put_message(message(id, "t", "p" + std::to_string(i)));
      s.put_entry(entry("q", static_cast<std::uint64_t>(i), id));
      s.after_commit([&, i] {
        std::lock_guard lk(mu);
        ran.push_back(i);
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    {
      std::lock_guard lk(mu);
      EXPECT_TRUE(ran.empty());
    }
    EXPECT_TRUE(s.stats().failing);
    EXPECT_TRUE(s.would_exceed(1));
    g_write_error = 0;
    for (int i = 0; i < 1000; ++i) {
      {
        std::lock_guard lk(mu);
        if (ran.size() == 2) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lk(mu);
    EXPECT_EQ(ran, (std::vector<int>{1, 2}));
    EXPECT_FALSE(s.would_exceed(1));
  }
  g_write_error = 0;
  Recorder r = reopen(dir);
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].seq, 1u);
  EXPECT_EQ(r.entries[1].seq, 2u);
}

TEST(SqliteStoreFaultsAtClose, CloseGivesUpOnABrokenDiskWithoutAcknowledging) {
  register_faulty_vfs();
  TempDir dir;
  auto o = options(dir);
  o.vfs = kFaultyVfs;
  std::atomic<bool> acked{false};
  {
    SqliteStore s(o);
    Recorder r;
    s.restore(r);
    g_write_error = SQLITE_IOERR_WRITE;
    s.put_message(message(1, "t", "lost"));
    s.put_entry(entry("q", 1, 1));
    s.after_commit([&] { acked = true; });
    s.close();  // returns after a few more attempts instead of hanging
    g_write_error = 0;
  }
  EXPECT_FALSE(acked.load());
  EXPECT_TRUE(reopen(dir).entries.empty());
}

TEST(SqliteStoreRejects, AnOperationSqliteRejectsIsDroppedAndTheRestCommitted) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
  }
  {
    // A trigger stands in for any statement-level rejection (a constraint, a value too big).
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir.db().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TRIGGER reject BEFORE INSERT ON sessions WHEN NEW.client_id = 'poison' "
                           "BEGIN SELECT RAISE(ABORT, 'rejected'); END",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_session(SessionRecord{"before", 4, 0, 0});
    s.put_session(SessionRecord{"poison", 4, 0, 0});
    s.put_session(SessionRecord{"after", 4, 0, 0});
    flush(s);  // does not hang on the rejected operation
  }
  Recorder r = reopen(dir);
  ASSERT_EQ(r.sessions.size(), 2u);
  EXPECT_EQ(r.sessions[0].client_id, "after");
  EXPECT_EQ(r.sessions[1].client_id, "before");
}

TEST(SqliteStoreRejects, EmptyTopicViewIsStoredAsEmptyText) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    MessageWrite m;  // topic and payload views without data
    m.id = 1;
    s.put_message(std::move(m));
    s.put_entry(entry("q", 1, 1));
    flush(s);
    EXPECT_EQ(s.stats().messages, 1u);
  }
  Recorder r = reopen(dir);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].topic, "");
}

}  // namespace
}  // namespace outpost::store::test
