// The boundary between a transport connection (src/server) and a protocol session
// (protocols/*). A protocol session never touches a socket: it consumes bytes through
// Session::on_data and produces bytes through Link. TCP, TLS and WebSocket connections
// all implement Link, so one MQTT (or AMQP) session serves every transport.
//
// Threading: a Link and its Session live on one I/O thread for their whole life. Every
// call in both directions happens on that thread. Other threads reach a session only by
// posting to Link::executor() while holding Link::weak_from_link().
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace outpost::proto {

class Link {
 public:
  virtual ~Link() = default;

  // Queue bytes for sending (copied). Writes issued while handling one event are sent
  // together in one gather write after the handler returns; never blocks.
  virtual void write(std::span<const std::uint8_t> bytes) = 0;
  // Queue a buffer that stays owned by `owner` until written (shared payloads: no copy).
  virtual void write_shared(std::shared_ptr<const void> owner, std::span<const std::uint8_t> bytes) = 0;
  // Bytes queued and not yet written to the socket.
  virtual std::size_t pending_bytes() const = 0;
  // True while the unsent bytes are above the connection's high watermark. A session
  // stops producing then; Session::on_writable() follows once they drain.
  virtual bool write_pressure() const = 0;

  // Send what is queued, then close. The session gets on_closed() once, later.
  virtual void close(std::string_view reason) = 0;
  // Stop / restart reading from the peer (backpressure). Data already received and
  // not consumed stays buffered.
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;

  virtual const std::string& remote_address() const = 0;  // "1.2.3.4:5678"
  virtual std::string_view transport_name() const = 0;     // "tcp", "tls", "ws", "wss"
  // The TLS client certificate's common name when the listener asks for identity; empty otherwise.
  virtual const std::string& peer_identity() const = 0;

  virtual boost::asio::any_io_executor executor() = 0;
  // Session::on_deadline() runs once, at `when` or up to half a second later (one timer
  // per I/O thread checks every connection), unless set again first. time_point::max()
  // clears it. For coarse protocol timeouts: keepalive, connect timeout.
  virtual void set_deadline(std::chrono::steady_clock::time_point when) = 0;
  // Keeps the connection (and its session) alive; other threads hold it as weak_ptr.
  virtual std::weak_ptr<Link> weak_from_link() = 0;
};

enum class CloseCause { peer_closed, io_error, local_close, shutdown };

class Session {
 public:
  virtual ~Session() = default;
  // All received bytes not yet consumed. Returns how many were consumed; the rest are
  // presented again, with more appended, on the next call.
  virtual std::size_t on_data(std::span<const std::uint8_t> data) = 0;
  // The pending write queue drained below the low watermark.
  virtual void on_writable() {}
  // The deadline set with Link::set_deadline has passed.
  virtual void on_deadline() {}
  // The connection has ended (called exactly once). The session must drop every
  // reference it gave to other threads before returning.
  virtual void on_closed(CloseCause cause, std::string_view detail) = 0;
  // The password and ACL rules were reloaded (SIGHUP): a session whose client's user is no
  // longer valid disconnects it; the new rules apply to everything the client does next.
  virtual void on_access_changed() {}
  // Graceful broker shutdown: say goodbye on the protocol if it has a way (e.g. MQTT 5
  // DISCONNECT 0x8B), then close.
  virtual void on_shutdown() = 0;
};

// A protocol as a listener knows it: a factory of sessions.
using SessionFactory = std::function<std::unique_ptr<Session>(Link&)>;

}  // namespace outpost::proto
