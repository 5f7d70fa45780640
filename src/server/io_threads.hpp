// IoThreads: N threads, each running its own io_context. A connection is placed on one
// of them when accepted and stays there for its whole life, so its handlers never run
// concurrently and need no locks.
//
// Threading: construct, start(), stop() and join() from the owning (main) thread;
// executor(), context(), next() and size() from any thread. join() blocks and must not
// be called from one of the I/O threads.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace outpost::server {

class IoThreads {
 public:
  explicit IoThreads(unsigned count);  // 0 counts as 1
  ~IoThreads();                        // stop() and join()
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  std::size_t size() const noexcept { return contexts_.size(); }
  boost::asio::io_context& context(std::size_t i) { return *contexts_[i]; }
  boost::asio::io_context::executor_type executor(std::size_t i) { return contexts_[i]->get_executor(); }
  // Round-robin choice of the thread for a new connection.
  std::size_t next() noexcept { return next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size(); }

  // Starts one thread per context; they run until stop().
  void start();
  // Stops every context: handlers not yet run are dropped when the threads are joined
  // and the contexts destroyed. Does not block.
  void stop();
  // Waits for the threads to return. Blocks.
  void join();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;  // keep run() going while there is nothing to do
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace outpost::server
