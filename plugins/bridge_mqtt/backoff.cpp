#include "backoff.hpp"

#include <algorithm>

namespace outpost::bridge {

Backoff::ms Backoff::jitter(ms lo, ms hi) {
  if (hi <= lo) return lo;
  std::uniform_int_distribution<int64_t> dist(lo.count(), hi.count());
  return ms(dist(rng_));
}

Backoff::ms Backoff::next_failure() {
  // Doubling stops at max_delay; the exponent is capped so it cannot overflow.
  ms d = min_;
  for (unsigned i = 0; i < failures_ && d < max_; ++i) d = std::min(max_, d * 2);
  d = std::min(d, max_);
  if (failures_ < 64) ++failures_;
  return jitter(std::max(min_, d / 2), d);
}

Backoff::ms Backoff::next_refusal() {
  if (failures_ < 64) ++failures_;
  return jitter(std::max(min_, max_ * 9 / 10), max_);
}

}  // namespace outpost::bridge
