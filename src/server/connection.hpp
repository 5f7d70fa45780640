// Connection<Stream>: one accepted connection, implementing proto::Link for a protocol
// session. The stream type is a template parameter so TCP, TLS and WebSocket share this
// code. Lives on one I/O thread (its stream's executor) for its whole life; every
// member runs there.
//
// Reading: bytes accumulate in a buffer that starts small and grows only to hold a
// packet that is still incomplete; the session consumes what it can and the rest is
// presented again with more data. Writing: everything written while handling one event
// leaves in one gather write; one write is in flight at a time and the next batch
// accumulates meanwhile. When the unsent bytes pass the high watermark the connection
// stops reading from its peer until they drain (backpressure).
#pragma once

#include "common/link.hpp"
#include "server/connection_registry.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <cstring>
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

namespace outpost::server {

struct ConnectionLimits {
  std::size_t initial_read_buffer = 2048;
  std::size_t max_read_buffer = 300u << 20;  // safety net; protocols enforce their own limits
  std::size_t write_high_watermark = 1u << 20;
  std::size_t write_low_watermark = 256u << 10;
  std::size_t copy_threshold = 512;  // shared buffers smaller than this are copied
  std::chrono::seconds close_timeout{5};
};

template <class Stream>
class Connection final : public proto::Link,
                         public ConnectionBase,
                         public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(Stream stream, std::string remote, std::string_view transport, ConnectionRegistry& registry,
             const ConnectionLimits& limits)
      : stream_(std::move(stream)),
        remote_(std::move(remote)),
        transport_(transport),
        registry_(registry),
        limits_(limits) {}

  ~Connection() override = default;

  // Creates the session and starts reading. Call on the connection's thread.
  void start(const proto::SessionFactory& factory) {
    if constexpr (kWaitThenRead) {
      boost::system::error_code ignored;
      stream_.non_blocking(true, ignored);
    }
    registry_.add(this, std::weak_ptr<ConnectionBase>(this->shared_from_this()));
    registered_ = true;
    // Alive until finish(), even while no operation is pending (reading paused).
    self_ = this->shared_from_this();
    session_ = factory(*this);
    read_more();
  }

  // --- proto::Link ---
  void write(std::span<const std::uint8_t> bytes) override {
    if (closed_ || bytes.empty()) return;
    append_bytes(bytes);
    after_append(bytes.size());
  }

  void write_shared(std::shared_ptr<const void> owner, std::span<const std::uint8_t> bytes) override {
    if (closed_ || bytes.empty()) return;
    if (bytes.size() < limits_.copy_threshold) {
      append_bytes(bytes);
    } else {
      pending_.segments.push_back(Segment{std::move(owner), bytes.data(), bytes.size(), 0, false});
    }
    after_append(bytes.size());
  }

  std::size_t pending_bytes() const override { return pending_total_; }
  bool write_pressure() const override { return write_pressure_; }

  void close(std::string_view reason) override {
    if (closed_ || closing_) return;
    closing_ = true;
    close_detail_ = std::string(reason);
    // A peer that never reads must not hold the connection open forever.
    close_timer_ = std::make_unique<boost::asio::steady_timer>(stream_.get_executor());
    close_timer_->expires_after(limits_.close_timeout);
    close_timer_->async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->finish(proto::CloseCause::local_close, self->close_detail_);
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
  std::string_view transport_name() const override { return transport_; }
  const std::string& peer_identity() const override { return identity_; }
  boost::asio::any_io_executor executor() override { return stream_.get_executor(); }
  std::weak_ptr<proto::Link> weak_from_link() override {
    return std::static_pointer_cast<proto::Link>(this->shared_from_this());
  }

  // --- ConnectionBase ---
  void shutdown() override {
    if (closed_) return;
    if (session_) session_->on_shutdown();
    close("server shutting down");
  }
  void abort() override { finish(proto::CloseCause::shutdown, "server shutting down"); }

  Stream& stream() noexcept { return stream_; }
  void set_peer_identity(std::string id) { identity_ = std::move(id); }

 private:
  struct Segment {
    std::shared_ptr<const void> owner;  // null: bytes live in the batch buffer at `offset`
    const std::uint8_t* data;
    std::size_t size;
    std::size_t offset;
    bool own;
  };
  struct Batch {
    std::vector<std::uint8_t> bytes;
    std::vector<Segment> segments;
    bool empty() const noexcept { return segments.empty(); }
    void clear() {
      bytes.clear();
      segments.clear();
    }
    void swap_with(Batch& other) noexcept {
      bytes.swap(other.bytes);
      segments.swap(other.segments);
    }
  };

  void append_bytes(std::span<const std::uint8_t> b) {
    const std::size_t offset = pending_.bytes.size();
    pending_.bytes.insert(pending_.bytes.end(), b.begin(), b.end());
    if (!pending_.segments.empty() && pending_.segments.back().own) {
      pending_.segments.back().size += b.size();
    } else {
      pending_.segments.push_back(Segment{nullptr, nullptr, b.size(), offset, true});
    }
  }

  void after_append(std::size_t n) {
    pending_total_ += n;
    if (pending_total_ >= limits_.write_high_watermark) write_pressure_ = true;
    if (!write_in_flight_) schedule_flush();
  }

  void schedule_flush() {
    if (flush_scheduled_) return;
    flush_scheduled_ = true;
    // Deferred to the end of the current handler, so its writes leave together.
    boost::asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->flush_scheduled_ = false;
      self->flush();
    });
  }

  void flush() {
    if (closed_ || write_in_flight_) return;
    if (pending_.empty()) {
      if (closing_) shutdown_stream();
      return;
    }
    std::swap(writing_, pending_);
    iov_.clear();
    iov_.reserve(writing_.segments.size());
    for (const auto& s : writing_.segments) {
      iov_.emplace_back(s.own ? writing_.bytes.data() + s.offset : s.data, s.size);
    }
    write_in_flight_ = true;
    boost::asio::async_write(stream_, iov_,
                             [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                               self->on_written(ec, n);
                             });
  }

  void on_written(const boost::system::error_code& ec, std::size_t n) {
    write_in_flight_ = false;
    writing_.clear();
    if (closed_) return;
    if (ec) {
      finish(proto::CloseCause::io_error, ec.message());
      return;
    }
    pending_total_ -= std::min(pending_total_, n);
    if (write_pressure_ && pending_total_ <= limits_.write_low_watermark) {
      write_pressure_ = false;
      if (session_ && !closing_) session_->on_writable();
      if (!closed_) process_and_read();
    }
    if (pending_.empty() && !closing_) {
      // Nothing more to send: an idle connection keeps no write buffers.
      Batch().swap_with(pending_);
      Batch().swap_with(writing_);
      std::vector<boost::asio::const_buffer>().swap(iov_);
      return;
    }
    flush();
  }

  void shutdown_stream() {
    boost::system::error_code ignored;
    stream_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    finish(proto::CloseCause::local_close, close_detail_);
  }

  bool can_read() const noexcept { return !paused_ && !write_pressure_ && !closing_ && !closed_; }

  // Offers buffered bytes to the session, then reads more if allowed.
  void process_and_read() {
    if (closed_) return;
    if (can_read() && rend_ > rbeg_) deliver_buffered();
    read_more();
  }

  void deliver_buffered() {
    const std::size_t used = session_->on_data({rbuf_.data() + rbeg_, rend_ - rbeg_});
    if (closed_) return;
    rbeg_ += used;
    if (rbeg_ == rend_) {
      rbeg_ = rend_ = 0;
      // A burst or a large packet grew the buffer; idle connections give it back.
      if (rbuf_.size() > 64 * 1024) {
        std::vector<std::uint8_t>().swap(rbuf_);
      }
    }
  }

  // A plain TCP socket with nothing buffered waits for readability and then reads into
  // its thread's scratch buffer: an idle connection holds no read buffer at all, and
  // only the tail of an incomplete packet is ever copied into one.
  static constexpr bool kWaitThenRead = std::is_same_v<Stream, boost::asio::ip::tcp::socket>;

  static std::vector<std::uint8_t>& scratch() {
    thread_local std::vector<std::uint8_t> buffer(64 * 1024);
    return buffer;
  }

  void on_readable(const boost::system::error_code& ec) {
    read_in_flight_ = false;
    if (closed_) return;
    if (ec) {
      if (ec != boost::asio::error::operation_aborted) finish(proto::CloseCause::io_error, ec.message());
      return;
    }
    auto& buf = scratch();
    boost::system::error_code e;
    const std::size_t n = stream_.read_some(boost::asio::buffer(buf), e);
    if (e == boost::asio::error::would_block || e == boost::asio::error::try_again) {
      read_more();
      return;
    }
    if (e) {
      if (e == boost::asio::error::eof || e == boost::asio::error::connection_reset) {
        finish(proto::CloseCause::peer_closed, "connection closed by peer");
      } else {
        finish(proto::CloseCause::io_error, e.message());
      }
      return;
    }
    std::size_t used = 0;
    if (can_read()) used = session_->on_data({buf.data(), n});
    if (closed_) return;
    if (used < n) {
      // Keep what the session could not use yet (an incomplete packet, or everything
      // while reading is paused).
      const std::size_t rest = n - used;
      rbuf_.resize(std::max(limits_.initial_read_buffer, rest));
      std::memcpy(rbuf_.data(), buf.data() + used, rest);
      rbeg_ = 0;
      rend_ = rest;
    }
    read_more();
  }

  void read_more() {
    if (read_in_flight_ || !can_read()) return;
    if constexpr (kWaitThenRead) {
      if (rbeg_ == rend_) {
        if (!rbuf_.empty()) std::vector<std::uint8_t>().swap(rbuf_);
        rbeg_ = rend_ = 0;
        read_in_flight_ = true;
        stream_.async_wait(boost::asio::ip::tcp::socket::wait_read,
                           [self = this->shared_from_this()](const boost::system::error_code& ec) {
                             self->on_readable(ec);
                           });
        return;
      }
    }
    if (rbuf_.empty()) rbuf_.resize(limits_.initial_read_buffer);
    if (rend_ == rbuf_.size()) {
      if (rbeg_ > 0) {
        std::memmove(rbuf_.data(), rbuf_.data() + rbeg_, rend_ - rbeg_);
        rend_ -= rbeg_;
        rbeg_ = 0;
      } else if (rbuf_.size() >= limits_.max_read_buffer) {
        spdlog::warn("connection {}: more than {} bytes buffered without a complete packet; closing", remote_,
                     limits_.max_read_buffer);
        close("read buffer limit");
        return;
      } else {
        rbuf_.resize(std::min(rbuf_.size() * 2, limits_.max_read_buffer));
      }
    }
    read_in_flight_ = true;
    stream_.async_read_some(
        boost::asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          self->on_read(ec, n);
        });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    read_in_flight_ = false;
    if (closed_) return;
    if (ec) {
      if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) {
        finish(proto::CloseCause::peer_closed, "connection closed by peer");
      } else if (ec != boost::asio::error::operation_aborted) {
        finish(proto::CloseCause::io_error, ec.message());
      }
      return;
    }
    rend_ += n;
    if (can_read()) deliver_buffered();
    read_more();
  }

  void finish(proto::CloseCause cause, std::string_view detail) {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    stream_.close(ignored);
    if (close_timer_) close_timer_->cancel();
    if (session_) session_->on_closed(cause, detail);
    if (registered_) registry_.remove(this);
    pending_.clear();
    // Released after this handler returns; the session goes with the object.
    boost::asio::post(stream_.get_executor(), [self = std::move(self_)] {});
  }

  Stream stream_;
  std::string remote_;
  std::string_view transport_;
  std::string identity_;
  ConnectionRegistry& registry_;
  const ConnectionLimits& limits_;
  std::unique_ptr<proto::Session> session_;

  std::vector<std::uint8_t> rbuf_;
  std::size_t rbeg_ = 0;
  std::size_t rend_ = 0;
  bool read_in_flight_ = false;
  bool paused_ = false;
  bool write_pressure_ = false;

  Batch pending_;
  Batch writing_;
  std::vector<boost::asio::const_buffer> iov_;
  std::size_t pending_total_ = 0;
  bool write_in_flight_ = false;
  bool flush_scheduled_ = false;

  bool closing_ = false;
  bool closed_ = false;
  bool registered_ = false;
  std::string close_detail_;
  std::unique_ptr<boost::asio::steady_timer> close_timer_;
  std::shared_ptr<Connection> self_;
};

}  // namespace outpost::server
