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

Server::Server(unsigned threads, ConnectionLimits limits) : threads_(threads), limits_(limits) {
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    registries_.push_back(std::make_unique<ConnectionRegistry>(connections_));
  }
}

Server::~Server() {
  if (started_ && !stopped_) shutdown(std::chrono::milliseconds(0));
}

void Server::add_listener(const ListenerSettings& settings, proto::SessionFactory factory) {
  if (settings.protocol != ListenerProtocol::mqtt && settings.protocol != ListenerProtocol::amqp) {
    throw std::runtime_error(std::string("listener kind '") + to_string(settings.protocol) +
                             "' is not supported yet");
  }
  listeners_.push_back(std::make_shared<Listener>(threads_, registries_, settings, std::move(factory), limits_));
}

void Server::start() {
  started_ = true;
  threads_.start();
  for (auto& l : listeners_) {
    boost::asio::post(threads_.context(0), [l] { l->start(); });
  }
}

void Server::run_until_signal(const std::function<void()>& on_reload) {
  boost::asio::io_context signals_io(1);
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> handler;
  handler = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      on_reload();
      signals.async_wait(handler);
      return;
    }
    spdlog::info("received {}", sig == SIGINT ? "SIGINT" : "SIGTERM");
  };
  signals.async_wait(handler);
  signals_io.run();
}

void Server::shutdown(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  // Stop accepting first, on the listeners' thread.
  std::promise<void> stopped;
  boost::asio::post(threads_.context(0), [this, &stopped] {
    for (auto& l : listeners_) l->stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    boost::asio::post(threads_.context(i), [reg = registries_[i].get()] {
      reg->for_each([](ConnectionBase& c) { c.shutdown(); });
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (connection_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (connection_count() > 0) {
    spdlog::info("closing {} connection(s) that did not close in time", connection_count());
    for (std::size_t i = 0; i < threads_.size(); ++i) {
      boost::asio::post(threads_.context(i), [reg = registries_[i].get()] {
        reg->for_each([](ConnectionBase& c) { c.abort(); });
      });
    }
    const auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (connection_count() > 0 && std::chrono::steady_clock::now() < hard) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  // Let the last handlers run (sessions release what they hold), then stop.
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    std::promise<void> drained;
    boost::asio::post(threads_.context(i), [&drained] { drained.set_value(); });
    drained.get_future().wait_for(std::chrono::seconds(1));
  }
  threads_.stop(true);
}

}  // namespace outpost::server
