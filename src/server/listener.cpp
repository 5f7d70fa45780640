#include "server/listener.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace outpost::server {

namespace {

const char* transport_of(ListenerProtocol p) {
  switch (p) {
    case ListenerProtocol::mqtts:
    case ListenerProtocol::amqps:
    case ListenerProtocol::https: return "tls";
    case ListenerProtocol::ws: return "ws";
    case ListenerProtocol::wss: return "wss";
    default: return "tcp";
  }
}

constexpr std::chrono::milliseconds accept_backoff{100};
// Connections accepted per turn of the acceptor's thread.
constexpr int kAcceptBatch = 32;

}  // namespace

std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep) {
  const auto a = ep.address();
  if (a.is_v6()) {
    if (a.to_v6().is_v4_mapped()) {
      return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string() + ":" +
             std::to_string(ep.port());
    }
    return "[" + a.to_string() + "]:" + std::to_string(ep.port());
  }
  return a.to_string() + ":" + std::to_string(ep.port());
}

Listener::Listener(IoThreads& threads, std::vector<std::unique_ptr<ConnectionRegistry>>& registries,
                   std::vector<std::unique_ptr<Poller>>& pollers, const ListenerSettings& settings,
                   proto::SessionFactory factory, ListenerContext& context)
    : threads_(threads),
      registries_(registries),
      pollers_(pollers),
      settings_(settings),
      factory_(std::move(factory)),
      context_(context),
      acceptor_(threads.context(0)),
      backoff_(threads.context(0)) {
  namespace ip = boost::asio::ip;
  const std::string kind = to_string(settings.protocol);
  context_.transport = transport_of(settings.protocol);
  if (is_tls_protocol(settings.protocol)) {
    if (!settings.tls) throw std::runtime_error("a " + kind + " listener needs tls settings");
    try {
      tls_ = std::make_unique<TlsContextHolder>(*settings.tls);
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot listen for " + kind + " on " + settings.address + ":" +
                               std::to_string(settings.port) + ": " + e.what());
    }
  }
  if (is_websocket_protocol(settings.protocol)) {
    ws_policy_.path = settings.path;
    ws_policy_.allowed_origins = settings.allowed_origins;
  }
  boost::system::error_code ec;
  ip::address address = ip::make_address(settings.address, ec);
  if (ec) {
    // A host name: resolved once, at start-up.
    ip::tcp::resolver resolver(threads.context(0));
    auto results = resolver.resolve(settings.address, std::to_string(settings.port), ec);
    if (ec || results.empty()) {
      throw std::runtime_error("cannot listen for " + kind + " on " + settings.address + ":" +
                               std::to_string(settings.port) + ": cannot resolve the address: " + ec.message());
    }
    address = results.begin()->endpoint().address();
  }
  const ip::tcp::endpoint endpoint(address, settings.port);
  acceptor_.open(endpoint.protocol(), ec);
  // Restarting while old connections sit in TIME_WAIT must not fail.
  if (!ec) acceptor_.set_option(ip::tcp::acceptor::reuse_address(true), ec);
  // "::" means IPv6 only, so "0.0.0.0" can be a second listener on the same port.
  if (!ec && address.is_v6()) acceptor_.set_option(ip::v6_only(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  // accept4() until it would block (see on_acceptable).
  if (!ec) acceptor_.non_blocking(true, ec);
  if (ec) {
    throw std::runtime_error("cannot listen for " + kind + " on " + format_endpoint(endpoint) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  where_ = kind + " on " + format_endpoint(ip::tcp::endpoint(address, port_));
}

void Listener::reload_tls() {
  if (tls_) tls_->reload();
}

void Listener::start() {
  spdlog::info("listening for {}", where_);
  accept();
}

void Listener::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
}

bool Listener::plain() const noexcept { return !tls_ && !is_websocket_protocol(settings_.protocol); }

void Listener::accept() {
  if (stopped_) return;
  acceptor_.async_wait(boost::asio::socket_base::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) { self->on_acceptable(ec); });
}

void Listener::on_acceptable(const boost::system::error_code& ec) {
  if (stopped_ || ec == boost::asio::error::operation_aborted) return;
  // The descriptor is accepted here rather than by an Asio socket: a plain TCP connection
  // then never enters Asio's reactor (its poller watches it), and the others are handed
  // to their thread's reactor as before.
  for (int i = 0; !ec && i < kAcceptBatch; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    const int fd = ::accept4(acceptor_.native_handle(), reinterpret_cast<sockaddr*>(&addr), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      boost::asio::ip::tcp::endpoint peer;
      if (len <= peer.capacity()) {
        std::memcpy(peer.data(), &addr, len);
        peer.resize(len);
      }
      on_accept(fd, peer);
      continue;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      accept();
      return;
    }
    // The peer gave up while queued, or a signal: nothing to do with it.
    if (err == ECONNABORTED || err == EINTR || err == EPROTO) continue;
    // EMFILE, ENFILE, ENOBUFS...: retrying at once would spin; wait, then go on.
    spdlog::warn("accept for {} failed: {}; retrying in {} ms", where_, std::strerror(err), accept_backoff.count());
    backoff_.expires_after(accept_backoff);
    backoff_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->accept();
    });
    return;
  }
  if (ec) {
    spdlog::warn("accept for {} failed: {}; retrying in {} ms", where_, ec.message(), accept_backoff.count());
    backoff_.expires_after(accept_backoff);
    backoff_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->accept();
    });
    return;
  }
  // More may be queued: accept them after the handlers already waiting on this thread.
  boost::asio::post(threads_.context(0), [self = shared_from_this()] { self->on_acceptable({}); });
}

bool Listener::within_connection_rate(const boost::asio::ip::tcp::endpoint& peer) {
  const std::uint32_t max = context_.limits.max_connections_per_second_per_address;
  if (max == 0) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now - rate_window_ >= std::chrono::seconds(1)) {
    rate_window_ = now;
    connections_this_second_.clear();
  }
  auto address = peer.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  const std::uint32_t n = ++connections_this_second_[address.to_string()];
  if (n <= max) return true;
  // One line per address per window, however many it opens.
  if (n == max + 1) {
    spdlog::warn("connections from {} refused on {}: more than {} new connections per second from one address "
                 "(limits.max_connections_per_second_per_address)",
                 address.to_string(), where_, max);
  }
  return false;
}

void Listener::on_accept(int fd, const boost::asio::ip::tcp::endpoint& peer) {
  if (!within_connection_rate(peer)) {
    ::close(fd);
    return;
  }
  std::string remote = format_endpoint(peer);
  if (settings_.max_connections != 0 && live_connections() >= settings_.max_connections) {
    spdlog::warn("connection from {} refused: {} is at max_connections ({})", remote, where_,
                 settings_.max_connections);
    ::close(fd);
    return;
  }
  // Counted from now, so a burst of accepts cannot overshoot the limit.
  SocketLease lease(context_);
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  const std::size_t thread = threads_.next();
  auto& context = threads_.context(thread);
  if (plain()) {
    // The connection is made on its thread: at once when that is this thread (a burst of
    // accepts then queues no handlers).
    auto make = [self = shared_from_this(), sock = PolledSocket(context.get_executor(), fd),
                 remote = std::move(remote), lease = std::move(lease), thread]() mutable {
      self->open(std::move(sock), std::move(remote), std::move(lease), thread);
    };
    if (context.get_executor().running_in_this_thread()) {
      make();
    } else {
      boost::asio::post(context, std::move(make));
    }
    return;
  }
  // An Asio socket of `thread`'s context (registered with its reactor from here, as an
  // accept onto that context would).
  boost::system::error_code ec;
  TcpSocket socket(context.get_executor());
  socket.assign(peer.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    spdlog::warn("connection from {} dropped: {}", remote, ec.message());
    return;
  }
  auto make = [self = shared_from_this(), sock = std::move(socket), remote = std::move(remote),
               lease = std::move(lease), thread]() mutable {
    self->open(std::move(sock), std::move(remote), std::move(lease), thread);
  };
  if (context.get_executor().running_in_this_thread()) {
    make();
  } else {
    boost::asio::post(context, std::move(make));
  }
}

}  // namespace outpost::server
