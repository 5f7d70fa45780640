#include "core/topic.hpp"
#include "core/topic_trie.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace outpost::core {
namespace {

// An empty topic or filter has no level (an AMQP key of zero words).
std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  if (s.empty()) return out;
  LevelIterator it(s);
  std::string_view level;
  while (it.next(level)) out.push_back(level);
  return out;
}

// A plain recursive matcher written straight from the rules, to check the trie against.
bool reference_rest(const std::vector<std::string_view>& f, std::size_t i, const std::vector<std::string_view>& t,
                    std::size_t j) {
  if (i == f.size()) return j == t.size();
  if (f[i] == "#") {
    for (std::size_t k = j; k <= t.size(); ++k) {
      if (reference_rest(f, i + 1, t, k)) return true;
    }
    return false;
  }
  if (j == t.size()) return false;
  if (f[i] != "+" && f[i] != t[j]) return false;
  return reference_rest(f, i + 1, t, j + 1);
}

bool reference_match(std::string_view filter, std::string_view topic) {
  const auto f = split(filter);
  const auto t = split(topic);
  if (topic.starts_with('$') && !f.empty() && (f[0] == "+" || f[0] == "#")) return false;
  return reference_rest(f, 0, t, 0);
}

// How many times the trie reports a single (filter, key) for topic.
int hits(std::string_view filter, std::string_view topic) {
  TopicTrie<int, int> trie;
  trie.insert(filter, 1, 1);
  int n = 0;
  trie.match(topic, [&](const int&, const int&) { ++n; });
  return n;
}

template <class Trie>
std::vector<int> matched_keys(const Trie& trie, std::string_view topic) {
  std::vector<int> keys;
  trie.match(topic, [&](const int& key, const auto&) { keys.push_back(key); });
  std::sort(keys.begin(), keys.end());
  return keys;
}

struct Case {
  const char* filter;
  const char* topic;
  bool match;
};

// The examples of MQTT 3.1.1 and 5.0 section 4.7, then the corners around them.
constexpr Case cases[] = {
    // 4.7.1.2 multi-level wildcard
    {"sport/tennis/player1/#", "sport/tennis/player1", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
    {"sport/tennis/player1/#", "sport/tennis/player2", false},
    {"sport/tennis/player1/#", "sport/tennis", false},
    {"sport/#", "sport", true},  // '#' includes the parent level [MQTT-4.7.1-2]
    {"sport/#", "sport/", true},
    {"sport/#", "sports", false},
    {"#", "sport", true},
    {"#", "sport/tennis/player1", true},
    {"#", "/", true},
    {"#", "/finance", true},
    // 4.7.1.3 single-level wildcard
    {"sport/tennis/+", "sport/tennis/player1", true},
    {"sport/tennis/+", "sport/tennis/player2", true},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
    {"sport/+", "sport", false},
    {"sport/+", "sport/", true},  // '+' matches an empty level
    {"sport/+/player1", "sport/tennis/player1", true},
    {"sport/+/player1", "sport//player1", true},
    {"+/tennis/#", "sport/tennis", true},
    {"+/tennis/#", "sport/tennis/player1/ranking", true},
    {"+/+", "/finance", true},
    {"/+", "/finance", true},
    {"+", "/finance", false},
    {"+", "finance", true},
    {"+", "/", false},
    {"+/+", "/", true},
    {"+/#", "finance", true},
    // 4.7.2 topics beginning with '$' [MQTT-4.7.2-1]
    {"#", "$SYS/x", false},
    {"#", "$SYS", false},
    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
    {"+/#", "$SYS/monitor", false},
    {"+", "$SYS", false},
    {"$SYS/#", "$SYS/monitor/Clients", true},
    {"$SYS/#", "$SYS", true},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
    {"$SYS/+/Clients", "$SYS/monitor/Clients", true},
    {"a/$x", "a/$x", true},
    {"+/$x", "a/$x", true},  // only the first level of the topic counts
    {"a/#", "a/$x", true},
    {"/#", "/$x", true},
    {"+/x", "/x", true},  // an empty first level is no '$'
    // 4.7.3 topic semantics: byte-exact, case-sensitive, empty levels are levels
    {"ACCOUNTS", "Accounts", false},
    {"Accounts payable", "Accounts payable", true},
    {"/finance", "finance", false},
    {"finance", "/finance", false},
    {"a//b", "a//b", true},
    {"a//b", "a/b", false},
    {"a/+/b", "a//b", true},
    {"a/#", "a//b", true},
    {"+/+/+", "a//b", true},
    {"a/b", "a/b/", false},
    {"a/b/", "a/b/", true},
    {"a/b/", "a/b", false},
    {"/", "/", true},
    {"\xC3\xA9", "\xC3\xA9", true},
    {"\xC3\xA9", "e", false},
    // AMQP patterns after conversion: '#' anywhere matches zero or more levels.
    {"a/#/z", "a/z", true},
    {"a/#/z", "a/b/z", true},
    {"a/#/z", "a/b/c/z", true},
    {"a/#/z", "a/b/c", false},
    {"a/#/z", "a", false},
    {"a/#/z", "a/z/x", false},
    {"a/#/z", "a/z/z", true},
    {"#/z", "z", true},
    {"#/z", "x/y/z", true},
    {"#/z", "$SYS/z", false},  // first-level rule holds for AMQP patterns too
    {"#/+", "a", true},
    {"#/+", "a/b/c", true},
    {"a/#/+/c", "a/x/c", true},
    {"a/#/+/c", "a/c", false},
    {"a/#/#", "a", true},
    {"#/#", "a/b", true},
    {"a/#/b/#", "a/b/b/b", true},
    {"a/#/b/#", "a/c", false},
    {"#/a/#/b", "x/a/y/b", true},
    {"#/a/#/b", "a/b", true},
    // An empty topic or filter has no level: an AMQP routing or binding key of zero words
    // (MQTT has neither). '#' matches it, '+' (AMQP '*', exactly one word) does not.
    {"#", "", true},
    {"", "", true},
    {"+", "", false},
    {"+/#", "", false},
    {"#/#", "", true},
    {"", "a", false},
    {"", "/", false},
    {"+", "/", false},
};

TEST(TopicTrie, MatchingTable) {
  for (const auto& c : cases) {
    EXPECT_EQ(hits(c.filter, c.topic), c.match ? 1 : 0) << c.filter << " vs " << c.topic;
    EXPECT_EQ(reference_match(c.filter, c.topic), c.match) << "reference: " << c.filter << " vs " << c.topic;
  }
}

TEST(TopicTrie, MatchingTableInOneTrie) {
  // The same cases with every filter in one trie, so the branches interfere.
  TopicTrie<int, int> trie;
  std::map<std::string, int> key_of;
  for (const auto& c : cases) {
    if (key_of.emplace(c.filter, static_cast<int>(key_of.size())).second) trie.insert(c.filter, key_of[c.filter], 0);
  }
  for (const auto& c : cases) {
    std::vector<int> expected;
    for (const auto& [filter, key] : key_of) {
      if (reference_match(filter, c.topic)) expected.push_back(key);
    }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(matched_keys(trie, c.topic), expected) << c.topic;
  }
}

TEST(TopicTrie, SeveralHashesReportEachPairOnce) {
  // These can match one topic in several ways; each (filter, key) is still reported once.
  EXPECT_EQ(hits("#/#", "a/b/c"), 1);
  EXPECT_EQ(hits("#/#/#", "a/b/c/d"), 1);
  EXPECT_EQ(hits("a/#/#", "a/b"), 1);
  EXPECT_EQ(hits("#/a/#", "a/a/a"), 1);
  EXPECT_EQ(hits("#/+/#", "x/y/z"), 1);
  EXPECT_EQ(hits("#/+/#", "$x/y"), 0);
}

TEST(TopicTrie, InsertReplaceFindErase) {
  TopicTrie<int, std::string> trie;
  EXPECT_TRUE(trie.empty());
  EXPECT_TRUE(trie.insert("a/+", 1, "one"));
  EXPECT_FALSE(trie.insert("a/+", 1, "uno"));  // same key, same filter: replaced
  EXPECT_TRUE(trie.insert("a/+", 2, "two"));
  EXPECT_TRUE(trie.insert("a/#", 1, "hash"));
  EXPECT_EQ(trie.size(), 3u);
  ASSERT_NE(trie.find("a/+", 1), nullptr);
  EXPECT_EQ(*trie.find("a/+", 1), "uno");
  EXPECT_EQ(trie.find("a/+", 3), nullptr);
  EXPECT_EQ(trie.find("a", 1), nullptr);
  EXPECT_EQ(trie.find("a/b", 1), nullptr);

  EXPECT_FALSE(trie.erase("a/+", 3));
  EXPECT_FALSE(trie.erase("a/b", 1));
  EXPECT_FALSE(trie.erase("a/+/c", 1));
  EXPECT_TRUE(trie.erase("a/+", 1));
  EXPECT_FALSE(trie.erase("a/+", 1));
  EXPECT_EQ(trie.size(), 2u);
  EXPECT_EQ(matched_keys(trie, "a/x"), (std::vector<int>{1, 2}));
  EXPECT_TRUE(trie.erase("a/+", 2));
  EXPECT_TRUE(trie.erase("a/#", 1));
  EXPECT_TRUE(trie.empty());
  EXPECT_EQ(trie.node_count(), 0u);
  EXPECT_TRUE(matched_keys(trie, "a/x").empty());
}

TEST(TopicTrie, EraseKeepsSharedPrefixesAndPrunesTheRest) {
  TopicTrie<int, int> trie;
  trie.insert("a/b/c/d", 1, 0);
  trie.insert("a/b", 2, 0);
  trie.insert("a/+/#", 3, 0);
  EXPECT_EQ(trie.node_count(), 6u);  // a, b, c, d, +, #
  EXPECT_TRUE(trie.erase("a/b/c/d", 1));
  EXPECT_EQ(trie.node_count(), 4u);  // c and d are gone; b still holds key 2
  EXPECT_EQ(matched_keys(trie, "a/b"), (std::vector<int>{2, 3}));
  EXPECT_TRUE(trie.erase("a/+/#", 3));
  EXPECT_EQ(trie.node_count(), 2u);
  EXPECT_TRUE(trie.erase("a/b", 2));
  EXPECT_EQ(trie.node_count(), 0u);
}

TEST(TopicTrie, ChurnDoesNotGrowTheTree) {
  TopicTrie<int, int> trie;
  trie.insert("keep/this", 0, 0);
  const auto base = trie.node_count();
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 20; ++i) trie.insert("dev/" + std::to_string(round * 20 + i) + "/+/#", i, i);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(trie.erase("dev/" + std::to_string(round * 20 + i) + "/+/#", i));
  }
  EXPECT_EQ(trie.size(), 1u);
  EXPECT_EQ(trie.node_count(), base);
}

TEST(TopicTrie, ManyKeysOnOneFilter) {
  // Enough keys to cross from the linear list to the hash index and back.
  TopicTrie<std::uint64_t, int> trie;
  constexpr std::uint64_t n = 200;
  for (std::uint64_t k = 0; k < n; ++k) EXPECT_TRUE(trie.insert("sensors/+/temp", k, static_cast<int>(k)));
  for (std::uint64_t k = 0; k < n; k += 3) EXPECT_FALSE(trie.insert("sensors/+/temp", k, -1));
  EXPECT_EQ(trie.size(), n);
  std::vector<std::pair<std::uint64_t, int>> seen;
  trie.match("sensors/room1/temp", [&](const std::uint64_t& k, const int& v) { seen.emplace_back(k, v); });
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), n);
  for (std::uint64_t k = 0; k < n; ++k) {
    EXPECT_EQ(seen[k].first, k);
    EXPECT_EQ(seen[k].second, k % 3 == 0 ? -1 : static_cast<int>(k));
  }
  for (std::uint64_t k = 0; k < n; k += 2) EXPECT_TRUE(trie.erase("sensors/+/temp", k));
  for (std::uint64_t k = 0; k < n; ++k) EXPECT_EQ(trie.find("sensors/+/temp", k) != nullptr, k % 2 == 1) << k;
  for (std::uint64_t k = 1; k < n - 2; k += 2) EXPECT_TRUE(trie.erase("sensors/+/temp", k));
  EXPECT_EQ(trie.size(), 1u);
  ASSERT_NE(trie.find("sensors/+/temp", n - 1), nullptr);
  EXPECT_EQ(*trie.find("sensors/+/temp", n - 1), static_cast<int>(n - 1));
  EXPECT_TRUE(trie.erase("sensors/+/temp", n - 1));
  EXPECT_EQ(trie.node_count(), 0u);
}

TEST(TopicTrie, ManyChildrenOfOneLevel) {
  // Enough siblings to cross from the scanned array to the hash index and back.
  TopicTrie<int, int> trie;
  constexpr int n = 100;
  for (int i = 0; i < n; ++i) EXPECT_TRUE(trie.insert("site/" + std::to_string(i) + "/temp", i, i));
  for (int i = 0; i < n; ++i) {
    std::vector<int> seen;
    trie.match("site/" + std::to_string(i) + "/temp", [&](const int& k, const int&) { seen.push_back(k); });
    ASSERT_EQ(seen, std::vector<int>{i});
  }
  for (int i = 0; i < n; i += 2) EXPECT_TRUE(trie.erase("site/" + std::to_string(i) + "/temp", i));
  for (int i = 0; i < n; ++i) {
    std::vector<int> seen;
    trie.match("site/" + std::to_string(i) + "/temp", [&](const int& k, const int&) { seen.push_back(k); });
    EXPECT_EQ(seen.size(), i % 2 == 1 ? 1u : 0u) << i;
  }
  for (int i = 1; i < n - 2; i += 2) EXPECT_TRUE(trie.erase("site/" + std::to_string(i) + "/temp", i));
  EXPECT_EQ(trie.size(), 1u);
  EXPECT_NE(trie.find("site/" + std::to_string(n - 1) + "/temp", n - 1), nullptr);
  EXPECT_TRUE(trie.erase("site/" + std::to_string(n - 1) + "/temp", n - 1));
  EXPECT_EQ(trie.node_count(), 0u);
}

TEST(TopicTrie, OverlappingFiltersOfOneKeyAreEachReported) {
  TopicTrie<int, std::string> trie;
  trie.insert("a/#", 7, "hash");
  trie.insert("a/+", 7, "plus");
  trie.insert("a/b", 7, "exact");
  trie.insert("#", 7, "all");
  std::vector<std::string> values;
  trie.match("a/b", [&](const int& key, const std::string& v) {
    EXPECT_EQ(key, 7);
    values.push_back(v);
  });
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<std::string>{"all", "exact", "hash", "plus"}));
}

TEST(TopicTrie, ForEachVisitsEveryPairAndCanNameItsFilter) {
  TopicTrie<int, int> trie;
  const std::vector<std::string> filters{"a/b", "a/+", "#", "/", "a//#", "$SYS/#", "x/#/y", "+"};
  for (std::size_t i = 0; i < filters.size(); ++i) trie.insert(filters[i], static_cast<int>(i), static_cast<int>(i) * 10);
  trie.insert("a/b", 99, 990);

  int count = 0;
  trie.for_each([&](const int& key, const int& value) {
    EXPECT_EQ(value, key * 10);
    ++count;
  });
  EXPECT_EQ(count, 9);

  std::vector<std::pair<std::string, int>> named;
  trie.for_each([&](std::string_view filter, const int& key, const int&) { named.emplace_back(filter, key); });
  std::sort(named.begin(), named.end());
  std::vector<std::pair<std::string, int>> expected;
  for (std::size_t i = 0; i < filters.size(); ++i) expected.emplace_back(filters[i], static_cast<int>(i));
  expected.emplace_back("a/b", 99);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(named, expected);
}

TEST(TopicTrie, MoveAndClear) {
  TopicTrie<int, int> a;
  a.insert("a/+", 1, 1);
  a.insert("b/#", 2, 2);
  TopicTrie<int, int> b(std::move(a));
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(matched_keys(b, "a/x"), (std::vector<int>{1}));
  TopicTrie<int, int> c;
  c.insert("c", 3, 3);
  c = std::move(b);
  EXPECT_EQ(matched_keys(c, "b"), (std::vector<int>{2}));
  EXPECT_TRUE(matched_keys(c, "c").empty());
  c.clear();
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(c.node_count(), 0u);
  EXPECT_TRUE(c.insert("a/+", 1, 1));
  EXPECT_EQ(matched_keys(c, "a/y"), (std::vector<int>{1}));
}

TEST(TopicTrie, VeryDeepFiltersDoNotExhaustTheStack) {
  // 65535 bytes of '/' is a legal MQTT filter and topic of 65536 empty levels.
  const std::string deep(65535, '/');
  TopicTrie<int, int> trie;
  trie.insert(deep, 1, 1);
  trie.insert(deep + "#", 2, 2);
  trie.insert("#", 3, 3);
  EXPECT_EQ(matched_keys(trie, deep), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(matched_keys(trie, deep.substr(1)), (std::vector<int>{2, 3}));  // "#" absorbs nothing
  EXPECT_EQ(matched_keys(trie, deep.substr(2)), (std::vector<int>{3}));
  int filters = 0;
  trie.for_each([&](std::string_view filter, const int&, const int&) {
    EXPECT_TRUE(filter == deep || filter == deep + "#" || filter == "#");
    ++filters;
  });
  EXPECT_EQ(filters, 3);
  EXPECT_TRUE(trie.erase(deep, 1));
  // The trie with the "#"-ended deep filter is destroyed here, node by node.
}

TEST(TopicTrie, AgreesWithTheReferenceOnRandomFiltersAndTopics) {
  std::mt19937 rng(12345);
  const std::vector<std::string> topic_levels{"a", "b", "", "$s"};
  const std::vector<std::string> filter_levels{"a", "b", "", "$s", "+", "#"};
  auto make = [&](const std::vector<std::string>& alphabet, bool wildcards) {
    std::uniform_int_distribution<std::size_t> len(0, 4);
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::string s;
    const auto n = len(rng);
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) s.push_back('/');
      const auto& level = alphabet[pick(rng)];
      // '$' only makes sense as the first character of a topic.
      s += (level == "$s" && i > 0 && !wildcards) ? "s" : level;
    }
    return s;
  };

  TopicTrie<int, int> trie;
  std::vector<std::pair<std::string, int>> stored;
  for (int key = 0; key < 300; ++key) {
    auto filter = make(filter_levels, true);
    trie.insert(filter, key, key);
    stored.emplace_back(std::move(filter), key);
  }
  auto check = [&] {
    for (int round = 0; round < 300; ++round) {
      const auto topic = make(topic_levels, false);
      std::vector<int> expected;
      for (const auto& [filter, key] : stored) {
        if (reference_match(filter, topic)) expected.push_back(key);
      }
      std::sort(expected.begin(), expected.end());
      ASSERT_EQ(matched_keys(trie, topic), expected) << topic;
    }
  };
  check();
  // Erase every other pair and check again, then everything.
  std::vector<std::pair<std::string, int>> kept;
  for (std::size_t i = 0; i < stored.size(); ++i) {
    if (i % 2 == 0) {
      ASSERT_TRUE(trie.erase(stored[i].first, stored[i].second));
    } else {
      kept.push_back(stored[i]);
    }
  }
  stored = kept;
  EXPECT_EQ(trie.size(), stored.size());
  check();
  for (const auto& [filter, key] : stored) ASSERT_TRUE(trie.erase(filter, key));
  EXPECT_TRUE(trie.empty());
  EXPECT_EQ(trie.node_count(), 0u);
}

}  // namespace
}  // namespace outpost::core
