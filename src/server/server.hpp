// Server: the I/O threads, the listeners and the live connections. It knows transports,
// not protocols: main.cpp gives each listener a session factory.
//
// Threading: construct, add listeners, start, run_until_signal and shutdown from the main
// thread. Connections live on the I/O threads.
#pragma once

#include "common/link.hpp"
#include "server/connection.hpp"
#include "server/connection_registry.hpp"
#include "server/io_threads.hpp"
#include "server/listener.hpp"
#include "settings.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace outpost::server {

class Server {
 public:
  explicit Server(unsigned threads, ConnectionLimits limits = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds now (throws with the address and the OS error if it cannot); accepts after start().
  void add_listener(const ListenerSettings& settings, proto::SessionFactory factory);
  void start();
  // The port listener i is bound to (useful with port 0).
  std::uint16_t bound_port(std::size_t i) const { return listeners_.at(i)->port(); }
  boost::asio::any_io_executor executor(std::size_t thread) { return threads_.context(thread).get_executor(); }
  std::size_t thread_count() const noexcept { return threads_.size(); }
  std::size_t connection_count() const noexcept { return connections_.load(std::memory_order_relaxed); }

  // Blocks until SIGINT or SIGTERM; calls on_reload (on this thread) for each SIGHUP.
  void run_until_signal(const std::function<void()>& on_reload);
  // Stops accepting, asks every session to close, waits up to `grace` for them, closes
  // what is left and stops the threads.
  void shutdown(std::chrono::milliseconds grace);

 private:
  IoThreads threads_;
  ConnectionLimits limits_;
  std::atomic<std::size_t> connections_{0};
  std::vector<std::unique_ptr<ConnectionRegistry>> registries_;
  std::vector<std::shared_ptr<Listener>> listeners_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace outpost::server
