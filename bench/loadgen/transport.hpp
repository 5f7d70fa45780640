// The load generator's byte stream to the broker: plain TCP, TLS, WebSocket or WebSocket
// over TLS, behind one small interface so the MQTT client above is the same for all four.
// TLS does not verify the broker's certificate: the benchmark measures, it does not trust.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <functional>
#include <memory>
#include <string>

namespace outpost::bench {

enum class Transport { tcp, tls, ws, wss };

class Stream {
 public:
  using Done = std::function<void(const boost::system::error_code&)>;
  using Transferred = std::function<void(const boost::system::error_code&, std::size_t)>;
  virtual ~Stream() = default;
  // The TCP socket underneath: open, bind, connect, options, close.
  virtual boost::asio::ip::tcp::socket& socket() = 0;
  // After the TCP connect: the TLS handshake and/or the WebSocket upgrade (path /mqtt,
  // subprotocol mqtt). Nothing for plain TCP.
  virtual void async_handshake(const std::string& host, Done done) = 0;
  virtual void async_read_some(boost::asio::mutable_buffer b, Transferred done) = 0;
  // All of `b` (one WebSocket message).
  virtual void async_write(boost::asio::const_buffer b, Transferred done) = 0;
};

std::unique_ptr<Stream> make_stream(boost::asio::io_context& io, Transport t, boost::asio::ssl::context& tls);

}  // namespace outpost::bench
