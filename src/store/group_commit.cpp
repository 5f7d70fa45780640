#include "store/group_commit.hpp"

#include <algorithm>

namespace outpost::store::detail {

namespace {

// A sample far beyond the hold says only "slower than the hold"; clamped so one consumer
// that acknowledges a minute later does not swamp the estimate.
constexpr GroupCommit::Clock::duration kLongestSample = 4 * GroupCommit::kMaxHold;

// Moves the estimate a quarter of the way to this batch's figure: a few batches follow a
// change of load, one odd batch does not.
GroupCommit::Clock::duration blend(GroupCommit::Clock::duration estimate, GroupCommit::Clock::duration seen) {
  if (estimate.count() == 0) return seen;
  return (3 * estimate + seen) / 4;
}

}  // namespace

void GroupCommit::ack_seen(Clock::duration latency) {
  samples_.push_back(std::clamp(latency, Clock::duration::zero(), kLongestSample));
}

void GroupCommit::commit_seen(Clock::duration took) noexcept {
  // A checkpoint now and then makes one commit many times longer than the rest: it moves
  // the estimate by at most what twice the estimate would.
  if (commit_.count() != 0) took = std::min<Clock::duration>(took, 2 * commit_);
  commit_ = blend(commit_, took);
}

void GroupCommit::batch_done(std::size_t puts, std::size_t deletes) {
  // A batch without puts says nothing about whether what is stored gets acknowledged.
  if (puts > 0) churn_ = 2 * deletes >= puts;
  if (samples_.empty()) return;
  const std::size_t n = samples_.size();
  auto at = [&](std::size_t k) {
    std::nth_element(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(k), samples_.end());
    return samples_[k];
  };
  fast_ = blend(fast_, at(n / 10));
  slow_ = blend(slow_, at(n - 1 - n / 10));
  samples_.clear();
}

std::optional<GroupCommit::Clock::time_point> GroupCommit::hold_for_acks(Clock::time_point first_put,
                                                                         bool queued) const {
  // Nothing is acknowledged soon after it is stored, or nothing measured yet: the wait
  // would cancel nothing.
  if (!churn_ || slow_.count() == 0 || fast_ > kMaxHold) return std::nullopt;
  // Committing at once is sooner than most acknowledgements, and the callers wait for
  // it alone: no reason to wait for them.
  if (!queued && commit_.count() != 0 && slow_ > commit_) return std::nullopt;
  // Most acknowledgements, with a margin, and never more than the bound.
  return first_put + std::min<Clock::duration>(kMaxHold, slow_ + slow_ / 4);
}

}  // namespace outpost::store::detail
