// WsStream: a WebSocket connection (Boost.Beast) seen as a byte stream, so MQTT runs over
// it unchanged: reads return the bytes of binary frames as they come (a packet may span
// frames, a frame may hold several packets), each write goes out as one binary message.
// Beast answers pings and the peer's close frame itself.
//
// Threading: like the socket under it, used on its connection's thread only.
#pragma once

#include <boost/beast/core/stream_traits.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/websocket/ssl.hpp>  // teardown over TLS (wss)
#include <boost/beast/websocket/stream.hpp>

#include <utility>

namespace outpost::server {

template <class Next>
class WsStream {
 public:
  using executor_type = typename boost::beast::websocket::stream<Next>::executor_type;

  explicit WsStream(boost::beast::websocket::stream<Next>&& ws) : ws_(std::move(ws)) { ws_.binary(true); }

  executor_type get_executor() noexcept { return ws_.get_executor(); }
  auto& lowest_layer() noexcept { return boost::beast::get_lowest_layer(ws_); }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    ws_.async_read_some(buffers, std::forward<Handler>(handler));
  }

  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    ws_.async_write(buffers, std::forward<Handler>(handler));
  }

 private:
  boost::beast::websocket::stream<Next> ws_;
};

}  // namespace outpost::server
