// WriteQueue: what a Connection needs while it has bytes to send (the batch accumulating,
// the batch being written, its iovecs), out of line and taken from a per-thread pool only
// while there is something to send: an idle connection holds a null pointer, and one that
// writes now and then reuses a queue instead of allocating.
//
// Threading: a queue belongs to one connection, on its thread; the pool is per thread.
#pragma once

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace outpost::server {

// One piece of a gather write: either a range of the batch's own bytes (owner null) or a
// buffer kept alive by its owner.
struct WriteSegment {
  std::shared_ptr<const void> owner;
  const std::uint8_t* data;  // when owner is set
  std::size_t size;
  std::size_t offset;  // into WriteBatch::bytes, when owner is null
};

struct WriteBatch {
  std::vector<std::uint8_t> bytes;
  std::vector<WriteSegment> segments;
  bool empty() const noexcept { return segments.empty(); }
  void clear() noexcept {
    bytes.clear();
    segments.clear();
  }
};

struct WriteQueue {
  WriteBatch pending;  // accumulating
  WriteBatch writing;  // in flight
  std::vector<boost::asio::const_buffer> iov;  // of `writing`, what is left of it
  std::vector<std::uint8_t> linear;            // `writing` in one piece, for TLS and WebSocket streams
  std::size_t written = 0;                     // bytes of `writing` already sent (polled sockets)
  std::size_t total = 0;                       // bytes queued and in flight

  // A queue from this thread's pool, or a new one.
  static std::unique_ptr<WriteQueue> take() {
    auto& p = pool();
    if (p.empty()) return std::make_unique<WriteQueue>();
    auto q = std::move(p.back());
    p.pop_back();
    return q;
  }

  // Back to this thread's pool (an empty queue); buffers a burst grew past `keep` bytes
  // are released rather than kept.
  static void give_back(std::unique_ptr<WriteQueue> q, std::size_t keep) {
    auto& p = pool();
    if (p.size() >= kPoolSize) return;
    q->pending.clear();
    q->writing.clear();
    q->iov.clear();
    if (q->pending.bytes.capacity() > keep) std::vector<std::uint8_t>().swap(q->pending.bytes);
    if (q->writing.bytes.capacity() > keep) std::vector<std::uint8_t>().swap(q->writing.bytes);
    if (q->linear.capacity() > keep) std::vector<std::uint8_t>().swap(q->linear);
    q->written = q->total = 0;
    p.push_back(std::move(q));
  }

 private:
  static constexpr std::size_t kPoolSize = 256;
  static std::vector<std::unique_ptr<WriteQueue>>& pool() {
    thread_local std::vector<std::unique_ptr<WriteQueue>> p;
    return p;
  }
};

}  // namespace outpost::server
