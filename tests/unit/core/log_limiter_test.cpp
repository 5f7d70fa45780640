// One warning a second per subject, the rest counted for the next line.
#include "core/log_limiter.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace outpost::core {
namespace {

TEST(LogLimiter, OneLinePerIntervalAndACountOfTheRest) {
  LogLimiter limiter;
  std::uint64_t suppressed = 99;
  EXPECT_TRUE(limiter.allow(0, suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(limiter.allow(1, suppressed));
  EXPECT_FALSE(limiter.allow(500, suppressed));
  EXPECT_FALSE(limiter.allow(999, suppressed));
  EXPECT_TRUE(limiter.allow(1000, suppressed));
  EXPECT_EQ(suppressed, 3u);
  EXPECT_TRUE(limiter.allow(5000, suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(LogLimiter, NegativeClockValuesWork) {
  LogLimiter limiter;
  std::uint64_t suppressed = 0;
  EXPECT_TRUE(limiter.allow(-5000, suppressed));
  EXPECT_FALSE(limiter.allow(-4500, suppressed));
}

TEST(LogLimiter, ManyThreadsGetOneLine) {
  LogLimiter limiter;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        std::uint64_t s = 0;
        if (limiter.allow(42, s)) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 1);
  std::uint64_t suppressed = 0;
  EXPECT_TRUE(limiter.allow(1042, suppressed));
  EXPECT_EQ(suppressed, 3999u);
}

}  // namespace
}  // namespace outpost::core
