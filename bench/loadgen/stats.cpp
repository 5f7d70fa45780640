#include "stats.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <thread>

namespace outpost::bench {

void write_header(std::uint8_t* p, const PayloadHeader& h) {
  std::memcpy(p, &h.publisher, 4);
  std::memcpy(p + 4, &h.sequence, 8);
  std::memcpy(p + 12, &h.sent_ns, 8);
}

PayloadHeader read_header(const std::uint8_t* p) {
  PayloadHeader h{};
  std::memcpy(&h.publisher, p, 4);
  std::memcpy(&h.sequence, p + 4, 8);
  std::memcpy(&h.sent_ns, p + 12, 8);
  return h;
}

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

void wait_until_quiet(const std::function<std::uint64_t()>& received) {
  std::uint64_t last = received();
  for (int quiet = 0, i = 0; quiet < 5 && i < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::uint64_t now = received();
    quiet = now == last ? quiet + 1 : 0;
    last = now;
  }
}

namespace {
int bucket_of(std::uint64_t v) {
  if (v < 16) return static_cast<int>(v);
  const int msb = 63 - std::countl_zero(v);
  const int sub = static_cast<int>((v >> (msb - 4)) & 15);
  return (msb - 3) * 16 + sub;
}
std::uint64_t upper_of(int b) {
  if (b < 16) return static_cast<std::uint64_t>(b);
  const int msb = b / 16 + 3;
  const std::uint64_t sub = static_cast<std::uint64_t>(b % 16);
  return ((16 + sub + 1) << (msb - 4)) - 1;
}
}  // namespace

void Histogram::add(std::uint64_t ns) {
  ++buckets_[static_cast<std::size_t>(std::min(bucket_of(ns), static_cast<int>(buckets_.size()) - 1))];
  ++count_;
  max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& o) {
  for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  max_ = std::max(max_, o.max_);
}

std::uint64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  const auto target = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= target) return std::min(upper_of(static_cast<int>(i)), max_);
  }
  return max_;
}

void SequenceTracker::on_message(std::uint32_t publisher, std::uint64_t sequence) {
  if (publisher >= next_.size()) return;
  std::uint64_t& next = next_[publisher];
  if (sequence < next) {
    ++duplicates_;
    return;
  }
  if (sequence > next) gaps_ += sequence - next;
  next = sequence + 1;
  ++unique_;
}

}  // namespace outpost::bench
