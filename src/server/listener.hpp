// Listener: accepts TCP connections on one address and port and places each on an I/O
// thread (accepting straight onto that thread's io_context), where a Connection gets a
// protocol session from the listener's factory.
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
#include "settings.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace outpost::server {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds and listens now; throws std::runtime_error naming the address, port and the
  // OS error. `registries` holds one registry per I/O thread.
  Listener(IoThreads& threads, std::vector<std::unique_ptr<ConnectionRegistry>>& registries,
           const ListenerSettings& settings, proto::SessionFactory factory, const ConnectionLimits& limits);

  void start();
  void stop();
  std::uint16_t port() const noexcept { return port_; }
  const ListenerSettings& settings() const noexcept { return settings_; }
  // Connections of this listener whose socket is still open. Any thread.
  std::uint32_t live_connections() const noexcept { return live_->load(std::memory_order_relaxed); }

 private:
  void accept();
  void on_accept(const boost::system::error_code& ec, TcpSocket socket, std::size_t thread);

  IoThreads& threads_;
  std::vector<std::unique_ptr<ConnectionRegistry>>& registries_;
  const ListenerSettings settings_;
  const proto::SessionFactory factory_;
  const ConnectionLimits limits_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  std::string where_;  // "mqtt on 127.0.0.1:1883", for log lines
  std::uint16_t port_ = 0;
  // Shared with the connections' leases, which may outlive the listener.
  std::shared_ptr<std::atomic<std::uint32_t>> live_ = std::make_shared<std::atomic<std::uint32_t>>(0);
  bool stopped_ = false;
};

// "1.2.3.4:5" or "[::1]:5"; an IPv4-mapped IPv6 address is shown as IPv4.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep);

}  // namespace outpost::server
