#include "observe/load_average.hpp"

#include <cmath>
#include <stdexcept>

namespace outpost::observe {

LoadAverages::LoadAverages(std::vector<std::string> names)
    : names_(std::move(names)), previous_(names_.size(), 0), averages_(names_.size(), {0.0, 0.0, 0.0}) {}

void LoadAverages::update(double seconds, const std::vector<std::uint64_t>& totals) {
  if (totals.size() != names_.size()) throw std::invalid_argument("LoadAverages::update: wrong number of series");
  if (!primed_ || seconds <= 0) {
    previous_ = totals;
    primed_ = true;
    return;
  }
  static constexpr std::array<double, 3> kWindows{60.0, 300.0, 900.0};
  for (std::size_t i = 0; i < totals.size(); ++i) {
    const std::uint64_t delta = totals[i] >= previous_[i] ? totals[i] - previous_[i] : 0;
    const double per_minute = static_cast<double>(delta) * 60.0 / seconds;
    for (std::size_t w = 0; w < kWindows.size(); ++w) {
      const double keep = std::exp(-seconds / kWindows[w]);
      averages_[i][w] = averages_[i][w] * keep + per_minute * (1.0 - keep);
    }
  }
  previous_ = totals;
}

}  // namespace outpost::observe
