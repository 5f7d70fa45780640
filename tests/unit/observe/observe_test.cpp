// Snapshots turned into $SYS topics and the Prometheus text format; load averages.
#include "observe/load_average.hpp"
#include "observe/prometheus.hpp"
#include "observe/sys_topics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace outpost::observe {
namespace {

using core::Counter;
using core::Protocol;

Snapshot sample() {
  Snapshot s;
  s.version = "1.2.3";
  s.uptime_seconds = 42.7;
  s.counters.values[static_cast<std::size_t>(Protocol::mqtt)][static_cast<std::size_t>(Counter::published)] = 10;
  s.counters.values[static_cast<std::size_t>(Protocol::amqp)][static_cast<std::size_t>(Counter::published)] = 5;
  s.counters.values[static_cast<std::size_t>(Protocol::broker)][static_cast<std::size_t>(Counter::published)] = 99;
  s.counters.values[static_cast<std::size_t>(Protocol::mqtt)][static_cast<std::size_t>(Counter::delivered)] = 20;
  s.counters.values[static_cast<std::size_t>(Protocol::amqp)][static_cast<std::size_t>(Counter::delivered)] = 3;
  s.counters.values[static_cast<std::size_t>(Protocol::mqtt)][static_cast<std::size_t>(Counter::dropped_queue_full)] = 2;
  s.counters.values[static_cast<std::size_t>(Protocol::amqp)][static_cast<std::size_t>(Counter::expired)] = 1;
  s.listeners.push_back({"mqtt", "127.0.0.1", 1883, 4, 1000, 2000});
  s.listeners.push_back({"amqp", "::1", 5672, 1, 10, 20});
  s.clients_connected = 5;
  s.clients_maximum = 7;
  s.mqtt_sessions = 6;
  s.mqtt_sessions_connected = 4;
  s.subscriptions = 11;
  s.retained = 3;
  s.store_persistent = true;
  s.store.messages = 8;
  s.store.bytes = 800;
  s.store.commits = 4;
  s.store.commit_seconds[0] = 3;
  s.store.commit_seconds.back() = 1;
  s.store.commit_microseconds_sum = 3000500;
  s.amqp_queues.push_back({"orders", true, 12, 1200, 2, 0});
  s.amqp_queues.push_back({"bad+name", false, 1, 1, 0, 0});
  s.amqp_queues.push_back({"quote\"d", false, 1, 1, 0, 0});
  s.plugin_metrics.push_back({"cloud", "bridge_forwarded_total", "forwarded", false, 17});
  s.plugin_metrics.push_back({"cloud2", "bridge_forwarded_total", "forwarded", false, 4});
  s.plugin_metrics.push_back({"cloud", "bridge_connected", "connected", true, 1});
  s.plugin_metrics.push_back({"cloud", "Bad-Name", "ignored", true, 1});
  return s;
}

std::map<std::string, std::string> as_map(const std::vector<SysTopic>& topics) {
  std::map<std::string, std::string> m;
  for (const auto& t : topics) {
    EXPECT_TRUE(m.emplace(t.topic, t.value).second) << "duplicate " << t.topic;
  }
  return m;
}

TEST(SysTopics, MosquittosCommonTopicsFromASnapshot) {
  auto load = make_sys_load();
  const auto m = as_map(sys_topics(sample(), &load));
  EXPECT_EQ(m.at("$SYS/broker/version"), "outpost 1.2.3");
  EXPECT_EQ(m.at("$SYS/broker/uptime"), "42 seconds");
  EXPECT_EQ(m.at("$SYS/broker/clients/connected"), "5");
  EXPECT_EQ(m.at("$SYS/broker/clients/disconnected"), "2");
  EXPECT_EQ(m.at("$SYS/broker/clients/total"), "7");
  EXPECT_EQ(m.at("$SYS/broker/clients/maximum"), "7");
  EXPECT_EQ(m.at("$SYS/broker/messages/received"), "15");  // the broker's own are not received
  EXPECT_EQ(m.at("$SYS/broker/messages/sent"), "23");
  EXPECT_EQ(m.at("$SYS/broker/messages/stored"), "8");
  EXPECT_EQ(m.at("$SYS/broker/publish/messages/received"), "10");
  EXPECT_EQ(m.at("$SYS/broker/publish/messages/sent"), "20");
  EXPECT_EQ(m.at("$SYS/broker/publish/messages/dropped"), "3");
  EXPECT_EQ(m.at("$SYS/broker/bytes/received"), "1010");
  EXPECT_EQ(m.at("$SYS/broker/bytes/sent"), "2020");
  EXPECT_EQ(m.at("$SYS/broker/subscriptions/count"), "11");
  EXPECT_EQ(m.at("$SYS/broker/retained messages/count"), "3");
  EXPECT_EQ(m.at("$SYS/broker/store/messages/count"), "8");
  EXPECT_EQ(m.at("$SYS/broker/store/messages/bytes"), "800");
  EXPECT_EQ(m.at("$SYS/broker/load/messages/received/1min"), "0.00");
  EXPECT_EQ(m.at("$SYS/broker/load/bytes/sent/15min"), "0.00");
  EXPECT_EQ(m.at("$SYS/broker/listeners/mqtt/1883/connections"), "4");
  EXPECT_EQ(m.at("$SYS/broker/amqp/queues/orders/messages"), "12");
  EXPECT_EQ(m.at("$SYS/broker/amqp/queues/orders/consumers"), "2");
  EXPECT_EQ(m.count("$SYS/broker/amqp/queues/bad+name/messages"), 0u);  // not a topic name
}

TEST(LoadAverages, ConvergeOnTheRatePerMinute) {
  LoadAverages load({"x"});
  load.update(0, {0});
  std::uint64_t total = 0;
  for (int i = 0; i < 6 * 60; ++i) {  // an hour at 10 per second, sampled every 10 s
    total += 100;
    load.update(10, {total});
  }
  EXPECT_NEAR(load.averages(0)[0], 600.0, 0.5);
  EXPECT_NEAR(load.averages(0)[1], 600.0, 0.5);
  EXPECT_NEAR(load.averages(0)[2], 600.0 * (1 - std::exp(-3600.0 / 900.0)), 0.5);
  // Then nothing: the one-minute average falls first.
  for (int i = 0; i < 6; ++i) load.update(10, {total});
  EXPECT_LT(load.averages(0)[0], 600.0 * std::exp(-1.0) + 1);
  EXPECT_GT(load.averages(0)[1], load.averages(0)[0]);
}

TEST(Prometheus, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

// A small reader of the text format: every sample line belongs to the family declared
// last by # HELP and # TYPE, counters end in _total, label syntax is well formed.
TEST(Prometheus, TheTextFormatIsWellFormed) {
  const std::string text = prometheus_text(sample());
  std::istringstream in(text);
  std::string line, family, type;
  std::set<std::string> families;
  const std::regex sample_re(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*)\})? (-?[0-9.e+-]+|\+Inf|NaN)$)");
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(families.insert(family).second) << "family twice: " << family;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      type = line.substr(line.rfind(' ') + 1);
      if (type == "counter") {
        EXPECT_TRUE(family.ends_with("_total")) << family;
      }
      continue;
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, sample_re)) << line;
    const std::string name = m[1];
    if (type == "histogram") {
      EXPECT_TRUE(name == family + "_bucket" || name == family + "_sum" || name == family + "_count") << line;
    } else {
      EXPECT_EQ(name, family) << line;
    }
    ++samples;
  }
  EXPECT_GT(samples, 50);
  EXPECT_NE(text.find("outpost_messages_received_total{protocol=\"mqtt\"} 10\n"), std::string::npos);
  EXPECT_NE(text.find("outpost_messages_dropped_total{protocol=\"amqp\",reason=\"expired\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("outpost_connections{listener=\"::1:5672\",protocol=\"amqp\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("outpost_amqp_queue_messages{queue=\"quote\\\"d\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("outpost_plugin_bridge_forwarded_total{instance=\"cloud2\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("outpost_plugin_bridge_connected{instance=\"cloud\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("Bad-Name"), std::string::npos);
  // Histogram buckets are cumulative and end with +Inf = _count.
  EXPECT_NE(text.find("outpost_store_commit_duration_seconds_bucket{le=\"0.0005\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("outpost_store_commit_duration_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("outpost_store_commit_duration_seconds_count 4\n"), std::string::npos);
  EXPECT_NE(text.find("outpost_store_commit_duration_seconds_sum 3.0005\n"), std::string::npos);
}

}  // namespace
}  // namespace outpost::observe
