#include "observe/prometheus.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <iterator>
#include <map>

namespace outpost::observe {

using core::Counter;
using core::Protocol;

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type);
  }
  // labels: preformatted `a="x",b="y"` (escaped) or empty.
  void sample(std::string_view name, std::string_view labels, std::uint64_t value) {
    if (labels.empty()) fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  void sample_signed(std::string_view name, std::string_view labels, std::int64_t value) {
    if (labels.empty()) fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  void sample_double(std::string_view name, std::string_view labels, double value) {
    if (labels.empty()) fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  // One metric family of a single value.
  void single(std::string_view name, std::string_view type, std::string_view help, std::uint64_t value) {
    family(name, type, help);
    sample(name, {}, value);
  }
  template <std::size_t N, std::size_t M>
  void histogram(std::string_view name, std::string_view help, const std::array<double, N>& bounds,
                 const std::array<std::uint64_t, M>& counts, double sum) {
    static_assert(M == N + 1);
    family(name, "histogram", help);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < N; ++i) {
      cumulative += counts[i];
      fmt::format_to(std::back_inserter(out_), "{}_bucket{{le=\"{}\"}} {}\n", name, bounds[i], cumulative);
    }
    cumulative += counts[N];
    fmt::format_to(std::back_inserter(out_), "{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
    fmt::format_to(std::back_inserter(out_), "{}_sum {}\n", name, sum);
    fmt::format_to(std::back_inserter(out_), "{}_count {}\n", name, cumulative);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

constexpr Protocol kProtocols[] = {Protocol::mqtt, Protocol::amqp, Protocol::plugin, Protocol::broker};

void per_protocol(Writer& w, std::string_view name, std::string_view help, const Snapshot& s, Counter c,
                  std::string_view extra_labels = {}) {
  w.family(name, "counter", help);
  for (Protocol p : kProtocols) {
    std::string labels = fmt::format("protocol=\"{}\"", core::to_string(p));
    if (!extra_labels.empty()) labels += fmt::format(",{}", extra_labels);
    w.sample(name, labels, s.counters.at(p, c));
  }
}

// One family, one sample per protocol and reason.
void per_reason(Writer& w, std::string_view name, std::string_view help, const Snapshot& s,
                std::initializer_list<std::pair<Counter, std::string_view>> reasons) {
  w.family(name, "counter", help);
  for (const auto& [c, reason] : reasons) {
    for (Protocol p : kProtocols) {
      w.sample(name, fmt::format("protocol=\"{}\",reason=\"{}\"", core::to_string(p), reason), s.counters.at(p, c));
    }
  }
}

bool valid_metric_suffix(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

std::string prometheus_text(const Snapshot& s) {
  Writer w;
  w.family("outpost_build_info", "gauge", "The running broker's version (always 1)");
  w.sample("outpost_build_info", fmt::format("version=\"{}\"", escape_label_value(s.version)), 1);
  w.family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds");
  w.sample_double("process_start_time_seconds", {}, s.start_time_unix);

  per_protocol(w, "outpost_messages_received_total",
               "Messages that entered the broker and were routed, by the protocol of their publisher "
               "(broker: wills of expired sessions, dead letters, $SYS)",
               s, Counter::published);
  per_protocol(w, "outpost_messages_delivered_total", "Messages sent to subscribers and consumers", s,
               Counter::delivered);
  per_protocol(w, "outpost_queue_deliveries_total", "Copies of messages put in subscriber and consumer queues", s,
               Counter::routed);
  per_reason(w, "outpost_messages_dropped_total", "Messages or copies the broker dropped, by reason", s,
             {{Counter::dropped_queue_full, "queue_full"},
              {Counter::dropped_no_subscribers, "no_subscribers"},
              {Counter::expired, "expired"}});
  per_reason(w, "outpost_messages_refused_total", "Publishes, connects, subscribes and consumes refused, by reason", s,
             {{Counter::refused_not_authorized, "not_authorized"},
              {Counter::refused_store_full, "store_full"},
              {Counter::refused_by_limit, "limit"}});
  per_protocol(w, "outpost_publish_throttled_total", "Pauses of publishers above their configured rate", s,
               Counter::publish_throttled);

  w.family("outpost_connections", "gauge", "Open connections of each listener (in a handshake or connected)");
  for (const auto& l : s.listeners) {
    w.sample("outpost_connections",
             fmt::format("listener=\"{}:{}\",protocol=\"{}\"", escape_label_value(l.address), l.port, l.protocol),
             l.connections);
  }
  w.family("outpost_received_bytes_total", "counter", "Bytes received by each listener's connections");
  for (const auto& l : s.listeners) {
    w.sample("outpost_received_bytes_total",
             fmt::format("listener=\"{}:{}\",protocol=\"{}\"", escape_label_value(l.address), l.port, l.protocol),
             l.received_bytes);
  }
  w.family("outpost_sent_bytes_total", "counter", "Bytes sent by each listener's connections");
  for (const auto& l : s.listeners) {
    w.sample("outpost_sent_bytes_total",
             fmt::format("listener=\"{}:{}\",protocol=\"{}\"", escape_label_value(l.address), l.port, l.protocol),
             l.sent_bytes);
  }
  w.single("outpost_clients_connected", "gauge", "MQTT and AMQP connections open now", s.clients_connected);
  w.single("outpost_clients_maximum", "gauge", "The most MQTT and AMQP connections seen open at once since the start",
           s.clients_maximum);
  w.family("outpost_mqtt_sessions", "gauge", "MQTT sessions the broker holds, by state");
  w.sample("outpost_mqtt_sessions", "state=\"connected\"", s.mqtt_sessions_connected);
  w.sample("outpost_mqtt_sessions", "state=\"detached\"", s.mqtt_sessions - std::min(s.mqtt_sessions, s.mqtt_sessions_connected));
  w.single("outpost_subscriptions", "gauge", "Subscriptions and bindings on the MQTT topic exchange", s.subscriptions);
  w.single("outpost_retained_messages", "gauge", "Retained messages", s.retained);

  w.single("outpost_store_messages", "gauge", "Messages in the store", s.store.messages);
  w.single("outpost_store_bytes", "gauge", "Bytes of the messages in the store (topic, payload, properties)",
           s.store.bytes);
  if (s.store_max_bytes > 0) {
    w.single("outpost_store_max_bytes", "gauge", "persistence.max_bytes: the store refuses durable messages above it",
             s.store_max_bytes);
  }
  w.single("outpost_store_commits_total", "counter", "Transactions the store committed", s.store.commits);
  w.single("outpost_store_commit_failures_total", "counter", "Store commits that failed and were retried",
           s.store.commit_failures);
  w.single("outpost_store_operations_total", "counter", "Write operations the store applied", s.store.operations);
  w.single("outpost_store_coalesced_operations_total", "counter",
           "Write operations cancelled before they reached the disk (a message acknowledged before its commit)",
           s.store.coalesced);
  w.histogram("outpost_store_commit_duration_seconds", "How long each store commit took, writes and sync",
              store::kCommitSecondsBounds, s.store.commit_seconds,
              static_cast<double>(s.store.commit_microseconds_sum) / 1e6);
  w.histogram("outpost_store_commit_operations", "Write operations per store commit (group commit batch size)",
              store::kCommitOperationsBounds, s.store.commit_operations, static_cast<double>(s.store.operations));

  if (!s.amqp_queues.empty()) {
    auto queue_family = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
      w.family(name, type, help);
      for (const auto& q : s.amqp_queues) {
        w.sample(name, fmt::format("queue=\"{}\"", escape_label_value(q.name)), value(q));
      }
    };
    queue_family("outpost_amqp_queue_messages", "gauge", "Messages in each AMQP queue",
                 [](const QueueSample& q) { return q.messages; });
    queue_family("outpost_amqp_queue_bytes", "gauge", "Bytes of message bodies in each AMQP queue",
                 [](const QueueSample& q) { return q.bytes; });
    queue_family("outpost_amqp_queue_consumers", "gauge", "Consumers of each AMQP queue",
                 [](const QueueSample& q) { return q.consumers; });
    queue_family("outpost_amqp_queue_dropped_total", "counter",
                 "Messages each AMQP queue refused or evicted because of its limits",
                 [](const QueueSample& q) { return q.dropped; });
  }

  // Plugin metrics: one family per name, one sample per instance.
  std::map<std::string, std::vector<const PluginMetricSample*>> plugin_families;
  for (const auto& m : s.plugin_metrics) {
    if (!valid_metric_suffix(m.name)) continue;
    std::string name = "outpost_plugin_" + m.name;
    if (!m.gauge && !name.ends_with("_total")) name += "_total";
    plugin_families[name].push_back(&m);
  }
  for (const auto& [name, samples] : plugin_families) {
    const auto* first = samples.front();
    w.family(name, first->gauge ? "gauge" : "counter", first->help.empty() ? name : first->help);
    for (const auto* m : samples) {
      w.sample_signed(name, fmt::format("instance=\"{}\"", escape_label_value(m->instance)), m->value);
    }
  }

  w.single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes", s.process.resident_bytes);
  w.single("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes", s.process.virtual_bytes);
  w.single("process_open_fds", "gauge", "Open file descriptors", s.process.open_fds);
  w.single("process_max_fds", "gauge", "The limit of open file descriptors", s.process.max_fds);
  w.family("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds");
  w.sample_double("process_cpu_seconds_total", {}, s.process.cpu_seconds);
  return w.take();
}

}  // namespace outpost::observe
