// RefCounts: stored message id -> number of queue entries that hold it. The SQLite
// store's writer thread owns it (restore builds it before the writer starts).
//
// A broker may keep a million stored messages; std::unordered_map would spend a heap node
// (~40 bytes with the bucket) and an allocation on each. This is open addressing with
// linear probing over two flat arrays: 12 bytes a slot, at most 3/4 full. Ids are never
// 0 (Store::next_message_id starts at 1), so key 0 marks a free slot. Erasing shifts the
// following run back instead of leaving tombstones, so lookups stay short however many
// messages come and go.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace outpost::store::detail {

class RefCounts {
 public:
  std::size_t size() const noexcept { return size_; }

  // Makes room for n ids without rehashing.
  void reserve(std::size_t n) {
    if (n * 4 > keys_.size() * 3) rehash(std::bit_ceil(std::max<std::size_t>(16, n * 4 / 3 + 1)));
  }

  // The count of `id`, or nullptr when the id is not stored.
  std::uint32_t* find(std::uint64_t id) noexcept {
    if (size_ == 0 || id == 0) return nullptr;
    for (std::size_t i = home(id);; i = (i + 1) & mask_) {
      if (keys_[i] == id) return &counts_[i];
      if (keys_[i] == 0) return nullptr;
    }
  }

  // The count of `id`, inserted as 0 when absent.
  std::uint32_t& operator[](std::uint64_t id) {
    if ((size_ + 1) * 4 > keys_.size() * 3) rehash(keys_.empty() ? 16 : keys_.size() * 2);
    std::size_t i = home(id);
    for (; keys_[i] != 0; i = (i + 1) & mask_) {
      if (keys_[i] == id) return counts_[i];
    }
    keys_[i] = id;
    counts_[i] = 0;
    ++size_;
    return counts_[i];
  }

  bool erase(std::uint64_t id) noexcept {
    if (size_ == 0 || id == 0) return false;
    std::size_t i = home(id);
    for (; keys_[i] != id; i = (i + 1) & mask_) {
      if (keys_[i] == 0) return false;
    }
    // Backward-shift deletion: move each later member of the probe run whose home is not
    // in (i, j] into the hole, so no lookup ever needs to step over a gap.
    for (std::size_t j = (i + 1) & mask_; keys_[j] != 0; j = (j + 1) & mask_) {
      const std::size_t h = home(keys_[j]);
      const bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (stays) continue;
      keys_[i] = keys_[j];
      counts_[i] = counts_[j];
      i = j;
    }
    keys_[i] = 0;
    counts_[i] = 0;
    --size_;
    return true;
  }

  void clear() noexcept {
    keys_.clear();
    counts_.clear();
    size_ = 0;
    mask_ = 0;
    shift_ = 64;
  }

  // f(id, count&) for every stored id, in no particular order. f must not insert or erase.
  template <class F>
  void for_each(F&& f) {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i] != 0) f(keys_[i], counts_[i]);
    }
  }

 private:
  // Fibonacci hashing: message ids are mostly consecutive, and the multiply spreads them
  // over the table where the low bits alone would fill one run.
  std::size_t home(std::uint64_t id) const noexcept {
    return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  void rehash(std::size_t slots) {
    std::vector<std::uint64_t> old_keys(slots, 0);
    std::vector<std::uint32_t> old_counts(slots, 0);
    old_keys.swap(keys_);
    old_counts.swap(counts_);
    mask_ = slots - 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(slots));
    for (std::size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] == 0) continue;
      std::size_t j = home(old_keys[i]);
      while (keys_[j] != 0) j = (j + 1) & mask_;
      keys_[j] = old_keys[i];
      counts_[j] = old_counts[i];
    }
  }

  std::vector<std::uint64_t> keys_;
  std::vector<std::uint32_t> counts_;
  std::size_t size_ = 0;
  std::size_t mask_ = 0;
  unsigned shift_ = 64;
};

}  // namespace outpost::store::detail
