// Listener: accepts TCP connections on one address and port and places each on an I/O
// thread, where the listener's session factory gives it a protocol session.
// Start-up errors (bind) throw; accept errors are logged and the loop goes on.
#pragma once

#include "common/link.hpp"
#include "server/connection.hpp"
#include "server/io_threads.hpp"
#include "settings.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <vector>

namespace outpost::server {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(IoThreads& threads, std::vector<std::unique_ptr<ConnectionRegistry>>& registries,
           const ListenerSettings& settings, proto::SessionFactory factory, const ConnectionLimits& limits);

  void start();
  void stop();  // on the listener's thread (thread 0)
  std::uint16_t port() const noexcept { return port_; }
  const ListenerSettings& settings() const noexcept { return settings_; }

 private:
  void accept();
  void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket, std::size_t thread);

  IoThreads& threads_;
  std::vector<std::unique_ptr<ConnectionRegistry>>& registries_;
  const ListenerSettings settings_;
  proto::SessionFactory factory_;
  const ConnectionLimits& limits_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  std::uint16_t port_ = 0;
  std::shared_ptr<std::atomic<std::uint32_t>> live_ = std::make_shared<std::atomic<std::uint32_t>>(0);
  bool stopped_ = false;
};

// "1.2.3.4:5" or "[::1]:5".
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep);

}  // namespace outpost::server
