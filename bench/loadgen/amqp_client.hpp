// One AMQP 0-9-1 connection of the load generator, with one channel: a publisher
// (basic.publish to the default exchange, optionally persistent, optionally with
// publisher confirms and a window of unconfirmed messages) or a consumer (basic.qos
// prefetch, basic.consume with automatic or explicit acknowledgements). It speaks the
// broker's own codec (protocols/amqp/codec) and checks what it receives: payloads carry
// the measurement header of stats.hpp. Runs on one io_context thread; non-blocking.
#pragma once

#include "client.hpp"
#include "stats.hpp"
#include "transport.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace outpost::bench {

class AmqpClient : public std::enable_shared_from_this<AmqpClient> {
 public:
  enum class Role { publisher, consumer };
  struct Options {
    Role role = Role::publisher;
    std::string name;           // for messages
    std::string queue;          // declared by every client, published to through the default exchange
    bool durable = false;       // durable queue and persistent messages (delivery-mode 2)
    bool confirm = false;       // publisher: confirm.select, at most `window` unconfirmed
    std::size_t window = 100;
    std::size_t payload = 64;
    std::uint32_t publisher_id = 0;
    double rate = 0;            // publisher: messages per second; 0 = as fast as possible
    bool no_ack = false;        // consumer: automatic acknowledgement
    std::uint16_t prefetch = 100;  // consumer: basic.qos prefetch-count (ignored with no_ack)
    std::size_t publishers = 0; // consumer: for sequence tracking
    std::string user = "guest";
    std::string password = "guest";
  };

  AmqpClient(boost::asio::io_context& io, boost::asio::ip::tcp::endpoint broker, Options options, RunState& run,
             ThreadStats& stats);

  void start();
  // On the client's thread, once every client is ready.
  void begin_publishing();
  void close();

  std::uint64_t sent() const { return sent_; }
  std::uint64_t confirmed() const { return confirmed_; }
  std::uint64_t nacked() const { return nacked_; }
  const SequenceTracker& tracker() const { return tracker_; }

 private:
  enum class Phase { start, tune, open, channel, confirm, declare, qos, consume, ready };

  void on_connected(const boost::system::error_code& ec);
  void read();
  bool on_frame(std::uint8_t type, std::uint16_t channel, std::span<const std::uint8_t> payload);
  bool on_method(std::span<const std::uint8_t> payload);
  void on_delivery_complete();
  void on_confirm(std::uint64_t tag, bool multiple, bool ack);
  void declare_queue();
  void prepare_publish_frames();
  void publish_one();
  void publish_more();
  void tick();
  void flush();
  void fail(const std::string& why);

  std::unique_ptr<Stream> stream_;
  boost::asio::ip::tcp::endpoint broker_;
  Options options_;
  RunState& run_;
  ThreadStats& stats_;
  boost::asio::steady_timer timer_;
  Phase phase_ = Phase::start;
  std::uint32_t frame_max_ = 4096;
  std::vector<std::uint8_t> rbuf_;
  std::size_t rlen_ = 0;
  std::vector<std::uint8_t> pending_;
  std::vector<std::uint8_t> writing_;
  bool write_in_flight_ = false;
  bool closed_ = false;

  // Publisher: the method, content header and body frames of one message, encoded once;
  // only the measurement header inside the body changes from message to message.
  std::vector<std::uint8_t> publish_frames_;
  std::size_t body_at_ = 0;  // where the body's payload starts in publish_frames_
  std::uint64_t sent_ = 0;
  std::uint64_t confirmed_ = 0;
  std::uint64_t nacked_ = 0;
  struct Unconfirmed {
    std::uint64_t sent_ns = 0;
    bool settled = false;  // acked or nacked out of order, waiting for the ones before it
  };
  std::uint64_t first_unconfirmed_ = 1;  // the sequence number of unconfirmed_.front()
  std::deque<Unconfirmed> unconfirmed_;
  std::size_t inflight_ = 0;  // unconfirmed and not settled
  std::uint64_t started_ns_ = 0;

  // Consumer: the delivery being assembled (method, header, body frames).
  std::uint64_t delivery_tag_ = 0;
  std::uint64_t body_expected_ = 0;
  std::vector<std::uint8_t> body_;
  bool in_delivery_ = false;
  SequenceTracker tracker_;
};

}  // namespace outpost::bench
