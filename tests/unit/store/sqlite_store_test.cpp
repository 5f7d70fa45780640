// SqliteStore against a real SQLite database in a temporary directory: what is written
// comes back after close and reopen, references decide when messages go, and the writer
// coalesces, orders and acknowledges as documented.
#include "store/sqlite_store.hpp"

#include "store_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace outpost::store::test {
namespace {

using Sync = SqliteStore::Options::Sync;

TEST(SqliteStore, RoundTripsEveryRecordType) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder empty;
    s.restore(empty);
    EXPECT_TRUE(empty.order.empty());

    auto m = message(s.next_message_id(), "sensors/room1/temp", std::string("21.5\0x", 6), 2, "props");
    m.retain = true;
    m.expiry_unix_ms = 1'700'000'000'123;
    const auto id = m.id;
    s.put_message(std::move(m));
    EntryRecord e = entry("mqtt:dev1", 7, id, 1);
    e.retain = true;
    e.state = EntryState::awaiting_pubrec;
    e.packet_id = 65535;
    e.subscription_ids = {1, 0x0FFFFFFF};
    s.put_entry(std::move(e));

    auto r = message(s.next_message_id(), "status/dev1", "online", 1);
    r.retain = true;
    s.put_retained(std::move(r));
    s.put_session(SessionRecord{"dev1", 5, 3600, 1'700'000'000'000});
    s.put_subscription(SubscriptionRecord{"dev1", "sensors/#", 2, 0x2C, 42});
    s.put_incoming_qos2("dev1", 17);
    s.close();
  }
  Recorder r = reopen(dir);
  EXPECT_EQ(r.order, (std::vector<std::string>{"message", "retained", "session", "subscription", "entry", "qos2"}));

  ASSERT_EQ(r.messages.size(), 1u);
  const auto& m = r.messages[0];
  EXPECT_EQ(m.id, 1u);
  EXPECT_EQ(m.topic, "sensors/room1/temp");
  EXPECT_EQ(text(m.payload), std::string("21.5\0x", 6));
  EXPECT_EQ(m.qos, 2);
  EXPECT_TRUE(m.retain);
  EXPECT_EQ(m.expiry_unix_ms, 1'700'000'000'123);
  EXPECT_EQ(m.properties, "props");

  ASSERT_EQ(r.retained_messages.size(), 1u);
  EXPECT_EQ(r.retained_messages[0].id, 2u);
  EXPECT_EQ(r.retained_messages[0].topic, "status/dev1");
  EXPECT_EQ(text(r.retained_messages[0].payload), "online");
  EXPECT_TRUE(r.retained_messages[0].retain);

  ASSERT_EQ(r.sessions.size(), 1u);
  EXPECT_EQ(r.sessions[0].client_id, "dev1");
  EXPECT_EQ(r.sessions[0].protocol_level, 5);
  EXPECT_EQ(r.sessions[0].expiry_interval, 3600u);
  EXPECT_EQ(r.sessions[0].disconnected_unix_ms, 1'700'000'000'000);

  ASSERT_EQ(r.subscriptions.size(), 1u);
  EXPECT_EQ(r.subscriptions[0].client_id, "dev1");
  EXPECT_EQ(r.subscriptions[0].filter, "sensors/#");
  EXPECT_EQ(r.subscriptions[0].qos, 2);
  EXPECT_EQ(r.subscriptions[0].options, 0x2C);
  EXPECT_EQ(r.subscriptions[0].subscription_id, 42u);

  ASSERT_EQ(r.entries.size(), 1u);
  const auto& e = r.entries[0];
  EXPECT_EQ(e.queue, "mqtt:dev1");
  EXPECT_EQ(e.seq, 7u);
  EXPECT_EQ(e.message_id, 1u);
  EXPECT_EQ(e.qos, 1);
  EXPECT_TRUE(e.retain);
  EXPECT_EQ(e.state, EntryState::awaiting_pubrec);
  EXPECT_EQ(e.packet_id, 65535);
  EXPECT_EQ(e.subscription_ids, (std::vector<std::uint32_t>{1, 0x0FFFFFFF}));

  ASSERT_EQ(r.qos2.size(), 1u);
  EXPECT_EQ(r.qos2[0], (std::pair<std::string, std::uint16_t>{"dev1", 17}));
}

TEST(SqliteStore, EmptyPayloadAndPropertiesRoundTrip) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_message(message(1, "t", ""));
    s.put_entry(entry("q", 1, 1));
    s.put_retained(message(2, "r", ""));
  }
  Recorder r = reopen(dir);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_TRUE(r.messages[0].payload.empty());
  EXPECT_TRUE(r.messages[0].properties.empty());
  ASSERT_EQ(r.retained_messages.size(), 1u);
  EXPECT_TRUE(r.retained_messages[0].payload.empty());
}

TEST(SqliteStore, EntriesComeBackInSeqOrderPerQueue) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_message(message(1, "t", "x"));
    // Written out of order, across queues and batches.
    for (std::uint64_t seq : {5, 1, 300, 2, 40}) {
      s.put_entry(entry("mqtt:b", seq, 1));
      s.put_entry(entry("mqtt:a", seq * 2, 1));
      flush(s);
    }
  }
  Recorder r = reopen(dir);
  std::vector<std::pair<std::string, std::uint64_t>> got;
  for (const auto& e : r.entries) got.emplace_back(e.queue, e.seq);
  const std::vector<std::pair<std::string, std::uint64_t>> want{
      {"mqtt:a", 2}, {"mqtt:a", 4}, {"mqtt:a", 10}, {"mqtt:a", 80}, {"mqtt:a", 600},
      {"mqtt:b", 1}, {"mqtt:b", 2}, {"mqtt:b", 5},  {"mqtt:b", 40}, {"mqtt:b", 300}};
  EXPECT_EQ(got, want);
}

TEST(SqliteStore, MessageStoredOnceAndDeletedWithItsLastEntry) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_message(message(1, "t", "payload"));
    for (int i = 0; i < 3; ++i) s.put_entry(entry("mqtt:c" + std::to_string(i), 1, 1));
    flush(s);
    EXPECT_EQ(s.stats().messages, 1u);
    EXPECT_EQ(s.stats().bytes, 8u);  // "t" + "payload"
  }
  {
    Recorder r;
    SqliteStore s(options(dir));
    s.restore(r);
    EXPECT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.entries.size(), 3u);
    EXPECT_EQ(s.stats().messages, 1u);
    EXPECT_EQ(s.stats().bytes, 8u);
    s.delete_entry("mqtt:c0", 1);
    s.delete_entry("mqtt:c1", 1);
    flush(s);
    EXPECT_EQ(s.stats().messages, 1u);  // one entry still holds it
    s.delete_entry("mqtt:c2", 1);
    flush(s);
    EXPECT_EQ(s.stats().messages, 0u);
    EXPECT_EQ(s.stats().bytes, 0u);
  }
  Recorder r = reopen(dir);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_TRUE(r.entries.empty());
}

TEST(SqliteStore, CountThatFallsToZeroAndRisesWithinABatchKeepsTheMessage) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_message(message(1, "t", "x"));
    s.put_entry(entry("q1", 1, 1));
    flush(s);
    {
      WriterHold hold(s);
      s.delete_entry("q1", 1);
      s.put_entry(entry("q2", 1, 1));
    }
    flush(s);
    EXPECT_EQ(s.stats().messages, 1u);
  }
  Recorder r = reopen(dir);
  ASSERT_EQ(r.messages.size(), 1u);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].queue, "q2");
}

TEST(SqliteStore, OrphanMessagesAreRemovedAtRestore) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_message(message(1, "orphan", "x"));  // no entry ever names it
    s.put_message(message(2, "kept", "y"));
    s.put_entry(entry("q", 1, 2));
    flush(s);
    EXPECT_EQ(s.stats().messages, 2u);  // written: an entry in a later batch could name it
  }
  {
    Recorder r;
    SqliteStore s(options(dir));
    s.restore(r);
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].topic, "kept");
    EXPECT_EQ(s.stats().messages, 1u);
    EXPECT_EQ(s.stats().bytes, 5u);
    EXPECT_GT(s.next_message_id(), 2u);  // the orphan's id is not handed out again
  }
  Recorder r = reopen(dir);
  EXPECT_EQ(r.messages.size(), 1u);
}

TEST(SqliteStore, MessageNamedInALaterBatchIsKept) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_message(message(1, "t", "x"));
    flush(s);
    s.put_entry(entry("q", 1, 1));
    flush(s);
  }
  Recorder r = reopen(dir);
  EXPECT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.entries.size(), 1u);
}

TEST(SqliteStore, PutAndDeleteBeforeCommitNeverReachTheDisk) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    flush(s);
    const auto before = s.stats();
    {
      WriterHold hold(s);
      s.put_message(message(1, "t", "delivered at once"));
      s.put_entry(entry("mqtt:online", 1, 1));
      s.update_entry("mqtt:online", 1, EntryState::awaiting_puback, 9);
      s.delete_entry("mqtt:online", 1);
    }
    flush(s);
    const auto after = s.stats();
    EXPECT_EQ(after.coalesced - before.coalesced, 4u);  // put, update, delete, and the message
    EXPECT_EQ(after.operations, before.operations);
    EXPECT_EQ(after.commits, before.commits);  // nothing to write: no transaction at all
    EXPECT_EQ(after.messages, 0u);
    EXPECT_EQ(after.bytes, 0u);
  }
  Recorder r = reopen(dir);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_TRUE(r.entries.empty());
}

TEST(SqliteStore, CoalescingKeepsWhatOtherQueuesStillHold) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    {
      WriterHold hold(s);
      s.put_message(message(1, "t", "x"));
      s.put_entry(entry("fast", 1, 1));
      s.put_entry(entry("slow", 1, 1));
      s.delete_entry("fast", 1);
    }
    flush(s);
    EXPECT_EQ(s.stats().coalesced, 2u);
    EXPECT_EQ(s.stats().messages, 1u);
  }
  Recorder r = reopen(dir);
  ASSERT_EQ(r.messages.size(), 1u);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].queue, "slow");
}

TEST(SqliteStore, UpdateFoldsIntoAPendingPut) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    {
      WriterHold hold(s);
      s.put_message(message(1, "t", "x"));
      s.put_entry(entry("q", 1, 1));
      s.update_entry("q", 1, EntryState::awaiting_puback, 3);
      s.update_entry("q", 1, EntryState::awaiting_pubcomp, 4);
    }
    flush(s);
    EXPECT_EQ(s.stats().coalesced, 2u);
    EXPECT_EQ(s.stats().operations, 2u);  // the message and one entry row
  }
  Recorder r = reopen(dir);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].state, EntryState::awaiting_pubcomp);
  EXPECT_EQ(r.entries[0].packet_id, 4);
}

TEST(SqliteStore, UpdateEntryOfAStoredEntry) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_message(message(1, "t", "x"));
    s.put_entry(entry("q", 1, 1));
    s.put_entry(entry("q", 2, 1));
    flush(s);
    s.update_entry("q", 2, EntryState::awaiting_pubrec, 77);
    flush(s);
    s.update_entry("q", 1, EntryState::awaiting_puback, 5);
    s.update_entry("q", 1, EntryState::queued, 0);  // reset after a reconnect
  }
  Recorder r = reopen(dir);
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].state, EntryState::queued);
  EXPECT_EQ(r.entries[0].packet_id, 0);
  EXPECT_EQ(r.entries[1].state, EntryState::awaiting_pubrec);
  EXPECT_EQ(r.entries[1].packet_id, 77);
}

TEST(SqliteStore, DeleteQueueRemovesEveryEntryAndReleasesMessages) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    for (std::uint64_t id = 1; id <= 5; ++id) {
      s.put_message(message(id, "t", "x"));
      s.put_entry(entry("mqtt:gone", id, id));
      if (id % 2) s.put_entry(entry("mqtt:stays", id, id));
    }
    flush(s);
    EXPECT_EQ(s.stats().messages, 5u);
    s.delete_queue("mqtt:gone");
    flush(s);
    EXPECT_EQ(s.stats().messages, 3u);  // 1, 3, 5 are still in mqtt:stays
    {
      // Pending puts of the queue are cancelled along with the stored rows.
      WriterHold hold(s);
      s.put_message(message(6, "t", "x"));
      s.put_entry(entry("mqtt:gone", 6, 6));
      s.delete_queue("mqtt:gone");
      s.put_entry(entry("mqtt:gone", 7, 1));  // after the delete: kept
    }
    flush(s);
  }
  Recorder r = reopen(dir);
  std::vector<std::pair<std::string, std::uint64_t>> got;
  for (const auto& e : r.entries) got.emplace_back(e.queue, e.seq);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::uint64_t>>{
                     {"mqtt:gone", 7}, {"mqtt:stays", 1}, {"mqtt:stays", 3}, {"mqtt:stays", 5}}));
  EXPECT_EQ(r.messages.size(), 3u);
}

TEST(SqliteStore, DeleteSessionRemovesSubscriptionsAndQos2Ids) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    for (const char* c : {"a", "b"}) {
      s.put_session(SessionRecord{c, 4, 0xFFFFFFFF, 0});
      s.put_subscription(SubscriptionRecord{c, "x/#", 1, 0, 0});
      s.put_subscription(SubscriptionRecord{c, "y/+", 2, 0, 0});
      s.put_incoming_qos2(c, 1);
      s.put_incoming_qos2(c, 2);
    }
    flush(s);
    s.delete_session("a");
    flush(s);
    {
      // Within one batch too, including puts queued before the delete.
      WriterHold hold(s);
      s.put_subscription(SubscriptionRecord{"b", "z", 0, 0, 0});
      s.put_incoming_qos2("b", 3);
      s.delete_session("b");
      s.put_session(SessionRecord{"b", 5, 10, 0});  // a new session after the delete
    }
    flush(s);
  }
  Recorder r = reopen(dir);
  ASSERT_EQ(r.sessions.size(), 1u);
  EXPECT_EQ(r.sessions[0].client_id, "b");
  EXPECT_EQ(r.sessions[0].protocol_level, 5);
  EXPECT_TRUE(r.subscriptions.empty());
  EXPECT_TRUE(r.qos2.empty());
}

TEST(SqliteStore, LastWriteOfAKeyWins) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_retained(message(1, "r/kept", "v1"));
    s.put_retained(message(2, "r/gone", "v1"));
    flush(s);
    {
      WriterHold hold(s);
      s.put_retained(message(3, "r/kept", "v2"));
      s.put_retained(message(4, "r/kept", "v3"));
      s.delete_retained("r/gone");
      s.put_retained(message(5, "r/new", "v1"));
      s.delete_retained("r/new");
      s.put_subscription(SubscriptionRecord{"c", "f", 0, 0, 0});
      s.put_subscription(SubscriptionRecord{"c", "f", 2, 0, 0});
      s.delete_incoming_qos2("c", 9);
      s.put_incoming_qos2("c", 9);
    }
    flush(s);
    EXPECT_EQ(s.stats().coalesced, 4u);
  }
  Recorder r = reopen(dir);
  ASSERT_EQ(r.retained_messages.size(), 1u);
  EXPECT_EQ(r.retained_messages[0].topic, "r/kept");
  EXPECT_EQ(text(r.retained_messages[0].payload), "v3");
  ASSERT_EQ(r.subscriptions.size(), 1u);
  EXPECT_EQ(r.subscriptions[0].qos, 2);
  ASSERT_EQ(r.qos2.size(), 1u);
}

TEST(SqliteStore, AfterCommitRunsInCallOrderAcrossThreads) {
  TempDir dir;
  SqliteStore s(options(dir));
  Recorder r;
  s.restore(r);

  constexpr int kThreads = 4, kPerThread = 300;
  std::mutex order_mu;
  std::vector<int> called, ran;  // barrier tokens in call order and in run order
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Built by append: GCC 12 at -O3 mistakes `"q" + std::to_string(t)` here for an
      // overlapping memcpy (-Wrestrict).
      std::string queue = "q", topic = "t/";
      queue.append(std::to_string(t));
      topic.append(std::to_string(t));
      for (int i = 0; i < kPerThread; ++i) {
        const std::uint64_t id = s.next_message_id();
        s.put_message(message(id, topic, "p"));
        s.put_entry(entry(queue, static_cast<std::uint64_t>(i), id));
        if (i % 3 == 0) s.delete_entry(queue, static_cast<std::uint64_t>(i));
        // The lock only makes the call order observable; the store does not need it.
        std::lock_guard lk(order_mu);
        const int token = t * kPerThread + i;
        called.push_back(token);
        s.after_commit([&ran, token] { ran.push_back(token); });  // on the writer thread only
      }
    });
  }
  for (auto& th : threads) th.join();
  flush(s);
  std::lock_guard lk(order_mu);
  EXPECT_EQ(ran, called);
  s.close();

  Recorder after = reopen(dir);
  EXPECT_EQ(after.entries.size(), static_cast<std::size_t>(kThreads * (kPerThread - kPerThread / 3)));
  EXPECT_EQ(after.messages.size(), after.entries.size());
}

TEST(SqliteStore, MessageOfAnEarlierBatchGoesWhenItsOnlyEntryIsPutAndDeletedTogether) {
  // The writer may take a message and its entry in different batches; if the entry is
  // then put and deleted within one batch (acknowledged at once), the message must go.
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_message(message(1, "t", "payload"));
    flush(s);
    EXPECT_EQ(s.stats().messages, 1u);
    {
      WriterHold hold(s);
      s.put_entry(entry("q", 1, 1));
      s.delete_entry("q", 1);
    }
    flush(s);
    EXPECT_EQ(s.stats().messages, 0u);
    EXPECT_EQ(s.stats().bytes, 0u);
  }
  EXPECT_TRUE(reopen(dir).messages.empty());
}

TEST(SqliteStore, WouldExceedFollowsStoredBytes) {
  TempDir dir;
  auto o = options(dir);
  o.max_bytes = 100;
  SqliteStore s(o);
  Recorder r;
  s.restore(r);
  EXPECT_FALSE(s.would_exceed(100));
  EXPECT_TRUE(s.would_exceed(101));
  s.put_message(message(1, "topic", std::string(45, 'x'), 1, "props"));  // 5 + 45 + 5 = 55 bytes
  s.put_entry(entry("q", 1, 1));
  EXPECT_EQ(s.stats().bytes, 55u);  // counted at the call, before any commit
  EXPECT_FALSE(s.would_exceed(45));
  EXPECT_TRUE(s.would_exceed(46));
  s.delete_entry("q", 1);
  flush(s);
  EXPECT_EQ(s.stats().bytes, 0u);
  EXPECT_FALSE(s.would_exceed(100));

  TempDir other;
  SqliteStore unlimited(options(other));  // max_bytes 0
  unlimited.restore(r);
  // The largest request there is (1 << 40 does not fit a 32-bit size_t, as on armhf).
  EXPECT_FALSE(unlimited.would_exceed(std::numeric_limits<std::size_t>::max()));
}

TEST(SqliteStore, NextMessageIdIsAboveRestoredIds) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    s.put_message(message(1000, "t", "x"));
    s.put_entry(entry("q", 1, 1000));
    s.put_retained(message(2000, "r", "x"));
  }
  SqliteStore s(options(dir));
  EXPECT_EQ(s.next_message_id(), 2001u);  // known at open already
  Recorder r;
  s.restore(r);
  EXPECT_EQ(s.next_message_id(), 2002u);
}

TEST(SqliteStore, SyncModesAreAccepted) {
  for (Sync sync : {Sync::full, Sync::normal, Sync::off}) {
    TempDir dir;
    {
      SqliteStore s(options(dir, sync));
      Recorder r;
      s.restore(r);
      {
        // Both writes in one batch: the writer could otherwise wake between them.
        WriterHold hold(s);
        s.put_message(message(1, "t", "x"));
        s.put_entry(entry("q", 1, 1));
      }
      flush(s);
      EXPECT_EQ(s.stats().commits, 1u);
    }
    EXPECT_EQ(reopen(dir).entries.size(), 1u);
  }
}

TEST(SqliteStore, DescribesItself) {
  TempDir dir;
  auto o = options(dir, Sync::normal);
  o.max_bytes = std::uint64_t{1} << 30;
  SqliteStore s(o);
  EXPECT_EQ(s.describe(), "SQLite " + dir.db() + " (WAL, sync normal, max 1 GiB)");
  EXPECT_TRUE(s.persistent());
  TempDir other;
  EXPECT_EQ(SqliteStore(options(other)).describe(), "SQLite " + other.db() + " (WAL, sync off, no size limit)");
}

TEST(SqliteStore, CloseDrainsAndIsIdempotent) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    for (std::uint64_t i = 1; i <= 500; ++i) {
      s.put_message(message(i, "t", "x"));
      s.put_entry(entry("q", i, i));
    }
    s.close();  // no flush: close itself commits everything queued
    s.close();
    EXPECT_EQ(s.stats().messages, 500u);
    s.put_message(message(501, "t", "x"));  // ignored after close
  }
  EXPECT_EQ(reopen(dir).entries.size(), 500u);
  EXPECT_FALSE(std::filesystem::exists(dir.db() + "-wal") && std::filesystem::file_size(dir.db() + "-wal") > 0);
}

TEST(SqliteStore, WritesQueuedWithoutRestoreAreKeptAtClose) {
  TempDir dir;
  {
    Recorder r;
    SqliteStore s(options(dir));
    s.put_message(message(1, "t", "x"));
    s.put_entry(entry("q", 1, 1));
  }
  EXPECT_EQ(reopen(dir).entries.size(), 1u);
}

TEST(SqliteStore, CommittedWritesSurviveACrash) {
  TempDir dir;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child commits, then dies without closing: no checkpoint, the WAL left behind.
    SqliteStore s(options(dir, Sync::full));
    Recorder r;
    s.restore(r);
    s.put_message(message(1, "t", "x"));
    s.put_entry(entry("q", 1, 1));
    s.put_session(SessionRecord{"c", 4, 60, 0});
    auto done = std::make_shared<std::promise<void>>();
    s.after_commit([done] { done->set_value(); });
    done->get_future().wait();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_GT(std::filesystem::file_size(dir.db() + "-wal"), 0u);
  Recorder r = reopen(dir);
  EXPECT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.sessions.size(), 1u);
}

TEST(SqliteStore, RestoreTwiceIsRefused) {
  TempDir dir;
  SqliteStore s(options(dir));
  Recorder r;
  s.restore(r);
  EXPECT_THROW(s.restore(r), StoreError);
}

TEST(SqliteStore, RestoresManyMessages) {
  // A test-size version of the million-message restore measured by outpost-store-bench.
  constexpr std::uint64_t kCount = 100'000;
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder r;
    s.restore(r);
    const std::string payload(64, 'p');
    for (std::uint64_t id = 1; id <= kCount; ++id) {
      s.put_message(message(id, "sensors/" + std::to_string(id % 100) + "/value", payload));
      s.put_entry(entry("mqtt:client" + std::to_string(id % 10), id, id));
    }
  }
  struct Counting final : RestoreVisitor {
    std::uint64_t messages = 0, entries = 0, last_seq = 0;
    std::string last_queue;
    bool ordered = true;
    void message(StoredMessage&&) override { ++messages; }
    void retained(StoredMessage&&) override {}
    void session(SessionRecord&&) override {}
    void subscription(SubscriptionRecord&&) override {}
    void entry(EntryRecord&& e) override {
      ++entries;
      if (e.queue == last_queue && e.seq <= last_seq) ordered = false;
      if (e.queue < last_queue) ordered = false;
      last_queue = e.queue;
      last_seq = e.seq;
    }
    void incoming_qos2(const std::string&, std::uint16_t) override {}
  } v;
  SqliteStore s(options(dir));
  s.restore(v);
  EXPECT_EQ(v.messages, kCount);
  EXPECT_EQ(v.entries, kCount);
  EXPECT_TRUE(v.ordered);
  EXPECT_EQ(s.stats().messages, kCount);
  EXPECT_EQ(s.next_message_id(), kCount + 1);
  // The rebuilt counts drive deletion as before.
  for (std::uint64_t id = 1; id <= 1000; ++id) s.delete_entry("mqtt:client" + std::to_string(id % 10), id);
  flush(s);
  EXPECT_EQ(s.stats().messages, kCount - 1000);
}

}  // namespace
}  // namespace outpost::store::test

namespace outpost::store::test {
namespace {

TEST(SqliteStore, DefinitionsRoundTripReplaceAndDelete) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    Recorder empty;
    s.restore(empty);
    auto def = [](const char* kind, const char* name, const char* body, std::size_t n) {
      DefinitionRecord d;
      d.kind = kind;
      d.name = name;
      d.body.assign(body, n);
      return d;
    };
    s.put_definition(def("amqp.queue", "orders", "v1\0x", 4));
    s.put_definition(def("amqp.queue", "orders", "v2", 2));
    s.put_definition(def("amqp.exchange", "events", "topic", 5));
    s.put_definition(def("amqp.binding", "gone", "", 0));
    s.delete_definition("amqp.binding", "gone");
    auto m = message(s.next_message_id(), "orders", "body", 1);
    const auto id = m.id;
    s.put_message(std::move(m));
    s.put_entry(entry("amqp:orders", 1, id, 1));
    s.close();
  }
  Recorder r = reopen(dir);
  EXPECT_EQ(r.order, (std::vector<std::string>{"message", "definition", "entry"}));
  ASSERT_EQ(r.definitions.size(), 2u);
  EXPECT_EQ(r.definitions[0].kind, "amqp.exchange");
  EXPECT_EQ(r.definitions[0].body, "topic");
  EXPECT_EQ(r.definitions[1].kind, "amqp.queue");
  EXPECT_EQ(r.definitions[1].name, "orders");
  EXPECT_EQ(r.definitions[1].body, "v2");
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].queue, "amqp:orders");
}

}  // namespace
}  // namespace outpost::store::test
