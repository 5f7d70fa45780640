// Connection<tcp::socket> behaviour seen from a real client on loopback: reading with
// partial consumption, coalesced gather writes, backpressure, pausing, closing.
#include "test_sessions.hpp"

#include <algorithm>
#include <cctype>
#include <random>

namespace outpost::server::test {
namespace {

// "<prefix><port>", the port being 1 to 5 digits.
bool is_endpoint(const std::string& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  const auto port = std::string_view(s).substr(prefix.size());
  return !port.empty() && port.size() <= 5 &&
         std::all_of(port.begin(), port.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
}

// Watermarks low enough for a 16 KiB receive buffer to put a connection under pressure.
ConnectionLimits small_watermarks() {
  ConnectionLimits limits;
  limits.write_high_watermark = 256 * 1024;
  limits.write_low_watermark = 64 * 1024;
  limits.write_stop_reading = 1024 * 1024;
  return limits;
}

class ConnectionTest : public ::testing::Test {
 protected:
  template <class S>
  std::uint16_t serve(const ConnectionLimits& limits = {}) {
    const auto i = server_.add_listener(loopback_listener(), factory_of<S>(probe_), limits);
    server_.start();
    return server_.bound_port(i);
  }

  std::shared_ptr<Probe> probe_ = std::make_shared<Probe>();
  Server server_{2};
};

TEST_F(ConnectionTest, EchoesAndReportsTheLink) {
  const auto port = serve<EchoSession>();
  TestClient c(port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("hello"));
  EXPECT_EQ(c.read_exact(5), "hello");
  probe_->with([&] {
    EXPECT_EQ(probe_->created, 1);
    EXPECT_TRUE(is_endpoint(probe_->remotes.at(0), "127.0.0.1:")) << probe_->remotes[0];
    EXPECT_EQ(probe_->transports.at(0), "tcp");
    EXPECT_EQ(probe_->identities.at(0), "");
    return 0;
  });
}

TEST_F(ConnectionTest, IPv6RemoteAddressIsBracketed) {
  ListenerSettings l = loopback_listener();
  l.address = "::1";
  std::size_t i = 0;
  try {
    i = server_.add_listener(l, factory_of<EchoSession>(probe_));
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << "no IPv6 loopback: " << e.what();
  }
  server_.start();
  TestClient c(server_.bound_port(i), /*v6=*/true);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("x"));
  EXPECT_EQ(c.read_exact(1), "x");
  const auto remote = probe_->with([&] { return probe_->remotes.at(0); });
  EXPECT_TRUE(is_endpoint(remote, "[::1]:")) << remote;
}

TEST_F(ConnectionTest, PartialConsumptionWithArbitrarilySplitBytes) {
  const auto port = serve<FrameSession>();
  TestClient c(port);
  ASSERT_TRUE(c.connected());
  // Small frames, frames larger than the initial buffer, and one far larger (growth).
  std::string stream;
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) stream += make_frame(rng() % 300, static_cast<char>('a' + i % 26));
  stream += make_frame(20000, 'L');
  stream += make_frame(300000, 'H');
  for (int i = 0; i < 50; ++i) stream += make_frame(rng() % 50, 'q');

  std::string echoed;
  std::thread reader([&] { echoed = c.read_exact(stream.size(), 20000ms); });
  for (std::size_t off = 0; off < stream.size();) {
    const std::size_t n = std::min<std::size_t>(stream.size() - off, 1 + rng() % 700);
    ASSERT_TRUE(c.send(std::string_view(stream).substr(off, n)));
    off += n;
    if (rng() % 16 == 0) std::this_thread::sleep_for(1ms);  // let pieces arrive alone
  }
  reader.join();
  ASSERT_EQ(echoed.size(), stream.size());
  EXPECT_TRUE(echoed == stream);
}

TEST_F(ConnectionTest, ReadBufferLimitClosesTheConnection) {
  ConnectionLimits limits;
  limits.max_read_buffer = 64 * 1024;
  const auto port = serve<FrameSession>(limits);
  TestClient c(port);
  ASSERT_TRUE(c.connected());
  // A frame that fits is fine.
  const auto ok = make_frame(60000, 'o');
  ASSERT_TRUE(c.send(ok));
  EXPECT_EQ(c.read_exact(ok.size()).size(), ok.size());
  // A frame that never fits: the connection closes rather than buffer without bound.
  auto huge = make_frame(200000, 'h');
  c.send(huge);
  EXPECT_TRUE(c.read_to_eof().has_value());
  ASSERT_TRUE(wait_until([&] { return probe_->closed_count() == 1; }));
  EXPECT_EQ(probe_->with([&] { return probe_->causes.at(0); }), proto::CloseCause::io_error);
}

TEST_F(ConnectionTest, WritesOfOneHandlerAreCoalescedAndInOrder) {
  const auto port = serve<LineSession>();
  TestClient c(port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("burst\n"));
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(c.read_exact(expected.size()), expected);
  // Nothing left while the handler was still writing: all 100 went out after it.
  EXPECT_TRUE(probe_->has_note("pending=" + std::to_string(expected.size())));
}

TEST_F(ConnectionTest, SharedAndCopiedWritesKeepTheirOrderAndOwnersAreReleased) {
  const auto port = serve<LineSession>();
  TestClient c(port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("mixed\n"));
  const std::string expected = "a" + std::string(4096, 'B') + "c" + "small" + std::string(600, 'B') + "\n";
  EXPECT_EQ(c.read_exact(expected.size()), expected);
  EXPECT_TRUE(wait_until([] {
    std::lock_guard lock(LineSession::owners_mu);
    for (auto& w : LineSession::owners)
      if (!w.expired()) return false;
    return true;
  }));
}

TEST_F(ConnectionTest, PeerUnderWritePressureIsStillRead) {
  const auto port = serve<LineSession>(small_watermarks());
  TestClient c(port, false, /*rcvbuf=*/16 * 1024);
  ASSERT_TRUE(c.connected());
  constexpr std::size_t flood = 16u << 20;  // far more than the socket buffers hold
  ASSERT_TRUE(c.send("flood " + std::to_string(flood) + "\n"));
  ASSERT_TRUE(wait_until([&] { return probe_->has_note("pressure"); }));
  // The session stopped producing, but what the client sends is still read and handled
  // (a slow subscriber's ping keeps its keep alive).
  ASSERT_TRUE(c.send("ping\n"));
  EXPECT_TRUE(wait_until([&] { return probe_->has_note("line:ping"); }));
  // Drain: everything arrives, the session hears on_writable and finishes the flood; the
  // answer to the ping was queued behind what was pending when it came.
  const auto data = c.read_exact(flood + 8, 30000ms);
  ASSERT_EQ(data.size(), flood + 8);
  const auto at = data.find("ok ping\n");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(std::string(data).erase(at, 8).find_first_not_of('x'), std::string::npos);
  EXPECT_GE(probe_->with([&] { return probe_->writables; }), 1);
}

TEST_F(ConnectionTest, PeerThatDoesNotReadItsAnswersStopsBeingReadUntilItDrains) {
  const auto port = serve<LineSession>(small_watermarks());
  TestClient c(port, false, /*rcvbuf=*/16 * 1024);
  ASSERT_TRUE(c.connected());
  // Answers past write_stop_reading (1 MiB here) that the client does not read.
  constexpr std::size_t big = 32u << 20;  // well past what the socket buffers take
  ASSERT_TRUE(c.send("big " + std::to_string(big) + "\n"));
  ASSERT_TRUE(wait_until([&] { return probe_->has_note("line:big " + std::to_string(big)); }));
  std::this_thread::sleep_for(200ms);
  // Its next requests wait unread.
  ASSERT_TRUE(c.send("ping\n"));
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(probe_->has_note("line:ping"));
  // Drain: the answer arrives, reading resumes, the request is served.
  const auto data = c.read_exact(big, 30000ms);
  ASSERT_EQ(data.size(), big);
  EXPECT_EQ(data.find_first_not_of('y'), std::string::npos);
  EXPECT_EQ(c.read_exact(8), "ok ping\n");
  EXPECT_TRUE(probe_->has_note("line:ping"));
}

TEST_F(ConnectionTest, PauseInsideOnDataKeepsUnconsumedBytes) {
  const auto port = serve<LineSession>();
  TestClient c(port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("a\npause\nb\nc\n"));
  EXPECT_EQ(c.read_exact(15), "ok a\nok b\nok c\n");
  probe_->with([&] {
    const std::vector<std::string> expected{"line:a", "line:pause", "resumed", "line:b", "line:c"};
    EXPECT_EQ(probe_->notes, expected);
    return 0;
  });
}

TEST_F(ConnectionTest, CloseDeliversPendingBytesFirst) {
  const auto port = serve<LineSession>();
  TestClient c(port, false, /*rcvbuf=*/16 * 1024);
  ASSERT_TRUE(c.connected());
  constexpr std::size_t n = 3u << 20;
  ASSERT_TRUE(c.send("bye " + std::to_string(n) + "\n"));
  // Bytes the server will never read, sitting in its receive queue as it closes.
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(c.send(std::string(32 * 1024, 'j')));
  std::this_thread::sleep_for(200ms);
  const auto got = c.read_to_eof();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->size(), n);
  EXPECT_EQ(got->find_first_not_of('z'), std::string::npos);
  ASSERT_TRUE(wait_until([&] { return probe_->closed_count() == 1; }));
  probe_->with([&] {
    EXPECT_EQ(probe_->causes.at(0), proto::CloseCause::local_close);
    EXPECT_EQ(probe_->extra_closed_calls, 0);
    return 0;
  });
}

TEST_F(ConnectionTest, OnClosedOnceWhenThePeerCloses) {
  const auto port = serve<EchoSession>();
  {
    TestClient c(port);
    ASSERT_TRUE(c.send("x"));
    EXPECT_EQ(c.read_exact(1), "x");
  }
  {
    // A half-close is an end of stream too.
    TestClient c(port);
    ASSERT_TRUE(c.send("y"));
    EXPECT_EQ(c.read_exact(1), "y");
    c.shutdown_write();
    EXPECT_TRUE(c.read_to_eof().has_value());
  }
  ASSERT_TRUE(wait_until([&] { return probe_->closed_count() == 2; }));
  std::this_thread::sleep_for(50ms);
  probe_->with([&] {
    EXPECT_EQ(probe_->closed, 2);
    EXPECT_EQ(probe_->extra_closed_calls, 0);
    for (auto cause : probe_->causes) EXPECT_EQ(cause, proto::CloseCause::peer_closed);
    return 0;
  });
  EXPECT_TRUE(wait_until([&] { return server_.connection_count() == 0; }));
}

TEST_F(ConnectionTest, HalfCloseRightAfterDataIsSeenWithoutAnotherEvent) {
  // The bytes and the peer's FIN usually arrive before the broker reads, as one readiness
  // event: after a read that takes the bytes, the end of stream must still be noticed.
  const auto port = serve<EchoSession>();
  for (int i = 0; i < 5; ++i) {
    TestClient c(port);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send("y"));
    c.shutdown_write();
    EXPECT_TRUE(c.read_to_eof().has_value());
  }
  ASSERT_TRUE(wait_until([&] { return probe_->closed_count() == 5; }));
  probe_->with([&] {
    for (auto cause : probe_->causes) EXPECT_EQ(cause, proto::CloseCause::peer_closed);
    EXPECT_EQ(probe_->extra_closed_calls, 0);
    return 0;
  });
  EXPECT_TRUE(wait_until([&] { return server_.connection_count() == 0; }));
}

TEST_F(ConnectionTest, PeerResetEndsTheConnectionOnce) {
  const auto port = serve<EchoSession>();
  TestClient c(port);
  ASSERT_TRUE(c.send("x"));
  EXPECT_EQ(c.read_exact(1), "x");
  c.reset();
  ASSERT_TRUE(wait_until([&] { return probe_->closed_count() == 1; }));
  probe_->with([&] {
    EXPECT_EQ(probe_->causes.at(0), proto::CloseCause::peer_closed);
    EXPECT_EQ(probe_->extra_closed_calls, 0);
    return 0;
  });
  EXPECT_TRUE(wait_until([&] { return server_.connection_count() == 0; }));
}

TEST_F(ConnectionTest, PeerResetWhileAWriteWaitsEndsTheConnection) {
  const auto port = serve<LineSession>(small_watermarks());
  TestClient c(port, false, /*rcvbuf=*/16 * 1024);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("flood " + std::to_string(16u << 20) + "\n"));
  // The socket is full and a write waits for room that never comes: the reset ends it.
  ASSERT_TRUE(wait_until([&] { return probe_->has_note("pressure"); }));
  c.reset();
  ASSERT_TRUE(wait_until([&] { return probe_->closed_count() == 1; }));
  EXPECT_EQ(probe_->with([&] { return probe_->extra_closed_calls; }), 0);
  EXPECT_TRUE(wait_until([&] { return server_.connection_count() == 0; }));
}

TEST_F(ConnectionTest, BurstLargerThanOneReadIsReadWithoutMoreTraffic) {
  // Everything arrives before the broker reads, in more than one read's worth; then the
  // peer only waits. No further readiness event comes: the rest must be read anyway.
  const auto port = serve<SlowStartEchoSession>();
  TestClient c(port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("x"));  // the session stalls on this
  std::this_thread::sleep_for(50ms);
  const std::string burst(100 * 1024, 'b');
  std::string echoed;
  std::thread reader([&] { echoed = c.read_exact(1 + burst.size(), 5000ms); });
  ASSERT_TRUE(c.send(burst));
  reader.join();
  EXPECT_EQ(echoed.size(), 1 + burst.size());
}

TEST_F(ConnectionTest, DeadlinePassesOnceAndCanBeMovedOrCleared) {
  const auto port = serve<DeadlineSession>();
  TestClient quiet(port);
  TestClient busy(port);
  TestClient cleared(port);
  ASSERT_TRUE(cleared.send("c"));
  EXPECT_EQ(cleared.read_exact(1), "c");
  // Keep moving one deadline past the others for a while.
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(busy.send("b"));
    EXPECT_EQ(busy.read_exact(1), "b");
    std::this_thread::sleep_for(50ms);
  }
  // The quiet one's passed long ago: at most one sweep period late.
  EXPECT_EQ(quiet.read_exact(3, 2000ms), "due");
  EXPECT_TRUE(quiet.read_to_eof().has_value());
  EXPECT_EQ(busy.read_exact(3, 2000ms), "due");
  // A cleared deadline never passes.
  EXPECT_EQ(cleared.read_exact(1, 1200ms), "");
  ASSERT_TRUE(cleared.send("x"));
  EXPECT_EQ(cleared.read_exact(1), "x");
}

}  // namespace
}  // namespace outpost::server::test
