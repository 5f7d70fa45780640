// `outpost store check` and `outpost store recover` on stores that are sound, left by a
// crash, damaged, or in use.
#include "store/sqlite_check.hpp"
#include "store/sqlite_store.hpp"

#include "store_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace outpost::store::test {
namespace {

namespace fs = std::filesystem;

// A store with three queued messages and one retained, left as a SIGKILL leaves it: the
// files of an open store, copied.
void crashed_store(const TempDir& to) {
  TempDir live;
  SqliteStore s(options(live, SqliteStore::Options::Sync::full));
  Recorder r;
  s.restore(r);
  for (std::uint64_t i = 1; i <= 3; ++i) {
    s.put_message(message(i, "t", std::string(2000, 'x')));
    s.put_entry(entry("q", i, i));
  }
  s.put_retained(message(10, "r", "kept"));
  flush(s);
  fs::create_directories(to.data());
  fs::copy_file(live.db(), to.db());
  fs::copy_file(live.db() + "-wal", to.db() + "-wal");
}

std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(StoreCheck, ASoundStoreLeftByACrashIsOkAndUnchanged) {
  TempDir dir;
  crashed_store(dir);
  const auto before = listing(dir.data());
  const auto wal_size = fs::file_size(dir.db() + "-wal");
  const auto r = check_store(dir.data());
  EXPECT_TRUE(r.ok) << (r.problems.empty() ? "" : r.problems[0]);
  EXPECT_EQ(r.counts.messages, 3u);
  EXPECT_EQ(r.counts.entries, 3u);
  EXPECT_EQ(r.counts.retained, 1u);
  EXPECT_EQ(listing(dir.data()), before);
  EXPECT_EQ(fs::file_size(dir.db() + "-wal"), wal_size);  // no checkpoint
}

TEST(StoreCheck, NoStoreIsAProblem) {
  TempDir dir;
  const auto r = check_store(dir.data());
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("no store database"), std::string::npos);
}

TEST(StoreCheck, AMissingLogIsFoundAndRecoverGivesAStoreThatOpens) {
  TempDir dir;
  crashed_store(dir);
  fs::remove(dir.db() + "-wal");
  const auto r = check_store(dir.data());
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(fs::exists(dir.db() + "-wal"));  // check made none up

  const auto rec = recover_store(dir.data());
  ASSERT_EQ(rec.moved.size(), 1u);
  EXPECT_EQ(rec.moved[0].first, dir.db());
  EXPECT_NE(rec.moved[0].second.find(dir.db() + ".damaged-"), std::string::npos);
  EXPECT_TRUE(fs::exists(rec.moved[0].second));
  EXPECT_TRUE(check_store(dir.data()).ok);
  reopen(dir);  // no StoreError
}

TEST(StoreCheck, RecoverKeepsWhatADamagedLogHolds) {
  TempDir dir;
  crashed_store(dir);
  {
    std::fstream f(dir.db() + "-wal", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(32 + 20);  // the first frame's stored checksum: its page is whole
    f.put('\x5a');
  }
  EXPECT_FALSE(check_store(dir.data()).ok);
  const auto rec = recover_store(dir.data());
  EXPECT_EQ(rec.kept.messages, 3u);
  EXPECT_EQ(rec.kept.entries, 3u);
  EXPECT_EQ(rec.kept.retained, 1u);
  EXPECT_EQ(rec.moved.size(), 2u);
  const Recorder back = reopen(dir);
  EXPECT_EQ(back.entries.size(), 3u);
  EXPECT_EQ(back.retained_messages.size(), 1u);
}

TEST(StoreCheck, AStoreInUseIsNeitherCheckedNorRecovered) {
  TempDir dir;
  SqliteStore s(options(dir));
  const auto r = check_store(dir.data());
  EXPECT_FALSE(r.ok);
  ASSERT_FALSE(r.problems.empty());
  EXPECT_NE(r.problems[0].find("locked"), std::string::npos) << r.problems[0];
  EXPECT_THROW(recover_store(dir.data()), StoreError);
  // Nothing moved or removed (sync off keeps an operation log beside the database).
  EXPECT_EQ(listing(dir.data()), std::vector<std::string>({"outpost.db", "outpost.db-log", "outpost.db-wal"}));
}

}  // namespace
}  // namespace outpost::store::test
