// outpost-loadgen: drives an MQTT or AMQP 0-9-1 broker with a scenario and prints one
// JSON line of results. It checks what it measures: each payload carries a publisher id, a sequence
// number and a send timestamp, so lost and duplicated messages are counted, not guessed.
//
//   outpost-loadgen --port 1883 --scenario fanin --publishers 10 --qos 1 --duration 5
//   outpost-loadgen --protocol amqp --port 5672 --persistent --confirm --window 100 --prefetch 100
#include "amqp_run.hpp"
#include "client.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <thread>

using namespace outpost::bench;
namespace asio = boost::asio;

namespace {

struct Config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::string scenario = "fanin";  // fanin, fanout, topics, connections
  std::size_t publishers = 10;
  std::size_t subscribers = 1;
  std::size_t connections = 1000;
  int qos = 0;
  std::size_t payload = 64;
  double duration = 5;
  double warmup = 1;
  double rate = 0;  // total messages per second over all publishers; 0 = as fast as possible
  std::size_t window = 64;
  int version = 4;
  unsigned threads = 1;
  double hold = 0;  // connections: seconds to keep them open after connecting
  std::string label;
  bool persistent = false;
};

void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

// Clients start from within their thread's event loop, a batch at a time, like devices
// that send CONNECT as soon as their TCP connection is up: thousands of connect() calls
// in a row (each slow while the listener is under a SYN burst) would otherwise hold
// back the CONNECT of every connection already established, past the broker's connect
// timeout.
constexpr std::size_t kStartBatch = 64;

void start_in_batches(asio::io_context& io, std::shared_ptr<std::vector<std::shared_ptr<Client>>> list,
                      std::size_t from) {
  const std::size_t end = std::min(list->size(), from + kStartBatch);
  for (std::size_t i = from; i < end; ++i) (*list)[i]->start();
  if (end < list->size()) {
    asio::post(io, [&io, list = std::move(list), end]() mutable { start_in_batches(io, std::move(list), end); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  AmqpRunConfig amqp;
  std::string protocol = "mqtt";
  CLI::App app{"MQTT and AMQP load generator for Outpost's benchmarks", "outpost-loadgen"};
  app.add_option("--protocol", protocol,
                 "mqtt (the scenarios below) or amqp (publishers -> one queue -> consumers)")
      ->check(CLI::IsMember({"mqtt", "amqp"}));
  app.add_option("--host", cfg.host);
  app.add_option("--port", cfg.port)->required();
  app.add_option("--scenario", cfg.scenario)->check(CLI::IsMember({"fanin", "fanout", "topics", "connections"}));
  app.add_option("--publishers", cfg.publishers);
  app.add_option("--subscribers", cfg.subscribers);
  app.add_option("--connections", cfg.connections);
  app.add_option("--qos", cfg.qos)->check(CLI::Range(0, 2));
  app.add_option("--payload", cfg.payload, "payload bytes (at least 20: the measurement header)");
  app.add_option("--duration", cfg.duration, "measured seconds");
  app.add_option("--warmup", cfg.warmup, "seconds of publishing before measuring");
  app.add_option("--rate", cfg.rate, "total messages per second (0 = as fast as possible)");
  app.add_option("--window", cfg.window, "QoS 1/2 messages (AMQP: unconfirmed messages) in flight per publisher");
  app.add_option("--mqtt-version", cfg.version)->check(CLI::IsMember({4, 5}));
  app.add_option("--threads", cfg.threads);
  app.add_option("--hold", cfg.hold, "connections scenario: seconds to hold the connections");
  app.add_option("--label", cfg.label);
  app.add_flag("--persistent", cfg.persistent,
               "MQTT: subscribers use persistent sessions; AMQP: a durable queue and persistent messages");
  std::string transport_name = "tcp";
  app.add_option("--transport", transport_name, "tcp, tls, ws or wss (WebSocket on /mqtt, subprotocol mqtt)")
      ->check(CLI::IsMember({"tcp", "tls", "ws", "wss"}));
  auto* amqp_opts = app.add_option_group("AMQP", "with --protocol amqp");
  amqp_opts->add_option("--consumers", amqp.consumers, "consumers of the queue");
  amqp_opts->add_flag("--confirm", amqp.confirm, "publisher confirms, --window unconfirmed per publisher");
  amqp_opts->add_flag("--no-ack", amqp.no_ack, "consumers use automatic acknowledgement");
  amqp_opts->add_option("--prefetch", amqp.prefetch, "basic.qos prefetch-count of each consumer");
  amqp_opts->add_option("--queue", amqp.queue, "queue name (default: one unique to the run)");
  amqp_opts->add_option("--user", amqp.user);
  amqp_opts->add_option("--password", amqp.password);
  CLI11_PARSE(app, argc, argv);
  raise_fd_limit();
  if (protocol == "amqp") {
    // --persistent: a durable queue and persistent messages (delivery-mode 2).
    amqp.host = cfg.host;
    amqp.port = cfg.port;
    amqp.publishers = cfg.publishers;
    amqp.payload = cfg.payload;
    amqp.duration = cfg.duration;
    amqp.warmup = cfg.warmup;
    amqp.rate = cfg.rate;
    amqp.window = cfg.window;
    amqp.threads = cfg.threads;
    amqp.label = cfg.label;
    amqp.persistent = cfg.persistent;
    return run_amqp(amqp);
  }

  asio::ip::tcp::endpoint broker(asio::ip::make_address(cfg.host), cfg.port);
  const Transport transport = transport_name == "tls"  ? Transport::tls
                              : transport_name == "ws" ? Transport::ws
                              : transport_name == "wss" ? Transport::wss
                                                        : Transport::tcp;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_none);
  const auto version = cfg.version == 5 ? outpost::mqtt::ProtocolVersion::v5 : outpost::mqtt::ProtocolVersion::v311;
  RunState run;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<std::unique_ptr<ThreadStats>> stats;
  for (unsigned i = 0; i < std::max(1u, cfg.threads); ++i) {
    ios.push_back(std::make_unique<asio::io_context>(1));
    stats.push_back(std::make_unique<ThreadStats>());
  }
  std::vector<std::shared_ptr<Client>> clients;
  std::vector<std::shared_ptr<Client>> publishers;
  std::vector<std::shared_ptr<Client>> subscribers;
  const std::string tag = fmt::format("lg{}", ::getpid());
  auto add = [&](Client::Options o) {
    const std::size_t t = clients.size() % ios.size();
    o.version = version;
    o.window = cfg.window;
    auto c = std::make_shared<Client>(*ios[t], broker, std::move(o), run, *stats[t], transport, &tls);
    clients.push_back(c);
    return c;
  };

  std::size_t n_pub = 0, n_sub = 0;
  if (cfg.scenario == "connections") {
    for (std::size_t i = 0; i < cfg.connections; ++i) {
      Client::Options o;
      o.role = Client::Role::idle;
      o.client_id = fmt::format("{}-idle-{}", tag, i);
      // One source address per 25000 connections: each (source, broker) pair has only
      // about 28000 ephemeral ports.
      if (cfg.connections > 25000) {
        o.source = asio::ip::make_address_v4(fmt::format("127.0.{}.{}", 1 + i / 25000 / 250, 1 + (i / 25000) % 250));
      }
      add(std::move(o));
    }
  } else {
    std::string filter;
    if (cfg.scenario == "fanin") {
      n_pub = cfg.publishers;
      n_sub = cfg.subscribers;
      filter = "bench/fanin/+";
    } else if (cfg.scenario == "fanout") {
      n_pub = 1;
      n_sub = cfg.subscribers;
      filter = "bench/fanout";
    } else {
      n_pub = cfg.publishers;
      n_sub = cfg.subscribers;
      filter = "site/+/temp";
    }
    for (std::size_t i = 0; i < n_sub; ++i) {
      Client::Options o;
      o.role = Client::Role::subscriber;
      o.client_id = fmt::format("{}-sub-{}", tag, i);
      o.topic = filter;
      o.qos = static_cast<std::uint8_t>(cfg.qos);
      o.persistent = cfg.persistent;
      o.publishers = n_pub;
      subscribers.push_back(add(std::move(o)));
    }
    for (std::size_t i = 0; i < n_pub; ++i) {
      Client::Options o;
      o.role = Client::Role::publisher;
      o.client_id = fmt::format("{}-pub-{}", tag, i);
      o.topic = cfg.scenario == "fanin"    ? fmt::format("bench/fanin/{}", i)
                : cfg.scenario == "fanout" ? std::string("bench/fanout")
                                           : fmt::format("site/{}/temp", i);
      o.qos = static_cast<std::uint8_t>(cfg.qos);
      o.payload = cfg.payload;
      o.publisher_id = static_cast<std::uint32_t>(i);
      o.rate = cfg.rate > 0 ? cfg.rate / static_cast<double>(n_pub) : 0;
      publishers.push_back(add(std::move(o)));
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t t = 0; t < ios.size(); ++t) {
    auto list = std::make_shared<std::vector<std::shared_ptr<Client>>>();
    for (std::size_t i = t; i < clients.size(); i += ios.size()) list->push_back(clients[i]);
    asio::post(*ios[t], [io = ios[t].get(), list = std::move(list)]() mutable { start_in_batches(*io, std::move(list), 0); });
  }
  std::vector<std::thread> threads;
  for (auto& io : ios) {
    threads.emplace_back([io = io.get()] {
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }
  auto seconds_since = [](auto t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  while (run.ready.load() + run.failed.load() < clients.size() && seconds_since(t0) < 120) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double connect_seconds = seconds_since(t0);
  auto received = [&] {
    std::uint64_t n = 0;
    for (auto& s : stats) n += std::atomic_ref<std::uint64_t>(s->received).load(std::memory_order_relaxed);
    return n;
  };

  std::string json;
  if (cfg.scenario == "connections") {
    if (cfg.hold > 0) std::this_thread::sleep_for(std::chrono::duration<double>(cfg.hold));
    json = fmt::format(R"({{"label":"{}","scenario":"connections","connections":{},"ready":{},"failed":{},"connect_seconds":{:.3f}}})",
                       cfg.label, cfg.connections, run.ready.load(), run.failed.load(), connect_seconds);
  } else {
    run.publishing = true;
    for (std::size_t i = 0; i < publishers.size(); ++i) {
      asio::post(*ios[(n_sub + i) % ios.size()], [c = publishers[i]] { c->begin_publishing(); });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(cfg.warmup));
    const auto start = std::chrono::steady_clock::now();
    const std::uint64_t before = received();
    std::this_thread::sleep_for(std::chrono::duration<double>(cfg.duration));
    const std::uint64_t after = received();
    const double measured = seconds_since(start);
    run.publishing = false;
    // Drain: wait until deliveries stop arriving.
    wait_until_quiet(received);
    run.stopping = true;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      asio::post(*ios[i % ios.size()], [c = clients[i]] { c->close(); });
    }
    for (auto& io : ios) io->stop();
    for (auto& t : threads) t.join();
    threads.clear();

    std::uint64_t sent = 0, acked = 0;
    for (auto& p : publishers) {
      sent += p->sent();
      acked += p->acked();
    }
    std::uint64_t lost = 0, dups = 0, gaps = 0;
    for (auto& s : subscribers) {
      const auto& t = s->tracker();
      dups += t.duplicates();
      gaps += t.gaps();
      const std::uint64_t expected = cfg.qos > 0 ? acked : 0;
      if (expected > t.unique()) lost += expected - t.unique();
    }
    Histogram all, acks;
    for (auto& s : stats) {
      all.merge(s->latency);
      acks.merge(s->ack_latency);
    }
    json = fmt::format(
        R"({{"label":"{}","scenario":"{}","qos":{},"payload":{},"publishers":{},"subscribers":{},"rate_target":{},)"
        R"("delivered":{},"seconds":{:.3f},"msgs_per_s":{:.0f},"sent":{},"acked":{},"lost_acked":{},"duplicates":{},)"
        R"("gaps":{},"p50_us":{:.1f},"p99_us":{:.1f},"max_us":{:.1f},"ack_p50_us":{:.1f},"ack_p99_us":{:.1f},)"
        R"("failed":{}}})",
        cfg.label, cfg.scenario, cfg.qos, cfg.payload, n_pub, n_sub, cfg.rate, after - before, measured,
        static_cast<double>(after - before) / measured, sent, acked, lost, dups, gaps,
        static_cast<double>(all.quantile(0.5)) / 1e3, static_cast<double>(all.quantile(0.99)) / 1e3,
        static_cast<double>(all.max()) / 1e3, static_cast<double>(acks.quantile(0.5)) / 1e3,
        static_cast<double>(acks.quantile(0.99)) / 1e3, run.failed.load());
  }
  run.stopping = true;
  for (std::size_t i = 0; i < clients.size(); ++i) asio::post(*ios[i % ios.size()], [c = clients[i]] { c->close(); });
  for (auto& io : ios) io->stop();
  for (auto& t : threads) t.join();
  std::printf("%s\n", json.c_str());
  return run.failed.load() == 0 ? 0 : 1;
}
