// From an accepted socket to a running Connection: the TLS handshake (mqtts, wss, amqps)
// and the WebSocket upgrade (ws, wss) happen here, before any protocol session exists.
//
// A handshake in progress is a ConnectionBase in its thread's registry: the thread's
// deadline sweep bounds it (the listener's handshake timeout) and a server shutdown ends
// it. A failure is logged with the peer's address and the reason and affects nothing else.
#include "server/connection.hpp"
#include "server/listener.hpp"
#include "server/tls_context.hpp"
#include "websocket/read_ahead.hpp"
#include "websocket/upgrade.hpp"
#include "websocket/ws_stream.hpp"

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <array>
#include <optional>

namespace outpost::server {

namespace {

namespace http = boost::beast::http;
namespace beast_ws = boost::beast::websocket;
using TlsSocket = boost::asio::ssl::stream<TcpSocket>;
// Plain WebSocket reads its socket in large pieces (see read_ahead.hpp); over TLS the
// TLS stream already does.
using WsNext = websocket::ReadAhead<TcpSocket>;

// A request line and headers larger than this are not a WebSocket upgrade.
constexpr std::uint32_t kMaxUpgradeRequest = 8 * 1024;

}  // namespace

class Handshake final : public ConnectionBase, public std::enable_shared_from_this<Handshake> {
 public:
  Handshake(std::shared_ptr<Listener> listener, TcpSocket socket, std::string remote, SocketLease lease,
            std::size_t thread)
      : listener_(std::move(listener)),
        remote_(std::move(remote)),
        lease_(std::move(lease)),
        thread_(thread) {
    tcp_.emplace(std::move(socket));
  }
  ~Handshake() override { leave_registry(); }

  void begin() {
    auto& registry = *listener_->registries_[thread_];
    registry.add(this);
    registry.set_deadline(this, Clock::now() + listener_->context_.limits.handshake_timeout);
    if (listener_->tls_) {
      start_tls();
    } else {
      ws_.emplace(WsNext(std::move(*tcp_)));
      tcp_.reset();
      read_upgrade(*ws_);
    }
  }

  // --- ConnectionBase ---
  void shutdown() override { stop("server shutting down"); }
  void abort() override { stop("server shutting down"); }
  void deadline_passed() override { stop("timed out"); }
  std::shared_ptr<ConnectionBase> lock_base() override { return weak_from_this().lock(); }

 private:
  bool websocket_kind() const { return is_websocket_protocol(listener_->settings_.protocol); }

  // Ends the handshake from outside: the pending operation fails and reports `why`.
  void stop(const char* why) {
    if (done_) return;
    stop_reason_ = why;
    close_socket();
  }

  TcpSocket::lowest_layer_type* lowest() {
    if (tcp_) return &tcp_->lowest_layer();
    if (tls_) return &tls_->lowest_layer();
    if (ws_) return &boost::beast::get_lowest_layer(*ws_);
    if (wss_) return &boost::beast::get_lowest_layer(*wss_);
    return nullptr;
  }

  void close_socket() {
    boost::system::error_code ignored;
    if (auto* s = lowest()) s->close(ignored);
  }

  // The handshake failed: log it, close, let go.
  void fail(std::string_view what, const std::string& reason) {
    if (done_) return;
    done_ = true;
    spdlog::warn("{} with {} on {} failed: {}", what, remote_, listener_->where_,
                 stop_reason_ ? std::string(stop_reason_) : reason);
    finish();
  }

  void finish() {
    done_ = true;
    leave_registry();
    close_socket();
  }

  // --- TLS ---

  void start_tls() {
    context_ = listener_->tls_->current();
    tls_.emplace(std::move(*tcp_), *context_);
    tcp_.reset();
    tls_->async_handshake(boost::asio::ssl::stream_base::server,
                          [self = shared_from_this()](const boost::system::error_code& ec) { self->on_tls(ec); });
  }

  std::string tls_failure(const boost::system::error_code& ec) {
    std::string reason = ec.message();
    if (ec == boost::asio::ssl::error::stream_truncated || ec == boost::asio::error::eof) {
      reason = "the peer closed the connection during the handshake";
    }
    // Why a client certificate was not accepted (untrusted, expired, revoked...).
    const long verify = SSL_get_verify_result(tls_->native_handle());
    if (verify != X509_V_OK) {
      reason += std::string(" (client certificate: ") + X509_verify_cert_error_string(verify) + ")";
    }
    return reason;
  }

  void on_tls(const boost::system::error_code& ec) {
    if (ec) {
      fail("TLS handshake", tls_failure(ec));
      return;
    }
    const TlsSettings& settings = listener_->tls_->settings();
    if (settings.use_identity_as_username && SSL_get0_peer_certificate(tls_->native_handle()) != nullptr) {
      identity_ = peer_common_name(tls_->native_handle());
      if (identity_.empty()) {
        fail("TLS handshake", "the client certificate has no common name to use as the user name");
        return;
      }
    }
    if (websocket_kind()) {
      wss_.emplace(std::move(*tls_));
      tls_.reset();
      read_upgrade(*wss_);
      return;
    }
    done_ = true;
    leave_registry();
    TlsSocket stream = std::move(*tls_);
    tls_.reset();
    listener_->start_session(std::move(stream), std::move(remote_), std::move(lease_), thread_, std::move(identity_));
  }

  // --- WebSocket upgrade ---

  template <class Next>
  void read_upgrade(beast_ws::stream<Next>& ws) {
    parser_.emplace();
    parser_->header_limit(kMaxUpgradeRequest);
    http::async_read(ws.next_layer(), buffer_, *parser_,
                     [self = shared_from_this(), &ws](const boost::system::error_code& ec, std::size_t) {
                       self->on_request(ws, ec);
                     });
  }

  template <class Next>
  void on_request(beast_ws::stream<Next>& ws, const boost::system::error_code& ec) {
    if (ec) {
      fail("WebSocket upgrade", ec == http::error::end_of_stream || ec == boost::asio::error::eof
                                    ? "the peer closed the connection before its upgrade request"
                                    : "no valid HTTP upgrade request: " + ec.message());
      return;
    }
    const auto& request = parser_->get();
    websocket::UpgradeDecision decision = check_upgrade(request, listener_->ws_policy_);
    // RFC 6455 4.1: a client waits for the server's handshake before sending frames.
    if (decision.accepted && buffer_.size() != 0) {
      decision = websocket::UpgradeDecision{};
      decision.reason = "data sent before the upgrade was answered";
    }
    if (!decision.accepted) {
      refuse(ws, decision, request.version());
      return;
    }
    ws.set_option(beast_ws::stream_base::decorator([subprotocol = decision.subprotocol](beast_ws::response_type& res) {
      res.set(http::field::sec_websocket_protocol, subprotocol);
      res.set(http::field::server, "outpost");
    }));
    ws.async_accept(request, [self = shared_from_this(), &ws](const boost::system::error_code& e) {
      self->on_accepted(ws, e);
    });
  }

  template <class Next>
  void refuse(beast_ws::stream<Next>& ws, const websocket::UpgradeDecision& decision, unsigned version) {
    spdlog::warn("WebSocket upgrade from {} on {} refused with HTTP {}: {}", remote_, listener_->where_,
                 static_cast<unsigned>(decision.status), decision.reason);
    response_ = websocket::refusal_response(decision, version);
    http::async_write(ws.next_layer(), response_,
                      [self = shared_from_this(), &ws](const boost::system::error_code& ec, std::size_t) {
                        if (ec) {
                          self->finish();
                          return;
                        }
                        // Half-close and wait for the peer's close (bounded by the
                        // deadline): closing with unread input would reset the
                        // connection and could destroy the response before it is read.
                        boost::system::error_code ignored;
                        boost::beast::get_lowest_layer(ws).shutdown(boost::asio::socket_base::shutdown_send, ignored);
                        self->drain(boost::beast::get_lowest_layer(ws));
                      });
  }

  void drain(TcpSocket& socket) {
    socket.async_read_some(boost::asio::buffer(drain_),
                           [self = shared_from_this(), &socket](const boost::system::error_code& ec, std::size_t) {
                             if (ec) {
                               self->finish();
                               return;
                             }
                             self->drain(socket);
                           });
  }

  template <class Next>
  void on_accepted(beast_ws::stream<Next>& ws, const boost::system::error_code& ec) {
    if (ec) {
      fail("WebSocket upgrade", ec.message());
      return;
    }
    done_ = true;
    leave_registry();
    websocket::WsStream<Next> stream(std::move(ws));
    listener_->start_session(std::move(stream), std::move(remote_), std::move(lease_), thread_, std::move(identity_));
  }

  std::shared_ptr<Listener> listener_;
  std::string remote_;
  SocketLease lease_;
  std::size_t thread_;
  std::shared_ptr<boost::asio::ssl::context> context_;  // the one this handshake started with
  // The stream as it grows: TCP, then TLS over it, then WebSocket over either.
  std::optional<TcpSocket> tcp_;
  std::optional<TlsSocket> tls_;
  std::optional<beast_ws::stream<WsNext>> ws_;
  std::optional<beast_ws::stream<TlsSocket>> wss_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  websocket::HttpResponse response_;
  std::array<char, 512> drain_{};
  std::string identity_;
  const char* stop_reason_ = nullptr;  // set when the handshake was ended from outside
  bool done_ = false;
};

template <class Stream>
void Listener::start_session(Stream stream, std::string remote, SocketLease lease, std::size_t thread,
                             std::string identity) {
  auto conn = std::make_shared<Connection<Stream>>(std::move(stream), std::move(remote), std::move(lease));
  if (!identity.empty()) conn->set_peer_identity(std::move(identity));
  try {
    conn->start(factory_, *registries_[thread], pollers_[thread].get());
  } catch (const std::exception& e) {
    spdlog::error("connection from {} dropped: the {} session could not be created: {}", conn->remote_address(),
                  to_string(settings_.protocol), e.what());
  }
}

void Listener::open(PolledSocket socket, std::string remote, SocketLease lease, std::size_t thread) {
  start_session(std::move(socket), std::move(remote), std::move(lease), thread, {});
}

void Listener::open(TcpSocket socket, std::string remote, SocketLease lease, std::size_t thread) {
  std::make_shared<Handshake>(shared_from_this(), std::move(socket), std::move(remote), std::move(lease), thread)
      ->begin();
}

}  // namespace outpost::server
