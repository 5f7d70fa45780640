#include "observe/admin_json.hpp"

#include "observe/status_json.hpp"

#include <fmt/format.h>

#include <ctime>
#include <iterator>

namespace outpost::observe {

std::string iso8601_utc(std::int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::string clients_json(const std::vector<core::ClientRow>& rows) {
  std::string o = "[";
  auto out = std::back_inserter(o);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i].record;
    const auto& f = rows[i].figures;
    fmt::format_to(out,
                   "{}{{\"id\":{},\"protocol\":{},\"protocol_version\":{},\"listener\":{},\"remote_address\":{},"
                   "\"user\":{},\"connected_since\":{},\"connected_since_unix\":{},\"subscriptions\":{},"
                   "\"queued\":{},\"in_flight\":{}}}",
                   i ? "," : "", json_string(r.id), json_string(core::to_string(r.protocol)),
                   json_string(r.protocol_version), json_string(r.listener), json_string(r.remote_address),
                   r.user.empty() ? std::string("null") : json_string(r.user), json_string(iso8601_utc(r.connected_unix_ms)),
                   r.connected_unix_ms / 1000, f.subscriptions, f.queued, f.in_flight);
  }
  o += ']';
  return o;
}

std::string queues_json(const std::vector<QueueSample>& queues) {
  std::string o = "[";
  auto out = std::back_inserter(o);
  for (std::size_t i = 0; i < queues.size(); ++i) {
    const auto& q = queues[i];
    fmt::format_to(out,
                   "{}{{\"name\":{},\"protocol\":\"amqp\",\"durable\":{},\"messages\":{},\"bytes\":{},\"consumers\":{},"
                   "\"dropped\":{}}}",
                   i ? "," : "", json_string(q.name), q.durable, q.messages, q.bytes, q.consumers, q.dropped);
  }
  o += ']';
  return o;
}

}  // namespace outpost::observe
