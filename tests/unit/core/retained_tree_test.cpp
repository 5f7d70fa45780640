#include "core/retained_tree.hpp"
#include "core/topic.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::core {
namespace {

// A retained value that knows its topic, as a message does.
struct Stored {
  std::string topic;
  int n = 0;
};

std::vector<std::string> walk(const RetainedTree<Stored>& tree, std::string_view filter) {
  std::vector<std::string> topics;
  tree.match(filter, [&](const Stored& s) { topics.push_back(s.topic); });
  std::sort(topics.begin(), topics.end());
  return topics;
}

// The same walk, asking the tree to name each topic.
std::vector<std::string> walk_named(const RetainedTree<Stored>& tree, std::string_view filter) {
  std::vector<std::string> topics;
  tree.match(filter, [&](std::string_view topic, const Stored& s) {
    EXPECT_EQ(topic, s.topic);
    topics.emplace_back(topic);
  });
  std::sort(topics.begin(), topics.end());
  return topics;
}

void put(RetainedTree<Stored>& tree, const std::string& topic, int n = 0) { tree.set(topic, Stored{topic, n}); }

using Topics = std::vector<std::string>;

TEST(RetainedTree, SetReplaceFindErase) {
  RetainedTree<Stored> tree;
  EXPECT_TRUE(tree.empty());
  put(tree, "a/b", 1);
  put(tree, "a/b", 2);  // replaces
  put(tree, "a", 3);
  EXPECT_EQ(tree.size(), 2u);
  ASSERT_NE(tree.find("a/b"), nullptr);
  EXPECT_EQ(tree.find("a/b")->n, 2);
  EXPECT_EQ(tree.find("a")->n, 3);
  EXPECT_EQ(tree.find("a/"), nullptr);
  EXPECT_EQ(tree.find("a/b/c"), nullptr);
  EXPECT_EQ(tree.find("A/b"), nullptr);

  EXPECT_FALSE(tree.erase("a/c"));
  EXPECT_FALSE(tree.erase("a/b/c"));
  EXPECT_TRUE(tree.erase("a/b"));
  EXPECT_FALSE(tree.erase("a/b"));
  EXPECT_EQ(tree.size(), 1u);
  EXPECT_EQ(tree.find("a/b"), nullptr);
  EXPECT_EQ(tree.find("a")->n, 3);
  EXPECT_TRUE(tree.erase("a"));
  EXPECT_TRUE(tree.empty());
  EXPECT_EQ(tree.node_count(), 0u);
}

TEST(RetainedTree, EraseKeepsWhatOthersNeedAndPrunesTheRest) {
  RetainedTree<Stored> tree;
  put(tree, "a/b/c/d");
  put(tree, "a/b");
  put(tree, "a/x");
  EXPECT_EQ(tree.node_count(), 5u);
  EXPECT_FALSE(tree.erase("a/b/c"));  // an inner node without a value
  EXPECT_EQ(tree.node_count(), 5u);
  EXPECT_TRUE(tree.erase("a/b/c/d"));
  EXPECT_EQ(tree.node_count(), 3u);
  EXPECT_TRUE(tree.erase("a/b"));
  EXPECT_TRUE(tree.erase("a/x"));
  EXPECT_EQ(tree.node_count(), 0u);

  for (int i = 0; i < 1000; ++i) {
    put(tree, "dev/" + std::to_string(i) + "/state");
    ASSERT_TRUE(tree.erase("dev/" + std::to_string(i) + "/state"));
  }
  EXPECT_EQ(tree.node_count(), 0u);
}

TEST(RetainedTree, FilterWalks) {
  RetainedTree<Stored> tree;
  for (const char* t : {"sport", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/",
                        "sports", "/finance", "finance", "/", "a//b", "$SYS/x", "$SYS", "$SYS/broker/uptime",
                        "Sport"}) {
    put(tree, t);
  }
  const Topics everything_but_dollar{"/",      "/finance",     "Sport",
                                     "a//b",   "finance",      "sport",
                                     "sport/", "sport/tennis", "sport/tennis/player1",
                                     "sport/tennis/player1/ranking", "sports"};
  EXPECT_EQ(walk(tree, "#"), everything_but_dollar);  // '#' does not take "$SYS/x" [MQTT-4.7.2-1]
  EXPECT_EQ(walk(tree, "+/+"), (Topics{"/", "/finance", "sport/", "sport/tennis"}));
  EXPECT_EQ(walk(tree, "+"), (Topics{"Sport", "finance", "sport", "sports"}));
  EXPECT_EQ(walk(tree, "+/#"), everything_but_dollar);
  EXPECT_EQ(walk(tree, "+/x"), Topics{});
  EXPECT_EQ(walk(tree, "$SYS/#"), (Topics{"$SYS", "$SYS/broker/uptime", "$SYS/x"}));
  EXPECT_EQ(walk(tree, "$SYS/+"), (Topics{"$SYS/x"}));
  EXPECT_EQ(walk(tree, "$SYS"), (Topics{"$SYS"}));
  EXPECT_EQ(walk(tree, "sport/#"),
            (Topics{"sport", "sport/", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking"}));
  EXPECT_EQ(walk(tree, "sport/+"), (Topics{"sport/", "sport/tennis"}));
  EXPECT_EQ(walk(tree, "sport/tennis/+"), (Topics{"sport/tennis/player1"}));
  EXPECT_EQ(walk(tree, "sport/tennis/player1/#"), (Topics{"sport/tennis/player1", "sport/tennis/player1/ranking"}));
  EXPECT_EQ(walk(tree, "sport/+/player1"), (Topics{"sport/tennis/player1"}));
  EXPECT_EQ(walk(tree, "/+"), (Topics{"/", "/finance"}));
  EXPECT_EQ(walk(tree, "/#"), (Topics{"/", "/finance"}));
  EXPECT_EQ(walk(tree, "a/+/b"), (Topics{"a//b"}));
  EXPECT_EQ(walk(tree, "sport"), (Topics{"sport"}));
  EXPECT_EQ(walk(tree, "Sport/#"), (Topics{"Sport"}));
  EXPECT_EQ(walk(tree, "nothing/#"), Topics{});
  EXPECT_EQ(walk(tree, "sport/tennis/player1/ranking/+"), Topics{});

  for (std::string_view f : {"#", "+/+", "$SYS/#", "sport/#", "/+", "a/+/b", "+"}) {
    EXPECT_EQ(walk_named(tree, f), walk(tree, f)) << f;
  }
}

TEST(RetainedTree, ForEachIncludesDollarTopics) {
  RetainedTree<Stored> tree;
  for (const char* t : {"a", "a/b", "$SYS", "$SYS/x", "/", "b//"}) put(tree, t);
  Topics seen;
  tree.for_each([&](std::string_view topic, const Stored& s) {
    EXPECT_EQ(topic, s.topic);
    seen.emplace_back(topic);
  });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (Topics{"$SYS", "$SYS/x", "/", "a", "a/b", "b//"}));
}

TEST(RetainedTree, HoldsSharedPointers) {
  // The broker stores MessagePtr; a shared value must survive replacement elsewhere.
  RetainedTree<std::shared_ptr<const std::string>> tree;
  auto v = std::make_shared<const std::string>("payload");
  tree.set("t", v);
  EXPECT_EQ(v.use_count(), 2);
  tree.set("t", std::make_shared<const std::string>("other"));
  EXPECT_EQ(v.use_count(), 1);
  int n = 0;
  tree.match("#", [&](const std::shared_ptr<const std::string>& p) {
    EXPECT_EQ(*p, "other");
    ++n;
  });
  EXPECT_EQ(n, 1);
}

TEST(RetainedTree, MoveAndClear) {
  RetainedTree<Stored> a;
  put(a, "x/y");
  RetainedTree<Stored> b(std::move(a));
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(walk(b, "x/+"), (Topics{"x/y"}));
  RetainedTree<Stored> c;
  put(c, "z");
  c = std::move(b);
  EXPECT_EQ(walk(c, "#"), (Topics{"x/y"}));
  c.clear();
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(c.node_count(), 0u);
}

TEST(RetainedTree, VeryDeepTopicsDoNotExhaustTheStack) {
  const std::string deep(65534, '/');  // 65535 empty levels
  RetainedTree<Stored> tree;
  put(tree, deep, 1);
  put(tree, "/x", 2);
  EXPECT_EQ(walk(tree, "#").size(), 2u);
  EXPECT_EQ(walk(tree, deep), (Topics{deep}));
  EXPECT_EQ(walk_named(tree, "/#").size(), 2u);
  EXPECT_EQ(walk(tree, deep + "/#"), (Topics{deep}));
  // The tree is destroyed here, node by node.
}

// Straight from the rules, for valid MQTT filters.
bool reference_match(std::string_view filter, std::string_view topic) {
  std::vector<std::string_view> f;
  std::vector<std::string_view> t;
  std::string_view level;
  for (LevelIterator it(filter); it.next(level);) f.push_back(level);
  for (LevelIterator it(topic); it.next(level);) t.push_back(level);
  if (topic.starts_with('$') && (f[0] == "+" || f[0] == "#")) return false;
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") return true;
    if (i == t.size()) return false;
    if (f[i] != "+" && f[i] != t[i]) return false;
  }
  return f.size() == t.size();
}

TEST(RetainedTree, AgreesWithTheReferenceOnRandomTopicsAndFilters) {
  std::mt19937 rng(54321);
  const std::vector<std::string> levels{"a", "b", "", "$s"};
  auto make = [&](bool filter) {
    std::uniform_int_distribution<std::size_t> len(1, 4);
    std::uniform_int_distribution<std::size_t> pick(0, filter ? levels.size() + 1 : levels.size() - 1);
    std::string s;
    const auto n = len(rng);
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) s.push_back('/');
      const auto p = pick(rng);
      if (p == levels.size()) {
        s += '+';
      } else if (p == levels.size() + 1) {
        s += '#';
        break;  // a valid MQTT filter ends at '#'
      } else {
        s += (levels[p] == "$s" && i > 0) ? "s" : levels[p];
      }
    }
    return s;
  };
  RetainedTree<Stored> tree;
  std::vector<std::string> topics;
  for (int i = 0; i < 200; ++i) {
    auto t = make(false);
    if (tree.find(t) == nullptr) topics.push_back(t);
    put(tree, t, i);
  }
  EXPECT_EQ(tree.size(), topics.size());
  for (int round = 0; round < 300; ++round) {
    const auto filter = make(true);
    if (filter.empty()) continue;  // one empty level: not a valid filter
    ASSERT_TRUE(valid_topic_filter(filter)) << filter;
    Topics expected;
    for (const auto& t : topics) {
      if (reference_match(filter, t)) expected.push_back(t);
    }
    std::sort(expected.begin(), expected.end());
    ASSERT_EQ(walk(tree, filter), expected) << filter;
    ASSERT_EQ(walk_named(tree, filter), expected) << filter;
  }
}

}  // namespace
}  // namespace outpost::core
