// Small protocol sessions for the server tests: an echo, a length-prefixed frame echo
// that consumes only whole frames, and a line protocol whose commands exercise the
// link (bursts of writes, floods, pausing, closing).
#pragma once

#include "server_test_support.hpp"

#include <boost/asio/steady_timer.hpp>

#include <charconv>

namespace outpost::server::test {

class EchoSession final : public ProbedSession {
 public:
  using ProbedSession::ProbedSession;
  std::size_t on_data(std::span<const std::uint8_t> data) override {
    link_.write(data);
    count_seen(data.size());
    return data.size();
  }
};

// Frames: a 4-byte big-endian length, then that many bytes. Each whole frame is echoed
// as it came; a partial frame is left unconsumed.
class FrameSession final : public ProbedSession {
 public:
  using ProbedSession::ProbedSession;
  std::size_t on_data(std::span<const std::uint8_t> data) override {
    std::size_t used = 0;
    while (data.size() - used >= 4) {
      const auto* p = data.data() + used;
      const std::size_t len = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
      if (data.size() - used < 4 + len) break;
      link_.write(data.subspan(used, 4 + len));
      used += 4 + len;
    }
    count_seen(used);
    return used;
  }
};

inline std::string make_frame(std::size_t len, char fill) {
  std::string f(4 + len, fill);
  f[0] = static_cast<char>(len >> 24);
  f[1] = static_cast<char>(len >> 16);
  f[2] = static_cast<char>(len >> 8);
  f[3] = static_cast<char>(len);
  return f;
}

// One command per line:
//   burst        100 writes of "line <i>\n" in one handler
//   mixed        copies and shared buffers, interleaved
//   flood <n>    n bytes of 'x', produced only while the link is not under write pressure
//   big <n>      n bytes of 'y' at once, whatever the pressure
//   bye <n>      n bytes of 'z', then close
//   pause        pause reading; resume 100 ms later
//   anything     answered with "ok <line>\n"
class LineSession final : public ProbedSession {
 public:
  LineSession(proto::Link& link, std::shared_ptr<Probe> probe)
      : ProbedSession(link, std::move(probe)), timer_(link.executor()) {}

  std::size_t on_data(std::span<const std::uint8_t> data) override {
    const std::string_view all(reinterpret_cast<const char*>(data.data()), data.size());
    std::size_t used = 0;
    while (!paused_) {
      const auto nl = all.find('\n', used);
      if (nl == std::string_view::npos) break;
      const std::string_view line = all.substr(used, nl - used);
      used = nl + 1;
      handle(line);
    }
    count_seen(used);
    return used;
  }

  void on_writable() override {
    ProbedSession::on_writable();
    produce();
  }

  void on_closed(proto::CloseCause cause, std::string_view detail) override {
    timer_.cancel();
    ProbedSession::on_closed(cause, detail);
  }

  // Shared buffers written with write_shared; the test checks they are released.
  static inline std::mutex owners_mu;
  static inline std::vector<std::weak_ptr<const void>> owners;

 private:
  static std::size_t number(std::string_view s) {
    std::size_t n = 0;
    std::from_chars(s.data(), s.data() + s.size(), n);
    return n;
  }

  void handle(std::string_view line) {
    note("line:" + std::string(line));
    if (line == "burst") {
      for (int i = 0; i < 100; ++i) link_.write(bytes_of("line " + std::to_string(i) + "\n"));
      note("pending=" + std::to_string(link_.pending_bytes()));
    } else if (line == "mixed") {
      auto big = std::make_shared<const std::string>(4096, 'B');
      auto small = std::make_shared<const std::string>("small");
      {
        std::lock_guard lock(owners_mu);
        owners.push_back(big);
        owners.push_back(small);
      }
      link_.write(bytes_of("a"));
      link_.write_shared(big, bytes_of(*big));
      link_.write(bytes_of("c"));
      link_.write_shared(small, bytes_of(*small));
      link_.write_shared(big, bytes_of(*big).subspan(0, 600));
      link_.write(bytes_of("\n"));
    } else if (line.starts_with("flood ")) {
      remaining_ = number(line.substr(6));
      produce();
    } else if (line.starts_with("big ")) {
      link_.write(bytes_of(std::string(number(line.substr(4)), 'y')));
    } else if (line.starts_with("bye ")) {
      const std::string chunk(65536, 'z');
      for (std::size_t left = number(line.substr(4)); left > 0;) {
        const std::size_t n = std::min(left, chunk.size());
        link_.write(bytes_of(std::string_view(chunk).substr(0, n)));
        left -= n;
      }
      link_.close("bye");
      link_.write(bytes_of("never sent"));
    } else if (line == "pause") {
      paused_ = true;
      link_.pause_reading();
      timer_.expires_after(std::chrono::milliseconds(100));
      timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        note("resumed");
        paused_ = false;
        link_.resume_reading();
      });
    } else {
      link_.write(bytes_of("ok " + std::string(line) + "\n"));
    }
  }

  void produce() {
    static const std::string chunk(65536, 'x');
    while (remaining_ > 0 && !link_.write_pressure()) {
      const std::size_t n = std::min(remaining_, chunk.size());
      link_.write(bytes_of(std::string_view(chunk).substr(0, n)));
      remaining_ -= n;
    }
    if (link_.write_pressure() && !pressure_noted_) {
      pressure_noted_ = true;
      note("pressure");
    }
  }

  boost::asio::steady_timer timer_;
  bool paused_ = false;
  std::size_t remaining_ = 0;
  bool pressure_noted_ = false;
};

// An echo that stalls its thread on the first bytes, so that what the peer sends next
// piles up in the socket before the first read after the stall.
class SlowStartEchoSession final : public ProbedSession {
 public:
  using ProbedSession::ProbedSession;
  std::size_t on_data(std::span<const std::uint8_t> data) override {
    if (!stalled_) {
      stalled_ = true;
      std::this_thread::sleep_for(300ms);
    }
    link_.write(data);
    return data.size();
  }

 private:
  bool stalled_ = false;
};

// Deadlines: a deadline is set 100 ms out when created. Each byte received moves it
// 100 ms on; 'c' clears it. When it passes, the session writes "due" and closes.
class DeadlineSession final : public ProbedSession {
 public:
  DeadlineSession(proto::Link& link, std::shared_ptr<Probe> probe) : ProbedSession(link, std::move(probe)) {
    link_.set_deadline(std::chrono::steady_clock::now() + 100ms);
  }
  std::size_t on_data(std::span<const std::uint8_t> data) override {
    for (auto b : data) {
      link_.set_deadline(b == 'c' ? std::chrono::steady_clock::time_point::max()
                                  : std::chrono::steady_clock::now() + 100ms);
    }
    link_.write(data);
    return data.size();
  }
  void on_deadline() override {
    link_.write(bytes_of("due"));
    link_.close("deadline");
  }
};

}  // namespace outpost::server::test
