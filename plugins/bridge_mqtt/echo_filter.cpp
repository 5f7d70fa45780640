#include "echo_filter.hpp"

namespace outpost::bridge {

uint64_t EchoFilter::digest(std::string_view topic, std::string_view payload) {
  // FNV-1a 64 over topic, a separator and payload.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  mix(topic);
  h = (h ^ 0x100) * 1099511628211ull;
  mix(payload);
  return h;
}

void EchoFilter::expire(clock::time_point now) {
  while (!order_.empty() && (order_.front().first + ttl_ <= now || order_.size() > capacity_)) {
    auto it = pending_.find(order_.front().second);
    if (it != pending_.end() && --it->second == 0) pending_.erase(it);
    order_.pop_front();
  }
}

void EchoFilter::sent(std::string_view topic, std::string_view payload, clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto d = digest(topic, payload);
  ++pending_[d];
  order_.emplace_back(now, d);
  expire(now);
}

bool EchoFilter::is_echo(std::string_view topic, std::string_view payload, clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  auto it = pending_.find(digest(topic, payload));
  if (it == pending_.end()) return false;
  // The entry in order_ stays and expires later; the count is what decides.
  if (--it->second == 0) pending_.erase(it);
  // Keep order_ consistent: the oldest entry with this digest must not decrement again.
  for (auto &entry : order_) {
    if (entry.second == digest(topic, payload)) {
      entry.second = 0;  // a digest of 0 is treated as consumed
      break;
    }
  }
  return true;
}

size_t EchoFilter::size() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto &[d, c] : pending_) n += c;
  return n;
}

}  // namespace outpost::bridge
