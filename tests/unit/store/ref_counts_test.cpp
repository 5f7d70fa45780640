// RefCounts against std::unordered_map under random inserts, changes and erases
// (erasing shifts probe runs back, the part most easily got wrong).
#include "store/ref_counts.hpp"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace outpost::store::detail {
namespace {

TEST(RefCounts, BasicOperations) {
  RefCounts c;
  EXPECT_EQ(c.find(1), nullptr);
  EXPECT_FALSE(c.erase(1));
  c[1] = 3;
  ++c[2];
  ASSERT_NE(c.find(1), nullptr);
  EXPECT_EQ(*c.find(1), 3u);
  EXPECT_EQ(*c.find(2), 1u);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_TRUE(c.erase(1));
  EXPECT_EQ(c.find(1), nullptr);
  EXPECT_EQ(c.size(), 1u);
  c.clear();
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.find(2), nullptr);
}

TEST(RefCounts, MatchesAReferenceMapUnderRandomUse) {
  std::mt19937_64 rng(42);
  RefCounts c;
  std::unordered_map<std::uint64_t, std::uint32_t> ref;
  for (int step = 0; step < 200'000; ++step) {
    // Mostly consecutive ids, as next_message_id hands them out, plus some far apart.
    const std::uint64_t id = (rng() % 4 == 0) ? (rng() | 1) : 1 + rng() % 5000;
    switch (rng() % 3) {
      case 0:
        ++c[id];
        ++ref[id];
        break;
      case 1:
        EXPECT_EQ(c.erase(id), ref.erase(id) == 1);
        break;
      default: {
        auto* p = c.find(id);
        auto it = ref.find(id);
        ASSERT_EQ(p != nullptr, it != ref.end());
        if (p) {
          EXPECT_EQ(*p, it->second);
        }
      }
    }
    ASSERT_EQ(c.size(), ref.size());
  }
  std::size_t seen = 0;
  c.for_each([&](std::uint64_t id, std::uint32_t& n) {
    ++seen;
    EXPECT_EQ(ref.at(id), n);
  });
  EXPECT_EQ(seen, ref.size());
}

TEST(RefCounts, ReserveKeepsContents) {
  RefCounts c;
  for (std::uint64_t id = 1; id <= 1000; ++id) c[id] = static_cast<std::uint32_t>(id);
  c.reserve(100'000);
  for (std::uint64_t id = 1; id <= 1000; ++id) ASSERT_EQ(*c.find(id), id);
}

}  // namespace
}  // namespace outpost::store::detail
