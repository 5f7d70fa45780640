// An in-memory twin of a connection for protocol session unit tests, MQTT and AMQP alike.
//
// MemoryLink implements proto::Link the way src/server's Connection does, minus the
// socket: what the session writes is kept for the test to read, close() is recorded with
// its reason and ends the session later (on_closed, posted, as a connection does once its
// last bytes are out), pause_reading() holds back what the peer sent until
// resume_reading(), set_deadline() keeps the last deadline. Remote address, transport
// and peer identity are whatever the test sets.
//
// SessionDriver owns an io_context (alone, or shared with other drivers: one I/O thread
// serving several connections), a link, the session factory and the session. feed()
// hands bytes to the session as a read would and runs the io_context until it is idle,
// so what the session posted (store after_commit callbacks posted back, queue wake-ups,
// the session registry's hand-over) has run when feed() returns.
//
// Threading: one thread, the test's; everything runs inside io_context::run().
#pragma once

#include "common/link.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::test {

using Bytes = std::vector<std::uint8_t>;

inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string to_string(std::span<const std::uint8_t> b) { return std::string(b.begin(), b.end()); }
inline Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class MemoryLink final : public proto::Link, public std::enable_shared_from_this<MemoryLink> {
 public:
  explicit MemoryLink(boost::asio::io_context& io) : io_(io) {}

  // --- proto::Link ---
  void write(std::span<const std::uint8_t> bytes) override {
    written_.insert(written_.end(), bytes.begin(), bytes.end());
    ++writes_;
  }
  void write_shared(std::shared_ptr<const void> owner, std::span<const std::uint8_t> bytes) override {
    ++shared_writes_;
    last_shared_owner_ = std::move(owner);
    write(bytes);
  }
  std::size_t pending_bytes() const override { return 0; }
  bool write_pressure() const override { return write_pressure_; }

  void close(std::string_view reason) override {
    ++close_calls_;
    if (closed_ || ended_) return;
    closed_ = true;
    close_reason_ = std::string(reason);
    // A connection sends what is queued, then ends: the session hears of it later.
    if (end_on_close_) {
      boost::asio::post(io_, [w = weak_from_this()] {
        if (auto l = w.lock()) l->end(proto::CloseCause::local_close, l->close_reason_);
      });
    }
  }
  void pause_reading() override {
    ++pauses_;
    paused_ = true;
  }
  void resume_reading() override {
    ++resumes_;
    if (!paused_) return;
    paused_ = false;
    // Not inline, as a connection does it: the caller may be inside on_data.
    boost::asio::post(io_, [w = weak_from_this()] {
      if (auto l = w.lock()) l->deliver();
    });
  }

  const std::string& remote_address() const override { return remote_address_; }
  std::string_view transport_name() const override { return transport_; }
  const std::string& peer_identity() const override { return peer_identity_; }
  boost::asio::any_io_executor executor() override { return io_.get_executor(); }
  void set_deadline(std::chrono::steady_clock::time_point when) override {
    ++deadline_sets_;
    deadline_ = when;
  }
  std::weak_ptr<Link> weak_from_link() override { return weak_from_this(); }

  // --- the connection side ---
  // The session bytes are handed to (null: none, e.g. once it is destroyed).
  void attach(proto::Session* session) { session_ = session; }
  // Bytes from the peer: buffered, then offered to the session unless reading is paused
  // or the link is closing. What it does not consume stays for the next offer.
  void receive(std::span<const std::uint8_t> bytes) {
    inbound_.insert(inbound_.end(), bytes.begin(), bytes.end());
    deliver();
  }
  // Offers the buffered bytes once, as one read of a connection does.
  void deliver() {
    if (session_ == nullptr || paused_ || closed_ || ended_ || inbound_.empty()) return;
    const std::size_t used = std::min(session_->on_data(inbound_), inbound_.size());
    inbound_.erase(inbound_.begin(), inbound_.begin() + static_cast<std::ptrdiff_t>(used));
  }
  // The connection ends: Session::on_closed, once.
  void end(proto::CloseCause cause, std::string_view detail) {
    if (ended_) return;
    ended_ = true;
    closed_ = true;
    if (close_reason_.empty()) close_reason_ = std::string(detail);
    if (session_ != nullptr) session_->on_closed(cause, detail);
  }

  // --- what the test reads ---
  const Bytes& written() const noexcept { return written_; }
  // Everything written so far; cleared.
  Bytes take_written() { return std::exchange(written_, {}); }
  std::size_t writes() const noexcept { return writes_; }
  std::size_t shared_writes() const noexcept { return shared_writes_; }
  bool closed() const noexcept { return closed_; }
  bool ended() const noexcept { return ended_; }
  const std::string& close_reason() const noexcept { return close_reason_; }
  int close_calls() const noexcept { return close_calls_; }
  bool paused() const noexcept { return paused_; }
  int pauses() const noexcept { return pauses_; }
  int resumes() const noexcept { return resumes_; }
  // The last deadline set, if any (time_point::max() once cleared).
  std::optional<std::chrono::steady_clock::time_point> deadline() const noexcept { return deadline_; }
  int deadline_sets() const noexcept { return deadline_sets_; }
  // Received and not yet consumed by the session.
  const Bytes& unconsumed() const noexcept { return inbound_; }

  // --- what the test sets ---
  void set_remote_address(std::string a) { remote_address_ = std::move(a); }
  void set_transport(std::string t) { transport_ = std::move(t); }
  void set_peer_identity(std::string id) { peer_identity_ = std::move(id); }
  void set_write_pressure(bool on) { write_pressure_ = on; }
  // False: close() only records; the test calls end() itself.
  void set_end_on_close(bool on) { end_on_close_ = on; }

 private:
  boost::asio::io_context& io_;
  proto::Session* session_ = nullptr;
  Bytes inbound_;
  Bytes written_;
  std::size_t writes_ = 0;
  std::size_t shared_writes_ = 0;
  std::shared_ptr<const void> last_shared_owner_;
  std::string remote_address_ = "192.0.2.1:50000";
  std::string transport_ = "memory";
  std::string peer_identity_;
  std::string close_reason_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  int deadline_sets_ = 0;
  int close_calls_ = 0;
  int pauses_ = 0;
  int resumes_ = 0;
  bool write_pressure_ = false;
  bool paused_ = false;
  bool closed_ = false;
  bool ended_ = false;
  bool end_on_close_ = true;
};

// A link, the session made for it, and the io_context they live on.
class SessionDriver {
 public:
  // `io` may be shared with other drivers (one I/O thread, several connections); null:
  // a fresh one. `configure` adjusts the link before the session sees it (address,
  // transport, peer identity).
  explicit SessionDriver(proto::SessionFactory factory, std::shared_ptr<boost::asio::io_context> io = nullptr,
                         const std::function<void(MemoryLink&)>& configure = nullptr)
      : io_(io ? std::move(io) : std::make_shared<boost::asio::io_context>()),
        link_(std::make_shared<MemoryLink>(*io_)),
        factory_(std::move(factory)) {
    if (configure) configure(*link_);
    session_ = factory_(*link_);
    link_->attach(session_.get());
  }
  SessionDriver(const SessionDriver&) = delete;
  SessionDriver& operator=(const SessionDriver&) = delete;

  ~SessionDriver() {
    link_->end(proto::CloseCause::local_close, "end of test");
    run();
    link_->attach(nullptr);
    session_.reset();
    run();
  }

  MemoryLink& link() noexcept { return *link_; }
  proto::Session& session() noexcept { return *session_; }
  boost::asio::io_context& io() noexcept { return *io_; }
  const std::shared_ptr<boost::asio::io_context>& shared_io() const noexcept { return io_; }

  // Bytes from the peer, then everything they set off.
  void feed(std::span<const std::uint8_t> bytes) {
    link_->receive(bytes);
    run();
  }
  void feed(const Bytes& bytes) { feed(std::span<const std::uint8_t>(bytes)); }
  // Runs the io_context until nothing is left to do.
  void run() {
    io_->restart();
    io_->run();
  }
  // The peer closed (or the transport failed): on_closed, then what it set off.
  void close(proto::CloseCause cause = proto::CloseCause::peer_closed, std::string_view detail = "closed by the peer") {
    link_->end(cause, detail);
    run();
  }
  // The deadline came due.
  void expire_deadline() {
    session_->on_deadline();
    run();
  }
  // The write queue drained.
  void writable() {
    link_->set_write_pressure(false);
    session_->on_writable();
    run();
  }
  Bytes take_written() { return link_->take_written(); }

 private:
  std::shared_ptr<boost::asio::io_context> io_;
  std::shared_ptr<MemoryLink> link_;
  proto::SessionFactory factory_;  // owns what its sessions share: outlives them, as a listener does
  std::unique_ptr<proto::Session> session_;
};

}  // namespace outpost::test
