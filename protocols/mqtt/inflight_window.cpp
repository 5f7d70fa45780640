#include "mqtt/inflight_window.hpp"

#include <algorithm>

namespace outpost::mqtt {

void InflightWindow::reset(std::uint16_t cap) noexcept {
  cap_ = std::max<std::uint16_t>(cap, 1);
  window_ = std::min(kInitial, cap_);
  probe_ = 0;
  acks_ = 0;
  base_rtt_ = 0;
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
  // The shortest round seen: the round trip without messages waiting at the client.
  if (base_rtt_ == 0 || seconds < base_rtt_) base_rtt_ = seconds;
  // Only a round the window held back says anything about a larger one.
  if (!held_back_) return;
  if (seconds <= 2 * base_rtt_) {
    // Prompt: the client took what the window sent about as fast as a round trip allows.
    window_ = static_cast<std::uint16_t>(std::min<std::uint32_t>(2u * window_, cap_));
    return;
  }
  // Not prompt: messages wait at the client or on its link. What the round trip needs at
  // the rate acknowledgements now come is the rate times the shortest round; a window
  // four times that only holds in flight what could as well wait queued.
  const double needed = (acks_ / seconds) * base_rtt_;
  if (window_ > kMinimum && window_ > 4 * needed) {
    window_ = static_cast<std::uint16_t>(std::max<double>(kMinimum, std::min<double>(window_ / 2, 2 * needed + 1)));
  }
}

}  // namespace outpost::mqtt
