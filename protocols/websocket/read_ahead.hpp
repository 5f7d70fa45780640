// ReadAhead<Next>: a stream that reads its Next layer in large pieces and hands them out
// in the sizes asked for. Beast's WebSocket stream reads its socket through a buffer of
// about 1.5 KiB and returns one frame per read, so a busy MQTT-over-WebSocket connection
// (one small frame per packet) would cost a system call per packet or two; under it, one
// read takes in several kilobytes of frames. A TLS stream already reads whole records and
// needs no such layer.
//
// Threading: as its Next layer; one read at a time. Writes go straight through.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <cstddef>
#include <memory>
#include <utility>

namespace outpost::websocket {

template <class Next>
class ReadAhead {
 public:
  using next_layer_type = Next;
  using executor_type = typename Next::executor_type;
  // How much one read of the Next layer may take in.
  static constexpr std::size_t kChunk = 8 * 1024;

  explicit ReadAhead(Next&& next) : next_(std::move(next)) {}

  Next& next_layer() noexcept { return next_; }
  const Next& next_layer() const noexcept { return next_; }
  executor_type get_executor() { return next_.get_executor(); }
  // Bytes read from the Next layer and not handed out yet.
  std::size_t buffered() const noexcept { return end_ - begin_; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& out) { start_read(std::move(handler), out); }, token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return next_.async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  template <class Handler, class MutableBuffers>
  void start_read(Handler handler, const MutableBuffers& out) {
    if (begin_ != end_) {
      // Already here: completes without touching the socket (posted, as an
      // asynchronous operation must not complete inside its initiation).
      const std::size_t n = take(out);
      boost::asio::post(next_.get_executor(),
                        boost::beast::bind_front_handler(std::move(handler), boost::system::error_code{}, n));
      return;
    }
    if (!chunk_) chunk_ = std::make_unique<unsigned char[]>(kChunk);
    next_.async_read_some(boost::asio::buffer(chunk_.get(), kChunk),
                          [this, out, handler = std::move(handler)](const boost::system::error_code& ec,
                                                                    std::size_t n) mutable {
                            begin_ = 0;
                            end_ = n;
                            std::size_t given = 0;
                            if (n > 0) given = take(out);
                            // Nothing kept: an idle connection holds no read-ahead buffer.
                            if (begin_ == end_) chunk_.reset();
                            std::move(handler)(given > 0 ? boost::system::error_code{} : ec, given);
                          });
  }

  template <class MutableBuffers>
  std::size_t take(const MutableBuffers& out) {
    const std::size_t n = boost::asio::buffer_copy(out, boost::asio::buffer(chunk_.get() + begin_, end_ - begin_));
    begin_ += n;
    return n;
  }

  Next next_;
  std::unique_ptr<unsigned char[]> chunk_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// The WebSocket closing handshake ends by closing the socket underneath (found by ADL).
template <class Next>
void teardown(boost::beast::role_type role, ReadAhead<Next>& stream, boost::system::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, stream.next_layer(), ec);
}

template <class Next, class Handler>
void async_teardown(boost::beast::role_type role, ReadAhead<Next>& stream, Handler&& handler) {
  using boost::beast::websocket::async_teardown;
  async_teardown(role, stream.next_layer(), std::forward<Handler>(handler));
}

}  // namespace outpost::websocket
