// The operation log (store/op_log.hpp): a commit is one append to outpost.db-log (synced
// with `sync: full`, which rewrites the file in place); the writer folds the log into the
// database, where an entry put and its delete cancel; a start applies what the log holds
// above the database's mark; a torn last record is dropped, damage before the end refuses
// the start and names the way out.
#include "store/op_log.hpp"
#include "store/sqlite_check.hpp"
#include "store/sqlite_store.hpp"

#include "store_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <thread>

namespace outpost::store::test {
namespace {

namespace fs = std::filesystem;
using Sync = SqliteStore::Options::Sync;

// Waits for a barrier only: the operation log is not folded (flush() folds it).
void committed(Store& s) {
  auto done = std::make_shared<std::promise<void>>();
  auto f = done->get_future();
  s.after_commit([done] { done->set_value(); });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
}

std::uintmax_t size_of(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

// What a crash at this moment leaves: the store's files as they are, copied log first
// (a fold in between then finds the copied database ahead of the copied log, which its
// mark covers).
void copy_store(const TempDir& from, const TempDir& to) {
  fs::create_directories(to.data());
  for (const char* ext : {"-log", "-wal", ""}) {
    std::error_code ec;
    fs::copy_file(from.db() + ext, to.db() + ext, fs::copy_options::overwrite_existing, ec);
  }
}

std::vector<std::uint8_t> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Records in the log with operations: what it holds that the database may not (0 once a
// fold emptied it, whether the file was cut or, with full, rewritten from its start).
std::size_t logged(const std::string& path) {
  const auto c = detail::decode_log(bytes_of(path));
  return static_cast<std::size_t>(
      std::count_if(c.records.begin(), c.records.end(), [](const auto& rec) { return !rec.ops.empty(); }));
}

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// A publish as a session makes one: message, entry, barrier.
void publish(SqliteStore& s, const std::string& queue, std::uint64_t seq, const std::string& payload) {
  const std::uint64_t id = s.next_message_id();
  s.put_message(message(id, "t/" + std::to_string(seq), payload));
  s.put_entry(entry(queue, seq, id));
  committed(s);
}

TEST(OpLog, RecordsRoundTripEveryOperationKind) {
  std::vector<detail::Op> ops;
  auto m = message(7, "sensors/a", std::string("x\0y", 3), 2, "props");
  m.retain = true;
  m.expiry_unix_ms = 1'700'000'000'001;
  ops.push_back(detail::Op{detail::PutMessageOp{std::move(m), 0, false, 0, false}});
  EntryRecord e = entry("mqtt:c", 9, 7, 2);
  e.retain = true;
  e.state = EntryState::awaiting_pubrec;
  e.packet_id = 65535;
  e.subscription_ids = {1, 0x0FFFFFFF};
  ops.push_back(detail::Op{detail::PutEntryOp{e}});
  ops.push_back(detail::Op{detail::UpdateEntryOp{"mqtt:c", 9, EntryState::awaiting_pubcomp, 12}});
  ops.push_back(detail::Op{detail::DeleteEntryOp{"mqtt:c", 9}});
  ops.push_back(detail::Op{detail::PutQos2Op{"dev", 5}});
  ops.push_back(detail::Op{detail::DeleteQos2Op{"dev", 6}});
  ops.push_back(detail::Op{detail::BarrierOp{}});  // not logged
  detail::Op dead{detail::DeleteEntryOp{"mqtt:c", 1}};
  dead.live = false;  // cancelled: not logged either
  ops.push_back(std::move(dead));

  std::vector<std::uint8_t> bytes;
  detail::encode_log_record(bytes, 41, ops);
  detail::encode_log_record(bytes, 42, std::span<const detail::Op>(ops).first(1));
  const auto c = detail::decode_log(bytes);
  EXPECT_TRUE(c.damage.empty()) << c.damage;
  EXPECT_FALSE(c.torn);
  EXPECT_EQ(c.valid_bytes, bytes.size());
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].seq, 41u);
  EXPECT_EQ(c.records[1].seq, 42u);
  const auto& got = c.records[0].ops;
  ASSERT_EQ(got.size(), 6u);
  const auto& pm = std::get<detail::PutMessageOp>(got[0].v).m;
  EXPECT_EQ(pm.id, 7u);
  EXPECT_EQ(pm.topic, "sensors/a");
  EXPECT_EQ(std::string(pm.payload.begin(), pm.payload.end()), std::string("x\0y", 3));
  EXPECT_EQ(pm.qos, 2);
  EXPECT_TRUE(pm.retain);
  EXPECT_EQ(pm.expiry_unix_ms, 1'700'000'000'001);
  EXPECT_EQ(pm.properties, "props");
  const auto& pe = std::get<detail::PutEntryOp>(got[1].v).e;
  EXPECT_EQ(pe.queue, "mqtt:c");
  EXPECT_EQ(pe.seq, 9u);
  EXPECT_EQ(pe.message_id, 7u);
  EXPECT_EQ(pe.qos, 2);
  EXPECT_TRUE(pe.retain);
  EXPECT_EQ(pe.state, EntryState::awaiting_pubrec);
  EXPECT_EQ(pe.packet_id, 65535);
  EXPECT_EQ(pe.subscription_ids, (std::vector<std::uint32_t>{1, 0x0FFFFFFF}));
  const auto& u = std::get<detail::UpdateEntryOp>(got[2].v);
  EXPECT_EQ(u.state, EntryState::awaiting_pubcomp);
  EXPECT_EQ(u.packet_id, 12);
  EXPECT_EQ(std::get<detail::DeleteEntryOp>(got[3].v).seq, 9u);
  EXPECT_EQ(std::get<detail::PutQos2Op>(got[4].v).packet_id, 5);
  EXPECT_EQ(std::get<detail::DeleteQos2Op>(got[5].v).client_id, "dev");

  // Cut anywhere inside the last record: torn, the first kept.
  for (std::size_t cut = bytes.size() - 1; cut > c.records.size() && cut + 40 > bytes.size(); --cut) {
    const auto t = detail::decode_log(std::span<const std::uint8_t>(bytes).first(cut));
    EXPECT_TRUE(t.torn) << cut;
    EXPECT_TRUE(t.damage.empty()) << cut;
    EXPECT_EQ(t.records.size(), 1u) << cut;
  }
  // A flipped bit in the first record, with one after it: damage, nothing kept past it.
  auto flipped = bytes;
  flipped[20] ^= 0x10;
  const auto d = detail::decode_log(flipped);
  EXPECT_FALSE(d.damage.empty());
  EXPECT_TRUE(d.records.empty());
}

class OpLogStore : public ::testing::TestWithParam<Sync> {};

TEST_P(OpLogStore, ACommitIsAnAppendAndSurvivesACrashBeforeTheFold) {
  TempDir dir, crashed;
  {
    SqliteStore s(options(dir, GetParam()));
    Recorder r;
    s.restore(r);
    publish(s, "mqtt:a", 1, "first");
    publish(s, "mqtt:a", 2, "second");
    EXPECT_GE(logged(dir.db() + "-log"), 2u) << "committed to the log";
    copy_store(dir, crashed);
    s.fold_log();
    EXPECT_EQ(logged(dir.db() + "-log"), 0u) << "emptied by the fold";
    EXPECT_EQ(s.stats().messages, 2u);
  }
  EXPECT_FALSE(fs::exists(dir.db() + "-log")) << "a clean close leaves no log";
  for (const TempDir* d : {&dir, &crashed}) {
    Recorder r = reopen(*d);
    ASSERT_EQ(r.entries.size(), 2u);
    ASSERT_EQ(r.messages.size(), 2u);
    EXPECT_EQ(text(r.messages[0].payload), "first");
    EXPECT_EQ(text(r.messages[1].payload), "second");
  }
}

TEST_P(OpLogStore, ARecordLargerThanOneWriteOfTheVfsIsAppended) {
  // SQLite's unix VFS writes at most 128 KiB per call: a batch of three 60 KiB messages is
  // one record of about 180 KiB, appended in pieces, not refused as a full disk.
  TempDir dir, crashed;
  {
    SqliteStore s(options(dir, GetParam()));
    Recorder r;
    s.restore(r);
    const auto before = s.stats();
    auto done = std::make_shared<std::promise<void>>();
    auto f = done->get_future();
    {
      WriteScope scope;
      for (std::uint64_t seq = 1; seq <= 3; ++seq) {
        const std::uint64_t id = s.next_message_id();
        s.put_message(message(id, "t/big", std::string(60 * 1024, static_cast<char>('a' + seq))));
        s.put_entry(entry("mqtt:big", seq, id));
      }
      s.after_commit([done] { done->set_value(); });
    }
    ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    // (The writer may fold it 50 ms later: what the log or the database holds then is not
    // looked at here, only that no commit failed.)
    EXPECT_FALSE(s.stats().failing);
    EXPECT_EQ(s.stats().commit_failures, before.commit_failures) << "the append did not fail";
    copy_store(dir, crashed);
  }
  Recorder back = reopen(crashed);
  ASSERT_EQ(back.entries.size(), 3u);
  ASSERT_EQ(back.messages.size(), 3u);
  EXPECT_EQ(back.messages[2].payload.size(), 60u * 1024);
}

TEST_P(OpLogStore, APutAndItsDeleteInLaterCommitsNeverReachTheDatabase) {
  TempDir dir;
  SqliteStore s(options(dir, GetParam()));
  Recorder r;
  s.restore(r);
  const auto before = s.stats();
  for (std::uint64_t seq = 1; seq <= 20; ++seq) {
    publish(s, "mqtt:b", seq, "acknowledged soon");
    s.delete_entry("mqtt:b", seq);  // the consumer's acknowledgement
    committed(s);
  }
  s.fold_log();
  const auto after = s.stats();
  // The writer folds every 50 ms as well: a fold between a publish and its delete (likely
  // with full, whose commits wait for the disk) writes that one pair, 4 rows, and cancels
  // 3 operations fewer. Every other pair cancels within the log.
  // The last fold comes after the last delete and splits nothing.
  const std::uint64_t folds = after.commits - before.commits;
  const std::uint64_t splits = folds > 0 ? folds - 1 : 0;
  ASSERT_LT(splits, 10u) << "the test needs most pairs to fall within one fold";
  EXPECT_LE(after.operations - before.operations, 4 * splits) << "no row written or deleted but split pairs";
  EXPECT_GE(after.coalesced - before.coalesced, 60u - 3 * splits) << "20 x (message, entry, delete)";
  EXPECT_EQ(after.messages, 0u);
  EXPECT_EQ(after.bytes, 0u);
  s.close();
  Recorder back = reopen(dir);
  EXPECT_TRUE(back.messages.empty());
  EXPECT_TRUE(back.entries.empty());
}

TEST_P(OpLogStore, RecordsTheDatabaseHoldsAreNotAppliedAgain) {
  // A crash between a fold's commit and the emptying of the log: the start skips the
  // records at or below the database's mark (an acknowledged entry stays deleted).
  TempDir dir;
  std::vector<std::uint8_t> old_log;
  {
    SqliteStore s(options(dir, GetParam()));
    Recorder r;
    s.restore(r);
    publish(s, "mqtt:c", 1, "put");
    old_log = bytes_of(dir.db() + "-log");
    s.fold_log();
    s.delete_entry("mqtt:c", 1);
    committed(s);
    s.fold_log();
  }
  ASSERT_FALSE(old_log.empty());
  write_bytes(dir.db() + "-log", old_log);
  Recorder back = reopen(dir);
  EXPECT_TRUE(back.entries.empty());
  EXPECT_TRUE(back.messages.empty());
}

TEST_P(OpLogStore, AMessageFoldedBeforeTheLogNamesItSurvivesACrash) {
  // The writer may take a message's put without its entries (they were queued a moment
  // later): a fold writes the message with no entry, and its entries are in the log only.
  // A crash then: the start must apply the log before it counts the message as held by no
  // queue, or the acknowledged message is gone.
  TempDir dir, crashed, recovered;
  {
    SqliteStore s(options(dir, GetParam()));
    Recorder r;
    s.restore(r);
    const std::uint64_t id = s.next_message_id();
    s.put_message(message(id, "t/split", "folded alone"));
    committed(s);
    s.fold_log();
    EXPECT_EQ(logged(dir.db() + "-log"), 0u) << "the message is in the database, with no entry";
    s.put_entry(entry("mqtt:split-a", 1, id));
    s.put_entry(entry("mqtt:split-b", 1, id));
    committed(s);
    EXPECT_GE(logged(dir.db() + "-log"), 1u) << "the entries are in the log";
    copy_store(dir, crashed);
    copy_store(dir, recovered);
  }
  Recorder back = reopen(crashed);
  ASSERT_EQ(back.entries.size(), 2u);
  ASSERT_EQ(back.messages.size(), 1u);
  EXPECT_EQ(text(back.messages[0].payload), "folded alone");
  // `outpost store recover` keeps it too: it drops the messages nothing names, and the
  // log's entries name this one.
  recover_store(recovered.data());
  Recorder kept = reopen(recovered);
  ASSERT_EQ(kept.entries.size(), 2u);
  ASSERT_EQ(kept.messages.size(), 1u);
  EXPECT_EQ(text(kept.messages[0].payload), "folded alone");
  // A message that no entry names, in the log or in the database, still goes at the start.
  TempDir orphan, crashed_too;
  {
    SqliteStore s(options(orphan, GetParam()));
    Recorder r;
    s.restore(r);
    s.put_message(message(s.next_message_id(), "t/orphan", "never named"));
    committed(s);
    s.fold_log();
    publish(s, "mqtt:other", 1, "named");
    copy_store(orphan, crashed_too);
  }
  Recorder again = reopen(crashed_too);
  ASSERT_EQ(again.messages.size(), 1u);
  EXPECT_EQ(text(again.messages[0].payload), "named");
}

TEST_P(OpLogStore, ATornLastRecordIsDroppedAndTheRestApplied) {
  TempDir dir, crashed;
  {
    SqliteStore s(options(dir, GetParam()));
    Recorder r;
    s.restore(r);
    publish(s, "mqtt:d", 1, "whole");
    publish(s, "mqtt:d", 2, "cut short");
    copy_store(dir, crashed);
  }
  auto log = bytes_of(crashed.db() + "-log");
  ASSERT_GT(log.size(), 20u);
  log.resize(detail::decode_log(log).valid_bytes - 5);  // the second record's append did not finish
  write_bytes(crashed.db() + "-log", log);
  const CheckReport check = check_store(crashed.data());
  EXPECT_TRUE(check.ok);
  bool noted = false;
  for (const auto& n : check.notes) noted = noted || n.find("incomplete record") != std::string::npos;
  EXPECT_TRUE(noted);
  Recorder back = reopen(crashed);
  ASSERT_EQ(back.entries.size(), 1u);
  EXPECT_EQ(back.entries[0].seq, 1u);
}

TEST_P(OpLogStore, DamageBeforeTheEndRefusesTheStartAndRecoverKeepsWhatPrecedesIt) {
  TempDir dir, crashed;
  {
    SqliteStore s(options(dir, GetParam()));
    Recorder r;
    s.restore(r);
    publish(s, "mqtt:e", 1, "kept");
    const auto first = size_of(dir.db() + "-log");
    publish(s, "mqtt:e", 2, "damaged");
    publish(s, "mqtt:e", 3, "after the damage");
    copy_store(dir, crashed);
    auto log = bytes_of(crashed.db() + "-log");
    ASSERT_GT(log.size(), first + 20);
    log[first + 20] ^= 0x01;  // inside the second record
    write_bytes(crashed.db() + "-log", log);
  }
  try {
    SqliteStore s(options(crashed, GetParam()));
    FAIL() << "a damaged operation log must not start";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(crashed.db() + "-log"), std::string::npos) << what;
    EXPECT_NE(what.find("cannot be read"), std::string::npos) << what;
    EXPECT_NE(what.find("a later record follows"), std::string::npos) << what;
    EXPECT_NE(what.find("outpost store recover"), std::string::npos) << what;
  }
  const CheckReport check = check_store(crashed.data());
  EXPECT_FALSE(check.ok);
  const RecoverReport rec = recover_store(crashed.data());
  Recorder back = reopen(crashed);
  ASSERT_EQ(back.entries.size(), 1u);
  EXPECT_EQ(back.entries[0].seq, 1u);
  ASSERT_EQ(back.messages.size(), 1u);
  EXPECT_EQ(text(back.messages[0].payload), "kept");
}

TEST(OpLog, FullSyncAppliesALogLeftByNormal) {
  // A store written with normal and restarted with full: the log is applied, and full
  // goes on logging into the same file.
  TempDir dir, crashed;
  {
    SqliteStore s(options(dir, Sync::normal));
    Recorder r;
    s.restore(r);
    publish(s, "mqtt:f", 1, "from the log");
    copy_store(dir, crashed);
  }
  {
    SqliteStore s(options(crashed, Sync::full));
    Recorder r;
    s.restore(r);
    EXPECT_EQ(r.entries.size(), 1u);
    EXPECT_EQ(logged(crashed.db() + "-log"), 0u) << "applied";
    publish(s, "mqtt:f", 2, "synced to the log");
    EXPECT_GE(logged(crashed.db() + "-log"), 1u);
  }
  EXPECT_FALSE(fs::exists(crashed.db() + "-log")) << "a clean close leaves no log";
  Recorder back = reopen(crashed);
  EXPECT_EQ(back.entries.size(), 2u);
}

TEST(OpLog, FullSyncRewritesItsLogInPlace) {
  // With full every append is synced, so the file is never cut: a fold leaves it at its
  // size, the next records overwrite the older ones from the start, and a crash at any
  // point restores exactly what was committed, whatever older records follow the newest.
  TempDir dir;
  std::vector<std::unique_ptr<TempDir>> crashes;
  std::uintmax_t last = 0;
  {
    SqliteStore s(options(dir, Sync::full));
    Recorder r;
    s.restore(r);
    std::uint64_t seq = 0;
    for (int round = 0; round < 4; ++round) {
      // Fewer records each round: the newest end before the older ones do.
      for (int i = 0; i < 40 - 8 * round; ++i) publish(s, "mqtt:g", ++seq, "round " + std::to_string(round));
      crashes.push_back(std::make_unique<TempDir>());
      copy_store(dir, *crashes.back());  // the log holds this round's records, the database the rest
      // The writer may fold within a round too (every 50 ms): the file only ever keeps or
      // grows its size.
      const auto size = size_of(dir.db() + "-log");
      EXPECT_GE(size, last) << "round " << round << ": rewritten in place, never cut";
      s.fold_log();
      EXPECT_EQ(logged(dir.db() + "-log"), 0u);
      EXPECT_EQ(size_of(dir.db() + "-log"), size) << "a fold does not cut a synced log";
      last = size;
      const auto c = detail::decode_log(bytes_of(dir.db() + "-log"));
      EXPECT_FALSE(c.torn);
      EXPECT_TRUE(c.damage.empty()) << c.damage;
    }
  }
  EXPECT_FALSE(fs::exists(dir.db() + "-log")) << "a clean close leaves no log";
  std::size_t expected = 0;
  for (std::size_t round = 0; round < crashes.size(); ++round) {
    expected += 40 - 8 * round;
    const auto c = detail::decode_log(bytes_of(crashes[round]->db() + "-log"));
    EXPECT_FALSE(c.torn) << round;
    EXPECT_TRUE(c.damage.empty()) << round << ": " << c.damage;
    Recorder back = reopen(*crashes[round]);
    ASSERT_EQ(back.entries.size(), expected) << "round " << round;
    EXPECT_EQ(back.entries.back().seq, expected);
  }
}

TEST_P(OpLogStore, ThreadsCommittingWhileTheWriterFoldsKeepExactlyWhatIsNotAcknowledged) {
  // Four threads publish into queues of their own, as reads do (one scope per publish,
  // committed on the thread when the writer is idle, else by the writer), and acknowledge
  // every even one; the writer folds meanwhile. Afterwards exactly the odd ones are there.
  TempDir dir;
  constexpr int kThreads = 4;
  constexpr std::uint64_t kEach = 600;
  {
    SqliteStore s(options(dir, GetParam()));
    Recorder r;
    s.restore(r);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&s, t] {
        const std::string queue = "mqtt:t" + std::to_string(t);
        for (std::uint64_t seq = 1; seq <= kEach; ++seq) {
          auto done = std::make_shared<std::promise<void>>();
          auto f = done->get_future();
          {
            WriteScope scope;
            const std::uint64_t id = s.next_message_id();
            // Appended, not `"m" + to_string`: GCC 12 at -O3 warns on that (-Wrestrict, a
            // false positive) and warnings are errors.
            std::string payload = "m";
            payload += std::to_string(seq);
            s.put_message(message(id, "t", payload));
            s.put_entry(entry(queue, seq, id));
            s.after_commit([done] { done->set_value(); });
          }
          f.wait();
          if (seq % 2 == 0) {
            WriteScope scope;
            s.delete_entry(queue, seq);
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    s.fold_log();
    EXPECT_EQ(s.stats().messages, kThreads * kEach / 2);
  }
  Recorder back = reopen(dir);
  ASSERT_EQ(back.entries.size(), kThreads * kEach / 2);
  ASSERT_EQ(back.messages.size(), kThreads * kEach / 2);
  for (const auto& e : back.entries) EXPECT_EQ(e.seq % 2, 1u) << e.queue << " " << e.seq;
}

INSTANTIATE_TEST_SUITE_P(Sync, OpLogStore, ::testing::Values(Sync::full, Sync::normal, Sync::off),
                         [](const auto& param_info) {
                           switch (param_info.param) {
                             case Sync::full: return "Full";
                             case Sync::normal: return "Normal";
                             case Sync::off: return "Off";
                           }
                           return "Unknown";
                         });

}  // namespace
}  // namespace outpost::store::test
