#include "core/retained_tree.hpp"
#include "core/topic.hpp"
#include "core/topic_trie.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace outpost::core {
namespace {

bool matches(std::string_view filter, std::string_view topic) {
  TopicTrie<int, int> trie;
  trie.insert(filter, 1, 1);
  bool hit = false;
  trie.match(topic, [&](const int&, const int&) { hit = true; });
  return hit;
}

struct Case {
  const char* filter;
  const char* topic;
  bool match;
};

TEST(TopicTrie, MatchingTable) {
  const Case cases[] = {
      {"sport/tennis/player1", "sport/tennis/player1", true},
      {"sport/tennis/player1", "sport/tennis/player2", false},
      {"sport/tennis/player1/#", "sport/tennis/player1", true},  // '#' includes the parent
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/#", "sport", true},
      {"#", "sport/tennis", true},
      {"#", "/", true},
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player1/tournament", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},  // '+' matches an empty level
      {"+/+", "/finance", true},
      {"/+", "/finance", true},
      {"+", "/finance", false},
      {"+", "finance", true},
      {"a//b", "a//b", true},
      {"a/+/b", "a//b", true},
      {"a/#", "a//b", true},
      {"+/+/+", "a//b", true},
      {"Sport", "sport", false},  // case-sensitive
      {"#", "$SYS/x", false},     // [MQTT-4.7.2-1]
      {"+/monitor/Clients", "$SYS/monitor/Clients", false},
      {"$SYS/#", "$SYS/monitor/Clients", true},
      {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
      {"a/$x", "a/$x", true},
      {"+/$x", "a/$x", true},
      {"a/b", "a/b/", false},
      {"a/b/", "a/b/", true},
      // AMQP patterns after conversion: '#' anywhere matches zero or more levels.
      {"a/#/z", "a/z", true},
      {"a/#/z", "a/b/z", true},
      {"a/#/z", "a/b/c/z", true},
      {"a/#/z", "a/b/c", false},
      {"#/z", "z", true},
      {"#/z", "x/y/z", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(matches(c.filter, c.topic), c.match) << c.filter << " vs " << c.topic;
  }
}

TEST(TopicTrie, InsertReplaceEraseAndPrune) {
  TopicTrie<int, std::string> trie;
  EXPECT_TRUE(trie.insert("a/b", 1, "x"));
  EXPECT_FALSE(trie.insert("a/b", 1, "y"));
  EXPECT_TRUE(trie.insert("a/b", 2, "z"));
  EXPECT_TRUE(trie.insert("a/+", 1, "w"));
  EXPECT_EQ(trie.size(), 3u);
  std::vector<std::string> got;
  trie.match("a/b", [&](const int&, const std::string& v) { got.push_back(v); });
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"w", "y", "z"}));  // overlapping filters both reported
  EXPECT_TRUE(trie.erase("a/b", 1));
  EXPECT_FALSE(trie.erase("a/b", 1));
  EXPECT_FALSE(trie.erase("a/c", 2));
  EXPECT_TRUE(trie.erase("a/b", 2));
  EXPECT_TRUE(trie.erase("a/+", 1));
  EXPECT_TRUE(trie.empty());
  int count = 0;
  trie.for_each([&](const int&, const std::string&) { ++count; });
  EXPECT_EQ(count, 0);
}

TEST(TopicTrie, ManyKeysOnOneFilter) {
  TopicTrie<int, int> trie;
  for (int i = 0; i < 1000; ++i) trie.insert("s/+/t", i, i);
  int n = 0;
  trie.match("s/x/t", [&](const int&, const int&) { ++n; });
  EXPECT_EQ(n, 1000);
  for (int i = 0; i < 1000; i += 2) trie.erase("s/+/t", i);
  n = 0;
  trie.match("s/x/t", [&](const int&, const int&) { ++n; });
  EXPECT_EQ(n, 500);
}

TEST(TopicValidation, Names) {
  EXPECT_TRUE(valid_topic_name("a"));
  EXPECT_TRUE(valid_topic_name("/"));
  EXPECT_TRUE(valid_topic_name("a//b"));
  EXPECT_TRUE(valid_topic_name("$SYS/x"));
  EXPECT_FALSE(valid_topic_name(""));
  EXPECT_FALSE(valid_topic_name("a/+"));
  EXPECT_FALSE(valid_topic_name("a/#"));
  EXPECT_FALSE(valid_topic_name(std::string_view("a\0b", 3)));
  EXPECT_FALSE(valid_topic_name(std::string(65536, 'a')));
}

TEST(TopicValidation, Filters) {
  for (const char* ok : {"#", "+", "a/#", "+/+", "/+", "a/+/b", "a//b", "$SYS/#", "+/#"}) {
    EXPECT_TRUE(valid_topic_filter(ok)) << ok;
  }
  for (const char* bad : {"", "a#", "a/#/b", "a+", "a/b+", "#/a", "a/+b", "##"}) {
    EXPECT_FALSE(valid_topic_filter(bad)) << bad;
  }
}

TEST(TopicValidation, SharedFilters) {
  auto s = parse_shared("$share/g1/a/+");
  EXPECT_TRUE(s.is_shared);
  EXPECT_TRUE(s.valid);
  EXPECT_EQ(s.group, "g1");
  EXPECT_EQ(s.filter, "a/+");
  EXPECT_FALSE(parse_shared("a/b").is_shared);
  EXPECT_FALSE(parse_shared("$share/g1").valid);
  EXPECT_FALSE(parse_shared("$share//a").valid);
  EXPECT_FALSE(parse_shared("$share/g+/a").valid);
  EXPECT_FALSE(parse_shared("$share/g/a#").valid);
}

TEST(TopicAmqp, KeyConversionRoundTrips) {
  EXPECT_EQ(amqp_key_to_topic("sensors.room1.temp"), "sensors/room1/temp");
  EXPECT_EQ(topic_to_amqp_key("sensors/room1/temp"), "sensors.room1.temp");
  EXPECT_EQ(topic_to_amqp_key("p/v1.2"), "p.v1%2E2");
  EXPECT_EQ(amqp_key_to_topic("p.v1%2E2"), "p/v1.2");
  EXPECT_EQ(amqp_pattern_to_filter("sensors.*.temp"), "sensors/+/temp");
  EXPECT_EQ(amqp_pattern_to_filter("a.#"), "a/#");
  for (const char* t : {"a/b", "p/v1.2", "50%/x", "%2E/y", "a//b", "/", "."}) {
    EXPECT_EQ(amqp_key_to_topic(topic_to_amqp_key(t)), t) << t;
  }
}

TEST(RetainedTree, SetReplaceEraseFind) {
  RetainedTree<int> tree;
  tree.set("a/b", 1);
  tree.set("a/b", 2);
  tree.set("a", 3);
  EXPECT_EQ(tree.size(), 2u);
  ASSERT_NE(tree.find("a/b"), nullptr);
  EXPECT_EQ(*tree.find("a/b"), 2);
  EXPECT_EQ(tree.find("a/c"), nullptr);
  EXPECT_TRUE(tree.erase("a/b"));
  EXPECT_FALSE(tree.erase("a/b"));
  EXPECT_EQ(tree.size(), 1u);
  EXPECT_EQ(*tree.find("a"), 3);
}

std::vector<int> walk(const RetainedTree<int>& tree, std::string_view filter) {
  std::vector<int> out;
  tree.match(filter, [&](const int& v) { out.push_back(v); });
  std::sort(out.begin(), out.end());
  return out;
}

TEST(RetainedTree, FilterWalks) {
  RetainedTree<int> tree;
  tree.set("sport", 1);
  tree.set("sport/tennis", 2);
  tree.set("sport/tennis/p1", 3);
  tree.set("sport/golf", 4);
  tree.set("$SYS/load", 5);
  tree.set("a//b", 6);
  tree.set("/x", 7);
  EXPECT_EQ(walk(tree, "#"), (std::vector<int>{1, 2, 3, 4, 6, 7}));
  EXPECT_EQ(walk(tree, "sport/#"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(walk(tree, "sport/+"), (std::vector<int>{2, 4}));
  EXPECT_EQ(walk(tree, "+/+"), (std::vector<int>{2, 4, 7}));
  EXPECT_EQ(walk(tree, "+"), (std::vector<int>{1}));
  EXPECT_EQ(walk(tree, "$SYS/#"), (std::vector<int>{5}));
  EXPECT_EQ(walk(tree, "+/load"), (std::vector<int>{}));
  EXPECT_EQ(walk(tree, "a/+/b"), (std::vector<int>{6}));
  EXPECT_EQ(walk(tree, "sport/tennis/p1"), (std::vector<int>{3}));
}

}  // namespace
}  // namespace outpost::core
