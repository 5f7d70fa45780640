// Loop prevention towards an MQTT 3.1.1 remote, which has no No Local subscription option:
// every message the bridge sends out on a remote topic its own subscriptions also match is
// remembered (topic and payload digest) for a while, and the first copy that comes back
// from the remote is recognised as our own echo and not published locally. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace outpost::bridge {

class EchoFilter {
 public:
  using clock = std::chrono::steady_clock;
  explicit EchoFilter(std::chrono::milliseconds ttl = std::chrono::seconds(60), size_t capacity = 100000)
      : ttl_(ttl), capacity_(capacity) {}

  // A message was sent to the remote on `topic`.
  void sent(std::string_view topic, std::string_view payload, clock::time_point now = clock::now());
  // A message arrived from the remote: true if it is the echo of one we sent (consumed).
  bool is_echo(std::string_view topic, std::string_view payload, clock::time_point now = clock::now());
  size_t size() const;

 private:
  static uint64_t digest(std::string_view topic, std::string_view payload);
  void expire(clock::time_point now);
  std::chrono::milliseconds ttl_;
  size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, unsigned> pending_;         // digest -> copies expected back
  std::deque<std::pair<clock::time_point, uint64_t>> order_;  // when each was sent
};

}  // namespace outpost::bridge
