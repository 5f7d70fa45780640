#include "core/counters.hpp"

namespace outpost::core {

namespace {
// Each thread remembers its slot of the counter set it used last; a thread that
// alternates between sets (tests with several brokers) finds its slot again by lookup.
struct LocalCache {
  std::uint64_t instance = 0;
  void* slot = nullptr;
};
thread_local LocalCache t_cache;
std::atomic<std::uint64_t> g_instances{0};
thread_local std::vector<std::pair<std::uint64_t, void*>> t_slots;
}  // namespace

Counters::Counters() : instance_(g_instances.fetch_add(1, std::memory_order_relaxed) + 1) {}

Counters::Slot& Counters::local() noexcept {
  if (t_cache.instance == instance_) return *static_cast<Slot*>(t_cache.slot);
  return make_local();
}

Counters::Slot& Counters::make_local() {
  Slot* slot = nullptr;
  for (const auto& [instance, s] : t_slots) {
    if (instance == instance_) slot = static_cast<Slot*>(s);
  }
  if (slot == nullptr) {
    std::lock_guard lock(mutex_);
    slots_.push_back(std::make_unique<Slot>());
    slot = slots_.back().get();
    t_slots.emplace_back(instance_, slot);
  }
  t_cache = LocalCache{instance_, slot};
  return *slot;
}

CounterTotals Counters::read() const {
  CounterTotals totals;
  std::lock_guard lock(mutex_);
  for (const auto& s : slots_) {
    for (std::size_t p = 0; p < kProtocolCount; ++p) {
      for (std::size_t c = 0; c < kCounterCount; ++c) totals.values[p][c] += s->values[p][c].load(std::memory_order_relaxed);
    }
  }
  return totals;
}

const char* to_string(Counter c) noexcept {
  switch (c) {
    case Counter::published: return "published";
    case Counter::routed: return "routed";
    case Counter::dropped_queue_full: return "dropped_queue_full";
    case Counter::dropped_no_subscribers: return "dropped_no_subscribers";
    case Counter::refused_not_authorized: return "refused_not_authorized";
    case Counter::refused_store_full: return "refused_store_full";
    case Counter::refused_by_limit: return "refused_by_limit";
    case Counter::publish_throttled: return "publish_throttled";
    case Counter::delivered: return "delivered";
    case Counter::expired: return "expired";
    case Counter::count_: break;
  }
  return "?";
}

}  // namespace outpost::core
