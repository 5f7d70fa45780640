// The $SYS topics of a snapshot: Mosquitto's common ones (so existing dashboards work)
// and Outpost's own (listeners, AMQP queues, the store). Values are plain text.
#pragma once

#include "observe/load_average.hpp"
#include "observe/snapshot.hpp"

#include <string>
#include <vector>

namespace outpost::observe {

struct SysTopic {
  std::string topic;
  std::string value;
};

// The load series $SYS publishes, in the order sys_load_totals gives them.
LoadAverages make_sys_load();
std::vector<std::uint64_t> sys_load_totals(const Snapshot& s);

// Every topic with its value; the load averages when `load` is given.
std::vector<SysTopic> sys_topics(const Snapshot& s, const LoadAverages* load);

}  // namespace outpost::observe
