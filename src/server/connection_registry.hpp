// ConnectionRegistry: the live connections of one I/O thread, so a graceful shutdown can
// reach every session, and the thread's deadline sweep (keepalive, connect timeout).
// Each I/O thread has its own registry and only that thread touches it, so adding and
// removing a connection takes no lock; only the total is shared (an atomic the server
// reads from any thread).
//
// Memory: connections are linked through their own ConnectionBase (no node to allocate),
// and one timer per thread checks every deadline, instead of a timer and a pending wait
// per connection. An idle connection costs only its own object.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

namespace outpost::server {

// What the server needs of any connection, whatever its stream type. Called on the
// connection's own thread.
class ConnectionBase {
 public:
  using Clock = std::chrono::steady_clock;

  virtual ~ConnectionBase() = default;
  // Ask the session to say goodbye (Session::on_shutdown), then close gracefully.
  virtual void shutdown() = 0;
  // Close now, without waiting for pending writes.
  virtual void abort() = 0;
  // The deadline set with ConnectionRegistry::set_deadline has passed.
  virtual void deadline_passed() = 0;
  // The security rules were reloaded: the session checks its client again
  // (Session::on_access_changed). Connections still in their handshake have none yet.
  virtual void access_changed() {}
  // Null once the connection is being destroyed.
  virtual std::shared_ptr<ConnectionBase> lock_base() = 0;

 protected:
  // Leaves the registry it is in, if any.
  inline void leave_registry();
  // The registry it is in; null before it is added and once it left.
  class ConnectionRegistry* registry() const noexcept { return registry_; }

 private:
  friend class ConnectionRegistry;
  class ConnectionRegistry* registry_ = nullptr;
  ConnectionBase* prev_ = nullptr;
  ConnectionBase* next_ = nullptr;
  Clock::time_point deadline_ = Clock::time_point::max();
};

class ConnectionRegistry {
 public:
  using Clock = ConnectionBase::Clock;
  // How often deadlines are checked: a deadline fires up to this late.
  static constexpr std::chrono::milliseconds kSweepPeriod{500};

  ConnectionRegistry(std::atomic<std::size_t>& total, boost::asio::io_context& io) : total_(total), timer_(io) {}
  ConnectionRegistry(const ConnectionRegistry&) = delete;
  ConnectionRegistry& operator=(const ConnectionRegistry&) = delete;
  ~ConnectionRegistry() {
    // Connections outlive their registry only at process exit; unlink them so none
    // touches it afterwards.
    while (head_ != nullptr) remove(head_);
  }

  void add(ConnectionBase* c) {
    if (c->registry_ != nullptr) return;
    c->registry_ = this;
    c->next_ = head_;
    if (head_ != nullptr) head_->prev_ = c;
    head_ = c;
    ++size_;
    total_.fetch_add(1, std::memory_order_relaxed);
  }

  void remove(ConnectionBase* c) {
    if (c->registry_ != this) return;
    c->registry_ = nullptr;
    if (c->prev_ != nullptr) c->prev_->next_ = c->next_;
    else head_ = c->next_;
    if (c->next_ != nullptr) c->next_->prev_ = c->prev_;
    c->prev_ = c->next_ = nullptr;
    c->deadline_ = Clock::time_point::max();
    --size_;
    total_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Calls c->deadline_passed() once, at or up to kSweepPeriod after `when`, unless set
  // again first. Clock::time_point::max() clears it.
  void set_deadline(ConnectionBase* c, Clock::time_point when) {
    c->deadline_ = when;
    if (when != Clock::time_point::max() && !sweeping_) arm();
  }

  // Calls f on every live connection. f may end connections (which removes them).
  template <class F>
  void for_each(F&& f) {
    std::vector<std::shared_ptr<ConnectionBase>> all;
    all.reserve(size_);
    for (ConnectionBase* c = head_; c != nullptr; c = c->next_) {
      if (auto s = c->lock_base()) all.push_back(std::move(s));
    }
    for (auto& c : all) f(*c);
  }

  std::size_t size() const noexcept { return size_; }

 private:
  void arm() {
    sweeping_ = true;
    timer_.expires_after(kSweepPeriod);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      sweeping_ = false;
      if (!ec) sweep();
    });
  }

  void sweep() {
    const auto now = Clock::now();
    std::vector<std::shared_ptr<ConnectionBase>> due;
    bool more = false;
    for (ConnectionBase* c = head_; c != nullptr; c = c->next_) {
      if (c->deadline_ <= now) {
        c->deadline_ = Clock::time_point::max();
        if (auto s = c->lock_base()) due.push_back(std::move(s));
      } else if (c->deadline_ != Clock::time_point::max()) {
        more = true;
      }
    }
    // Callbacks may set new deadlines (which re-arms) or end connections.
    for (auto& c : due) c->deadline_passed();
    if (more && !sweeping_) arm();
  }

  std::atomic<std::size_t>& total_;
  boost::asio::steady_timer timer_;
  ConnectionBase* head_ = nullptr;
  std::size_t size_ = 0;
  bool sweeping_ = false;
};

void ConnectionBase::leave_registry() {
  if (registry_ != nullptr) registry_->remove(this);
}

}  // namespace outpost::server
