// WsStream<Next>: a WebSocket connection seen as a byte stream, so one protocol session
// serves TCP, TLS and WebSocket alike. Reading yields the payload bytes of the binary
// messages in order, whatever their framing: MQTT packets split across frames and several
// packets in one frame come out the same [MQTT-6.0.0-2]. Each write is sent as one binary
// message [MQTT-6.0.0-1]. Pings are answered and the close handshake is done by Beast
// inside the reads.
//
// It offers what Connection<Stream> needs of a stream: get_executor, lowest_layer,
// async_read_some, async_write_some, and async_goodbye (the closing handshake, RFC 6455
// section 7). Next is the TCP socket (ws) or a TLS stream over it (wss).
//
// Threading: as its Next layer; one read and one write at a time, from the owner's thread.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/system/errc.hpp>

#include <chrono>
#include <cstddef>
#include <utility>

namespace outpost::websocket {

template <class Next>
class WsStream {
 public:
  using next_layer_type = Next;
  using executor_type = typename Next::executor_type;
  using lowest_layer_type = boost::beast::lowest_layer_type<Next>;

  // `ws` has completed its opening handshake.
  explicit WsStream(boost::beast::websocket::stream<Next>&& ws) : ws_(std::move(ws)) { configure(); }

  executor_type get_executor() { return ws_.get_executor(); }
  lowest_layer_type& lowest_layer() { return boost::beast::get_lowest_layer(ws_); }
  boost::beast::websocket::stream<Next>& websocket() { return ws_; }

  // Fills `buffer` with as many frames as have already arrived (so the packets of one
  // burst are handled, and answered, together), or waits for the first one.
  template <class Handler>
  void async_read_some(boost::asio::mutable_buffer buffer, Handler&& handler) {
    if (pending_error_) {
      // The error that ended the previous read, after the bytes read before it.
      boost::asio::post(ws_.get_executor(), [h = std::forward<Handler>(handler), ec = pending_error_]() mutable {
        h(ec, 0);
      });
      return;
    }
    read_into(buffer, 0, std::forward<Handler>(handler));
  }
  template <class Buffers, class Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    ws_.async_write(buffers, std::forward<Handler>(handler));
  }

  // Starts the closing handshake once every write has completed; the reads that follow
  // end when the peer's close frame arrives. `handler(error_code)`.
  template <class Handler>
  void async_goodbye(Handler&& handler) {
    ws_.async_close(boost::beast::websocket::close_code::normal, std::forward<Handler>(handler));
  }

 private:
  void configure() {
    ws_.binary(true);
    // One message per write, as one frame: a batch of packets leaves in one piece.
    ws_.auto_fragment(false);
    // The protocol above enforces its own packet limit; a frame of any size is welcome.
    ws_.read_message_max(0);
    // Bounds the closing handshake; keep alive is the protocol's business (MQTT keep alive).
    ws_.set_option(boost::beast::websocket::stream_base::timeout{
        std::chrono::seconds(5), boost::beast::websocket::stream_base::none(), false});
  }

  template <class Handler>
  void read_into(boost::asio::mutable_buffer buffer, std::size_t got, Handler&& handler) {
    ws_.async_read_some(buffer + got, [this, buffer, got, h = std::forward<Handler>(handler)](
                                          boost::system::error_code ec, std::size_t n) mutable {
      n += got;
      // [MQTT-6.0.0-1]: MQTT travels in binary frames; anything else closes the connection.
      if (!ec && ws_.got_text()) ec = make_error_code(boost::system::errc::protocol_error);
      // The peer's close frame ends the stream as end of file ends a TCP one.
      if (ec == boost::beast::websocket::error::closed) ec = boost::asio::error::eof;
      if (ec && n > 0) {
        pending_error_ = ec;
        ec = {};
      } else if (!ec && n < buffer.size() && more_buffered()) {
        read_into(buffer, n, std::move(h));
        return;
      }
      h(ec, n);
    });
  }

  bool more_buffered() const {
    if constexpr (requires(const Next& next) { next.buffered(); }) {
      return ws_.next_layer().buffered() > 0;
    } else {
      return false;
    }
  }

  boost::beast::websocket::stream<Next> ws_;
  boost::system::error_code pending_error_;
};

}  // namespace outpost::websocket
