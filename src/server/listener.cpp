#include "server/listener.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace outpost::server {

namespace {

// Counts a listener's live connections (max_connections) for as long as the session's
// connection lives.
class CountedFactory {
 public:
  CountedFactory(proto::SessionFactory inner, std::shared_ptr<std::atomic<std::uint32_t>> live)
      : inner_(std::move(inner)), live_(std::move(live)) {}
  std::unique_ptr<proto::Session> operator()(proto::Link& link) const;

 private:
  proto::SessionFactory inner_;
  std::shared_ptr<std::atomic<std::uint32_t>> live_;
};

class CountedSession final : public proto::Session {
 public:
  CountedSession(std::unique_ptr<proto::Session> inner, std::shared_ptr<std::atomic<std::uint32_t>> live)
      : inner_(std::move(inner)), live_(std::move(live)) {}
  ~CountedSession() override { live_->fetch_sub(1, std::memory_order_relaxed); }
  std::size_t on_data(std::span<const std::uint8_t> d) override { return inner_->on_data(d); }
  void on_writable() override { inner_->on_writable(); }
  void on_closed(proto::CloseCause c, std::string_view d) override { inner_->on_closed(c, d); }
  void on_shutdown() override { inner_->on_shutdown(); }

 private:
  std::unique_ptr<proto::Session> inner_;
  std::shared_ptr<std::atomic<std::uint32_t>> live_;
};

std::unique_ptr<proto::Session> CountedFactory::operator()(proto::Link& link) const {
  return std::make_unique<CountedSession>(inner_(link), live_);
}

}  // namespace

std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep) {
  const auto a = ep.address();
  if (a.is_v6()) {
    if (a.to_v6().is_v4_mapped()) {
      return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string() + ":" + std::to_string(ep.port());
    }
    return "[" + a.to_string() + "]:" + std::to_string(ep.port());
  }
  return a.to_string() + ":" + std::to_string(ep.port());
}

Listener::Listener(IoThreads& threads, std::vector<std::unique_ptr<ConnectionRegistry>>& registries,
                   const ListenerSettings& settings, proto::SessionFactory factory, const ConnectionLimits& limits)
    : threads_(threads),
      registries_(registries),
      settings_(settings),
      factory_(std::move(factory)),
      limits_(limits),
      acceptor_(threads.context(0)),
      backoff_(threads.context(0)) {
  namespace ip = boost::asio::ip;
  boost::system::error_code ec;
  ip::address address = ip::make_address(settings.address, ec);
  if (ec) {
    // A host name: resolve it once at start.
    ip::tcp::resolver resolver(threads.context(0));
    auto results = resolver.resolve(settings.address, std::to_string(settings.port), ec);
    if (ec || results.empty()) {
      throw std::runtime_error("cannot resolve listener address '" + settings.address + "': " + ec.message());
    }
    address = results.begin()->endpoint().address();
  }
  const ip::tcp::endpoint endpoint(address, settings.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec && address.is_v6()) acceptor_.set_option(ip::v6_only(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + format_endpoint(endpoint) + " (" + to_string(settings.protocol) +
                             "): " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  factory_ = CountedFactory(std::move(factory_), live_);
}

void Listener::start() {
  spdlog::info("listening for {} on {}", to_string(settings_.protocol), format_endpoint(acceptor_.local_endpoint()));
  accept();
}

void Listener::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
}

void Listener::accept() {
  if (stopped_) return;
  const std::size_t thread = threads_.next();
  acceptor_.async_accept(threads_.context(thread),
                         [self = shared_from_this(), thread](const boost::system::error_code& ec,
                                                             boost::asio::ip::tcp::socket socket) {
                           self->on_accept(ec, std::move(socket), thread);
                         });
}

void Listener::on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket, std::size_t thread) {
  if (stopped_ || ec == boost::asio::error::operation_aborted) return;
  if (ec) {
    // EMFILE and friends: wait a little rather than spin, then keep accepting.
    spdlog::warn("accept on port {} failed: {}; retrying", port_, ec.message());
    backoff_.expires_after(std::chrono::milliseconds(100));
    backoff_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->accept();
    });
    return;
  }
  boost::system::error_code e2;
  const auto peer = socket.remote_endpoint(e2);
  std::string remote = e2 ? std::string("unknown") : format_endpoint(peer);
  if (settings_.max_connections != 0 && live_->load(std::memory_order_relaxed) >= settings_.max_connections) {
    spdlog::warn("connection from {} refused: listener on port {} is at max_connections ({})", remote, port_,
                 settings_.max_connections);
    socket.close(e2);
    accept();
    return;
  }
  live_->fetch_add(1, std::memory_order_relaxed);
  socket.set_option(boost::asio::ip::tcp::no_delay(true), e2);
  socket.set_option(boost::asio::socket_base::keep_alive(true), e2);
  auto& registry = *registries_[thread];
  boost::asio::post(threads_.context(thread), [sock = std::move(socket), remote = std::move(remote), &registry,
                                               factory = factory_, &limits = limits_]() mutable {
    auto conn = std::make_shared<Connection<boost::asio::ip::tcp::socket>>(std::move(sock), std::move(remote), "tcp",
                                                                         registry, limits);
    conn->start(factory);
  });
  accept();
}

}  // namespace outpost::server
