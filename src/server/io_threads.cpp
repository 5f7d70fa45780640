#include "server/io_threads.hpp"

#include <spdlog/spdlog.h>

namespace outpost::server {

IoThreads::IoThreads(unsigned count) {
  if (count == 0) count = 1;
  for (unsigned i = 0; i < count; ++i) {
    // One thread per context: the concurrency hint lets Asio skip internal locking.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
}

IoThreads::~IoThreads() {
  stop();
  join();
}

void IoThreads::start() {
  if (!threads_.empty()) return;
  for (auto& ctx : contexts_) {
    threads_.emplace_back([c = ctx.get()] {
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
