// LogLimiter: at most one log line per interval for one subject (a queue, ...), whatever
// thread wants to write it, counting the lines held back so the next one can say how many.
//
// Threading: any thread; lock-free. The common case, a line held back, is one relaxed
// load and one relaxed add.
#pragma once

#include <atomic>
#include <cstdint>

namespace outpost::core {

class LogLimiter {
 public:
  // True when a line may be written at `now_ms` (any monotonic clock in milliseconds);
  // `suppressed` is then how many were held back since the last one written. False: the
  // caller writes nothing, and this one is counted.
  bool allow(std::int64_t now_ms, std::uint64_t& suppressed, std::int64_t interval_ms = 1000) noexcept {
    std::int64_t next = next_ms_.load(std::memory_order_relaxed);
    if (now_ms < next || !next_ms_.compare_exchange_strong(next, now_ms + interval_ms, std::memory_order_relaxed)) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }

 private:
  std::atomic<std::int64_t> next_ms_{INT64_MIN};
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace outpost::core
