// IoThreads: N threads, each running its own io_context. A connection is placed on one
// of them when accepted and stays there for its whole life, so its handlers never run
// concurrently and need no locks.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace outpost::server {

class IoThreads {
 public:
  explicit IoThreads(unsigned count);
  ~IoThreads();
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  std::size_t size() const noexcept { return contexts_.size(); }
  boost::asio::io_context& context(std::size_t i) { return *contexts_[i]; }
  // Round-robin choice for a new connection. Any thread.
  std::size_t next() noexcept { return next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size(); }

  void start();
  // Lets the threads finish (they return once their contexts run out of work) or, with
  // force, stops the contexts at once; then joins them.
  void stop(bool force);

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace outpost::server
