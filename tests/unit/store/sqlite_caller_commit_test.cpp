// SqliteStore's commits on the caller's thread (SqliteStore::end_of_scope): with `sync`
// normal or off, the writes of one WriteScope are committed by the thread that made them
// when the writer thread is idle; with `full` always by the writer thread. Either way a
// callback runs only after its commit, callbacks run in call order, and what was
// committed is there after a reopen.
#include "store/sqlite_store.hpp"

#include "store_test_util.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace outpost::store::test {
namespace {

using Sync = SqliteStore::Options::Sync;

// One publish as a session makes it: the message, its entry and a barrier, in one scope.
// Returns the thread the barrier's callback ran on, once it ran.
std::thread::id publish(SqliteStore& s, std::uint64_t seq, bool* ran_in_scope = nullptr) {
  auto ran = std::make_shared<std::promise<std::thread::id>>();
  auto f = ran->get_future();
  {
    WriteScope scope;
    const std::uint64_t id = s.next_message_id();
    s.put_message(message(id, "t", "payload"));
    s.put_entry(entry("q", seq, id));
    s.after_commit([ran] { ran->set_value(std::this_thread::get_id()); });
  }
  if (ran_in_scope) *ran_in_scope = f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  EXPECT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  return f.get();
}

// The writer thread goes idle soon after restore or a commit; a publish made before it
// got there is simply committed by it. Tries until one publish was committed by the
// caller (or gives up after a few seconds).
bool some_publish_commits_on_the_caller(SqliteStore& s, std::uint64_t& seq) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    bool in_scope = false;
    if (publish(s, ++seq, &in_scope) == std::this_thread::get_id()) {
      EXPECT_TRUE(in_scope);  // on this thread means before the scope ended
      return true;
    }
  }
  return false;
}

class CallerCommit : public ::testing::TestWithParam<Sync> {};

TEST_P(CallerCommit, AReadsWritesAreCommittedOnItsThreadWhenTheWriterIsIdle) {
  TempDir dir;
  std::uint64_t seq = 0;
  {
    SqliteStore s(options(dir, GetParam()));
    Recorder r;
    s.restore(r);
    ASSERT_TRUE(some_publish_commits_on_the_caller(s, seq));
    s.fold_log();  // with normal and off the caller's commit went to the operation log
    EXPECT_GE(s.stats().commits, 1u);
  }
  Recorder after = reopen(dir);
  EXPECT_EQ(after.entries.size(), seq);
  EXPECT_EQ(after.messages.size(), seq);
}

TEST_P(CallerCommit, WritesOutsideAScopeAreTheWritersAsBefore) {
  TempDir dir;
  SqliteStore s(options(dir, GetParam()));
  Recorder r;
  s.restore(r);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto ran = std::make_shared<std::promise<std::thread::id>>();
  auto f = ran->get_future();
  s.put_message(message(1, "t", "x"));
  s.put_entry(entry("q", 1, 1));
  s.after_commit([ran] { ran->set_value(std::this_thread::get_id()); });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_NE(f.get(), std::this_thread::get_id());
}

TEST_P(CallerCommit, CallbacksRunInCallOrderWhicheverThreadCommits) {
  TempDir dir;
  SqliteStore s(options(dir, GetParam()));
  Recorder r;
  s.restore(r);
  constexpr int kThreads = 3, kPerThread = 200;
  std::mutex mu;
  std::vector<int> called, ran;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string queue = "q";
      queue.append(std::to_string(t));
      for (int i = 0; i < kPerThread; ++i) {
        WriteScope scope;
        const std::uint64_t id = s.next_message_id();
        s.put_message(message(id, "t", "p"));
        s.put_entry(entry(queue, static_cast<std::uint64_t>(i), id));
        if (i > 0 && i % 2 == 0) s.delete_entry(queue, static_cast<std::uint64_t>(i - 1));
        std::lock_guard lk(mu);  // makes the call order observable
        const int token = t * kPerThread + i;
        called.push_back(token);
        // Callbacks run one batch at a time, whichever thread commits it.
        s.after_commit([&ran, token] { ran.push_back(token); });
      }
    });
  }
  for (auto& th : threads) th.join();
  flush(s);
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(ran, called);
  }
  s.close();
  Recorder after = reopen(dir);
  EXPECT_EQ(after.entries.size(), static_cast<std::size_t>(kThreads * (kPerThread - (kPerThread - 1) / 2)));
  EXPECT_EQ(after.messages.size(), after.entries.size());
}

TEST_P(CallerCommit, CheckpointsKeepTheLogBounded) {
  // Nearly every commit here is a caller's; the writer thread still checkpoints, so the log is
  // rewritten from its start instead of growing by every commit.
  TempDir dir;
  SqliteStore s(options(dir, GetParam()));
  Recorder r;
  s.restore(r);
  std::uint64_t seq = 0;
  for (int i = 0; i < 8000; ++i) publish(s, ++seq);
  flush(s);
  // A checkpoint comes at 4 MiB of log (SqliteStore::kCheckpointBytes); 8000 commits of
  // 2-3 pages of 1 KiB would be over 16 MiB without one.
  const auto wal = std::filesystem::file_size(dir.db() + "-wal");
  EXPECT_LT(wal, 6u * 1024 * 1024) << "log of " << wal << " bytes";
}

INSTANTIATE_TEST_SUITE_P(Sync, CallerCommit, ::testing::Values(Sync::normal, Sync::off),
                         [](const auto& param_info) { return param_info.param == Sync::normal ? "Normal" : "Off"; });

TEST(CallerCommitFull, FullSyncCommitsOnTheWriterThreadOnly) {
  // A commit with `full` waits for the disk: never on a network thread.
  TempDir dir;
  SqliteStore s(options(dir, Sync::full));
  Recorder r;
  s.restore(r);
  for (std::uint64_t seq = 1; seq <= 20; ++seq) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    bool in_scope = true;
    EXPECT_NE(publish(s, seq, &in_scope), std::this_thread::get_id());
  }
}

TEST(SqliteStorePages, ANewStoreUsesOneKiBPages) {
  TempDir dir;
  { SqliteStore s(options(dir)); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(dir.db().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 1024);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

}  // namespace
}  // namespace outpost::store::test
