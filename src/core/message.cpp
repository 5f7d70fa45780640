#include "core/message.hpp"

#include <cstddef>
#include <cstring>
#include <new>

namespace outpost::core {

namespace {

// Allocates the shared control block and the message with room for the payload behind
// them: one allocation per message instead of two.
template <class T>
struct TailAllocator {
  using value_type = T;
  std::size_t extra;
  Message::Tail* tail;

  TailAllocator(std::size_t e, Message::Tail* t) noexcept : extra(e), tail(t) {}
  template <class U>
  TailAllocator(const TailAllocator<U>& o) noexcept : extra(o.extra), tail(o.tail) {}

  static std::size_t head_bytes(std::size_t n) noexcept {
    constexpr std::size_t align = alignof(std::max_align_t);
    return (n * sizeof(T) + align - 1) / align * align;
  }
  T* allocate(std::size_t n) {
    // operator new's memory is aligned for any T; casting from void* keeps that visible
    // (a std::uint8_t* -> T* cast fails -Wcast-align on 32-bit ARM).
    void* p = ::operator new(head_bytes(n) + extra);
    tail->bytes = static_cast<std::uint8_t*>(p) + head_bytes(n);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept { ::operator delete(p, head_bytes(n) + extra); }
  template <class U>
  bool operator==(const TailAllocator<U>& o) const noexcept {
    return extra == o.extra;
  }
};

}  // namespace

Message::Message(Init&& init, const Tail& tail)
    : topic_(std::move(init.topic)),
      qos_(init.qos),
      retain_(init.retain),
      origin_(init.origin),
      expiry_unix_ms_(init.expiry_unix_ms),
      properties_(std::move(init.properties)) {
  if (!init.payload.empty()) std::memcpy(tail.bytes, init.payload.data(), init.payload.size());
  payload_ = {tail.bytes, init.payload.size()};
}

std::shared_ptr<const Message> Message::make(Init init) {
  Tail tail;
  const std::size_t extra = init.payload.size();
  // The allocator fills `tail` before the message is constructed, which reads it.
  return std::allocate_shared<const Message>(TailAllocator<Message>(extra, &tail), std::move(init), tail);
}

std::shared_ptr<const Message> Message::with_retain(bool retain) const {
  Init init;
  init.topic = topic_;
  init.payload = payload();
  init.qos = qos_;
  init.retain = retain;
  init.origin = origin_;
  init.expiry_unix_ms = expiry_unix_ms_;
  init.properties = properties_;
  return make(std::move(init));
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace outpost::core
