// One MQTT connection of the load generator: a publisher, a subscriber or an idle
// client. Runs on one io_context thread; non-blocking throughout.
#pragma once

#include "stats.hpp"
#include "transport.hpp"
#include "mqtt/codec/codec.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace outpost::bench {

struct RunState {
  std::atomic<bool> publishing{false};
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> ready{0};
  std::atomic<std::size_t> failed{0};
};

// What the clients of one thread measure; read after the threads have stopped.
struct ThreadStats {
  Histogram latency;
  Histogram ack_latency;  // publisher: PUBLISH sent -> PUBACK / PUBREC received
  std::uint64_t received = 0;  // read by the main thread through std::atomic_ref
  std::uint64_t published = 0;  // AMQP publishers: messages written; the same
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  enum class Role { publisher, subscriber, idle };
  struct Options {
    Role role = Role::idle;
    std::string client_id;
    std::string topic;  // publish topic or subscription filter
    std::uint8_t qos = 0;
    mqtt::ProtocolVersion version = mqtt::ProtocolVersion::v311;
    std::size_t payload = 64;
    std::uint32_t publisher_id = 0;
    std::size_t window = 64;       // QoS 1/2 messages in flight per publisher
    double rate = 0;               // messages per second; 0 = as fast as possible
    std::size_t publishers = 0;    // for sequence tracking in subscribers
    boost::asio::ip::address source;  // local address to bind (many connections)
    bool persistent = false;       // subscriber: a persistent session (the broker stores for it)
  };

  Client(boost::asio::io_context& io, boost::asio::ip::tcp::endpoint broker, Options options, RunState& run,
         ThreadStats& stats, Transport transport = Transport::tcp, boost::asio::ssl::context* tls = nullptr);

  void start();
  // On the client's thread, once every client is ready.
  void begin_publishing();
  void close();

  std::uint64_t sent() const { return sent_; }
  std::uint64_t acked() const { return acked_; }
  const SequenceTracker& tracker() const { return tracker_; }
  const Options& options() const { return options_; }

 private:
  void on_connected(const boost::system::error_code& ec);
  void on_handshake(const boost::system::error_code& ec);
  void read();
  void on_packet(const mqtt::FixedHeader& h, std::span<const std::uint8_t> body);
  void on_publish(const mqtt::FixedHeader& h, std::span<const std::uint8_t> body);
  void publish_more();
  void publish_one();
  void tick();
  void flush();
  void fail(const std::string& why);

  std::unique_ptr<Stream> stream_;
  boost::asio::ip::tcp::endpoint broker_;
  Options options_;
  RunState& run_;
  ThreadStats& stats_;
  boost::asio::steady_timer timer_;
  std::vector<std::uint8_t> rbuf_;
  std::size_t rlen_ = 0;
  mqtt::Bytes pending_;
  mqtt::Bytes writing_;
  bool write_in_flight_ = false;
  bool closed_ = false;
  std::vector<std::uint8_t> payload_;
  std::uint64_t sent_ = 0;
  std::uint64_t acked_ = 0;
  std::size_t inflight_ = 0;
  std::uint16_t next_id_ = 0;
  std::vector<std::uint64_t> sent_at_;  // by packet id: when that QoS 1/2 PUBLISH left
  void record_ack(std::uint16_t packet_id);  // PUBACK / PUBREC latency
  std::uint64_t started_ns_ = 0;
  SequenceTracker tracker_;
};

}  // namespace outpost::bench
