// Listener: accepts TCP connections on one address and port and places each on an I/O
// thread, where a Connection gets a protocol session from the listener's factory. Plain
// TCP kinds (mqtt, amqp) give the socket to that thread's Poller and never register it
// with Asio; TLS kinds (mqtts, wss, amqps) do the TLS handshake first and WebSocket kinds
// (ws, wss) the HTTP upgrade (listener_accept.cpp), over an Asio socket of that thread's
// io_context; the session then reads the same bytes over every transport.
//
// Threading: constructed on the main thread (binding there, so a bind failure throws at
// start-up); start() and stop() run on I/O thread 0, which owns the acceptor. port() and
// settings() from any thread. Accept errors (EMFILE, ...) are logged, the loop backs off
// briefly and goes on.
#pragma once

#include "common/link.hpp"
#include "server/connection.hpp"
#include "server/connection_registry.hpp"
#include "server/io_threads.hpp"
#include "server/listener_context.hpp"
#include "server/poller.hpp"
#include "server/tls_context.hpp"
#include "settings.hpp"
#include "websocket/upgrade.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace outpost::server {

class Handshake;

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds and listens now; throws std::runtime_error naming the address, port and the
  // OS error, or, for a TLS kind, the certificate or key file that cannot be used.
  // `registries` and `pollers` hold one registry and one poller per I/O thread.
  // `context` (its limits set) is the server's, kept until the I/O threads are gone; the
  // listener sets its transport.
  Listener(IoThreads& threads, std::vector<std::unique_ptr<ConnectionRegistry>>& registries,
           std::vector<std::unique_ptr<Poller>>& pollers, const ListenerSettings& settings,
           proto::SessionFactory factory, ListenerContext& context);

  void start();
  void stop();
  std::uint16_t port() const noexcept { return port_; }
  const ListenerSettings& settings() const noexcept { return settings_; }
  // Connections of this listener whose socket is still open. Any thread.
  std::uint32_t live_connections() const noexcept { return context_.open_sockets.load(std::memory_order_relaxed); }
  // Bytes its connections received and sent since the start. Any thread.
  Traffic traffic() const noexcept { return context_.traffic_total(); }
  // TLS kinds: reads the certificate, key, CA and CRL files again; new handshakes use
  // them, connected clients keep theirs. Throws (and keeps the old ones) if they cannot
  // be used. Does nothing for other kinds. Any thread; blocks on the file reads.
  void reload_tls();
  bool is_tls() const noexcept { return tls_ != nullptr; }
  const std::string& where() const noexcept { return where_; }

 private:
  friend class Handshake;
  // Waits until a connection can be accepted, then accepts what is queued.
  void accept();
  void on_acceptable(const boost::system::error_code& ec);
  // A new connection's descriptor (non-blocking), its peer address and the thread chosen.
  void on_accept(int fd, const boost::asio::ip::tcp::endpoint& peer);
  bool plain() const noexcept;
  // False (and logged, once per address per second) when `peer`'s address has opened
  // max_connections_per_second_per_address connections in this second already.
  bool within_connection_rate(const boost::asio::ip::tcp::endpoint& peer);
  // On `thread`: the TLS handshake and WebSocket upgrade as the kind needs, then the
  // Connection (listener_accept.cpp); a plain TCP connection at once.
  void open(TcpSocket socket, std::string remote, SocketLease lease, std::size_t thread);
  void open(PolledSocket socket, std::string remote, SocketLease lease, std::size_t thread);
  template <class Stream>
  void start_session(Stream stream, std::string remote, SocketLease lease, std::size_t thread,
                     std::string identity);

  IoThreads& threads_;
  std::vector<std::unique_ptr<ConnectionRegistry>>& registries_;
  std::vector<std::unique_ptr<Poller>>& pollers_;
  const ListenerSettings settings_;
  const proto::SessionFactory factory_;
  ListenerContext& context_;  // shared with the connections
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  std::unique_ptr<TlsContextHolder> tls_;  // TLS kinds only
  websocket::UpgradePolicy ws_policy_;     // WebSocket kinds only
  std::string where_;  // "mqtt on 127.0.0.1:1883", for log lines
  std::uint16_t port_ = 0;
  bool stopped_ = false;
  // Connections per source address in the current one-second window (acceptor's thread
  // only). Cleared when the window passes, so it holds only this second's addresses.
  std::unordered_map<std::string, std::uint32_t> connections_this_second_;
  std::chrono::steady_clock::time_point rate_window_{};
};

// "1.2.3.4:5" or "[::1]:5"; an IPv4-mapped IPv6 address is shown as IPv4.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep);

}  // namespace outpost::server
