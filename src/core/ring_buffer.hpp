// RingBuffer: a double-ended FIFO that allocates nothing until the first element and
// grows by doubling. std::deque allocates about 600 bytes up front in libstdc++, which
// an idle session's queue would pay for nothing. Not thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace outpost::core {

template <class T>
class RingBuffer {
 public:
  RingBuffer() = default;
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;
  ~RingBuffer() { clear(); }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  T& front() noexcept { return slot(0); }
  T& back() noexcept { return slot(size_ - 1); }

  void push_back(T v) {
    grow_if_full();
    std::construct_at(&slot(size_), std::move(v));
    ++size_;
  }
  void push_front(T v) {
    grow_if_full();
    head_ = (head_ + capacity_ - 1) % capacity_;
    std::construct_at(&slot(0), std::move(v));
    ++size_;
  }
  void pop_front() {
    std::destroy_at(&slot(0));
    head_ = (head_ + 1) % capacity_;
    --size_;
    if (size_ == 0) {
      head_ = 0;
      // A burst grew the buffer; once it has drained, give the memory back.
      if (capacity_ >= 4096) {
        storage_.reset();
        capacity_ = 0;
      }
    }
  }
  // Destroys the elements and gives the memory back.
  void clear() {
    while (size_ > 0) pop_front();
    storage_.reset();
    capacity_ = 0;
    head_ = 0;
  }

 private:
  struct alignas(T) Slot {
    unsigned char bytes[sizeof(T)];
  };
  // A slot's bytes are aligned for T (alignas above). Going through void* says so: a direct
  // unsigned char* -> T* cast fails -Wcast-align on strict-alignment targets (32-bit ARM).
  static T* place(Slot& s) noexcept { return static_cast<T*>(static_cast<void*>(s.bytes)); }
  T& slot(std::size_t i) noexcept { return *std::launder(place(storage_[(head_ + i) % capacity_])); }

  void grow_if_full() {
    if (size_ < capacity_) return;
    const std::size_t cap = capacity_ == 0 ? 8 : capacity_ * 2;
    auto fresh = std::make_unique<Slot[]>(cap);
    for (std::size_t i = 0; i < size_; ++i) {
      std::construct_at(place(fresh[i]), std::move(slot(i)));
      std::destroy_at(&slot(i));
    }
    storage_ = std::move(fresh);
    capacity_ = cap;
    head_ = 0;
  }

  std::unique_ptr<Slot[]> storage_;
  std::size_t capacity_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace outpost::core
