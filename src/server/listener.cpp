#include "server/listener.hpp"

#include "server/ws_stream.hpp"

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

namespace outpost::server {

namespace {

// Held by a connection until its socket closes; counts the listener's live connections.
class Lease {
 public:
  explicit Lease(std::shared_ptr<std::atomic<std::uint32_t>> live) : live_(std::move(live)) {
    live_->fetch_add(1, std::memory_order_relaxed);
  }
  ~Lease() { live_->fetch_sub(1, std::memory_order_relaxed); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

 private:
  std::shared_ptr<std::atomic<std::uint32_t>> live_;
};

constexpr std::chrono::milliseconds accept_backoff{100};

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
                   const ListenerSettings& settings, proto::SessionFactory factory, const ConnectionLimits& limits)
    : threads_(threads),
      registries_(registries),
      settings_(settings),
      factory_(std::move(factory)),
      limits_(limits),
      acceptor_(threads.context(0)),
      backoff_(threads.context(0)) {
  namespace ip = boost::asio::ip;
  const std::string kind = to_string(settings.protocol);
  if (is_tls_protocol(settings.protocol)) {
    if (!settings.tls) throw std::runtime_error("listener for " + kind + " has no tls settings");
    tls_ = std::make_unique<TlsContextHolder>(build_tls_context(*settings.tls));
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
  if (ec) {
    throw std::runtime_error("cannot listen for " + kind + " on " + format_endpoint(endpoint) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  where_ = kind + " on " + format_endpoint(ip::tcp::endpoint(address, port_));
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

void Listener::accept() {
  if (stopped_) return;
  const std::size_t thread = threads_.next();
  acceptor_.async_accept(threads_.context(thread),
                         [self = shared_from_this(), thread](const boost::system::error_code& ec,
                                                             TcpSocket socket) {
                           self->on_accept(ec, std::move(socket), thread);
                         });
}

void Listener::on_accept(const boost::system::error_code& ec, TcpSocket socket,
                         std::size_t thread) {
  if (stopped_ || ec == boost::asio::error::operation_aborted) return;
  if (ec == boost::asio::error::connection_aborted) {
    // The peer gave up while queued: nothing to do with it.
    accept();
    return;
  }
  if (ec) {
    // EMFILE, ENFILE, ENOBUFS...: retrying at once would spin; wait, then go on.
    spdlog::warn("accept for {} failed: {}; retrying in {} ms", where_, ec.message(), accept_backoff.count());
    backoff_.expires_after(accept_backoff);
    backoff_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e) self->accept();
    });
    return;
  }
  boost::system::error_code e2;
  const auto peer = socket.remote_endpoint(e2);
  if (e2) {
    accept();  // already reset by the peer
    return;
  }
  std::string remote = format_endpoint(peer);
  if (settings_.max_connections != 0 && live_->load(std::memory_order_relaxed) >= settings_.max_connections) {
    spdlog::warn("connection from {} refused: {} is at max_connections ({})", remote, where_,
                 settings_.max_connections);
    socket.close(e2);
    accept();
    return;
  }
  // Counted from now, so a burst of accepts cannot overshoot the limit.
  auto lease = std::make_shared<Lease>(live_);
  socket.set_option(boost::asio::ip::tcp::no_delay(true), e2);
  socket.set_option(boost::asio::socket_base::keep_alive(true), e2);
  // The socket already belongs to `thread`'s context; the connection is made there: at
  // once when that is this thread (a burst of accepts then queues no handlers).
  auto make = [self = shared_from_this(), sock = std::move(socket), remote = std::move(remote),
               lease = std::move(lease), thread]() mutable {
    self->start_transport(std::move(sock), std::move(remote), std::move(lease), thread);
  };
  if (threads_.context(thread).get_executor().running_in_this_thread()) {
    make();
  } else {
    boost::asio::post(threads_.context(thread), std::move(make));
  }
  accept();
}

void Listener::reload_tls() {
  if (!tls_) return;
  try {
    tls_->set(build_tls_context(*settings_.tls));
    spdlog::info("{}: certificate and key reloaded", where_);
  } catch (const std::exception& e) {
    spdlog::error("{}: certificate and key not reloaded, the previous ones stay in use: {}", where_, e.what());
  }
}

template <class Stream>
void Listener::launch(Stream stream, std::string remote, std::string_view transport, std::shared_ptr<void> lease,
                      std::size_t thread, std::string identity) {
  auto conn = std::make_shared<Connection<Stream>>(std::move(stream), std::move(remote), transport,
                                                   *registries_[thread], limits_, std::move(lease));
  if (!identity.empty()) conn->set_peer_identity(std::move(identity));
  try {
    conn->start(factory_);
  } catch (const std::exception& e) {
    spdlog::error("connection from {} dropped: the {} session could not be created: {}", conn->remote_address(),
                  to_string(settings_.protocol), e.what());
  }
}

namespace {

namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using SslStream = boost::asio::ssl::stream<TcpSocket>;

// A client gets this long to finish the TLS handshake and the WebSocket upgrade.
constexpr std::chrono::seconds kHandshakeTimeout{10};

template <class Stream>
void close_lowest(Stream& s) {
  boost::system::error_code ignored;
  auto& socket = boost::beast::get_lowest_layer(s);
  socket.shutdown(boost::asio::socket_base::shutdown_both, ignored);
  socket.close(ignored);
}

// The first subprotocol of the client's list that MQTT over WebSocket uses, or empty.
std::string choose_subprotocol(std::string_view offered) {
  while (!offered.empty()) {
    const auto comma = offered.find(',');
    std::string_view item = offered.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item == "mqtt" || item == "mqttv3.1") return std::string(item);
    if (comma == std::string_view::npos) break;
    offered.remove_prefix(comma + 1);
  }
  return {};
}

}  // namespace

template <class Next>
void Listener::tls_handshake(TcpSocket socket, std::string remote, std::shared_ptr<void> lease, std::size_t thread,
                             Next next) {
  struct Pending {
    Pending(TcpSocket s, TlsContextPtr c) : ctx(std::move(c)), stream(std::move(s), *ctx), timer(stream.get_executor()) {}
    TlsContextPtr ctx;
    SslStream stream;
    boost::asio::steady_timer timer;
    bool timed_out = false;
  };
  auto p = std::make_shared<Pending>(std::move(socket), tls_->get());
  p->timer.expires_after(kHandshakeTimeout);
  p->timer.async_wait([p](const boost::system::error_code& ec) {
    if (ec) return;
    p->timed_out = true;
    close_lowest(p->stream);
  });
  p->stream.async_handshake(
      boost::asio::ssl::stream_base::server,
      [self = shared_from_this(), p, remote = std::move(remote), lease = std::move(lease), thread,
       next = std::move(next)](const boost::system::error_code& ec) mutable {
        p->timer.cancel();
        if (ec) {
          // Logged with the peer and the reason; nothing else is affected.
          spdlog::info("TLS handshake with {} on {} failed: {}", remote, self->where_,
                       p->timed_out ? std::string("timed out") : ec.message());
          close_lowest(p->stream);
          return;
        }
        std::string identity;
        if (self->settings_.tls->use_identity_as_username) identity = peer_common_name(p->stream.native_handle());
        next(std::move(p->stream), std::move(remote), std::move(lease), thread, std::move(identity));
      });
}

template <class Next>
void Listener::ws_upgrade(Next stream, std::string remote, std::string_view transport, std::shared_ptr<void> lease,
                          std::size_t thread, std::string identity) {
  struct Pending {
    explicit Pending(Next s) : ws(std::move(s)), timer(ws.get_executor()) {}
    websocket::stream<Next> ws;
    boost::asio::steady_timer timer;
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> refusal;
    bool timed_out = false;
  };
  auto p = std::make_shared<Pending>(std::move(stream));
  p->timer.expires_after(kHandshakeTimeout);
  p->timer.async_wait([p](const boost::system::error_code& ec) {
    if (ec) return;
    p->timed_out = true;
    close_lowest(p->ws);
  });
  auto self = shared_from_this();
  auto fail = [self, p](const std::string& remote_, const std::string& why) {
    p->timer.cancel();
    spdlog::info("WebSocket upgrade from {} on {} failed: {}", remote_, self->where_, p->timed_out ? "timed out" : why);
    close_lowest(p->ws);
  };
  http::async_read(
      p->ws.next_layer(), p->buffer, p->request,
      [self, p, fail, remote = std::move(remote), transport, lease = std::move(lease), thread,
       identity = std::move(identity)](const boost::system::error_code& ec, std::size_t) mutable {
        if (ec) return fail(remote, ec.message());
        const auto& req = p->request;
        // Refusals are HTTP answers, then the connection closes.
        http::status status = http::status::ok;
        std::string why;
        std::string_view target = req.target();
        target = target.substr(0, target.find('?'));
        std::string subprotocol = choose_subprotocol(req[http::field::sec_websocket_protocol]);
        const auto& origins = self->settings_.allowed_origins;
        if (!websocket::is_upgrade(req)) {
          status = http::status::bad_request;
          why = "not a WebSocket upgrade request";
        } else if (target != self->settings_.path) {
          status = http::status::not_found;
          why = "no WebSocket endpoint at '" + std::string(target) + "' (this listener serves '" +
                self->settings_.path + "')";
        } else if (!origins.empty() &&
                   std::find(origins.begin(), origins.end(), std::string(req[http::field::origin])) == origins.end()) {
          status = http::status::forbidden;
          why = "origin '" + std::string(req[http::field::origin]) + "' is not allowed";
        } else if (subprotocol.empty()) {
          status = http::status::bad_request;
          why = "no acceptable subprotocol (Sec-WebSocket-Protocol must offer mqtt or mqttv3.1)";
        }
        if (status != http::status::ok) {
          spdlog::info("WebSocket upgrade from {} on {} refused with {}: {}", remote, self->where_,
                       static_cast<unsigned>(status), why);
          p->refusal = http::response<http::string_body>(status, req.version());
          p->refusal.set(http::field::server, "outpost");
          p->refusal.set(http::field::content_type, "text/plain");
          p->refusal.keep_alive(false);
          p->refusal.body() = why + "\n";
          p->refusal.prepare_payload();
          http::async_write(p->ws.next_layer(), p->refusal, [p](const boost::system::error_code&, std::size_t) {
            p->timer.cancel();
            close_lowest(p->ws);
          });
          return;
        }
        p->ws.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
          res.set(http::field::sec_websocket_protocol, subprotocol);
          res.set(http::field::server, "outpost");
        }));
        // Reads are incremental and the protocol bounds its packets: no message limit here.
        p->ws.read_message_max(0);
        p->ws.async_accept(req, [self, p, fail, remote = std::move(remote), transport, lease = std::move(lease), thread,
                                 identity = std::move(identity)](const boost::system::error_code& e) mutable {
          if (e) return fail(remote, e.message());
          p->timer.cancel();
          self->launch(WsStream<Next>(std::move(p->ws)), std::move(remote), transport, std::move(lease), thread,
                       std::move(identity));
        });
      });
}

void Listener::start_transport(TcpSocket socket, std::string remote, std::shared_ptr<void> lease, std::size_t thread) {
  switch (settings_.protocol) {
    case ListenerProtocol::mqtt:
    case ListenerProtocol::amqp:
      launch(std::move(socket), std::move(remote), "tcp", std::move(lease), thread, {});
      return;
    case ListenerProtocol::mqtts:
    case ListenerProtocol::amqps:
      tls_handshake(std::move(socket), std::move(remote), std::move(lease), thread,
                    [self = shared_from_this()](SslStream s, std::string r, std::shared_ptr<void> l, std::size_t t,
                                                std::string id) {
                      self->launch(std::move(s), std::move(r), "tls", std::move(l), t, std::move(id));
                    });
      return;
    case ListenerProtocol::ws:
      ws_upgrade(std::move(socket), std::move(remote), "ws", std::move(lease), thread, {});
      return;
    case ListenerProtocol::wss:
      tls_handshake(std::move(socket), std::move(remote), std::move(lease), thread,
                    [self = shared_from_this()](SslStream s, std::string r, std::shared_ptr<void> l, std::size_t t,
                                                std::string id) {
                      self->ws_upgrade(std::move(s), std::move(r), "wss", std::move(l), t, std::move(id));
                    });
      return;
  }
}

}  // namespace outpost::server
