#include "server/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <future>
#include <stdexcept>
#include <thread>

namespace outpost::server {

Server::Server(unsigned threads, ConnectionLimits limits)
    : threads_(threads),
      limits_(limits),
      // Catch the signals from the start: a SIGTERM that arrives while listeners are being
      // set up is then a graceful shutdown, not a kill.
      signals_io_(std::make_unique<boost::asio::io_context>(1)),
      signals_(std::make_unique<boost::asio::signal_set>(*signals_io_, SIGINT, SIGTERM, SIGHUP)) {
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    registries_.push_back(std::make_unique<ConnectionRegistry>(connections_, threads_.context(i)));
    pollers_.push_back(std::make_unique<Poller>(threads_.context(i)));
  }
}

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

std::size_t Server::add_listener(const ListenerSettings& settings, proto::SessionFactory factory) {
  return add_listener(settings, std::move(factory), limits_);
}

std::size_t Server::add_listener(const ListenerSettings& settings, proto::SessionFactory factory,
                                 const ConnectionLimits& limits) {
  auto& context = *listener_contexts_.emplace_back(std::make_unique<ListenerContext>());
  context.limits = limits;
  context.traffic_slots = threads_.size();
  context.traffic = std::make_unique<TrafficSlot[]>(context.traffic_slots);
  listeners_.push_back(std::make_shared<Listener>(threads_, registries_, pollers_, settings, std::move(factory), context));
  if (started_ && !stopped_) boost::asio::post(threads_.context(0), [l = listeners_.back()] { l->start(); });
  return listeners_.size() - 1;
}

std::vector<Server::ListenerStats> Server::listener_stats() const {
  std::vector<ListenerStats> out;
  out.reserve(listeners_.size());
  for (const auto& l : listeners_) {
    out.push_back(ListenerStats{&l->settings(), l->where(), l->port(), l->live_connections(), l->traffic()});
  }
  return out;
}

std::size_t Server::reload_tls() {
  std::size_t failed = 0;
  for (auto& l : listeners_) {
    if (!l->is_tls()) continue;
    try {
      l->reload_tls();
      spdlog::info("{}: certificate and key reloaded; new connections use them", l->where());
    } catch (const std::exception& e) {
      ++failed;
      spdlog::error("{}: certificate and key not reloaded, the previous ones stay in use: {}", l->where(), e.what());
    }
  }
  return failed;
}

void Server::start() {
  if (started_) return;
  started_ = true;
  threads_.start();
  for (auto& l : listeners_) {
    boost::asio::post(threads_.context(0), [l] { l->start(); });
  }
}

void Server::run_until_signal(const std::function<void()>& on_reload) {
  boost::asio::io_context& signals_io = *signals_io_;
  boost::asio::signal_set& signals = *signals_;
  std::function<void(const boost::system::error_code&, int)> handler;
  handler = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      if (on_reload) on_reload();
      signals.async_wait(handler);
      return;
    }
    spdlog::info("received {}", sig == SIGINT ? "SIGINT" : "SIGTERM");
  };
  signals.async_wait(handler);
  signals_io.run();
}

template <class F>
bool Server::run_on(std::size_t i, F f, std::chrono::milliseconds limit) {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  boost::asio::post(threads_.context(i), [f = std::move(f), done] {
    f();
    done->set_value();
  });
  return future.wait_for(limit) == std::future_status::ready;
}

bool Server::wait_for_connections(std::chrono::steady_clock::time_point deadline) const {
  while (connection_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return connection_count() == 0;
}

void Server::notify_access_changed() {
  if (!started_ || stopped_) return;
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    boost::asio::post(threads_.context(i), [reg = registries_[i].get()] {
      reg->for_each([](ConnectionBase& c) { c.access_changed(); });
    });
  }
}

void Server::shutdown(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  if (!started_) {
    // Nothing ran: no connection exists and the acceptors have no pending operation.
    for (auto& l : listeners_) l->stop();
    threads_.stop();
    threads_.join();
    return;
  }
  constexpr std::chrono::seconds step_limit{2};
  // Stop accepting first, on the acceptors' thread. Connections accepted before this
  // were posted to their threads ahead of the shutdown requests below, so none escapes.
  run_on(0, [this] { for (auto& l : listeners_) l->stop(); }, step_limit);
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    boost::asio::post(threads_.context(i), [reg = registries_[i].get()] {
      reg->for_each([](ConnectionBase& c) { c.shutdown(); });
    });
  }
  if (!wait_for_connections(std::chrono::steady_clock::now() + grace)) {
    spdlog::info("closing {} connection(s) that did not close within {} ms", connection_count(), grace.count());
    for (std::size_t i = 0; i < threads_.size(); ++i) {
      boost::asio::post(threads_.context(i), [reg = registries_[i].get()] {
        reg->for_each([](ConnectionBase& c) { c.abort(); });
      });
    }
    wait_for_connections(std::chrono::steady_clock::now() + step_limit);
  }
  // Let the handlers already queued run (sessions release what they hold), then stop.
  for (std::size_t i = 0; i < threads_.size(); ++i) run_on(i, [] {}, step_limit);
  threads_.stop();
  threads_.join();
}

}  // namespace outpost::server
