// Connection<Stream>: one accepted connection, implementing proto::Link for a protocol
// session. The stream type is a template parameter so TCP, TLS and WebSocket share this
// code (any stream with async_read_some / async_write_some and lowest_layer()). Plain TCP
// (PolledSocket) is not an Asio stream: its socket sits in its thread's Poller, which
// reports readiness edges; the connection keeps readiness bits, reads into a per-thread
// buffer when the socket is readable and writes at once, and the rest when it becomes
// writable again. TLS and WebSocket streams use plain asynchronous reads and writes, each
// batch written as one contiguous buffer.
//
// Threading: a connection lives on one I/O thread (its stream's executor) for its whole
// life; every member, and every call into its session, runs there. Other threads hold
// weak_from_link() and post to executor(). No call blocks.
//
// Lifetime: the connection holds itself (self_) until its session has ended; that last
// reference is dropped in a handler posted by end(), never inside an event dispatch, so
// the poller never reaches a freed connection (see poller.hpp).
//
// Memory: thousands of connections sit idle, so an idle one holds only what it needs:
// its socket, its peer's address, its session, one pointer to what its listener's
// connections share (ListenerContext) and packed flags. The read buffer (polled sockets),
// the write queue, the timer and rare details live out of line and only while in use.
//
// Reading: bytes accumulate in a buffer that starts small and grows only while a packet
// is still incomplete; the session consumes what it can and the rest is presented again
// with more data appended. A buffer that grew is given back once it is empty; a polled
// socket reads into its thread's scratch buffer and keeps a buffer only for the tail of
// an incomplete packet (or while reading is paused).
//
// Writing: everything written while handling one event leaves in one gather write; one
// write is in flight at a time and the next batch accumulates meanwhile. When the unsent
// bytes pass the high watermark the connection stops reading from its peer until they
// drain below the low watermark (backpressure), then tells the session on_writable().
//
// Ending: close() sends what is queued, half-closes, tells the session on_closed(), then
// keeps reading (and discarding) briefly until the peer closes too. Closing a socket
// with unread input makes the kernel send a reset, which can destroy the last bytes we
// sent before the peer reads them (a final CONNACK or DISCONNECT with a reason code).
#pragma once

#include "common/link.hpp"
#include "server/connection_registry.hpp"
#include "server/listener_context.hpp"
#include "server/poller.hpp"
#include "server/write_queue.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace outpost::server {

// A TCP socket bound to its io_context's own executor type rather than the type-erased
// any_io_executor: 48 bytes less per socket and per pending operation, and no
// type-erased dispatch on every completion. (TLS and WebSocket connections and
// handshakes; plain TCP connections use PolledSocket.)
using TcpSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

// A stream with a closing handshake of its own (WebSocket): Connection calls it where a
// TCP stream is half-closed.
template <class S>
concept HasGoodbye = requires(S& s, void (*handler)(const boost::system::error_code&)) { s.async_goodbye(handler); };

template <class Stream>
class Connection final : public proto::Link,
                         public ConnectionBase,
                         public PollTarget,
                         public std::enable_shared_from_this<Connection<Stream>> {
 public:
  // `lease` counts the socket in its listener's context, which the connection keeps
  // pointing to and uncounts when it closes the socket.
  Connection(Stream stream, std::string remote, SocketLease lease)
      : stream_(std::move(stream)), remote_(std::move(remote)), context_(lease.release()) {}

  ~Connection() override {
    leave_registry();
    if (!socket_closed_) context_->open_sockets.fetch_sub(1, std::memory_order_relaxed);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Creates the session and starts reading. Call once, on the connection's thread; a
  // PolledSocket needs its thread's poller. If the factory throws, nothing is registered
  // and the connection dies with its owner.
  void start(const proto::SessionFactory& factory, ConnectionRegistry& registry, Poller* poller) {
    // Registered first: the session may set a deadline as it is created.
    registry.add(this);
    try {
      session_ = factory(*this);
    } catch (...) {
      leave_registry();
      throw;
    }
    // Alive until the session has ended: a polled connection never has an operation
    // pending, and no other connection has while paused.
    self_ = this->shared_from_this();
    if constexpr (kPolled) {
      boost::system::error_code ec;
      if (poller == nullptr) ec = boost::asio::error::bad_descriptor;
      if (ec || !poller->add(stream_.native_handle(), this, ec)) {
        spdlog::warn("connection {}: cannot watch the socket: {}", remote_, ec.message());
        end(proto::CloseCause::io_error, ec.message());
        close_socket();
        return;
      }
    }
    read_more();
  }

  // --- proto::Link ---
  void write(std::span<const std::uint8_t> bytes) override {
    if (closing_ || ended_ || bytes.empty()) return;
    append_copy(queue(), bytes);
    after_append(bytes.size());
  }

  void write_shared(std::shared_ptr<const void> owner, std::span<const std::uint8_t> bytes) override {
    if (closing_ || ended_ || bytes.empty()) return;
    WriteQueue& q = queue();
    if (bytes.size() < limits().copy_threshold) {
      append_copy(q, bytes);
    } else {
      q.pending.segments.push_back(WriteSegment{std::move(owner), bytes.data(), bytes.size(), 0});
    }
    after_append(bytes.size());
  }

  std::size_t pending_bytes() const override { return writes_ ? writes_->total : 0; }
  bool write_pressure() const override { return write_pressure_; }

  void close(std::string_view reason) override {
    if (closing_ || ended_) return;
    closing_ = true;
    extras().close_detail = std::string(reason);
    start_timer(limits().close_timeout, [self = this->shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->ended_) return;
      spdlog::debug("connection {}: peer did not take the last {} byte(s) in time", self->remote_,
                    self->pending_bytes());
      self->end(self->graceful_cause(), self->close_detail());
      self->close_socket();
    });
    if (!write_in_flight_) schedule_flush();
  }

  void pause_reading() override { paused_ = true; }

  void resume_reading() override {
    if (!paused_) return;
    paused_ = false;
    // Not inline: the caller may be inside on_data.
    boost::asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->process_and_read(); });
  }

  const std::string& remote_address() const override { return remote_; }
  std::string_view transport_name() const override { return context_->transport; }
  const std::string& peer_identity() const override {
    static const std::string none;
    return extras_ ? extras_->identity : none;
  }
  boost::asio::any_io_executor executor() override { return stream_.get_executor(); }
  std::weak_ptr<proto::Link> weak_from_link() override {
    return std::static_pointer_cast<proto::Link>(this->shared_from_this());
  }
  void set_deadline(std::chrono::steady_clock::time_point when) override {
    if (auto* r = registry()) r->set_deadline(this, when);
  }

  // --- ConnectionBase ---
  void deadline_passed() override {
    if (session_ && !ended_) session_->on_deadline();
  }

  std::shared_ptr<ConnectionBase> lock_base() override { return this->weak_from_this().lock(); }

  void access_changed() override {
    if (session_ && !ended_ && !closing_) session_->on_access_changed();
  }

  void shutdown() override {
    if (closing_ || ended_) return;
    shutting_down_ = true;
    if (session_) session_->on_shutdown();
    close("server shutting down");
  }

  void abort() override {
    if (ended_) {
      close_socket();  // a lingering half-close
      return;
    }
    end(proto::CloseCause::shutdown, "server shutting down");
    close_socket();
  }

  // --- PollTarget (PolledSocket only) ---
  void on_poll(std::uint32_t events) override {
    if constexpr (kPolled) {
      if (socket_closed_) return;  // closed earlier in this batch; released after it
      if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) hup_ = true;
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        readable_ = true;
        if (read_state_ == ReadState::waiting) {
          read_state_ = ReadState::idle;
          poll_read();
        }
      }
      if (socket_closed_) return;
      if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && write_in_flight_) {
        if (send_in_flight()) flush();
      }
    } else {
      (void)events;
    }
  }

  Stream& stream() noexcept { return stream_; }
  // For TLS: the certificate's identity, set before start().
  void set_peer_identity(std::string id) { extras().identity = std::move(id); }

 private:
  const ConnectionLimits& limits() const noexcept { return context_->limits; }

  proto::CloseCause graceful_cause() const noexcept {
    return shutting_down_ ? proto::CloseCause::shutdown : proto::CloseCause::local_close;
  }

  // --- writing ---

  WriteQueue& queue() {
    if (!writes_) writes_ = WriteQueue::take();
    return *writes_;
  }

  static void append_copy(WriteQueue& q, std::span<const std::uint8_t> b) {
    auto& p = q.pending;
    const std::size_t offset = p.bytes.size();
    p.bytes.insert(p.bytes.end(), b.begin(), b.end());
    if (!p.segments.empty() && !p.segments.back().owner) {
      p.segments.back().size += b.size();  // adjacent copies share one iovec entry
    } else {
      p.segments.push_back(WriteSegment{nullptr, nullptr, b.size(), offset});
    }
  }

  void after_append(std::size_t n) {
    writes_->total += n;
    if (writes_->total >= limits().write_high_watermark) write_pressure_ = true;
    if (writes_->total >= limits().write_stop_reading) reading_stopped_ = true;
    if (!write_in_flight_) schedule_flush();
  }

  void schedule_flush() {
    if (flush_scheduled_) return;
    flush_scheduled_ = true;
    // Runs after the current handler returns, so all of its writes leave together.
    boost::asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->flush_scheduled_ = false;
      self->flush();
    });
  }

  void flush() {
    for (;;) {
      if (ended_ || write_in_flight_) return;
      if (!writes_ || writes_->pending.empty()) {
        if (closing_) begin_linger();
        return;
      }
      WriteQueue& q = *writes_;
      std::swap(q.writing, q.pending);
      auto& iov = q.iov;
      iov.clear();
      iov.reserve(q.writing.segments.size());
      for (const auto& s : q.writing.segments) {
        iov.emplace_back(s.owner ? s.data : q.writing.bytes.data() + s.offset, s.size);
      }
      write_in_flight_ = true;
      if constexpr (kPolled) {
        // Most batches fit in the socket's send buffer: they leave at once; the rest
        // when the poller reports the socket writable again.
        q.written = 0;
        if (!send_in_flight()) return;
        continue;
      } else {
        // A TLS stream writes one buffer at a time (a record each) and a WebSocket stream
        // sends one message per write: one contiguous buffer makes the whole batch leave
        // as few records and one frame. The copy is small next to the encryption.
        if (iov.size() > 1) {
          auto& linear = q.linear;
          linear.clear();
          linear.reserve(boost::asio::buffer_size(iov));
          for (const auto& b : iov) {
            const auto* p = static_cast<const std::uint8_t*>(b.data());
            linear.insert(linear.end(), p, p + b.size());
          }
          iov.assign(1, boost::asio::buffer(linear));
        }
        boost::asio::async_write(stream_, iov,
                                 [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                   if (self->complete_write(ec, n)) self->flush();
                                 });
        return;
      }
    }
  }

  // PolledSocket: sends what is left of the batch in flight, until it is all sent or the
  // socket is full (the poller's next writable event continues). True when the batch is
  // done and flush() has more to do (complete_write's answer).
  bool send_in_flight() {
    WriteQueue& q = *writes_;
    auto& iov = q.iov;
    for (;;) {
      boost::system::error_code ec;
      const std::size_t n = stream_.write_some(iov, ec);
      if (ec == boost::asio::error::would_block) return false;
      if (ec) return complete_write(ec, q.written);
      q.written += n;
      std::size_t skip = n;
      std::size_t first = 0;
      while (first < iov.size() && skip >= iov[first].size()) skip -= iov[first++].size();
      iov.erase(iov.begin(), iov.begin() + static_cast<std::ptrdiff_t>(first));
      if (iov.empty()) return complete_write({}, q.written);
      iov.front() += skip;
      // A short write: the next attempt either sends more or reports the socket full,
      // which guarantees a writable event later.
    }
  }

  // A batch was written (or failed). True when flush() has more to do.
  bool complete_write(const boost::system::error_code& ec, std::size_t n) {
    write_in_flight_ = false;
    WriteQueue& q = *writes_;
    q.writing.clear();
    // A burst grew the copy buffer; do not keep it for the connection's whole life.
    const std::size_t keep = limits().keep_read_buffer;
    if (q.writing.bytes.capacity() > keep) std::vector<std::uint8_t>().swap(q.writing.bytes);
    if (q.linear.capacity() > keep) std::vector<std::uint8_t>().swap(q.linear);
    if (ended_) return false;
    if (ec) {
      end(proto::CloseCause::io_error, ec.message());
      close_socket();
      return false;
    }
    q.total -= std::min(q.total, n);
    TrafficSlot::add(context_->traffic_here().sent, n);
    if (write_pressure_ && q.total <= limits().write_low_watermark) {
      write_pressure_ = false;
      reading_stopped_ = false;
      if (session_ && !closing_) session_->on_writable();
      process_and_read();
    }
    if (writes_->pending.empty() && !closing_ && !write_in_flight_) {
      // Nothing more to send: an idle connection keeps no write queue (it goes back to
      // the thread's pool for the next busy one).
      WriteQueue::give_back(std::move(writes_), keep);
      writes_.reset();
      return false;
    }
    return true;
  }

  // --- reading ---

  // Bytes received and not yet consumed, out of line; a polled socket has it only while
  // it holds such bytes.
  struct ReadBuffer {
    std::vector<std::uint8_t> bytes;
    std::size_t begin = 0;  // first byte not yet consumed
    std::size_t end = 0;    // end of received bytes
  };

  ReadBuffer& read_buffer() {
    if (!rbuf_) rbuf_ = std::make_unique<ReadBuffer>();
    return *rbuf_;
  }
  bool buffered() const noexcept { return rbuf_ && rbuf_->begin != rbuf_->end; }

  // Under write pressure the session produces nothing new but the peer is still read: a
  // slow subscriber's PINGREQ or heartbeat is seen (its keep alive holds), its acks free
  // its window. Only a peer whose answers pile up past write_stop_reading stops being read.
  bool may_deliver() const noexcept { return !paused_ && !reading_stopped_ && !closing_ && !ended_; }

  // Offers buffered bytes to the session, then reads more if allowed.
  void process_and_read() {
    if (ended_) return;
    deliver();
    read_more();
  }

  void deliver() {
    if (!may_deliver() || !session_ || !buffered()) return;
    ReadBuffer& r = *rbuf_;
    const std::size_t used = session_->on_data({r.bytes.data() + r.begin, r.end - r.begin});
    // The buffer is not reshaped here: a read may be in flight into its tail.
    r.begin += std::min(used, r.end - r.begin);
  }

  // Makes room at the tail for the next read. Only while no read is in flight. False if
  // the buffer is full at its limit (the connection is then closing).
  bool make_room() {
    ReadBuffer& r = read_buffer();
    if (r.begin == r.end) {
      r.begin = r.end = 0;
      if (r.bytes.size() > limits().keep_read_buffer) std::vector<std::uint8_t>().swap(r.bytes);
    }
    if (r.bytes.empty()) r.bytes.resize(std::max<std::size_t>(limits().initial_read_buffer, 64));
    const std::size_t size = r.bytes.size();
    // Compact when the free tail is small, so reads do not shrink to a few bytes.
    if (r.begin > 0 && size - r.end < size / 4) {
      std::memmove(r.bytes.data(), r.bytes.data() + r.begin, r.end - r.begin);
      r.end -= r.begin;
      r.begin = 0;
    }
    if (r.end < size) return true;
    // Full of one incomplete packet: grow.
    if (size >= limits().max_read_buffer) {
      spdlog::warn("connection {}: {} bytes buffered without a complete packet; closing", remote_, size);
      end(proto::CloseCause::io_error, "read buffer limit exceeded");
      close_socket();
      return false;
    }
    r.bytes.resize(std::min(size * 2, std::max(limits().max_read_buffer, size)));
    return true;
  }

  // A plain TCP socket is polled (see poller.hpp): it reads when its readiness bits say
  // so, and with nothing buffered it reads into its thread's scratch buffer, so an idle
  // connection holds no read buffer at all and only the tail of an incomplete packet is
  // ever copied into one.
  static constexpr bool kPolled = std::is_same_v<Stream, PolledSocket>;

  static std::vector<std::uint8_t>& scratch() {
    thread_local std::vector<std::uint8_t> buffer(64 * 1024);
    return buffer;
  }

  void read_more() {
    if (read_state_ != ReadState::idle) return;
    // Not now: for a polled socket, the readiness bits remember what arrives meanwhile.
    if (!may_deliver()) return;
    if constexpr (kPolled) {
      if (rbuf_ && !buffered()) rbuf_.reset();
      await_readable();
    } else {
      if (!make_room()) return;
      start_read();
    }
  }

  // --- reading a polled socket ---

  // Reads at once if the socket may hold data (after the handlers already queued, so one
  // busy peer cannot starve the others), else when the poller reports it readable.
  void await_readable() {
    if (!readable_ && !hup_) {
      read_state_ = ReadState::waiting;
      return;
    }
    read_state_ = ReadState::posted;
    boost::asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->read_state_ != ReadState::posted) return;
      self->read_state_ = ReadState::idle;
      self->poll_read();
    });
  }

  // One read from a readable socket: into the scratch buffer when nothing is buffered,
  // else after the buffered bytes; discarded while lingering.
  void poll_read() {
    if (socket_closed_) return;
    if (ended_) {
      std::size_t n = 0;
      if (!read_socket(scratch(), n)) {
        if (!socket_closed_) read_state_ = ReadState::waiting;
        return;
      }
      await_readable();
      return;
    }
    if (buffered()) {
      if (!make_room()) return;
      ReadBuffer& r = *rbuf_;
      std::size_t n = 0;
      if (!read_socket({r.bytes.data() + r.end, r.bytes.size() - r.end}, n)) return;
      r.end += n;
      deliver();
      read_more();
      return;
    }
    auto& buf = scratch();
    std::size_t n = 0;
    if (!read_socket(buf, n)) return;
    std::size_t used = 0;
    if (may_deliver() && session_) used = std::min(session_->on_data({buf.data(), n}), n);
    if (ended_) return;
    if (used < n) {
      // Keep what the session could not use yet (an incomplete packet, or everything
      // while reading is paused).
      const std::size_t rest = n - used;
      ReadBuffer& r = read_buffer();
      r.bytes.resize(std::max(limits().initial_read_buffer, rest));
      std::memcpy(r.bytes.data(), buf.data() + used, rest);
      r.begin = 0;
      r.end = rest;
    }
    read_more();
  }

  // recv() into `into`, keeping the readiness bits. True with n > 0 bytes read; false
  // when there was nothing (then waiting for the next readable event, or for reading to
  // resume), or the connection ended or is lingering and closed.
  bool read_socket(std::span<std::uint8_t> into, std::size_t& n) {
    boost::system::error_code ec;
    n = stream_.read_some(into, ec);
    if (ec == boost::asio::error::would_block) {
      readable_ = false;
      read_more();
      return false;
    }
    if (ec) {
      if (ended_) close_socket();  // lingering: the peer's close or an error ends it
      else on_read_error(ec);
      return false;
    }
    TrafficSlot::add(context_->traffic_here().received, n);
    // A short read emptied the socket: data arriving later raises a new edge. After the
    // peer's half-close there is no edge left to wait for: read until the end of stream.
    if (n < into.size() && !hup_) readable_ = false;
    return true;
  }

  // --- reading an Asio stream ---

  void start_read() {
    read_state_ = ReadState::waiting;
    ReadBuffer& r = *rbuf_;
    stream_.async_read_some(boost::asio::buffer(r.bytes.data() + r.end, r.bytes.size() - r.end),
                            [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                              self->on_read(ec, n);
                            });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    read_state_ = ReadState::idle;
    if (ended_) {
      continue_linger(ec);
      return;
    }
    if (ec) {
      on_read_error(ec);
      return;
    }
    rbuf_->end += n;
    TrafficSlot::add(context_->traffic_here().received, n);
    deliver();
    read_more();
  }

  void on_read_error(const boost::system::error_code& ec) {
    if (ec == boost::asio::error::eof && closing_) {
      // The peer has finished sending but may still read: go on flushing the close.
      peer_eof_ = true;
      return;
    }
    if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) {
      end(proto::CloseCause::peer_closed, "connection closed by peer");
    } else {
      end(proto::CloseCause::io_error, ec.message());
    }
    close_socket();
  }

  // --- ending ---

  // Only a closing connection needs a timer of its own; an open one has none.
  template <class Handler>
  void start_timer(std::chrono::milliseconds after, Handler&& handler) {
    auto& timer = extras().timer;
    if (!timer) timer.emplace(stream_.get_executor());
    timer->expires_after(after);
    timer->async_wait(std::forward<Handler>(handler));
  }

  void cancel_timer() {
    if (extras_ && extras_->timer) extras_->timer->cancel();
  }

  // Everything queued was sent: half-close, end the session, wait for the peer's close.
  void begin_linger() {
    if constexpr (HasGoodbye<Stream>) {
      // A closing handshake of the stream's own (WebSocket close frames): the reads below
      // end when the peer answers it.
      if (!peer_eof_) stream_.async_goodbye([self = this->shared_from_this()](const boost::system::error_code&) {});
    } else if constexpr (kPolled) {
      stream_.shutdown_send();
    } else {
      boost::system::error_code ignored;
      stream_.lowest_layer().shutdown(boost::asio::socket_base::shutdown_send, ignored);
    }
    end(graceful_cause(), close_detail());
    if (peer_eof_) close_socket();  // nothing left to wait for
    if (socket_closed_) return;
    start_timer(limits().linger_timeout, [self = this->shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->close_socket();
    });
    if (read_state_ == ReadState::idle) continue_linger({});
  }

  // Reads and discards until the peer closes, an error, or the linger timer.
  void continue_linger(const boost::system::error_code& ec) {
    if (socket_closed_) return;
    if (ec) {
      close_socket();
      return;
    }
    if constexpr (kPolled) {
      rbuf_.reset();
      await_readable();
    } else {
      ReadBuffer& r = read_buffer();
      r.begin = r.end = 0;
      if (r.bytes.empty()) r.bytes.resize(std::max<std::size_t>(limits().initial_read_buffer, 64));
      start_read();
    }
  }

  // Ends the session: on_closed exactly once, for every way a connection ends.
  void end(proto::CloseCause cause, std::string_view detail) {
    if (ended_) return;
    ended_ = true;
    closing_ = true;
    cancel_timer();
    if (writes_) {
      writes_->pending.clear();
      writes_->total = 0;
    }
    if (session_) session_->on_closed(cause, detail);
    leave_registry();
    // Released after this handler returns: a session method may be on the stack of a
    // caller further up, and the connection may still be lingering.
    boost::asio::post(stream_.get_executor(), [self = std::move(self_), conn = this->shared_from_this()] {
      conn->session_.reset();
    });
  }

  void close_socket() {
    if (socket_closed_) return;
    socket_closed_ = true;
    if constexpr (kPolled) {
      stream_.close();  // also leaves the poller's set
    } else {
      boost::system::error_code ignored;
      stream_.lowest_layer().close(ignored);
    }
    cancel_timer();
    context_->open_sockets.fetch_sub(1, std::memory_order_relaxed);
  }

  // Rarely needed, so kept out of line: an open, plain connection has none of it.
  struct Extras {
    std::string identity;      // TLS peer identity
    std::string close_detail;  // why close() was called
    std::optional<boost::asio::steady_timer> timer;  // close timeout, then linger timeout
  };
  Extras& extras() {
    if (!extras_) extras_ = std::make_unique<Extras>();
    return *extras_;
  }
  std::string_view close_detail() const { return extras_ ? std::string_view(extras_->close_detail) : std::string_view(); }

  // idle; waiting (for the poller's readable event, or an Asio read in flight); posted (a
  // read of a polled socket known to be readable, queued behind the other handlers).
  enum class ReadState : std::uint8_t { idle, waiting, posted };

  // The flags share the tail padding of a PolledSocket (a descriptor next to a pointer).
  [[no_unique_address]] Stream stream_;
  ReadState read_state_ = ReadState::idle;
  // Polled socket: it may hold unread bytes (a readable edge, and no short read since).
  bool readable_ : 1 = false;
  // Polled socket: the peer half-closed or the socket failed (readable to the end of stream).
  bool hup_ : 1 = false;
  bool paused_ : 1 = false;
  bool write_pressure_ : 1 = false;
  bool reading_stopped_ : 1 = false;  // unsent bytes past write_stop_reading (implies pressure)
  bool write_in_flight_ : 1 = false;
  bool flush_scheduled_ : 1 = false;
  bool closing_ : 1 = false;        // close() asked, or ended
  bool shutting_down_ : 1 = false;  // the close comes from a server shutdown
  bool ended_ : 1 = false;          // on_closed delivered
  bool socket_closed_ : 1 = false;
  bool peer_eof_ : 1 = false;  // seen while closing
  std::string remote_;
  ListenerContext* context_;  // the listener's limits and transport; outlives the connection
  std::unique_ptr<proto::Session> session_;
  std::unique_ptr<ReadBuffer> rbuf_;
  std::unique_ptr<WriteQueue> writes_;  // only while there is something to send
  std::unique_ptr<Extras> extras_;
  std::shared_ptr<Connection> self_;
};

}  // namespace outpost::server
