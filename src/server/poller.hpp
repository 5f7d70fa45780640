// Poller: one epoll set per I/O thread for the plain TCP connections of that thread, and
// PolledSocket, the socket such a connection owns.
//
// Why: a socket in Asio's reactor costs a descriptor state (about 170 bytes) and, while
// idle, a pending wait operation (about 250 bytes). With thousands of idle devices that
// is most of a connection's memory. Here a plain TCP socket is registered once, for its
// whole life, in its thread's epoll set (edge-triggered, in, out and peer half-close),
// with the connection itself as the event's data; the set's own descriptor is the only
// one Asio watches for all of them. When it becomes readable the poller fetches the
// ready events in batches (epoll_wait with no timeout) and hands each to its target,
// then waits again. Asio starts that wait with EPOLL_CTL_MOD, which reports a set that
// is still ready at once, so no event is lost between the last batch and the new wait.
//
// Edge-triggered events say what changed, not what is: a target keeps its own readiness
// bits (PollTarget's caller, Connection, does) so a read or write started after the edge
// proceeds at once.
//
// Lifetime: the set holds raw pointers. A target leaves it when its descriptor is closed
// (PolledSocket::close, or its destructor), and must not be destroyed in the middle of a
// batch: connections are released in a handler posted after the one that ended them, so
// an event fetched in the current batch always finds its target alive (closed, perhaps,
// which it checks).
//
// Threading: constructed on the main thread before the I/O threads run; add() and every
// call into a target happen on the poller's own I/O thread. Nothing blocks.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace outpost::server {

// What the poller calls for each event of a registered descriptor. `events` are epoll
// bits (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
class PollTarget {
 public:
  virtual void on_poll(std::uint32_t events) = 0;

 protected:
  ~PollTarget() = default;
};

class Poller {
 public:
  // Throws std::system_error if the epoll set cannot be created.
  explicit Poller(boost::asio::io_context& io);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Registers `fd` for its life; `target` gets its events until the descriptor is closed.
  bool add(int fd, PollTarget* target, boost::system::error_code& ec) noexcept;

 private:
  void wait();
  void drain();

  boost::asio::posix::basic_stream_descriptor<boost::asio::io_context::executor_type> set_;
};

// A connected, non-blocking TCP socket that is not in Asio's reactor (see Poller). Owns
// its descriptor. Offers Connection what it needs of a stream; reads and writes never
// block and report would_block instead.
class PolledSocket {
 public:
  using executor_type = boost::asio::io_context::executor_type;

  PolledSocket(executor_type ex, int fd) noexcept : ex_(ex), fd_(fd) {}
  PolledSocket(PolledSocket&& o) noexcept : ex_(o.ex_), fd_(o.fd_) { o.fd_ = -1; }
  PolledSocket& operator=(PolledSocket&&) = delete;
  ~PolledSocket() { close(); }

  executor_type get_executor() const noexcept { return ex_; }
  int native_handle() const noexcept { return fd_; }
  bool is_open() const noexcept { return fd_ >= 0; }
  // Closing also takes the socket out of its poller's set.
  void close() noexcept;
  void shutdown_send() noexcept;

  // recv(): 0 bytes with no error never happens; the peer's close is error::eof.
  std::size_t read_some(std::span<std::uint8_t> into, boost::system::error_code& ec) noexcept;
  // sendmsg() of as much of `buffers` as the socket takes (at most 64 entries at once).
  std::size_t write_some(std::span<const boost::asio::const_buffer> buffers, boost::system::error_code& ec) noexcept;

 private:
  executor_type ex_;
  int fd_;
};

}  // namespace outpost::server
