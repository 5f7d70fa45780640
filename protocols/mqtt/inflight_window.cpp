#include "mqtt/inflight_window.hpp"

#include <algorithm>

namespace outpost::mqtt {

void InflightWindow::reset(std::uint16_t cap) noexcept {
  cap_ = std::max<std::uint16_t>(cap, 1);
  window_ = std::min(kInitial, cap_);
  before_ = 0;
  probe_ = 0;
  acks_ = 0;
  best_rate_ = 0;
  base_rtt_ = 0;
  steady_rounds_ = 0;
  growing_ = true;
  held_back_ = false;
}

void InflightWindow::start(std::uint16_t packet_id, Clock::time_point now) noexcept {
  probe_ = packet_id;
  started_ = now;
  acks_ = 0;
  held_back_ = false;
}

bool InflightWindow::acked(std::uint16_t packet_id) noexcept {
  if (probe_ == 0) return false;
  ++acks_;
  return packet_id == probe_;
}

void InflightWindow::end(Clock::time_point now) noexcept {
  probe_ = 0;
  const double seconds = std::chrono::duration<double>(now - started_).count();
  if (seconds <= 0) return;
  if (base_rtt_ == 0 || seconds < base_rtt_) base_rtt_ = seconds;
  // Only a round the window held back says what a larger one would do.
  if (!held_back_) return;
  const double rate = acks_ / seconds;
  const auto doubled = static_cast<std::uint16_t>(std::min<std::uint32_t>(2u * window_, cap_));
  if (growing_) {
    if (before_ != 0 && rate < 1.25 * best_rate_) {
      // The last doubling did not pay: back to the size before it, and stay.
      window_ = before_;
      before_ = 0;
      growing_ = false;
      steady_rounds_ = 0;
      return;
    }
    best_rate_ = rate;
    if (doubled == window_) {  // at the cap
      growing_ = false;
      steady_rounds_ = 0;
      return;
    }
    before_ = window_;
    window_ = doubled;
    return;
  }
  // What the round trip needs at this rate (the rate times the shortest round seen):
  // a window four times that only holds messages in flight that could wait queued.
  const double needed = rate * base_rtt_;
  if (window_ > kMinimum && window_ > 4 * needed) {
    window_ = static_cast<std::uint16_t>(
        std::max<double>(kMinimum, std::min<double>(window_ / 2, 2 * needed + 1)));
    best_rate_ = rate;
    steady_rounds_ = 0;
    return;
  }
  best_rate_ = std::max(best_rate_, rate);
  if (++steady_rounds_ >= kProbeEvery && doubled != window_) {
    // Try once more: the client may have got faster.
    steady_rounds_ = 0;
    growing_ = true;
    before_ = window_;
    window_ = doubled;
  }
}

}  // namespace outpost::mqtt
