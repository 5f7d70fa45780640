// Counters: the broker's message counters, kept per I/O thread and summed when read, so
// counting costs a plain load and store on a cache line no other thread writes (no
// locked read-modify-write on the publish path).
//
// Threading: add() on any thread, to that thread's own slot (made on the thread's first
// add, under a lock taken once per thread). read() from any thread: relaxed loads, so a
// total may miss the increments of the last instant, never tear.
#pragma once

#include "core/client_info.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace outpost::core {

enum class Counter : std::uint8_t {
  published,               // messages that entered through a Publisher and were routed
  routed,                  // queue deliveries accepted
  dropped_queue_full,      // deliveries refused by full queues
  dropped_no_subscribers,  // messages that matched no queue
  refused_not_authorized,  // publishes the access control refused
  refused_store_full,      // durable publishes refused because the store is full
  refused_by_limit,        // connects, subscribes, publishes and consumes refused by `limits:`
  publish_throttled,       // pauses of a publisher above limits.max_publish_rate / _bytes_rate
  delivered,               // messages sent to subscribers and consumers (PUBLISH, basic.deliver/get-ok)
  expired,                 // messages whose expiry passed before they were delivered
  count_
};
const char* to_string(Counter c) noexcept;

inline constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::count_);
// Counted apart for each protocol of the client that caused the count (core::Protocol).
inline constexpr std::size_t kProtocolCount = static_cast<std::size_t>(Protocol::plugin) + 1;

struct CounterTotals {
  std::array<std::array<std::uint64_t, kCounterCount>, kProtocolCount> values{};
  // Over every protocol.
  std::uint64_t operator[](Counter c) const noexcept {
    std::uint64_t sum = 0;
    for (const auto& p : values) sum += p[static_cast<std::size_t>(c)];
    return sum;
  }
  std::uint64_t at(Protocol p, Counter c) const noexcept {
    return values[static_cast<std::size_t>(p)][static_cast<std::size_t>(c)];
  }
};

class Counters {
 public:
  Counters();
  Counters(const Counters&) = delete;
  Counters& operator=(const Counters&) = delete;

  // This thread's counters: take it once for several adds.
  struct alignas(64) Slot {
    std::array<std::array<std::atomic<std::uint64_t>, kCounterCount>, kProtocolCount> values{};
    void add(Protocol p, Counter c, std::uint64_t n = 1) noexcept {
      auto& v = values[static_cast<std::size_t>(p)][static_cast<std::size_t>(c)];
      v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
  };
  Slot& local() noexcept;

  void add(Protocol p, Counter c, std::uint64_t n = 1) noexcept { local().add(p, c, n); }
  CounterTotals read() const;

  // How many counter sets this thread remembers a slot of (sets that are gone are
  // forgotten the next time the thread takes a slot of a set it has not used last).
  static std::size_t sets_remembered() noexcept;

 private:
  Slot& make_local();

  const std::uint64_t instance_;  // tells this set from one made later at the same address
  // Expires with this set: a thread's list of the sets it used drops the ones that are gone,
  // so a thread that outlives many sets (a test or fuzz target making a broker per case)
  // does not keep an entry per set ever made and search them all.
  const std::shared_ptr<const char> alive_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Slot>> slots_;  // one per thread that counted; never removed
};

}  // namespace outpost::core
