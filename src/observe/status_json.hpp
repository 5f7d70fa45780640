// The status page (GET /) and the JSON it polls (GET /api/v1/status): the snapshot's
// headline figures, the listeners, the AMQP queues, the bridges and a history of the
// message totals for the rate chart.
#pragma once

#include "observe/snapshot.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace outpost::observe {

// The message totals at one moment (seconds since the Unix epoch).
struct HistoryPoint {
  double t = 0;
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
};

// The status page: plain HTML and a little JavaScript, no external resource.
std::string_view status_page_html();

std::string status_json(const Snapshot& s, const std::vector<HistoryPoint>& history);

// Totals as $SYS and the status page show them: messages clients and plugins published,
// messages sent, copies dropped (full queues, expiry).
std::uint64_t messages_received(const Snapshot& s);
std::uint64_t messages_dropped(const Snapshot& s);

// A JSON string literal, quotes included.
std::string json_string(std::string_view v);

}  // namespace outpost::observe
