// What the connections of one listener share: their limits, their transport's name and
// the count of the listener's open sockets. A connection holds one pointer to it rather
// than copies and references of each part.
//
// Lifetime: the Server owns every ListenerContext and keeps it until its I/O threads and
// the handlers they left behind are gone, so a connection or a handshake, however late it
// is destroyed, can hold a plain pointer.
// Threading: limits and transport are fixed before the listener starts; open_sockets is
// atomic (accepted on the acceptor's thread, closed on the connection's).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

namespace outpost::server {

// Per-listener tuning of a connection's buffers and timeouts.
struct ConnectionLimits {
  std::size_t initial_read_buffer = 4096;
  // Safety net against a peer that never completes a packet; each protocol enforces its
  // own packet limit first, so set this a little above it (e.g. max_packet_size + 16).
  std::size_t max_read_buffer = 300u << 20;
  // An empty read buffer larger than this is released, so idle connections stay small.
  std::size_t keep_read_buffer = 64u << 10;
  // Unsent bytes: above the high watermark the session stops producing (write_pressure)
  // until they drain below the low one; above write_stop_reading the peer is not read
  // either (it sends requests but does not read the answers).
  std::size_t write_high_watermark = 1u << 20;
  std::size_t write_low_watermark = 256u << 10;
  std::size_t write_stop_reading = 4u << 20;
  // Shared buffers smaller than this are copied: cheaper than one more iovec entry.
  std::size_t copy_threshold = 512;
  // A peer that does not read must not keep a closing connection forever.
  std::chrono::milliseconds close_timeout{5000};
  // How long a half-closed connection waits for the peer's own close.
  std::chrono::milliseconds linger_timeout{2000};
  // TLS handshake and WebSocket upgrade together, from accept to the first protocol byte.
  std::chrono::milliseconds handshake_timeout{10000};
  // New connections per second from one source address; more are closed right after
  // accept, before any TLS, WebSocket or protocol work. 0 = unlimited.
  std::uint32_t max_connections_per_second_per_address = 0;
};

// Bytes a listener's connections received and sent on one I/O thread: written by that
// thread only (a plain load and store), read by any.
struct alignas(64) TrafficSlot {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> sent{0};
  static void add(std::atomic<std::uint64_t>& v, std::uint64_t n) noexcept {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

struct Traffic {
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
};

// The I/O thread the caller runs on (IoThreads numbers its threads); 0 elsewhere.
std::size_t current_io_thread() noexcept;

struct ListenerContext {
  ConnectionLimits limits;
  std::string_view transport = "tcp";  // static storage: "tcp", "tls", "ws", "wss"
  // Sockets accepted and not yet closed (in a handshake or connected).
  std::atomic<std::uint32_t> open_sockets{0};
  // One per I/O thread (set by the server before the listener starts).
  std::unique_ptr<TrafficSlot[]> traffic;
  std::size_t traffic_slots = 0;

  TrafficSlot& traffic_here() noexcept { return traffic[current_io_thread() % traffic_slots]; }
  Traffic traffic_total() const noexcept {
    Traffic t;
    for (std::size_t i = 0; i < traffic_slots; ++i) {
      t.received += traffic[i].received.load(std::memory_order_relaxed);
      t.sent += traffic[i].sent.load(std::memory_order_relaxed);
    }
    return t;
  }
};

// One accepted socket counted in its listener's open_sockets until the lease is dropped.
// A Connection takes the count over (release()) and drops it when it closes its socket:
// no allocation per connection.
class SocketLease {
 public:
  SocketLease() = default;
  explicit SocketLease(ListenerContext& context) noexcept : context_(&context) {
    context.open_sockets.fetch_add(1, std::memory_order_relaxed);
  }
  SocketLease(SocketLease&& o) noexcept : context_(std::exchange(o.context_, nullptr)) {}
  SocketLease& operator=(SocketLease&& o) noexcept {
    if (this != &o) {
      reset();
      context_ = std::exchange(o.context_, nullptr);
    }
    return *this;
  }
  ~SocketLease() { reset(); }

  void reset() noexcept {
    if (context_ != nullptr) context_->open_sockets.fetch_sub(1, std::memory_order_relaxed);
    context_ = nullptr;
  }
  // The holder now owns the count (and must drop it with open_sockets.fetch_sub).
  ListenerContext* release() noexcept { return std::exchange(context_, nullptr); }
  ListenerContext* context() const noexcept { return context_; }

 private:
  ListenerContext* context_ = nullptr;
};

}  // namespace outpost::server
