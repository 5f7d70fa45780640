#include "auth/filter_set.hpp"

#include <gtest/gtest.h>

namespace outpost::auth {
namespace {

TEST(FilterMatches, WildcardsAndParentLevel) {
  EXPECT_TRUE(filter_matches("a/b", "a/b"));
  EXPECT_FALSE(filter_matches("a/b", "a/b/c"));
  EXPECT_FALSE(filter_matches("a/b/c", "a/b"));
  EXPECT_TRUE(filter_matches("a/+/c", "a/x/c"));
  EXPECT_FALSE(filter_matches("a/+", "a"));
  EXPECT_FALSE(filter_matches("a/+", "a/b/c"));
  EXPECT_TRUE(filter_matches("a/#", "a"));
  EXPECT_TRUE(filter_matches("a/#", "a/b/c"));
  EXPECT_FALSE(filter_matches("a/#", "ab"));
  EXPECT_TRUE(filter_matches("+", ""));  // one empty level
  EXPECT_TRUE(filter_matches("+/+", "/x"));
}

TEST(FilterMatches, DollarTopicsNeedALiteralFirstLevel) {
  EXPECT_FALSE(filter_matches("#", "$SYS/x"));
  EXPECT_FALSE(filter_matches("+/x", "$SYS/x"));
  EXPECT_TRUE(filter_matches("$SYS/#", "$SYS/x"));
  EXPECT_TRUE(filter_matches("$SYS/+", "$SYS/x"));
  EXPECT_TRUE(filter_matches("a/#", "a/$x"));  // only the first level is special
}

TEST(FilterIntersection, LevelByLevel) {
  EXPECT_EQ(filter_intersection("a/+/c", "a/b/#"), "a/b/c");
  EXPECT_EQ(filter_intersection("a/b/#", "a/+/c"), "a/b/c");
  EXPECT_EQ(filter_intersection("a/+", "+/b"), "a/b");
  EXPECT_EQ(filter_intersection("+/+", "+/+"), "+/+");
  EXPECT_EQ(filter_intersection("a/b", "a/b"), "a/b");
  EXPECT_EQ(filter_intersection("a/#", "a/#"), "a/#");
  EXPECT_EQ(filter_intersection("a/#", "a/+/#"), "a/+/#");
  EXPECT_EQ(filter_intersection("#", "a/+/c"), "a/+/c");
  EXPECT_EQ(filter_intersection("#", "#"), "#");
  EXPECT_FALSE(filter_intersection("a/b", "a/c"));
  EXPECT_FALSE(filter_intersection("a/+", "a/b/c"));
  EXPECT_FALSE(filter_intersection("a/+/c", "a/b/d/#"));
}

TEST(FilterIntersection, HashHoldsItsParentLevel) {
  EXPECT_EQ(filter_intersection("a/#", "a"), "a");
  EXPECT_EQ(filter_intersection("a", "a/#"), "a");
  EXPECT_EQ(filter_intersection("+/#", "a"), "a");
  EXPECT_FALSE(filter_intersection("a/+/#", "a"));  // '+' needs a level
}

TEST(FilterIntersection, DollarTopics) {
  EXPECT_FALSE(filter_intersection("#", "$SYS/x"));
  EXPECT_FALSE(filter_intersection("$SYS/#", "#"));
  EXPECT_FALSE(filter_intersection("+/x", "$SYS/+"));
  EXPECT_EQ(filter_intersection("$SYS/#", "$SYS/broker/+"), "$SYS/broker/+");
  EXPECT_EQ(filter_intersection("#", "+/x"), "+/x");  // still no '$' topic in it
}

TEST(FilterIsSubset, Cases) {
  EXPECT_TRUE(filter_is_subset("a/b", "a/b"));
  EXPECT_TRUE(filter_is_subset("a/b", "a/+"));
  EXPECT_TRUE(filter_is_subset("a/b/c", "a/#"));
  EXPECT_TRUE(filter_is_subset("a", "a/#"));
  EXPECT_TRUE(filter_is_subset("a/+/c", "a/#"));
  EXPECT_TRUE(filter_is_subset("a/+/#", "a/#"));
  EXPECT_TRUE(filter_is_subset("a/+", "+/+"));
  EXPECT_TRUE(filter_is_subset("#", "#"));
  EXPECT_TRUE(filter_is_subset("#", "+/#"));  // every topic has a first level
  EXPECT_TRUE(filter_is_subset("+/#", "#"));
  EXPECT_FALSE(filter_is_subset("a/+", "a/b"));
  EXPECT_FALSE(filter_is_subset("a/#", "a/+"));
  EXPECT_FALSE(filter_is_subset("a/#", "a/+/#"));  // "a" itself
  EXPECT_FALSE(filter_is_subset("a/#", "a"));
  EXPECT_FALSE(filter_is_subset("a/b/c", "a/b"));
  EXPECT_FALSE(filter_is_subset("a", "a/+"));
}

TEST(FilterIsSubset, DollarTopics) {
  EXPECT_FALSE(filter_is_subset("$SYS/x", "#"));
  EXPECT_FALSE(filter_is_subset("$SYS/x", "+/x"));
  EXPECT_TRUE(filter_is_subset("$SYS/x", "$SYS/#"));
  EXPECT_TRUE(filter_is_subset("+/x", "#"));
  EXPECT_FALSE(filter_is_subset("#", "$SYS/#"));
}

}  // namespace
}  // namespace outpost::auth
