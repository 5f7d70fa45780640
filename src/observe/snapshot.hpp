// Snapshot: what the broker is doing, gathered in one go for $SYS, /metrics and the
// status page. The observe library knows the core and the store; what lives above them
// (listeners, AMQP queues, plugins) is filled in by collectors that main.cpp registers.
//
// Threading: collect() on any thread; each collector must be safe to call from it.
#pragma once

#include "core/counters.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace outpost::observe {

struct ListenerSample {
  std::string protocol;  // "mqtt", "mqtts", "ws", "wss", "amqp", "amqps", "http", "https"
  std::string address;
  std::uint16_t port = 0;
  std::uint64_t connections = 0;  // open sockets
  std::uint64_t received_bytes = 0;
  std::uint64_t sent_bytes = 0;
};

struct QueueSample {
  std::string name;
  bool durable = false;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t consumers = 0;
  std::uint64_t dropped = 0;  // refused or evicted by the queue's limits
};

struct PluginMetricSample {
  std::string instance;
  std::string name;  // as the plugin named it; the metric is outpost_plugin_<name>
  std::string help;
  bool gauge = false;
  std::int64_t value = 0;
};

struct ProcessSample {
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;
  double cpu_seconds = 0;
};

struct Snapshot {
  std::string version;
  double start_time_unix = 0;  // seconds
  double uptime_seconds = 0;
  core::CounterTotals counters;
  std::vector<ListenerSample> listeners;
  std::uint64_t mqtt_sessions = 0;            // MQTT sessions held: connected and detached
  std::uint64_t mqtt_sessions_connected = 0;
  std::uint64_t clients_connected = 0;        // MQTT and AMQP connections (open sockets)
  std::uint64_t clients_maximum = 0;          // the most clients_connected seen
  std::uint64_t subscriptions = 0;            // bindings on the MQTT exchange
  std::uint64_t retained = 0;
  bool store_persistent = false;
  std::uint64_t store_max_bytes = 0;          // 0: no limit
  store::StoreStats store;
  std::vector<QueueSample> amqp_queues;
  std::vector<PluginMetricSample> plugin_metrics;
  ProcessSample process;

  std::uint64_t received_bytes() const;  // over every listener
  std::uint64_t sent_bytes() const;
};

using CollectorFn = std::function<void(Snapshot&)>;

// The process's own figures from /proc/self (Linux): RSS, open descriptors, CPU time.
ProcessSample sample_process();

}  // namespace outpost::observe
