// GroupCommit: how long SqliteStore's writer holds a batch for acknowledgements, from the
// acknowledgement times it has seen (no clock is read here: the times are given).
#include "store/group_commit.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace outpost::store::detail {
namespace {

using namespace std::chrono_literals;
using Clock = GroupCommit::Clock;

// One batch of `puts` entry puts and as many deletes, each acknowledged after `latency`.
void batch(GroupCommit& g, Clock::duration latency, std::size_t puts = 10) {
  for (std::size_t i = 0; i < puts; ++i) g.ack_seen(latency);
  g.batch_done(puts, puts);
}

TEST(GroupCommit, CommitsAtOnceUntilItHasSeenAcknowledgements) {
  GroupCommit g;
  const auto t = Clock::now();
  EXPECT_FALSE(g.hold_for_acks(t));
  g.batch_done(1, 1);  // churn, but no time measured yet
  EXPECT_FALSE(g.hold_for_acks(t));
}

TEST(GroupCommit, HoldsAsLongAsPromptAcknowledgementsTake) {
  GroupCommit g;
  batch(g, 40us, 1);  // a lone device: one message per batch, acknowledged in 40 us
  const auto t = Clock::now();
  auto until = g.hold_for_acks(t);
  ASSERT_TRUE(until);
  EXPECT_EQ(*until - t, 50us);  // the time acknowledgements take, and a quarter more
  EXPECT_EQ(g.fast_ack(), 40us);
  EXPECT_EQ(g.slow_ack(), 40us);
}

TEST(GroupCommit, HoldsOnlyWhenAcknowledgementsComeBeforeACommitWould) {
  GroupCommit g;
  batch(g, 100us, 1);
  g.commit_seen(300us);  // sync: full, a disk sync per commit
  EXPECT_TRUE(g.hold_for_acks(Clock::now()));
  for (int i = 0; i < 20; ++i) g.commit_seen(40us);  // sync: normal, no sync at commit
  EXPECT_LT(g.commit_time(), 100us);
  EXPECT_FALSE(g.hold_for_acks(Clock::now()));
}

TEST(GroupCommit, HoldsUnderLoadEvenWhenACommitIsQuicker) {
  GroupCommit g;
  batch(g, 100us);
  for (int i = 0; i < 20; ++i) g.commit_seen(10us);  // sync: normal, an append to the operation log
  const auto t = Clock::now();
  EXPECT_FALSE(g.hold_for_acks(t));  // callers waiting alone get their commit at once
  auto until = g.hold_for_acks(t, true);  // callers that queued behind the last commit
  ASSERT_TRUE(until);
  EXPECT_EQ(*until - t, 125us);
  batch(g, 5ms);  // ... but never for acknowledgements slower than the bound
  for (int i = 0; i < 20; ++i) batch(g, 5ms);
  EXPECT_FALSE(g.hold_for_acks(t, true));
  g.batch_done(100, 3);
  EXPECT_FALSE(g.hold_for_acks(t, true));  // nor when what is stored stays
}

TEST(GroupCommit, NeverHoldsLongerThanTheBound) {
  GroupCommit g;
  for (int i = 0; i < 5; ++i) {
    for (int k = 0; k < 9; ++k) g.ack_seen(100us);
    g.ack_seen(9ms);  // the slowest tenth come after the bound
    g.ack_seen(9ms);
    g.batch_done(11, 11);
  }
  const auto t = Clock::now();
  auto until = g.hold_for_acks(t);
  ASSERT_TRUE(until);
  EXPECT_EQ(*until - t, GroupCommit::kMaxHold);
}

TEST(GroupCommit, DoesNotHoldWhenAcknowledgementsComeAfterTheBound) {
  GroupCommit g;
  batch(g, 5ms);  // consumers keep up, but 5 ms behind: a hold would cancel nothing
  EXPECT_TRUE(g.churn());
  EXPECT_FALSE(g.hold_for_acks(Clock::now()));
}

TEST(GroupCommit, DoesNotHoldWhenWhatIsStoredStays) {
  GroupCommit g;
  batch(g, 40us);
  ASSERT_TRUE(g.hold_for_acks(Clock::now()));
  g.batch_done(100, 3);  // a backlog: an offline session, or consumers far behind
  EXPECT_FALSE(g.churn());
  EXPECT_FALSE(g.hold_for_acks(Clock::now()));
  g.batch_done(0, 50);  // deletes alone say nothing about what is stored now
  EXPECT_FALSE(g.churn());
  g.batch_done(10, 10);
  EXPECT_TRUE(g.churn());
  EXPECT_TRUE(g.hold_for_acks(Clock::now()));
}

TEST(GroupCommit, FollowsAChangeOfLoadWithinAFewBatches) {
  GroupCommit g;
  for (int i = 0; i < 20; ++i) batch(g, 1500us);  // many publishers, consumers 1.5 ms behind
  auto until = g.hold_for_acks(Clock::time_point{});
  ASSERT_TRUE(until);
  EXPECT_EQ(*until - Clock::time_point{}, 1875us);
  for (int i = 0; i < 20; ++i) batch(g, 40us, 1);  // then one device alone
  until = g.hold_for_acks(Clock::time_point{});
  ASSERT_TRUE(until);
  EXPECT_LT(*until - Clock::time_point{}, 60us);
}

TEST(GroupCommit, OneLateAcknowledgementDoesNotSwampTheEstimate) {
  GroupCommit g;
  for (int i = 0; i < 10; ++i) batch(g, 40us, 1);
  batch(g, std::chrono::minutes(1), 1);  // a consumer that acknowledged a minute later
  EXPECT_LE(g.slow_ack(), 40us + GroupCommit::kMaxHold);  // a sample counts for 4 x the bound at most
  for (int i = 0; i < 10; ++i) batch(g, 40us, 1);
  EXPECT_LT(g.slow_ack(), 200us);
}

}  // namespace
}  // namespace outpost::store::detail
