#include "observe/sys_topics.hpp"

#include "core/topic.hpp"
#include "observe/status_json.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace outpost::observe {

namespace {

using core::Counter;
using core::Protocol;

// Messages clients (and plugins) published into the broker; the broker's own (wills of
// expired sessions, dead letters, $SYS) are not received from anyone.
std::uint64_t received_messages(const Snapshot& s) { return messages_received(s); }
std::uint64_t dropped_messages(const Snapshot& s) { return messages_dropped(s); }

}  // namespace

LoadAverages make_sys_load() {
  return LoadAverages({"messages/received", "messages/sent", "publish/received", "publish/sent", "publish/dropped",
                       "bytes/received", "bytes/sent"});
}

std::vector<std::uint64_t> sys_load_totals(const Snapshot& s) {
  return {received_messages(s),
          s.counters[Counter::delivered],
          s.counters.at(Protocol::mqtt, Counter::published),
          s.counters.at(Protocol::mqtt, Counter::delivered),
          dropped_messages(s),
          s.received_bytes(),
          s.sent_bytes()};
}

std::vector<SysTopic> sys_topics(const Snapshot& s, const LoadAverages* load) {
  std::vector<SysTopic> out;
  out.reserve(64 + s.listeners.size() + 2 * s.amqp_queues.size());
  auto add = [&out](std::string topic, std::string value) { out.push_back({std::move(topic), std::move(value)}); };
  auto num = [&add](std::string topic, std::uint64_t value) { add(std::move(topic), std::to_string(value)); };

  add("$SYS/broker/version", "outpost " + s.version);
  add("$SYS/broker/uptime", fmt::format("{} seconds", static_cast<std::uint64_t>(s.uptime_seconds)));
  const std::uint64_t disconnected = s.mqtt_sessions - std::min(s.mqtt_sessions, s.mqtt_sessions_connected);
  num("$SYS/broker/clients/connected", s.clients_connected);
  num("$SYS/broker/clients/disconnected", disconnected);
  num("$SYS/broker/clients/total", s.clients_connected + disconnected);
  num("$SYS/broker/clients/maximum", s.clients_maximum);
  num("$SYS/broker/messages/received", received_messages(s));
  num("$SYS/broker/messages/sent", s.counters[Counter::delivered]);
  num("$SYS/broker/messages/stored", s.store_persistent ? s.store.messages : s.retained);
  num("$SYS/broker/publish/messages/received", s.counters.at(Protocol::mqtt, Counter::published));
  num("$SYS/broker/publish/messages/sent", s.counters.at(Protocol::mqtt, Counter::delivered));
  num("$SYS/broker/publish/messages/dropped", dropped_messages(s));
  num("$SYS/broker/bytes/received", s.received_bytes());
  num("$SYS/broker/bytes/sent", s.sent_bytes());
  num("$SYS/broker/subscriptions/count", s.subscriptions);
  num("$SYS/broker/retained messages/count", s.retained);
  num("$SYS/broker/store/messages/count", s.store.messages);
  num("$SYS/broker/store/messages/bytes", s.store.bytes);
  if (load != nullptr) {
    static constexpr const char* kWindows[] = {"1min", "5min", "15min"};
    for (std::size_t i = 0; i < load->names().size(); ++i) {
      const auto& a = load->averages(i);
      for (std::size_t w = 0; w < 3; ++w) {
        add(fmt::format("$SYS/broker/load/{}/{}", load->names()[i], kWindows[w]), fmt::format("{:.2f}", a[w]));
      }
    }
  }

  // Outpost's own.
  num("$SYS/broker/memory/resident", s.process.resident_bytes);
  num("$SYS/broker/store/commits", s.store.commits);
  if (s.store.commits > 0) {
    add("$SYS/broker/store/commit/average seconds",
        fmt::format("{:.6f}", static_cast<double>(s.store.commit_microseconds_sum) / 1e6 / static_cast<double>(s.store.commits)));
  }
  num("$SYS/broker/refused/not authorized", s.counters[Counter::refused_not_authorized]);
  num("$SYS/broker/refused/store full", s.counters[Counter::refused_store_full]);
  num("$SYS/broker/refused/limits", s.counters[Counter::refused_by_limit]);
  for (const auto& l : s.listeners) {
    const std::string base = fmt::format("$SYS/broker/listeners/{}/{}", l.protocol, l.port);
    num(base + "/connections", l.connections);
    num(base + "/bytes/received", l.received_bytes);
    num(base + "/bytes/sent", l.sent_bytes);
  }
  for (const auto& q : s.amqp_queues) {
    const std::string base = "$SYS/broker/amqp/queues/" + q.name;
    // A queue whose name cannot be part of a topic name ('+', '#', NUL, ...) is left out.
    if (q.name.empty() || !core::valid_topic_name(base)) continue;
    num(base + "/messages", q.messages);
    num(base + "/consumers", q.consumers);
  }
  return out;
}

}  // namespace outpost::observe
