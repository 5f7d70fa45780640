#include "server/io_threads.hpp"
#include "server/listener_context.hpp"

#include <spdlog/spdlog.h>

namespace outpost::server {

IoThreads::IoThreads(unsigned count) {
  if (count == 0) count = 1;
  for (unsigned i = 0; i < count; ++i) {
    // One thread runs each context, and a socket is only ever used by the thread of its
    // context, so the reactor needs no lock per I/O operation. Posts from other threads
    // (wake-ups, hand-overs) and socket registration by the acceptor's thread stay locked.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
}

IoThreads::~IoThreads() {
  stop();
  join();
}

namespace {
thread_local std::size_t t_io_thread = 0;
}  // namespace

std::size_t current_io_thread() noexcept { return t_io_thread; }

void IoThreads::start() {
  if (!threads_.empty()) return;
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([c = contexts_[i].get(), i] {
      t_io_thread = i;
      for (;;) {
        try {
          c->run();
          return;
        } catch (const std::exception& e) {
          // A handler must never throw; if one does, log it and keep the thread serving.
          spdlog::error("I/O thread: unexpected exception: {}", e.what());
        }
      }
    });
  }
}

void IoThreads::stop() {
  guards_.clear();
  for (auto& ctx : contexts_) ctx->stop();
}

void IoThreads::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace outpost::server
