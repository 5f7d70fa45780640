// Server, Listener and IoThreads: many clients over two threads, listener options and
// errors, graceful shutdown.
#include "test_sessions.hpp"

#include <boost/asio/post.hpp>

#include <random>
#include <set>

namespace outpost::server::test {
namespace {

TEST(IoThreads, EachContextRunsOnItsOwnThreadAndNextGoesRoundRobin) {
  IoThreads threads(2);
  ASSERT_EQ(threads.size(), 2u);
  threads.start();
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> done{0};
  for (std::size_t i = 0; i < threads.size(); ++i) {
    boost::asio::post(threads.executor(i), [&] {
      std::lock_guard lock(mu);
      ids.insert(std::this_thread::get_id());
      ++done;
    });
  }
  ASSERT_TRUE(wait_until([&] { return done == 2; }));
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
  const auto a = threads.next(), b = threads.next(), c = threads.next();
  EXPECT_NE(a, b);
  EXPECT_EQ(a, c);
  threads.stop();
  threads.join();
}

TEST(Server, BoundPortZeroReportsTheRealPort) {
  auto probe = std::make_shared<Probe>();
  Server server(1);
  const auto i = server.add_listener(loopback_listener(), factory_of<EchoSession>(probe));
  const auto port = server.bound_port(i);
  EXPECT_NE(port, 0);
  server.start();
  TestClient c(port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("ping"));
  EXPECT_EQ(c.read_exact(4), "ping");
  server.shutdown(1000ms);
}

TEST(Server, BindFailureNamesTheAddressAndPort) {
  auto probe = std::make_shared<Probe>();
  Server server(1);
  const auto port = server.bound_port(server.add_listener(loopback_listener(), factory_of<EchoSession>(probe)));
  auto again = loopback_listener();
  again.port = port;
  try {
    server.add_listener(again, factory_of<EchoSession>(probe));
    FAIL() << "a second bind on the same port succeeded";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << what;
    EXPECT_NE(what.find("in use"), std::string::npos) << what;
  }
}

TEST(Server, WebSocketAndAmqpListenersNeedNoCertificates) {
  auto probe = std::make_shared<Probe>();
  Server server(1);
  for (auto kind : {ListenerProtocol::ws, ListenerProtocol::amqp}) {
    auto l = loopback_listener();
    l.protocol = kind;
    EXPECT_NO_THROW(server.add_listener(l, factory_of<EchoSession>(probe))) << to_string(kind);
  }
  // TLS kinds refuse to start without their certificate settings.
  for (auto kind : {ListenerProtocol::mqtts, ListenerProtocol::wss, ListenerProtocol::amqps}) {
    auto l = loopback_listener();
    l.protocol = kind;
    EXPECT_THROW(server.add_listener(l, factory_of<EchoSession>(probe)), std::runtime_error) << to_string(kind);
  }
}

TEST(Server, ShutdownWithoutStartDoesNotHang) {
  auto probe = std::make_shared<Probe>();
  Server server(2);
  server.add_listener(loopback_listener(), factory_of<EchoSession>(probe));
  server.shutdown(100ms);
}

TEST(Server, ManyConcurrentClientsOnTwoThreadsGetTheirOwnBytes) {
  auto probe = std::make_shared<Probe>();
  Server server(2);
  const auto port = server.bound_port(server.add_listener(loopback_listener(), factory_of<EchoSession>(probe)));
  server.start();
  constexpr int clients = 40;
  constexpr int rounds = 25;
  std::atomic<int> good{0};
  std::vector<std::thread> workers;
  for (int k = 0; k < clients; ++k) {
    workers.emplace_back([&, k] {
      TestClient c(port);
      if (!c.connected()) return;
      std::mt19937 rng(static_cast<unsigned>(k));
      for (int r = 0; r < rounds; ++r) {
        std::string msg(1 + rng() % 3000, '\0');
        for (auto& ch : msg) ch = static_cast<char>('A' + (k + static_cast<int>(rng() % 7)) % 58);
        if (!c.send(msg) || c.read_exact(msg.size()) != msg) return;
      }
      ++good;
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(good, clients);
  ASSERT_TRUE(wait_until([&] { return probe->closed_count() == clients; }));
  EXPECT_EQ(probe->with([&] { return probe->extra_closed_calls; }), 0);
  EXPECT_TRUE(wait_until([&] { return server.connection_count() == 0; }));
  server.shutdown(1000ms);
}

TEST(Server, MaxConnectionsRefusesExtraConnections) {
  auto probe = std::make_shared<Probe>();
  Server server(2);
  const auto port =
      server.bound_port(server.add_listener(loopback_listener(/*max_connections=*/2), factory_of<EchoSession>(probe)));
  server.start();
  auto a = std::make_unique<TestClient>(port);
  TestClient b(port);
  ASSERT_TRUE(a->send("a") && b.send("b"));
  EXPECT_EQ(a->read_exact(1), "a");
  EXPECT_EQ(b.read_exact(1), "b");
  {
    TestClient refused(port);
    const auto got = refused.read_to_eof(3000ms);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->substr(0, 1), "");
  }
  EXPECT_EQ(probe->created_count(), 2);
  // A slot is given back when a connection ends.
  a.reset();
  ASSERT_TRUE(wait_until([&] { return probe->closed_count() == 1; }));
  bool served = wait_until(
      [&] {
        TestClient c(port);
        return c.send("c") && c.read_exact(1, 500ms) == "c";
      },
      5000ms);
  EXPECT_TRUE(served);
  server.shutdown(1000ms);
}

TEST(Server, ShutdownCallsOnShutdownOnEverySessionAndReturns) {
  auto probe = std::make_shared<Probe>();
  Server server(2);
  const auto port = server.bound_port(server.add_listener(loopback_listener(), factory_of<EchoSession>(probe)));
  server.start();
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(std::make_unique<TestClient>(port));
    ASSERT_TRUE(clients.back()->send("hi"));
    ASSERT_EQ(clients.back()->read_exact(2), "hi");
  }
  const auto t0 = std::chrono::steady_clock::now();
  server.shutdown(2000ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);  // every session closed at once
  for (auto& c : clients) {
    const auto got = c->read_to_eof(2000ms);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, "goodbye");
  }
  probe->with([&] {
    EXPECT_EQ(probe->shutdowns, 6);
    EXPECT_EQ(probe->closed, 6);
    EXPECT_EQ(probe->extra_closed_calls, 0);
    for (auto cause : probe->causes) EXPECT_EQ(cause, proto::CloseCause::shutdown);
    return 0;
  });
  // No more connections are accepted.
  TestClient late(port);
  EXPECT_FALSE(late.connected() && late.send("x") && late.read_exact(1, 300ms) == "x");
}

TEST(Server, ShutdownClosesConnectionsThatCannotDrainWithinTheGrace) {
  auto probe = std::make_shared<Probe>();
  ConnectionLimits limits;
  limits.write_high_watermark = 128 * 1024;
  limits.write_low_watermark = 32 * 1024;
  Server server(2, limits);
  const auto port = server.bound_port(server.add_listener(loopback_listener(), factory_of<LineSession>(probe)));
  server.start();
  TestClient stuck(port, false, 16 * 1024);
  ASSERT_TRUE(stuck.send("flood 67108864\n"));
  ASSERT_TRUE(wait_until([&] { return probe->has_note("pressure"); }));
  const auto t0 = std::chrono::steady_clock::now();
  server.shutdown(200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3000ms);
  probe->with([&] {
    EXPECT_EQ(probe->shutdowns, 1);
    EXPECT_EQ(probe->closed, 1);
    EXPECT_EQ(probe->causes.at(0), proto::CloseCause::shutdown);
    return 0;
  });
}

TEST(Server, DestructorShutsDownARunningServer) {
  auto probe = std::make_shared<Probe>();
  std::unique_ptr<TestClient> c;
  {
    Server server(2);
    const auto port = server.bound_port(server.add_listener(loopback_listener(), factory_of<EchoSession>(probe)));
    server.start();
    c = std::make_unique<TestClient>(port);
    ASSERT_TRUE(c->send("x"));
    ASSERT_EQ(c->read_exact(1), "x");
  }
  EXPECT_EQ(probe->closed_count(), 1);
  EXPECT_TRUE(c->read_to_eof(2000ms).has_value());
}

}  // namespace
}  // namespace outpost::server::test
