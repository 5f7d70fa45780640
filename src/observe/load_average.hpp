// LoadAverages: rates per minute averaged over the last 1, 5 and 15 minutes, as
// exponentially decaying averages of the rate between two samples (what Mosquitto's
// $SYS/broker/load/... topics publish).
//
// Threading: one owner (the $SYS timer).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace outpost::observe {

class LoadAverages {
 public:
  // `names` are the series ("messages/received", ...), in the order update() is given them.
  explicit LoadAverages(std::vector<std::string> names);

  // The series' running totals now, `seconds` after the previous update (the first call
  // only records the totals).
  void update(double seconds, const std::vector<std::uint64_t>& totals);

  const std::vector<std::string>& names() const noexcept { return names_; }
  // Per minute, averaged over 1, 5 and 15 minutes.
  const std::array<double, 3>& averages(std::size_t series) const { return averages_.at(series); }

 private:
  std::vector<std::string> names_;
  std::vector<std::uint64_t> previous_;
  std::vector<std::array<double, 3>> averages_;
  bool primed_ = false;
};

}  // namespace outpost::observe
