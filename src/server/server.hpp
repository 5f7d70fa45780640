// Server: the I/O threads, the listeners and the live connections. It knows transports,
// not protocols: main.cpp gives each listener a session factory.
//
// Threading: construct, add_listener, start, run_until_signal and shutdown from the main
// thread (shutdown and run_until_signal block; never call them from an I/O thread).
// executor(), bound_port() and connection_count() from any thread. Connections live on
// the I/O threads.
#pragma once

#include "common/link.hpp"
#include "server/connection.hpp"
#include "server/connection_registry.hpp"
#include "server/io_threads.hpp"
#include "server/listener.hpp"
#include "server/poller.hpp"
#include "settings.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace outpost::server {

class Server {
 public:
  // `limits` is the default for listeners added without their own.
  explicit Server(unsigned threads, ConnectionLimits limits = {});
  ~Server();  // shutdown(0) if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds now (throws std::runtime_error with the address, port and OS error if it
  // cannot, or naming the certificate or key file a TLS listener cannot use); accepts
  // from start(), or at once when the server is already running.
  // Returns the listener's index.
  std::size_t add_listener(const ListenerSettings& settings, proto::SessionFactory factory);
  std::size_t add_listener(const ListenerSettings& settings, proto::SessionFactory factory,
                           const ConnectionLimits& limits);
  void start();
  // Every TLS listener reads its certificate, key, CA and CRL files again; connected
  // clients keep their sessions, new handshakes use the new files. A listener whose new
  // files cannot be used keeps the old ones (logged). Returns how many failed. Main
  // thread (blocks on the file reads).
  std::size_t reload_tls();

  // Every live session is told, on its own thread, that the security rules changed
  // (Session::on_access_changed). Returns at once.
  void notify_access_changed();

  // The port listener i is bound to (the real one when the settings said 0).
  std::uint16_t bound_port(std::size_t i) const { return listeners_.at(i)->port(); }
  // I/O thread `thread`'s executor, e.g. for timers (thread 0 also runs the acceptors).
  boost::asio::any_io_executor executor(std::size_t thread) { return threads_.executor(thread); }
  std::size_t thread_count() const noexcept { return threads_.size(); }
  // What a listener has done so far, for the metrics. Any thread.
  struct ListenerStats {
    const ListenerSettings* settings = nullptr;  // the listener's (lives as long as the server)
    std::string where;                           // "mqtt 127.0.0.1:1883"
    std::uint16_t port = 0;
    std::uint32_t connections = 0;  // open sockets (in a handshake or connected)
    Traffic traffic;
  };
  std::vector<ListenerStats> listener_stats() const;
  // Live connections (whose session has not ended), over all threads.
  std::size_t connection_count() const noexcept { return connections_.load(std::memory_order_relaxed); }

  // Blocks until SIGINT or SIGTERM and returns (the caller then calls shutdown); calls
  // on_reload, on this thread, for each SIGHUP.
  void run_until_signal(const std::function<void()>& on_reload);
  // Stops accepting, calls on_shutdown() on every live session on its own thread, waits
  // up to `grace` for the connections to end, closes the rest and stops the threads.
  // Blocks; call once (later calls do nothing).
  void shutdown(std::chrono::milliseconds grace);

 private:
  // Runs f on I/O thread i and waits for it, at most `limit`. False on timeout.
  template <class F>
  bool run_on(std::size_t i, F f, std::chrono::milliseconds limit);
  // Waits until no connection is left or the deadline passes. True if none is left.
  bool wait_for_connections(std::chrono::steady_clock::time_point deadline) const;

  // What each listener's connections share. Before the threads: a connection can be
  // destroyed as late as its thread's context, and points to its listener's.
  std::vector<std::unique_ptr<ListenerContext>> listener_contexts_;
  IoThreads threads_;  // destroyed after everything that uses it but the listener contexts
  ConnectionLimits limits_;
  std::unique_ptr<boost::asio::io_context> signals_io_;
  std::unique_ptr<boost::asio::signal_set> signals_;
  std::atomic<std::size_t> connections_{0};
  std::vector<std::unique_ptr<ConnectionRegistry>> registries_;  // one per I/O thread
  // One per I/O thread, for its plain TCP connections. Destroyed after the threads have
  // stopped, before their contexts.
  std::vector<std::unique_ptr<Poller>> pollers_;
  std::vector<std::shared_ptr<Listener>> listeners_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace outpost::server
