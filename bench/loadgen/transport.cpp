#include "transport.hpp"

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace outpost::bench {

namespace {

namespace asio = boost::asio;
namespace ws = boost::beast::websocket;
using tcp = asio::ip::tcp;

class TcpStream final : public Stream {
 public:
  explicit TcpStream(asio::io_context& io) : s_(io) {}
  tcp::socket& socket() override { return s_; }
  void async_handshake(const std::string&, Done done) override { done({}); }
  void async_read_some(asio::mutable_buffer b, Transferred done) override { s_.async_read_some(b, std::move(done)); }
  void async_write(asio::const_buffer b, Transferred done) override { asio::async_write(s_, b, std::move(done)); }

 private:
  tcp::socket s_;
};

class TlsStream final : public Stream {
 public:
  TlsStream(asio::io_context& io, asio::ssl::context& ctx) : s_(io, ctx) {}
  tcp::socket& socket() override { return s_.next_layer(); }
  void async_handshake(const std::string&, Done done) override {
    s_.async_handshake(asio::ssl::stream_base::client, std::move(done));
  }
  void async_read_some(asio::mutable_buffer b, Transferred done) override { s_.async_read_some(b, std::move(done)); }
  void async_write(asio::const_buffer b, Transferred done) override { asio::async_write(s_, b, std::move(done)); }

 private:
  asio::ssl::stream<tcp::socket> s_;
};

template <class Next>
class WsStream final : public Stream {
 public:
  template <class... Args>
  explicit WsStream(Args&&... args) : s_(std::forward<Args>(args)...) {
    s_.binary(true);
    s_.auto_fragment(false);
    s_.read_message_max(0);
    s_.set_option(ws::stream_base::decorator([](ws::request_type& req) {
      req.set(boost::beast::http::field::sec_websocket_protocol, "mqtt");
    }));
  }
  tcp::socket& socket() override { return boost::beast::get_lowest_layer(s_); }
  void async_handshake(const std::string& host, Done done) override {
    if constexpr (std::is_same_v<Next, tcp::socket>) {
      s_.async_handshake(host, "/mqtt", std::move(done));
    } else {
      s_.next_layer().async_handshake(asio::ssl::stream_base::client,
                                      [this, host, done = std::move(done)](const boost::system::error_code& ec) {
                                        if (ec) return done(ec);
                                        s_.async_handshake(host, "/mqtt", std::move(done));
                                      });
    }
  }
  void async_read_some(asio::mutable_buffer b, Transferred done) override { s_.async_read_some(b, std::move(done)); }
  void async_write(asio::const_buffer b, Transferred done) override { s_.async_write(b, std::move(done)); }

 private:
  ws::stream<Next> s_;
};

}  // namespace

std::unique_ptr<Stream> make_stream(asio::io_context& io, Transport t, asio::ssl::context& tls) {
  switch (t) {
    case Transport::tcp: return std::make_unique<TcpStream>(io);
    case Transport::tls: return std::make_unique<TlsStream>(io, tls);
    case Transport::ws: return std::make_unique<WsStream<tcp::socket>>(io);
    case Transport::wss: return std::make_unique<WsStream<asio::ssl::stream<tcp::socket>>>(io, tls);
  }
  return nullptr;
}

}  // namespace outpost::bench
