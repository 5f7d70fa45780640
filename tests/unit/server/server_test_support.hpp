// Helpers for the server tests: a blocking TCP client with timeouts (plain POSIX, so a
// failing test times out instead of hanging) and a probe that records what sessions saw.
#pragma once

#include "common/link.hpp"
#include "server/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace outpost::server::test {

using namespace std::chrono_literals;

inline std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string text_of(std::span<const std::uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Polls `pred` until it holds or `limit` passes.
inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

class TestClient {
 public:
  // Connects to 127.0.0.1:port (or ::1 with v6). A non-zero rcvbuf shrinks the receive
  // buffer before connecting, so a client that does not read fills up quickly.
  explicit TestClient(std::uint16_t port, bool v6 = false, int rcvbuf = 0) {
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int rc;
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(port);
      a.sin6_addr = in6addr_loopback;
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    connected_ = rc == 0;
  }
  ~TestClient() { close(); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return connected_; }

  bool send(std::string_view s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads until exactly n bytes arrived; fewer on EOF, error or timeout.
  std::string read_exact(std::size_t n, std::chrono::milliseconds limit = 5000ms) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[65536];
    while (out.size() < n) {
      if (!wait_readable(deadline)) break;
      const ssize_t r = ::recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
      if (r <= 0) break;
      out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
  }

  // Reads everything until the peer closes. nullopt if it did not close in time.
  std::optional<std::string> read_to_eof(std::chrono::milliseconds limit = 5000ms) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[65536];
    for (;;) {
      if (!wait_readable(deadline)) return std::nullopt;
      const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
      if (r == 0) return out;
      if (r < 0) return errno == ECONNRESET ? std::optional<std::string>(out + "<reset>") : std::nullopt;
      out.append(buf, static_cast<std::size_t>(r));
    }
  }

  // True if nothing at all arrives (not even EOF) within `quiet`.
  bool silent_for(std::chrono::milliseconds quiet) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(quiet.count())) == 0;
  }

  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  // Closes with a reset (RST) instead of a FIN.
  void reset() {
    const linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  bool wait_readable(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
  }

  int fd_ = -1;
  bool connected_ = false;
};

// What the test sessions report, readable from the test thread.
struct Probe {
  std::mutex mu;
  int created = 0;
  int closed = 0;
  int shutdowns = 0;
  int writables = 0;
  int extra_closed_calls = 0;  // on_closed beyond the first, per session
  std::vector<proto::CloseCause> causes;
  std::vector<std::string> remotes;
  std::vector<std::string> transports;
  std::vector<std::string> identities;
  std::size_t bytes_seen = 0;  // bytes handed to on_data and consumed
  std::vector<std::string> notes;

  template <class F>
  auto with(F f) {
    std::lock_guard lock(mu);
    return f();
  }
  int closed_count() {
    return with([&] { return closed; });
  }
  int created_count() {
    return with([&] { return created; });
  }
  bool has_note(const std::string& n) {
    return with([&] {
      for (auto& x : notes)
        if (x == n) return true;
      return false;
    });
  }
};

// A session base that reports its life to the probe.
class ProbedSession : public proto::Session {
 public:
  ProbedSession(proto::Link& link, std::shared_ptr<Probe> probe) : link_(link), probe_(std::move(probe)) {
    probe_->with([&] {
      ++probe_->created;
      probe_->remotes.push_back(link.remote_address());
      probe_->transports.emplace_back(link.transport_name());
      probe_->identities.push_back(link.peer_identity());
      return 0;
    });
  }
  void on_writable() override {
    probe_->with([&] { return ++probe_->writables; });
  }
  void on_closed(proto::CloseCause cause, std::string_view) override {
    // The link must ignore writes and closes from here on.
    link_.write(bytes_of("after close"));
    link_.close("again");
    probe_->with([&] {
      if (closed_) {
        ++probe_->extra_closed_calls;
      } else {
        ++probe_->closed;
        probe_->causes.push_back(cause);
      }
      return 0;
    });
    closed_ = true;
  }
  void on_shutdown() override {
    probe_->with([&] { return ++probe_->shutdowns; });
    link_.write(bytes_of("goodbye"));
    link_.close("shutdown");
  }

 protected:
  void count_seen(std::size_t n) {
    probe_->with([&] { return probe_->bytes_seen += n; });
  }
  void note(std::string n) {
    probe_->with([&] {
      probe_->notes.push_back(std::move(n));
      return 0;
    });
  }

  proto::Link& link_;
  std::shared_ptr<Probe> probe_;
  bool closed_ = false;
};

inline ListenerSettings loopback_listener(std::uint32_t max_connections = 0) {
  ListenerSettings l;
  l.protocol = ListenerProtocol::mqtt;
  l.address = "127.0.0.1";
  l.port = 0;
  l.max_connections = max_connections;
  return l;
}

template <class S>
proto::SessionFactory factory_of(std::shared_ptr<Probe> probe) {
  return [probe](proto::Link& link) -> std::unique_ptr<proto::Session> { return std::make_unique<S>(link, probe); };
}

}  // namespace outpost::server::test
