// Measurement: delivered counts, a latency histogram (log-linear buckets, so memory is
// fixed whatever the message count), and per-publisher sequence tracking that finds
// lost and duplicated messages.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace outpost::bench {

// Every payload starts with this header (little-endian), then padding.
struct PayloadHeader {
  std::uint32_t publisher;
  std::uint64_t sequence;
  std::uint64_t sent_ns;  // steady clock
};
constexpr std::size_t kHeaderSize = 20;

void write_header(std::uint8_t* p, const PayloadHeader& h);
PayloadHeader read_header(const std::uint8_t* p);
std::uint64_t now_ns();

// After the publishers stop: waits until `received()` has not moved for half a second
// (checked every 100 ms, at most 20 s), so what was still on its way is counted.
void wait_until_quiet(const std::function<std::uint64_t()>& received);

class Histogram {
 public:
  void add(std::uint64_t ns);
  void merge(const Histogram& other);
  std::uint64_t count() const { return count_; }
  // Value at quantile q (0..1), in nanoseconds (bucket upper bound).
  std::uint64_t quantile(double q) const;
  std::uint64_t max() const { return max_; }

 private:
  static constexpr int kSub = 16;  // buckets per power of two
  std::array<std::uint64_t, 64 * kSub> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

// Per subscriber: what it received from each publisher. Within one publisher's topic
// and QoS, MQTT keeps order, so a sequence below the next expected one is a duplicate
// and a jump is a gap (possibly filled later only for QoS 0 never).
class SequenceTracker {
 public:
  void resize(std::size_t publishers) { next_.assign(publishers, 0); }
  void on_message(std::uint32_t publisher, std::uint64_t sequence);
  std::uint64_t unique() const { return unique_; }
  std::uint64_t duplicates() const { return duplicates_; }
  std::uint64_t gaps() const { return gaps_; }
  const std::vector<std::uint64_t>& next() const { return next_; }

 private:
  std::vector<std::uint64_t> next_;
  std::uint64_t unique_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t gaps_ = 0;
};

}  // namespace outpost::bench
