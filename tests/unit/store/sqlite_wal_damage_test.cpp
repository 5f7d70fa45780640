// A store whose write-ahead log still holds committed transactions (as an unclean stop
// leaves it), then damaged: a flipped bit in a frame or in the header, or the log gone.
// SQLite alone would drop what follows the damage without a word; the store refuses.
#include "store/sqlite_store.hpp"
#include "store/wal_scan.hpp"

#include "store_test_util.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <cstdio>
#include <fstream>

namespace outpost::store::test {
namespace {

namespace fs = std::filesystem;

// A snapshot of a running store after `transactions` commits of one message each: its
// database file and log copied into `to` while it is open, as a SIGKILL would leave them.
void crashed_store(const TempDir& to, int transactions) {
  TempDir live;
  SqliteStore s(options(live, SqliteStore::Options::Sync::full));
  Recorder r;
  s.restore(r);
  for (int i = 1; i <= transactions; ++i) {
    s.put_message(message(static_cast<std::uint64_t>(i), "t", std::string(3000, 'x')));
    s.put_entry(entry("q", static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(i)));
    flush(s);
  }
  fs::create_directories(to.data());
  fs::copy_file(live.db(), to.db());
  fs::copy_file(live.db() + "-wal", to.db() + "-wal");
}

void flip_bit(const std::string& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  c = static_cast<char>(c ^ 0x10);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(c);
}

std::string open_error(const TempDir& dir) {
  try {
    reopen(dir);
    return "";
  } catch (const StoreError& e) {
    return e.what();
  }
}

TEST(SqliteWalDamage, AnIntactLogIsReplayed) {
  TempDir dir;
  crashed_store(dir, 5);
  const auto scan = scan_wal(dir.db() + "-wal");
  EXPECT_TRUE(scan.header_ok);
  EXPECT_FALSE(scan.damaged) << scan.damage;
  EXPECT_GE(scan.transactions, 5u);  // one commit per flush at least (the writer may split a batch)
  EXPECT_EQ(reopen(dir).entries.size(), 5u);
  EXPECT_EQ(reopen(dir).entries.size(), 5u);  // and closed cleanly: no log needed now
  EXPECT_FALSE(fs::exists(dir.db() + "-wal"));
}

TEST(SqliteWalDamage, AFlippedBitInAnEarlyFrameIsRefused) {
  TempDir dir;
  crashed_store(dir, 5);
  const auto page = scan_wal(dir.db() + "-wal").page_size;
  flip_bit(dir.db() + "-wal", 32 + 24 + page / 2);  // inside the first frame's page
  const auto err = open_error(dir);
  EXPECT_NE(err.find(dir.db() + "-wal is damaged"), std::string::npos) << err;
  EXPECT_NE(err.find("frame 1 of"), std::string::npos) << err;
  EXPECT_NE(err.find("outpost store recover"), std::string::npos) << err;
}

TEST(SqliteWalDamage, AFlippedBitInTheHeaderIsRefused) {
  TempDir dir;
  crashed_store(dir, 3);
  flip_bit(dir.db() + "-wal", 17);  // salt-1
  const auto err = open_error(dir);
  EXPECT_NE(err.find("header fails its checksum"), std::string::npos) << err;
}

TEST(SqliteWalDamage, AMissingLogAfterAnUncleanStopIsRefused) {
  TempDir dir;
  crashed_store(dir, 3);
  fs::remove(dir.db() + "-wal");
  const auto err = open_error(dir);
  EXPECT_NE(err.find("was not closed cleanly and its write-ahead log"), std::string::npos) << err;
  EXPECT_NE(err.find(dir.db()), std::string::npos) << err;
}

TEST(SqliteWalDamage, ATornLastFrameIsNotDamage) {
  TempDir dir;
  crashed_store(dir, 4);
  const auto size = fs::file_size(dir.db() + "-wal");
  fs::resize_file(dir.db() + "-wal", size - 100);  // the last transaction torn by the crash
  const auto scan = scan_wal(dir.db() + "-wal");
  EXPECT_FALSE(scan.damaged) << scan.damage;
  EXPECT_EQ(reopen(dir).entries.size(), 3u);
}

TEST(SqliteWalDamage, ACleanStopNeedsNoLog) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_message(message(1, "t", "kept"));
    s.put_entry(entry("q", 1, 1));
  }
  EXPECT_FALSE(fs::exists(dir.db() + "-wal"));
  EXPECT_EQ(reopen(dir).entries.size(), 1u);
}

}  // namespace
}  // namespace outpost::store::test

namespace outpost::store::test {
namespace {

// Every page of a store, one at a time: a flipped bit in the page header and one in the
// middle of the page. The store either refuses to open (StoreError) or restores what it
// held; never an empty start.
TEST(SqliteDamageSweep, AFlippedBitInAnyPageIsRefusedOrHarmless) {
  TempDir source;
  {
    SqliteStore s(options(source));
    Recorder r;
    s.restore(r);
    for (std::uint64_t i = 1; i <= 40; ++i) {
      s.put_message(message(i, "t/" + std::to_string(i), std::string(500, 'x')));
      s.put_entry(entry("q", i, i));
    }
    s.put_retained(message(100, "r", "retained"));
    s.put_session(SessionRecord{"c", 4, 3600, 0});
    s.put_subscription(SubscriptionRecord{"c", "t/#", 1, 0, 0});
  }
  const auto size = fs::file_size(source.db());
  const std::uint64_t page = page_size_of(source.db());
  ASSERT_EQ(size % page, 0u);
  int refused = 0, opened = 0;
  for (std::uint64_t p = 0; p < size / page; ++p) {
    for (std::uint64_t at : {p * page + (p == 0 ? 100 : 0) + 3, p * page + page / 2}) {
      TempDir dir;
      fs::create_directories(dir.data());
      fs::copy_file(source.db(), dir.db());
      flip_bit(dir.db(), at);
      try {
        const Recorder r = reopen(dir);
        ++opened;
        EXPECT_FALSE(r.entries.empty() && r.retained_messages.empty() && r.sessions.empty())
            << "an empty start after a flipped bit at byte " << at;
      } catch (const StoreError& e) {
        ++refused;
        EXPECT_NE(std::string(e.what()).find(dir.db()), std::string::npos) << e.what();
      }
    }
  }
  EXPECT_GT(refused, 0);
  std::printf("%llu pages: %d flipped bits refused, %d harmless or undetectable\n",
              static_cast<unsigned long long>(size / page), refused, opened);
}

// Every frame of a log left by a crash: a flipped bit in the frame's page is refused
// unless it is in the last transaction (indistinguishable from a tear).
TEST(SqliteDamageSweep, AFlippedBitInAnyFrameButTheLastTransactionIsRefused) {
  TempDir source;
  crashed_store(source, 6);
  const std::string wal = source.db() + "-wal";
  const auto scan = scan_wal(wal);
  ASSERT_GE(scan.transactions, 6u);
  const std::uint64_t frame = 24 + scan.page_size;
  for (std::uint64_t i = 1; i <= scan.valid_frames; ++i) {
    TempDir dir;
    fs::create_directories(dir.data());
    fs::copy_file(source.db(), dir.db());
    fs::copy_file(wal, dir.db() + "-wal");
    flip_bit(dir.db() + "-wal", 32 + (i - 1) * frame + 24 + scan.page_size / 2);
    const auto damaged = scan_wal(dir.db() + "-wal");
    if (damaged.damaged) {
      EXPECT_THROW(reopen(dir), StoreError) << "frame " << i;
    } else {
      // Only the last transaction's frames may pass as a tear: SQLite drops just that one.
      EXPECT_EQ(damaged.transactions, scan.transactions - 1) << "frame " << i;
    }
  }
}

}  // namespace
}  // namespace outpost::store::test
