// GroupCommit: when SqliteStore's writer holds a batch back before committing it, decided
// from what the store observes rather than a constant (SqliteStore::writer_main).
//
// Two reasons to hold a batch:
// - Consumers are acknowledging what was just stored ("churn": entries are deleted about
//   as fast as they are put). An entry whose acknowledgement arrives before its batch is
//   taken is cancelled with it (SqliteWriter::coalesce): neither reaches the disk. The
//   writer learns how long acknowledgements take (from the put of an entry to its delete,
//   whether the delete came in the same batch or in one of the two after it) and holds a
//   batch holding puts only as long as most acknowledgements take: a lone device whose
//   subscriber acknowledges within 100 us gets its PUBACK after about that long, not after
//   a fixed wait. A batch whose callers wait alone holds only when that is shorter than a
//   commit takes (also learned): with `sync: full` a commit waits for the disk and an
//   acknowledgement usually comes first; with `normal` or `off` (a commit is an append to
//   the operation log) committing at once is sooner. A batch that queued behind the
//   previous commit (its first put came before that commit ended, or within a commit's
//   time after: callers come faster than commits) holds however quick a commit is: its
//   callers are many and keep messages in flight, so the hold costs them latency, not
//   throughput, and every entry it cancels is a write not made (bytes on the SD card,
//   and the CPU the broker's threads share). When acknowledgements come slower than
//   kMaxHold, or there is no churn, nothing is held either.
// - Nobody waits for the batch (no barrier: only deletes of acknowledged entries and
//   other writes no acknowledgement depends on). It waits up to kMaxHold for a barrier to
//   join, so a lone publisher's commit also carries the deletes of the previous message
//   instead of paying a transaction (and a sync) of their own.
// A barrier's promise never changes: its callback runs after everything before it is
// committed; only how soon can.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace outpost::store::detail {

class GroupCommit {
 public:
  using Clock = std::chrono::steady_clock;
  // The longest the writer holds a batch for either reason. On the benchmark machine
  // (fdatasync about 1.5 ms) the AMQP persistent-with-confirms rate went from 47k to 72k
  // msg/s with a 1 ms hold and to 86k with 3 ms (docs/performance.md).
  static constexpr Clock::duration kMaxHold = std::chrono::microseconds(2000);

  // An entry's delete was seen `latency` after its put (writer thread, during coalesce).
  void ack_seen(Clock::duration latency);
  // A transaction that wrote something took `took` (its statements and its sync).
  void commit_seen(Clock::duration took) noexcept;
  // A batch was coalesced: `puts` entry puts and `deletes` entry deletes were in it.
  // Folds this batch's acknowledgement times into the estimate.
  void batch_done(std::size_t puts, std::size_t deletes);

  // Until when a batch whose first entry put was pushed at `first_put` waits for the
  // acknowledgements of its entries; nullopt: commit it at once. `queued`: the batch
  // came while commits were back to back (see above).
  std::optional<Clock::time_point> hold_for_acks(Clock::time_point first_put, bool queued = false) const;

  // The acknowledgement time estimates (0 until one is seen): about the 10th and the
  // 90th percentile of the time from an entry's put to its delete.
  Clock::duration fast_ack() const noexcept { return fast_; }
  Clock::duration slow_ack() const noexcept { return slow_; }
  bool churn() const noexcept { return churn_; }
  Clock::duration commit_time() const noexcept { return commit_; }

 private:
  std::vector<Clock::duration> samples_;  // this batch's; capacity kept
  Clock::duration fast_{0};
  Clock::duration slow_{0};
  Clock::duration commit_{0};
  bool churn_ = false;
};

}  // namespace outpost::store::detail
