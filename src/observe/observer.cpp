#include "observe/observer.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string_view>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

namespace outpost::observe {

std::uint64_t Snapshot::received_bytes() const {
  std::uint64_t n = 0;
  for (const auto& l : listeners) n += l.received_bytes;
  return n;
}

std::uint64_t Snapshot::sent_bytes() const {
  std::uint64_t n = 0;
  for (const auto& l : listeners) n += l.sent_bytes;
  return n;
}

ProcessSample sample_process() {
  ProcessSample p;
  const long page = sysconf(_SC_PAGESIZE);
  if (std::ifstream statm("/proc/self/statm"); statm) {
    std::uint64_t size = 0, resident = 0;
    if (statm >> size >> resident) {
      p.virtual_bytes = size * static_cast<std::uint64_t>(page);
      p.resident_bytes = resident * static_cast<std::uint64_t>(page);
    }
  }
  if (DIR* d = opendir("/proc/self/fd"); d != nullptr) {
    std::uint64_t n = 0;
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    p.open_fds = n > 0 ? n - 1 : 0;  // not the descriptor opendir itself holds
  }
  if (rlimit r{}; getrlimit(RLIMIT_NOFILE, &r) == 0) p.max_fds = r.rlim_cur;
  if (rusage u{}; getrusage(RUSAGE_SELF, &u) == 0) {
    p.cpu_seconds = static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
                    static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  }
  return p;
}

Observer::Observer(core::Broker& broker, std::string version, std::uint64_t store_max_bytes)
    : broker_(broker),
      version_(std::move(version)),
      store_max_bytes_(store_max_bytes),
      started_(std::chrono::steady_clock::now()),
      start_time_unix_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()) {}

Snapshot Observer::collect() {
  Snapshot s;
  s.version = version_;
  s.start_time_unix = start_time_unix_;
  s.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  s.counters = broker_.counters().read();
  s.mqtt_sessions = broker_.sessions().size();
  s.mqtt_sessions_connected = broker_.sessions().connected();
  s.subscriptions = broker_.mqtt_exchange().binding_count();
  s.retained = broker_.retained().size();
  s.store_persistent = broker_.persistent();
  s.store_max_bytes = store_max_bytes_;
  s.store = broker_.store().stats();
  s.process = sample_process();
  for (const auto& c : collectors_) c(s);
  // The most clients seen at once, as far as the samples tell.
  std::uint64_t max = clients_maximum_.load(std::memory_order_relaxed);
  while (s.clients_connected > max && !clients_maximum_.compare_exchange_weak(max, s.clients_connected)) {
  }
  s.clients_maximum = std::max(max, s.clients_connected);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  {
    std::lock_guard lock(history_mutex_);
    if (history_.empty() || now - history_.back().t >= 2.0) {
      history_.push_back({now, messages_received(s), s.counters[core::Counter::delivered]});
    }
    while (!history_.empty() && now - history_.front().t > 900.0) history_.pop_front();
  }
  return s;
}

std::vector<HistoryPoint> Observer::history() const {
  std::lock_guard lock(history_mutex_);
  return {history_.begin(), history_.end()};
}

}  // namespace outpost::observe
