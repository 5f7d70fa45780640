#include "core/topic.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace outpost::core {
namespace {

using namespace std::string_literals;

std::vector<std::string> levels_of(std::string_view s) {
  std::vector<std::string> out;
  LevelIterator it(s);
  std::string_view level;
  while (it.next(level)) out.emplace_back(level);
  return out;
}

TEST(Topic, LevelIteratorCountsEmptyLevels) {
  using V = std::vector<std::string>;
  EXPECT_EQ(levels_of("a/b/c"), (V{"a", "b", "c"}));
  EXPECT_EQ(levels_of("a//b"), (V{"a", "", "b"}));
  EXPECT_EQ(levels_of("/a"), (V{"", "a"}));
  EXPECT_EQ(levels_of("a/"), (V{"a", ""}));
  EXPECT_EQ(levels_of("/"), (V{"", ""}));
  EXPECT_EQ(levels_of(""), (V{""}));
  EXPECT_EQ(levels_of("$SYS/#"), (V{"$SYS", "#"}));
  EXPECT_EQ(level_count("a//b"), 3u);
  EXPECT_EQ(level_count("/"), 2u);
  EXPECT_EQ(level_count(""), 1u);
}

TEST(Topic, LevelIteratorIsACopyablePosition) {
  LevelIterator it("a/b/c");
  std::string_view level;
  ASSERT_TRUE(it.next(level));
  LevelIterator saved = it;
  ASSERT_TRUE(it.next(level));
  EXPECT_EQ(level, "b");
  ASSERT_TRUE(saved.next(level));
  EXPECT_EQ(level, "b");
  ASSERT_TRUE(it.next(level));
  EXPECT_EQ(level, "c");
  EXPECT_TRUE(it.done());
  EXPECT_FALSE(it.next(level));
}

TEST(Topic, ValidTopicNames) {
  // [MQTT-4.7.3-1..3]: non-empty, no U+0000, at most 65535 bytes; [MQTT-4.7.1-1] no wildcards.
  for (std::string_view ok : {"a", "/", "//", "a//b", "/finance", "finance/", "$SYS/x", "Accounts payable",
                              "ACCOUNTS", "sport/tennis/player1", "a.b*c", "\xC3\xA9t\xC3\xA9"}) {
    EXPECT_TRUE(valid_topic_name(ok)) << ok;
  }
  for (std::string_view bad : {"", "a/+", "+", "#", "a/#", "sport+", "a#b", "+/x"}) {
    EXPECT_FALSE(valid_topic_name(bad)) << bad;
  }
  EXPECT_FALSE(valid_topic_name("a\0b"s));
  EXPECT_TRUE(valid_topic_name(std::string(65535, 'a')));
  EXPECT_FALSE(valid_topic_name(std::string(65536, 'a')));
}

TEST(Topic, ValidTopicFilters) {
  // The examples of MQTT 3.1.1 / 5.0 section 4.7.1, and empty levels.
  for (std::string_view ok : {"#", "sport/tennis/#", "sport/#", "+", "+/tennis/#", "sport/+/player1", "+/+", "/+",
                              "/#", "a//b", "/", "$SYS/#", "$SYS/monitor/+", "a/+/+/#", "+/", "$share/g/a"}) {
    EXPECT_TRUE(valid_topic_filter(ok)) << ok;
  }
  for (std::string_view bad : {"", "sport/tennis#", "sport/tennis/#/ranking", "sport+", "a/b+", "+a", "a/#/",
                               "#/a", "##", "++", "a/+#", "#+"}) {
    EXPECT_FALSE(valid_topic_filter(bad)) << bad;
  }
  EXPECT_FALSE(valid_topic_filter("a/\0"s));
  EXPECT_TRUE(valid_topic_filter(std::string(65535, '/')));
  EXPECT_FALSE(valid_topic_filter(std::string(65536, 'a')));
}

TEST(Topic, ValidShareNames) {
  // [MQTT-4.8.2-1, MQTT-4.8.2-2]
  for (std::string_view ok : {"g", "group-1", "$g", "g.h", "g h"}) EXPECT_TRUE(valid_share_name(ok)) << ok;
  for (std::string_view bad : {"", "a/b", "+", "g+", "#", "g#", "/"}) EXPECT_FALSE(valid_share_name(bad)) << bad;
  EXPECT_FALSE(valid_share_name("g\0"s));
}

TEST(Topic, ParseSharedSplitsGroupAndFilter) {
  auto s = parse_shared("$share/g1/a/+");
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->valid);
  EXPECT_EQ(s->group, "g1");
  EXPECT_EQ(s->filter, "a/+");

  s = parse_shared("$share/consumers/#");
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->valid);
  EXPECT_EQ(s->filter, "#");

  s = parse_shared("$share/g//");
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->valid);
  EXPECT_EQ(s->filter, "/");
}

TEST(Topic, ParseSharedTellsNotSharedFromMalformed) {
  for (std::string_view plain : {"a/b", "#", "$share", "$SHARE/g/a", "share/g/a", "$sharex/g/a", "$SYS/#"}) {
    EXPECT_FALSE(parse_shared(plain).has_value()) << plain;
  }
  for (std::string_view bad : {"$share/", "$share/g1", "$share//a", "$share/g+/a", "$share/g#/a", "$share/g/",
                               "$share/g/a#", "$share/g/#/a", "$share/+/a", "$share/#"}) {
    const auto s = parse_shared(bad);
    ASSERT_TRUE(s.has_value()) << bad;
    EXPECT_FALSE(s->valid) << bad;
  }
}

TEST(Topic, AmqpKeysAndTopics) {
  EXPECT_EQ(amqp_key_to_topic("sensors.room1.temp"), "sensors/room1/temp");
  EXPECT_EQ(topic_to_amqp_key("sensors/room1/temp"), "sensors.room1.temp");
  EXPECT_EQ(topic_to_amqp_key("p/v1.2"), "p.v1/2");
  EXPECT_EQ(amqp_key_to_topic("p.v1/2"), "p/v1.2");
  EXPECT_EQ(topic_to_amqp_key("/a/"), ".a.");
  EXPECT_EQ(amqp_key_to_topic(".a."), "/a/");
  EXPECT_EQ(amqp_key_to_topic(""), "");
  EXPECT_EQ(amqp_key_to_topic("a.*.#"), "a/*/#");  // keys have no wildcards
}

TEST(Topic, AmqpPatternsAndFilters) {
  EXPECT_EQ(amqp_pattern_to_filter("sensors.*.temp"), "sensors/+/temp");
  EXPECT_EQ(amqp_pattern_to_filter("a.#"), "a/#");
  EXPECT_EQ(amqp_pattern_to_filter("#"), "#");
  EXPECT_EQ(amqp_pattern_to_filter("a.#.z"), "a/#/z");
  EXPECT_EQ(amqp_pattern_to_filter("*.*"), "+/+");
  EXPECT_EQ(amqp_pattern_to_filter("a*.b#"), "a*/b#");  // wildcards only as whole words
  EXPECT_EQ(amqp_pattern_to_filter("v1/2.*"), "v1.2/+");
  EXPECT_EQ(filter_to_amqp_pattern("sensors/+/temp"), "sensors.*.temp");
  EXPECT_EQ(filter_to_amqp_pattern("sport/#"), "sport.#");
  EXPECT_EQ(filter_to_amqp_pattern("p/v1.2/+"), "p.v1/2.*");
  for (std::string_view f : {"a/+/b/#", "#", "+", "/+/", "x.y/%/%25/+", "a//b"}) {
    EXPECT_EQ(amqp_pattern_to_filter(filter_to_amqp_pattern(f)), f) << f;
  }
}

// Every string over `alphabet` up to `max_len` characters.
std::vector<std::string> all_strings(std::string_view alphabet, std::size_t max_len) {
  std::vector<std::string> out{""};
  std::size_t begin = 0;
  for (std::size_t len = 1; len <= max_len; ++len) {
    const std::size_t end = out.size();
    for (std::size_t i = begin; i < end; ++i) {
      for (const char c : alphabet) out.push_back(out[i] + c);
    }
    begin = end;
  }
  return out;
}

TEST(Topic, KeysAndTopicsRoundTripExactly) {
  for (const auto& t : all_strings("a/.*#", 6)) {
    ASSERT_EQ(amqp_key_to_topic(topic_to_amqp_key(t)), t) << t;
    ASSERT_EQ(topic_to_amqp_key(amqp_key_to_topic(t)), t) << t;
  }
}

}  // namespace
}  // namespace outpost::core
