// Observer: makes Snapshots. The core's and the store's figures it reads itself; the
// collectors main.cpp adds fill in the rest (listeners, AMQP queues, plugin metrics).
//
// Threading: add() before the broker starts (main thread); collect() from any thread
// (callers: the $SYS timer and the http listener's handler, both on I/O threads).
#pragma once

#include "core/broker.hpp"
#include "observe/snapshot.hpp"
#include "observe/status_json.hpp"

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace outpost::observe {

class Observer {
 public:
  Observer(core::Broker& broker, std::string version, std::uint64_t store_max_bytes);
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  void add(CollectorFn collector) { collectors_.push_back(std::move(collector)); }
  // A snapshot now; its message totals join the history when the last entry is at least
  // two seconds old.
  Snapshot collect();
  // The message totals of the last 15 minutes, oldest first (as often as snapshots were
  // taken: every $SYS round, every status poll).
  std::vector<HistoryPoint> history() const;

 private:
  core::Broker& broker_;
  const std::string version_;
  const std::uint64_t store_max_bytes_;
  const std::chrono::steady_clock::time_point started_;
  const double start_time_unix_;
  std::vector<CollectorFn> collectors_;
  std::atomic<std::uint64_t> clients_maximum_{0};
  mutable std::mutex history_mutex_;
  std::deque<HistoryPoint> history_;
};

}  // namespace outpost::observe
