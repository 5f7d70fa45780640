#include "amqp_run.hpp"

#include "amqp_client.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace outpost::bench {

namespace asio = boost::asio;

int run_amqp(const AmqpRunConfig& cfg) {
  asio::ip::tcp::endpoint broker(asio::ip::make_address(cfg.host), cfg.port);
  RunState run;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<std::unique_ptr<ThreadStats>> stats;
  for (unsigned i = 0; i < std::max(1u, cfg.threads); ++i) {
    ios.push_back(std::make_unique<asio::io_context>(1));
    stats.push_back(std::make_unique<ThreadStats>());
  }
  const std::string tag = fmt::format("lg{}", ::getpid());
  const std::string queue = cfg.queue.empty() ? fmt::format("{}-queue", tag) : cfg.queue;
  std::vector<std::shared_ptr<AmqpClient>> clients, publishers, consumers;
  auto add = [&](AmqpClient::Options o) {
    const std::size_t t = clients.size() % ios.size();
    o.queue = queue;
    o.durable = cfg.persistent;
    o.user = cfg.user;
    o.password = cfg.password;
    auto c = std::make_shared<AmqpClient>(*ios[t], broker, std::move(o), run, *stats[t]);
    clients.push_back(c);
    return c;
  };
  for (std::size_t i = 0; i < cfg.consumers; ++i) {
    AmqpClient::Options o;
    o.role = AmqpClient::Role::consumer;
    o.name = fmt::format("{}-consumer-{}", tag, i);
    o.no_ack = cfg.no_ack;
    o.prefetch = cfg.prefetch;
    o.publishers = cfg.publishers;
    consumers.push_back(add(std::move(o)));
  }
  for (std::size_t i = 0; i < cfg.publishers; ++i) {
    AmqpClient::Options o;
    o.role = AmqpClient::Role::publisher;
    o.name = fmt::format("{}-publisher-{}", tag, i);
    o.confirm = cfg.confirm;
    o.window = cfg.window;
    o.payload = cfg.payload;
    o.publisher_id = static_cast<std::uint32_t>(i);
    o.rate = cfg.rate > 0 ? cfg.rate / static_cast<double>(cfg.publishers) : 0;
    publishers.push_back(add(std::move(o)));
  }

  auto seconds_since = [](auto t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  auto wait_ready = [&](std::size_t n) {
    const auto t0 = std::chrono::steady_clock::now();
    while (run.ready.load() + run.failed.load() < n && seconds_since(t0) < 60) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  std::vector<std::thread> threads;
  for (auto& io : ios) {
    threads.emplace_back([io = io.get()] {
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }
  // Consumers first: each declares the queue, so publishers never publish into nothing.
  for (std::size_t i = 0; i < consumers.size(); ++i) asio::post(*ios[i % ios.size()], [c = consumers[i]] { c->start(); });
  wait_ready(consumers.size());
  for (std::size_t i = 0; i < publishers.size(); ++i) {
    asio::post(*ios[(consumers.size() + i) % ios.size()], [c = publishers[i]] { c->start(); });
  }
  wait_ready(clients.size());
  auto received = [&] {
    std::uint64_t n = 0;
    for (auto& s : stats) n += std::atomic_ref<std::uint64_t>(s->received).load(std::memory_order_relaxed);
    return n;
  };
  auto published = [&] {
    std::uint64_t n = 0;
    for (auto& s : stats) n += std::atomic_ref<std::uint64_t>(s->published).load(std::memory_order_relaxed);
    return n;
  };

  run.publishing = true;
  for (std::size_t i = 0; i < publishers.size(); ++i) {
    asio::post(*ios[(consumers.size() + i) % ios.size()], [c = publishers[i]] { c->begin_publishing(); });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(cfg.warmup));
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t before = received(), published_before = published();
  std::this_thread::sleep_for(std::chrono::duration<double>(cfg.duration));
  const std::uint64_t after = received(), published_after = published();
  const double measured = seconds_since(start);
  run.publishing = false;
  // Drain: wait until deliveries stop arriving (without confirms the publishers may
  // have left a backlog in the queue).
  wait_until_quiet(received);
  run.stopping = true;
  for (std::size_t i = 0; i < clients.size(); ++i) asio::post(*ios[i % ios.size()], [c = clients[i]] { c->close(); });
  for (auto& io : ios) io->stop();
  for (auto& t : threads) t.join();

  std::uint64_t sent = 0, confirmed = 0, nacked = 0;
  for (auto& p : publishers) {
    sent += p->sent();
    confirmed += p->confirmed();
    nacked += p->nacked();
  }
  // Several consumers share the queue, so each sees a part of every publisher's
  // sequence: losses are counted over all of them together. A duplicate is found only
  // within one consumer (with one consumer, the benchmark's case, that is all of them).
  std::uint64_t unique = 0, dups = 0;
  for (auto& c : consumers) {
    unique += c->tracker().unique();
    dups += c->tracker().duplicates();
  }
  const std::uint64_t expected = cfg.confirm ? confirmed : 0;
  const std::uint64_t lost = expected > unique ? expected - unique : 0;
  Histogram all, acks;
  for (auto& s : stats) {
    all.merge(s->latency);
    acks.merge(s->ack_latency);
  }
  const std::string json = fmt::format(
      R"({{"label":"{}","scenario":"amqp_queue","persistent":{},"confirm":{},"no_ack":{},"prefetch":{},"window":{},)"
      R"("payload":{},"publishers":{},"subscribers":{},"rate_target":{},"delivered":{},"seconds":{:.3f},)"
      R"("msgs_per_s":{:.0f},"published_per_s":{:.0f},"sent":{},"acked":{},"nacked":{},"received_total":{},"lost_acked":{},"duplicates":{},)"
      R"("p50_us":{:.1f},"p99_us":{:.1f},"max_us":{:.1f},"ack_p50_us":{:.1f},"ack_p99_us":{:.1f},"failed":{}}})",
      cfg.label, cfg.persistent, cfg.confirm, cfg.no_ack, cfg.prefetch, cfg.window, cfg.payload, cfg.publishers,
      cfg.consumers, cfg.rate, after - before, measured, static_cast<double>(after - before) / measured,
      static_cast<double>(published_after - published_before) / measured, sent,
      confirmed, nacked, received(), lost, dups, static_cast<double>(all.quantile(0.5)) / 1e3,
      static_cast<double>(all.quantile(0.99)) / 1e3, static_cast<double>(all.max()) / 1e3,
      static_cast<double>(acks.quantile(0.5)) / 1e3, static_cast<double>(acks.quantile(0.99)) / 1e3,
      run.failed.load());
  std::printf("%s\n", json.c_str());
  return run.failed.load() == 0 ? 0 : 1;
}

}  // namespace outpost::bench
