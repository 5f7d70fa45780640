#include <gtest/gtest.h>

#include <set>

#include "backoff.hpp"
#include "echo_filter.hpp"
#include "remote_url.hpp"
#include "topic_map.hpp"
#include "units.hpp"

using namespace outpost::bridge;
using namespace std::chrono_literals;

TEST(BridgeUnits, Durations) {
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("2m"), 2min);
  EXPECT_EQ(parse_duration("1h"), 1h);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("7"), 7s);
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration("3 fortnights"));
}

TEST(BridgeUnits, Sizes) {
  EXPECT_EQ(parse_size("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_size("64MiB"), 64ull << 20);
  EXPECT_EQ(parse_size("10kB"), 10000u);
  EXPECT_EQ(parse_size("1000"), 1000u);
  EXPECT_FALSE(parse_size("1.5GiB"));
  EXPECT_FALSE(parse_size("99999999999999TiB"));
  EXPECT_FALSE(parse_size("lots"));
}

TEST(BridgeUrl, Schemes) {
  std::string error;
  auto u = parse_remote_url("mqtt://broker.local", error);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 1883);
  EXPECT_EQ(u->paho_uri(), "tcp://broker.local:1883");
  u = parse_remote_url("mqtts://iot.example.com", error);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 8883);
  EXPECT_EQ(u->paho_uri(), "ssl://iot.example.com:8883");
  u = parse_remote_url("ws://127.0.0.1:9001", error);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->paho_uri(), "ws://127.0.0.1:9001/mqtt");
  u = parse_remote_url("wss://h/custom/path", error);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->paho_uri(), "wss://h:443/custom/path");
  u = parse_remote_url("mqtt://[::1]:1884", error);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->paho_uri(), "tcp://[::1]:1884");
}

TEST(BridgeUrl, Errors) {
  std::string error;
  EXPECT_FALSE(parse_remote_url("broker:1883", error));
  EXPECT_NE(error.find("no scheme"), std::string::npos);
  EXPECT_FALSE(parse_remote_url("amqp://x", error));
  EXPECT_FALSE(parse_remote_url("mqtt://:1883", error));
  EXPECT_FALSE(parse_remote_url("mqtt://h:0", error));
  EXPECT_FALSE(parse_remote_url("mqtt://h:70000", error));
  EXPECT_FALSE(parse_remote_url("mqtt://h:", error));
  EXPECT_FALSE(parse_remote_url("mqtt://h/path", error));
  EXPECT_FALSE(parse_remote_url("mqtt://user:pw@h", error));
  EXPECT_NE(error.find("username"), std::string::npos);
}

TEST(BridgeTopics, Filters) {
  EXPECT_TRUE(valid_filter("a/+/c/#"));
  EXPECT_TRUE(valid_filter("#"));
  EXPECT_FALSE(valid_filter("a/#/c"));
  EXPECT_FALSE(valid_filter("a+/b"));
  EXPECT_FALSE(valid_filter(""));
  EXPECT_TRUE(filter_matches("sensors/#", "sensors"));
  EXPECT_TRUE(filter_matches("sensors/#", "sensors/a/b"));
  EXPECT_TRUE(filter_matches("a/+/c", "a/b/c"));
  EXPECT_FALSE(filter_matches("a/+/c", "a/b/c/d"));
  EXPECT_FALSE(filter_matches("#", "$SYS/x"));
  EXPECT_TRUE(filter_matches("$SYS/#", "$SYS/x"));
}

TEST(BridgeTopics, OutWithPrefixes) {
  TopicMap map({{"sensors/#", Direction::out, 1, "site/", "edge-1/"}});
  auto m = map.to_remote("site/sensors/room1/temp");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic, "edge-1/sensors/room1/temp");
  EXPECT_EQ(m->qos, 1);
  EXPECT_FALSE(map.to_remote("sensors/room1/temp"));  // without the local prefix: not ours
  EXPECT_FALSE(map.to_local("edge-1/sensors/x"));      // out only
}

TEST(BridgeTopics, InWithPrefixes) {
  TopicMap map({{"cmd/#", Direction::in, 2, "local/", "edge-1/"}});
  auto m = map.to_local("edge-1/cmd/reboot");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic, "local/cmd/reboot");
  EXPECT_EQ(m->qos, 2);
  EXPECT_FALSE(map.to_local("edge-2/cmd/reboot"));
  EXPECT_FALSE(map.to_remote("local/cmd/reboot"));
}

TEST(BridgeTopics, BothAndFirstRuleWins) {
  TopicMap map({{"a/#", Direction::both, 0, "", "r/"}, {"a/b", Direction::out, 2, "", "other/"}});
  EXPECT_EQ(map.to_remote("a/b")->topic, "r/a/b");
  EXPECT_EQ(map.to_remote("a/b")->rule, 0u);
  EXPECT_EQ(map.to_local("r/a/x")->topic, "a/x");
  EXPECT_TRUE(map.is_outbound_local("a/x"));
  EXPECT_TRUE(map.is_inbound_remote("r/a/x"));
  EXPECT_TRUE(map.has_inbound());
  EXPECT_TRUE(map.has_outbound());
}

TEST(BridgeTopics, EmptyPrefixesAreIdentity) {
  TopicMap map({{"#", Direction::both, 1, "", ""}});
  EXPECT_EQ(map.to_remote("x/y")->topic, "x/y");
  EXPECT_EQ(map.to_local("x/y")->topic, "x/y");
}

TEST(BridgeBackoff, GrowsToMaxWithJitter) {
  Backoff b(1000ms, 16000ms, 42);
  const std::chrono::milliseconds expected_hi[] = {1000ms, 2000ms, 4000ms, 8000ms, 16000ms, 16000ms, 16000ms};
  for (auto hi : expected_hi) {
    const auto d = b.next_failure();
    EXPECT_LE(d, hi);
    EXPECT_GE(d, std::max(1000ms, hi / 2));
  }
  b.reset();
  EXPECT_LE(b.next_failure(), 1000ms);
}

TEST(BridgeBackoff, JitterSpreads) {
  Backoff b(100ms, 100000ms, 7);
  std::set<int64_t> seen;
  for (int i = 0; i < 20; ++i) {
    b.reset();
    for (int k = 0; k < 5; ++k) b.next_failure();
    seen.insert(b.next_failure().count());
  }
  EXPECT_GT(seen.size(), 10u);
}

TEST(BridgeBackoff, RefusalWaitsMaxDelay) {
  Backoff b(1000ms, 120000ms, 3);
  for (int i = 0; i < 10; ++i) {
    const auto d = b.next_refusal();
    EXPECT_GE(d, 108000ms);
    EXPECT_LE(d, 120000ms);
  }
}

TEST(BridgeEchoFilter, RecognisesOwnMessagesOnce) {
  EchoFilter f(60s);
  const auto t0 = EchoFilter::clock::now();
  f.sent("r/a", "1", t0);
  f.sent("r/a", "1", t0);
  EXPECT_FALSE(f.is_echo("r/a", "2", t0));
  EXPECT_TRUE(f.is_echo("r/a", "1", t0));
  EXPECT_TRUE(f.is_echo("r/a", "1", t0));
  EXPECT_FALSE(f.is_echo("r/a", "1", t0));  // a third copy is someone else's
  EXPECT_EQ(f.size(), 0u);
}

TEST(BridgeEchoFilter, Expires) {
  EchoFilter f(1s);
  const auto t0 = EchoFilter::clock::now();
  f.sent("r/a", "1", t0);
  EXPECT_FALSE(f.is_echo("r/a", "1", t0 + 2s));
}

TEST(BridgeEchoFilter, Bounded) {
  EchoFilter f(60s, 10);
  const auto t0 = EchoFilter::clock::now();
  for (int i = 0; i < 100; ++i) f.sent("t", std::to_string(i), t0);
  EXPECT_LE(f.size(), 10u);
  EXPECT_TRUE(f.is_echo("t", "99", t0));
  EXPECT_FALSE(f.is_echo("t", "0", t0));
}
