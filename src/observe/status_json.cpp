#include "observe/status_json.hpp"

#include <fmt/format.h>

#include <iterator>
#include <map>

namespace outpost::observe {

namespace {
constexpr std::string_view kPage =
#include "status_page.inc"
    ;
}  // namespace

std::string_view status_page_html() { return kPage; }

std::uint64_t messages_received(const Snapshot& s) {
  using core::Counter;
  using core::Protocol;
  return s.counters.at(Protocol::mqtt, Counter::published) + s.counters.at(Protocol::amqp, Counter::published) +
         s.counters.at(Protocol::plugin, Counter::published);
}

std::uint64_t messages_dropped(const Snapshot& s) {
  return s.counters[core::Counter::dropped_queue_full] + s.counters[core::Counter::expired];
}

std::string json_string(std::string_view v) {
  std::string out;
  out.reserve(v.size() + 2);
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::string status_json(const Snapshot& s, const std::vector<HistoryPoint>& history) {
  std::string o;
  auto out = std::back_inserter(o);
  fmt::format_to(out,
                 "{{\"version\":{},\"uptime_seconds\":{},\"clients_connected\":{},\"clients_maximum\":{},"
                 "\"messages_received\":{},\"messages_sent\":{},\"messages_dropped\":{},\"subscriptions\":{},"
                 "\"retained\":{},\"memory_resident_bytes\":{},",
                 json_string(s.version), static_cast<std::uint64_t>(s.uptime_seconds), s.clients_connected,
                 s.clients_maximum, messages_received(s), s.counters[core::Counter::delivered], messages_dropped(s),
                 s.subscriptions, s.retained, s.process.resident_bytes);
  fmt::format_to(out, "\"store\":{{\"persistent\":{},\"messages\":{},\"bytes\":{},\"max_bytes\":{},\"commits\":{}}},",
                 s.store_persistent, s.store.messages, s.store.bytes, s.store_max_bytes, s.store.commits);
  o += "\"listeners\":[";
  for (std::size_t i = 0; i < s.listeners.size(); ++i) {
    const auto& l = s.listeners[i];
    fmt::format_to(out, "{}{{\"protocol\":{},\"address\":{},\"port\":{},\"connections\":{},\"received_bytes\":{},"
                        "\"sent_bytes\":{}}}",
                   i ? "," : "", json_string(l.protocol), json_string(l.address), l.port, l.connections,
                   l.received_bytes, l.sent_bytes);
  }
  o += "],\"queues\":[";
  for (std::size_t i = 0; i < s.amqp_queues.size(); ++i) {
    const auto& q = s.amqp_queues[i];
    fmt::format_to(out, "{}{{\"name\":{},\"durable\":{},\"messages\":{},\"bytes\":{},\"consumers\":{}}}",
                   i ? "," : "", json_string(q.name), q.durable, q.messages, q.bytes, q.consumers);
  }
  // Bridges: plugin instances that report bridge_connected.
  struct Bridge {
    std::int64_t connected = 0, queued = 0, forwarded = 0, received = 0;
  };
  std::map<std::string, Bridge> bridges;
  std::map<std::string, bool> is_bridge;
  for (const auto& m : s.plugin_metrics) {
    if (m.name == "bridge_connected") is_bridge[m.instance] = true;
  }
  for (const auto& m : s.plugin_metrics) {
    if (!is_bridge.count(m.instance)) continue;
    auto& b = bridges[m.instance];
    if (m.name == "bridge_connected") b.connected = m.value;
    else if (m.name == "bridge_queued") b.queued = m.value;
    else if (m.name == "bridge_forwarded_total") b.forwarded = m.value;
    else if (m.name == "bridge_received_total") b.received = m.value;
  }
  o += "],\"bridges\":[";
  bool first = true;
  for (const auto& [name, b] : bridges) {
    fmt::format_to(out, "{}{{\"name\":{},\"connected\":{},\"queued\":{},\"forwarded\":{},\"received\":{}}}",
                   first ? "" : ",", json_string(name), b.connected != 0, b.queued, b.forwarded, b.received);
    first = false;
  }
  o += "],\"history\":[";
  for (std::size_t i = 0; i < history.size(); ++i) {
    fmt::format_to(out, "{}{{\"t\":{:.3f},\"received\":{},\"sent\":{}}}", i ? "," : "", history[i].t,
                   history[i].received, history[i].sent);
  }
  o += "]}";
  return o;
}

}  // namespace outpost::observe
