// InflightWindow: how many QoS 1/2 messages a session keeps unacknowledged towards a
// client that announced no Receive Maximum (MQTT 3.1 / 3.1.1, and 5.0 without the
// property). A fixed window is a round-trip limit: a client that acknowledges promptly is
// held to window / round trip messages per second however fast it is, and a session
// whose window is always full sends one message per acknowledgement instead of batches.
// So the window grows while acknowledgements come back promptly and shrinks when they do
// not:
//
// - A round is one round trip: from a message sent (the probe) to its acknowledgement.
// - A round during which the window held delivery back (not the queue running dry, not a
//   full socket) and that took at most twice the shortest round seen doubles the window:
//   the client keeps up with what it is sent.
// - A longer round means messages wait at the client or on its link. When the window is
//   over four times what the round trip needs at the rate acknowledgements now come (that
//   rate times the shortest round), it shrinks to twice that: what the client cannot take
//   waits in the session's queue, not in flight.
// - Between kMinimum and the cap (mqtt.max_inflight). MQTT 5 clients that announce a
//   Receive Maximum keep it (capped by max_inflight) and never use this.
// Two clock reads per round trip, a few bytes per session (made only once the window
// holds delivery back); nothing while idle.
#pragma once

#include <chrono>
#include <cstdint>

namespace outpost::mqtt {

class InflightWindow {
 public:
  using Clock = std::chrono::steady_clock;
  // Where it starts and the least it shrinks to: a client whose link got slower for good
  // (its round trip no longer near the shortest seen) keeps at least what it started with.
  static constexpr std::uint16_t kInitial = 64;
  static constexpr std::uint16_t kMinimum = kInitial;

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
  double base_rtt_ = 0;      // seconds: the shortest round seen
  std::uint32_t acks_ = 0;   // in the running round
  std::uint16_t cap_ = 65535;
  std::uint16_t window_ = kInitial;
  std::uint16_t probe_ = 0;   // packet id of the running round's message, 0 = none
  bool held_back_ = false;   // in the running round
};

}  // namespace outpost::mqtt
