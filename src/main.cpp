// outpost: wires settings, the routing core, the protocols and the server together.
// Protocols are registered here, explicitly, one line per listener kind.
#include "cli.hpp"
#include "core/broker.hpp"
#include "log.hpp"
#include "mqtt/mqtt_session.hpp"
#include "server/server.hpp"
#include "settings.hpp"
#include "settings_yaml.hpp"
#include "store/store.hpp"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

namespace {

using namespace outpost;

// Detached sessions whose expiry has passed are ended once a second.
class ExpirySweep {
 public:
  ExpirySweep(boost::asio::any_io_executor ex, core::Broker& broker) : timer_(ex), broker_(broker) {}
  void start() {
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto n = broker_.sessions().expire(core::Clock::now()); n > 0) {
        spdlog::info("{} expired session(s) removed", n);
      }
      start();
    });
  }
  void stop() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
  core::Broker& broker_;
};

proto::SessionFactory factory_for(const ListenerSettings& l, core::Broker& broker, const Settings& settings) {
  switch (l.protocol) {
    case ListenerProtocol::mqtt:
      return mqtt::make_session_factory(broker, settings.mqtt, l.allow_anonymous);
    default:
      throw std::runtime_error(std::string("listener kind '") + to_string(l.protocol) + "' is not supported yet");
  }
}

int run(const Settings& settings) {
  log::setup(settings.logging.level, settings.logging.file);
  const unsigned threads = settings.threads != 0 ? settings.threads : std::max(1u, std::thread::hardware_concurrency());

  store::MemoryStore store;
  core::Broker broker(store);
  server::Server server(threads);
  for (const auto& l : settings.listeners) {
    // The read buffer never needs to hold more than one packet of the protocol's maximum.
    server::ConnectionLimits limits;
    if (l.protocol == ListenerProtocol::mqtt) limits.max_read_buffer = std::size_t{settings.mqtt.max_packet_size} + 16;
    server.add_listener(l, factory_for(l, broker, settings), limits);
  }
  server.start();
  spdlog::info("outpost {} running with {} I/O thread(s); store: {}", OUTPOST_VERSION, threads, store.describe());

  ExpirySweep sweep(server.executor(0), broker);
  boost::asio::post(server.executor(0), [&sweep] { sweep.start(); });

  server.run_until_signal([&settings] {
    // SIGHUP: re-read the config file and apply what can change while running.
    if (settings.source == "<built-in>" || settings.source.empty()) {
      spdlog::info("SIGHUP: no configuration file to reload");
      return;
    }
    try {
      Settings fresh = load_settings_file(settings.source);
      if (log::set_level(fresh.logging.level)) {
        spdlog::info("SIGHUP: configuration reloaded from {}; log level {}", settings.source, fresh.logging.level);
      }
    } catch (const std::exception& e) {
      spdlog::error("SIGHUP: configuration not reloaded: {}", e.what());
    }
  });
  spdlog::info("shutting down");
  boost::asio::post(server.executor(0), [&sweep] { sweep.stop(); });
  server.shutdown(std::chrono::milliseconds(2000));
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = outpost::parse_and_resolve(argc, argv);
  if (auto* exit_now = std::get_if<outpost::ExitNow>(&parsed)) {
    auto& stream = exit_now->code == 0 ? std::cout : std::cerr;
    stream << exit_now->text;
    if (!exit_now->text.empty() && exit_now->text.back() != '\n') stream << '\n';
    return exit_now->code;
  }
  try {
    return run(std::get<outpost::Settings>(parsed));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "outpost: %s\n", e.what());
    return 1;
  }
}
