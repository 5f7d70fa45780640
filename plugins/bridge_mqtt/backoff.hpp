// When to try the remote again: exponential backoff between min_delay and max_delay with
// jitter, and max_delay for a remote that refused us (bad credentials, not authorized), so
// a refusing remote is not hammered. Owned by the bridge's connector thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace outpost::bridge {

class Backoff {
 public:
  using ms = std::chrono::milliseconds;
  Backoff(ms min_delay, ms max_delay, uint64_t seed = std::random_device{}())
      : min_(min_delay), max_(max_delay), rng_(seed) {}

  // The delay before the next attempt after a failed one: the n-th failure in a row waits
  // a random time in [d/2, d] (never below min_delay) where d = min(max_delay, min_delay*2^n).
  ms next_failure();
  // After a refusal: a random time in [0.9, 1] x max_delay.
  ms next_refusal();
  // A connection came up: the next failure starts from min_delay again.
  void reset() { failures_ = 0; }
  unsigned failures() const { return failures_; }

 private:
  ms jitter(ms lo, ms hi);
  ms min_, max_;
  unsigned failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace outpost::bridge
