// InflightWindow: the in-flight window towards clients without a Receive Maximum grows
// while acknowledgements come back promptly, stays where the round trip starts to
// stretch, shrinks for a client that slows down, and keeps within its bounds. Times are given,
// not read: a round of `acks` acknowledgements lasting `micros`.
#include "mqtt/inflight_window.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

namespace outpost::mqtt {
namespace {

using Clock = InflightWindow::Clock;
using namespace std::chrono_literals;

struct Driver {
  InflightWindow w;
  Clock::time_point now{};
  std::uint16_t next_id = 1;

  explicit Driver(std::uint16_t cap) : w(cap) {}

  // One round trip: the probe goes out, the window holds the session back (or not), and
  // `acks` acknowledgements come back within `took`, the probe's last.
  void round(std::uint32_t acks, Clock::duration took, bool held_back = true) {
    ASSERT_TRUE(w.wants_probe());
    const std::uint16_t probe = next_id;
    next_id = static_cast<std::uint16_t>(next_id == 65535 ? 1 : next_id + 1);
    w.start(probe, now);
    if (held_back) w.held_back();
    const auto other = static_cast<std::uint16_t>(probe == 1 ? 2 : 1);  // any id but the probe's
    for (std::uint32_t i = 1; i < acks; ++i) ASSERT_FALSE(w.acked(other));
    now += took;
    ASSERT_TRUE(w.acked(probe));
    w.end(now);
  }
  // A client `rtt` away that takes up to `rate` messages per second: a round trip carries
  // the window's messages and lasts the round trip or, once the client is the limit, as
  // long as the client takes for them.
  void client(double rate, Clock::duration rtt) {
    const auto took = std::max(rtt, std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(w.size() / rate)));
    round(w.size(), took);
  }
};

TEST(InflightWindow, StartsSmallWithinTheCap) {
  EXPECT_EQ(InflightWindow(65535).size(), InflightWindow::kInitial);
  EXPECT_EQ(InflightWindow(20).size(), 20);
  EXPECT_EQ(InflightWindow(1).size(), 1);
}

TEST(InflightWindow, GrowsToTheCapForAClientLimitedOnlyByTheRoundTrip) {
  Driver d(65535);
  // A client 200 us away that takes whatever comes: the window alone decides the rate.
  for (int i = 0; i < 20; ++i) d.client(1e12, 200us);
  EXPECT_EQ(d.w.size(), 65535);
  // and stays there
  for (int i = 0; i < 40; ++i) d.client(1e12, 200us);
  EXPECT_EQ(d.w.size(), 65535);
}

TEST(InflightWindow, StaysWhereTheRoundTripStretches) {
  Driver d(65535);
  // 100,000 msg/s at most, 1 ms away: 100 in flight fill the pipe; 256 make a round last
  // 2.56 ms, no longer prompt, and a larger window would only lengthen the queue at the
  // client.
  for (int i = 0; i < 30; ++i) d.client(100e3, 1ms);
  EXPECT_EQ(d.w.size(), 256);
}

TEST(InflightWindow, NeverGrowsWhenTheWindowIsNotWhatHoldsBack) {
  Driver d(65535);
  for (int i = 0; i < 30; ++i) d.round(5, 100us, /*held_back=*/false);  // a trickle of messages
  EXPECT_EQ(d.w.size(), InflightWindow::kInitial);
}

TEST(InflightWindow, ShrinksForAClientThatSlowsDown) {
  Driver d(65535);
  for (int i = 0; i < 20; ++i) d.client(1e12, 200us);
  ASSERT_EQ(d.w.size(), 65535);
  // The client (or its link) now takes 1,000 msg/s: the round trip needs 0.2 messages.
  for (int i = 0; i < 12; ++i) d.client(1e3, 200us);
  EXPECT_EQ(d.w.size(), InflightWindow::kMinimum);
}

TEST(InflightWindow, ProbesAgainForAClientThatGotFaster) {
  Driver d(65535);
  for (int i = 0; i < 30; ++i) d.client(100e3, 1ms);
  const auto settled = d.w.size();
  ASSERT_LT(settled, 1024);
  for (int i = 0; i < 20; ++i) d.client(1e12, 1ms);
  EXPECT_GT(d.w.size(), 8 * settled);
}

TEST(InflightWindow, KeepsToTheCap) {
  Driver d(100);
  for (int i = 0; i < 40; ++i) d.client(1e12, 200us);
  EXPECT_EQ(d.w.size(), 100);
}

TEST(InflightWindow, AnAbandonedRoundStartsAfresh) {
  InflightWindow w(65535);
  w.start(7, Clock::time_point{});
  EXPECT_FALSE(w.wants_probe());
  w.abandon();
  EXPECT_TRUE(w.wants_probe());
  EXPECT_FALSE(w.acked(7));
}

}  // namespace
}  // namespace outpost::mqtt
