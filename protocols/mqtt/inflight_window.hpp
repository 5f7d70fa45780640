// InflightWindow: how many QoS 1/2 messages a session keeps unacknowledged towards a
// client that announced no Receive Maximum (MQTT 3.1 / 3.1.1, and 5.0 without the
// property). Such a window is a round-trip limit: a client that acknowledges promptly
// is held to window / round trip messages per second however fast it is. So the window
// grows while that pays and stays where it stops paying:
//
// - A round is one round trip: from a message sent (the probe) to its acknowledgement.
//   Its delivery rate is the acknowledgements that came in it over its duration.
// - Growing: while the session was held back by the window during a round, the window
//   doubles after it, as long as each doubling raised the rate by a quarter or more.
//   When one did not, the window goes back to the size before it, and stays.
// - Steady: every kProbeEvery rounds held back by the window it tries doubling again (a
//   client that got faster). When the window is over four times what the round trip
//   needs at the rate acknowledgements now come (rate x the shortest round seen), it
//   shrinks to twice that (a client that got slower, or its link did): what it cannot
//   take waits in the session's queue, not in flight.
// - Between kMinimum and the cap (mqtt.max_inflight). MQTT 5 clients that announce a
//   Receive Maximum keep it (capped by max_inflight) and never use this.
// Two clock reads per round trip, a few bytes per session; nothing while idle.
#pragma once

#include <chrono>
#include <cstdint>

namespace outpost::mqtt {

class InflightWindow {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::uint16_t kMinimum = 16;
  static constexpr std::uint16_t kInitial = 64;
  static constexpr int kProbeEvery = 16;

  explicit InflightWindow(std::uint16_t cap = 65535) noexcept { reset(cap); }
  void reset(std::uint16_t cap) noexcept;

  std::uint16_t size() const noexcept { return window_; }

  // The session stopped sending because the window was full.
  void held_back() noexcept { held_back_ = true; }
  // No round running: the next message sent starts one (start()).
  bool wants_probe() const noexcept { return probe_ == 0; }
  void start(std::uint16_t packet_id, Clock::time_point now) noexcept;
  // An acknowledgement of a message sent with `packet_id` (PUBACK, or PUBREC for QoS 2);
  // true when it ends the round, then end(now) follows.
  bool acked(std::uint16_t packet_id) noexcept;
  void end(Clock::time_point now) noexcept;
  // The message of the running round will not be acknowledged (connection lost).
  void abandon() noexcept { probe_ = 0; }

 private:
  Clock::time_point started_{};
  double best_rate_ = 0;     // acknowledgements per second: the best this window size gave
  double base_rtt_ = 0;      // seconds: the shortest round seen
  std::uint32_t acks_ = 0;   // in the running round
  std::uint16_t cap_ = 65535;
  std::uint16_t window_ = kInitial;
  std::uint16_t before_ = 0;  // the size before the last doubling, 0 = none to go back to
  std::uint16_t probe_ = 0;   // packet id of the running round's message, 0 = none
  std::uint8_t steady_rounds_ = 0;
  bool growing_ = true;
  bool held_back_ = false;   // in the running round
};

}  // namespace outpost::mqtt
