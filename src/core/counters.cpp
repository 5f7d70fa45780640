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
struct UsedSet {
  std::uint64_t instance;
  std::weak_ptr<const char> alive;
  void* slot;
};
thread_local std::vector<UsedSet> t_slots;
}  // namespace

Counters::Counters()
    : instance_(g_instances.fetch_add(1, std::memory_order_relaxed) + 1), alive_(std::make_shared<const char>(0)) {}

Counters::Slot& Counters::local() noexcept {
  if (t_cache.instance == instance_) return *static_cast<Slot*>(t_cache.slot);
  return make_local();
}

Counters::Slot& Counters::make_local() {
  Slot* slot = nullptr;
  std::erase_if(t_slots, [](const UsedSet& u) { return u.alive.expired(); });
  for (const auto& u : t_slots) {
    if (u.instance == instance_) slot = static_cast<Slot*>(u.slot);
  }
  if (slot == nullptr) {
    std::lock_guard lock(mutex_);
    slots_.push_back(std::make_unique<Slot>());
    slot = slots_.back().get();
    t_slots.push_back(UsedSet{instance_, alive_, slot});
  }
  t_cache = LocalCache{instance_, slot};
  return *slot;
}

std::size_t Counters::sets_remembered() noexcept { return t_slots.size(); }

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
