// PublishThrottle: a client's publish rate limit (limits.max_publish_rate and
// limits.max_publish_bytes_rate) as two token buckets, messages and bytes, each holding
// one second's worth. A session takes from it after each message it accepted; when a
// bucket is in debt the session pauses reading until ready_at(), so a client above the
// rate is slowed by TCP flow control and loses nothing. Debt lets one message larger
// than a second's worth of bytes through, followed by a pause as long as it costs.
//
// It also tracks runs of throttling (pauses with less than a second between them), so
// that a client that stays above the rate can be told (MQTT 5: DISCONNECT 0x96) and the
// log says so once per run, not once per pause.
//
// Threading: owned by one session, on its connection's thread. Never blocks.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>

namespace outpost::proto {

class PublishThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  // 0 for either rate means that bucket does not limit.
  PublishThrottle(std::uint32_t messages_per_second, std::uint64_t bytes_per_second, Clock::time_point now) noexcept
      : message_rate_(messages_per_second),
        byte_rate_(static_cast<double>(bytes_per_second)),
        messages_(message_rate_),
        bytes_(byte_rate_),
        updated_(now) {}

  // A message of `bytes` was accepted. True when the client is now above its rate and
  // reading must pause until ready_at().
  bool take(std::uint64_t bytes, Clock::time_point now) noexcept {
    refill(now);
    if (message_rate_ != 0) messages_ -= 1;
    if (byte_rate_ != 0) bytes_ -= static_cast<double>(bytes);
    return over();
  }

  bool over() const noexcept { return messages_ < 0 || bytes_ < 0; }

  // When both buckets are out of debt again.
  Clock::time_point ready_at() const noexcept {
    double wait = 0;
    if (message_rate_ != 0 && messages_ < 0) wait = -messages_ / message_rate_;
    if (byte_rate_ != 0 && bytes_ < 0) wait = std::max(wait, -bytes_ / byte_rate_);
    // Rounded up, so that at ready_at() the debt is paid.
    return updated_ + std::chrono::microseconds(static_cast<std::int64_t>(std::ceil(wait * 1e6)) + 1);
  }

  // Reading was paused; returns how long the current run of throttling has lasted (zero
  // for a new run: the previous pause ended more than a second ago, or there was none).
  Clock::duration paused(Clock::time_point now) noexcept {
    if (!in_run_ || now - resumed_ > std::chrono::seconds(1)) {
      in_run_ = true;
      run_start_ = now;
    }
    return now - run_start_;
  }
  void resumed(Clock::time_point now) noexcept {
    resumed_ = now;
    refill(now);
  }

 private:
  void refill(Clock::time_point now) noexcept {
    if (now <= updated_) return;
    const double elapsed = std::chrono::duration<double>(now - updated_).count();
    updated_ = now;
    if (message_rate_ != 0) messages_ = std::min(message_rate_, messages_ + elapsed * message_rate_);
    if (byte_rate_ != 0) bytes_ = std::min(byte_rate_, bytes_ + elapsed * byte_rate_);
  }

  double message_rate_;
  double byte_rate_;
  double messages_;  // tokens; below zero: debt
  double bytes_;
  Clock::time_point updated_;
  Clock::time_point run_start_{};
  Clock::time_point resumed_{};
  bool in_run_ = false;
};

// "limits.max_publish_rate 200 messages/s, limits.max_publish_bytes_rate 65536 bytes/s":
// the limits that are set, for log lines.
inline std::string describe_publish_limits(std::uint32_t messages_per_second, std::uint64_t bytes_per_second) {
  std::string out;
  if (messages_per_second != 0) out = "limits.max_publish_rate " + std::to_string(messages_per_second) + " messages/s";
  if (bytes_per_second != 0) {
    if (!out.empty()) out += ", ";
    out += "limits.max_publish_bytes_rate " + std::to_string(bytes_per_second) + " bytes/s";
  }
  return out;
}

}  // namespace outpost::proto
