// ConnectionRegistry: the live connections of one I/O thread, so a graceful shutdown can
// reach every session. Each I/O thread has its own registry and only that thread touches
// it, so adding and removing a connection takes no lock; only the total is shared (an
// atomic the server reads from any thread).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

namespace outpost::server {

// What the server needs of any connection, whatever its stream type. Called on the
// connection's own thread.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Ask the session to say goodbye (Session::on_shutdown), then close gracefully.
  virtual void shutdown() = 0;
  // Close now, without waiting for pending writes.
  virtual void abort() = 0;
};

class ConnectionRegistry {
 public:
  explicit ConnectionRegistry(std::atomic<std::size_t>& total) : total_(total) {}
  ConnectionRegistry(const ConnectionRegistry&) = delete;
  ConnectionRegistry& operator=(const ConnectionRegistry&) = delete;

  void add(ConnectionBase* c, std::weak_ptr<ConnectionBase> w) {
    if (live_.emplace(c, std::move(w)).second) total_.fetch_add(1, std::memory_order_relaxed);
  }
  void remove(ConnectionBase* c) {
    if (live_.erase(c) > 0) total_.fetch_sub(1, std::memory_order_relaxed);
  }
  // Calls f on every live connection. f may end connections (which removes them).
  template <class F>
  void for_each(F&& f) {
    std::vector<std::shared_ptr<ConnectionBase>> all;
    all.reserve(live_.size());
    for (auto& [p, w] : live_) {
      if (auto s = w.lock()) all.push_back(std::move(s));
    }
    for (auto& c : all) f(*c);
  }
  std::size_t size() const noexcept { return live_.size(); }

 private:
  std::atomic<std::size_t>& total_;
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> live_;
};

}  // namespace outpost::server
