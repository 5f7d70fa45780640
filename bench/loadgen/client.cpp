#include "client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <cstdio>
#include <cstring>

namespace outpost::bench {

using namespace outpost::mqtt;

namespace {
// A client context for transports without TLS too, so make_stream always has one.
boost::asio::ssl::context& no_tls() {
  static boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
  return ctx;
}
}  // namespace

Client::Client(boost::asio::io_context& io, boost::asio::ip::tcp::endpoint broker, Options options, RunState& run,
               ThreadStats& stats, Transport transport, boost::asio::ssl::context* tls)
    : stream_(make_stream(io, transport, tls ? *tls : no_tls())), broker_(broker), options_(std::move(options)), run_(run), stats_(stats), timer_(io) {
  tracker_.resize(options_.publishers);
}

void Client::start() {
  boost::system::error_code ec;
  auto& socket = stream_->socket();
  socket.open(broker_.protocol(), ec);
  if (!ec && !options_.source.is_unspecified()) {
    socket.bind(boost::asio::ip::tcp::endpoint(options_.source, 0), ec);
  }
  if (ec) {
    fail("socket: " + ec.message());
    return;
  }
  socket.async_connect(broker_, [self = shared_from_this()](const boost::system::error_code& e) {
    self->on_connected(e);
  });
}

void Client::fail(const std::string& why) {
  if (closed_) return;
  if (!run_.stopping.load()) {
    std::fprintf(stderr, "loadgen: %s: %s\n", options_.client_id.c_str(), why.c_str());
    run_.failed.fetch_add(1);
  }
  close();
}

void Client::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  stream_->socket().close(ignored);
}

void Client::on_connected(const boost::system::error_code& ec) {
  if (ec) {
    fail("connect: " + ec.message());
    return;
  }
  stream_->socket().set_option(boost::asio::ip::tcp::no_delay(true));
  stream_->async_handshake(broker_.address().to_string(),
                           [self = shared_from_this()](const boost::system::error_code& e) { self->on_handshake(e); });
}

void Client::on_handshake(const boost::system::error_code& ec) {
  if (ec) {
    fail("handshake: " + ec.message());
    return;
  }
  ConnectPacket c;
  c.version = options_.version;
  c.clean_start = !(options_.persistent && options_.role == Role::subscriber);
  if (!c.clean_start && options_.version == ProtocolVersion::v5) c.properties.session_expiry_interval = 0xFFFFFFFF;
  c.keep_alive = 0;
  c.client_id = options_.client_id;
  encode_connect(pending_, c);
  flush();
  rbuf_.resize(options_.role == Role::idle ? 64 : 256 * 1024);
  read();
}

void Client::read() {
  if (closed_) return;
  if (rlen_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);
  stream_->async_read_some(boost::asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                            if (ec) {
                              if (!self->run_.stopping.load()) self->fail("read: " + ec.message());
                              self->close();
                              return;
                            }
                            self->rlen_ += n;
                            std::size_t pos = 0;
                            while (!self->closed_) {
                              auto f = parse_fixed_header({self->rbuf_.data() + pos, self->rlen_ - pos}, 0);
                              if (f.status != FrameStatus::complete) break;
                              const std::size_t total = f.header.header_length + f.header.remaining_length;
                              if (self->rlen_ - pos < total) break;
                              self->on_packet(f.header, {self->rbuf_.data() + pos + f.header.header_length,
                                                         f.header.remaining_length});
                              pos += total;
                            }
                            if (pos > 0) {
                              std::memmove(self->rbuf_.data(), self->rbuf_.data() + pos, self->rlen_ - pos);
                              self->rlen_ -= pos;
                            }
                            self->flush();
                            self->read();
                          });
}

void Client::on_packet(const FixedHeader& h, std::span<const std::uint8_t> body) {
  switch (h.type) {
    case PacketType::connack: {
      auto c = decode_connack(options_.version, body);
      if (!c || c->reason != ReasonCode::success) {
        fail("CONNACK refused");
        return;
      }
      if (options_.role == Role::subscriber) {
        SubscribePacket s;
        s.packet_id = 1;
        s.subscriptions.push_back({options_.topic, {options_.qos, false, false, 0}});
        encode_subscribe(pending_, options_.version, s);
      } else {
        run_.ready.fetch_add(1);
      }
      return;
    }
    case PacketType::suback:
      run_.ready.fetch_add(1);
      return;
    case PacketType::publish:
      on_publish(h, body);
      return;
    case PacketType::puback:
    case PacketType::pubcomp:
      if (h.type == PacketType::puback) {
        if (auto a = decode_ack(options_.version, h.type, body)) record_ack(a->packet_id);
      }
      ++acked_;
      --inflight_;
      publish_more();
      return;
    case PacketType::pubrec: {
      auto a = decode_ack(options_.version, PacketType::pubrec, body);
      if (a) record_ack(a->packet_id);
      if (a) encode_ack(pending_, options_.version, PacketType::pubrel, a->packet_id, ReasonCode::success, nullptr);
      return;
    }
    case PacketType::pubrel: {
      auto a = decode_ack(options_.version, PacketType::pubrel, body);
      if (a) encode_ack(pending_, options_.version, PacketType::pubcomp, a->packet_id, ReasonCode::success, nullptr);
      return;
    }
    case PacketType::disconnect:
      fail("DISCONNECT from broker");
      return;
    default:
      return;
  }
}

void Client::on_publish(const FixedHeader& h, std::span<const std::uint8_t> body) {
  auto p = decode_publish(options_.version, h.flags, body);
  if (!p) {
    fail("bad PUBLISH: " + p.error().message);
    return;
  }
  if (p->payload.size() >= kHeaderSize) {
    const PayloadHeader ph = read_header(p->payload.data());
    const std::uint64_t now = now_ns();
    stats_.latency.add(now > ph.sent_ns ? now - ph.sent_ns : 0);
    tracker_.on_message(ph.publisher, ph.sequence);
  }
  std::atomic_ref<std::uint64_t>(stats_.received).fetch_add(1, std::memory_order_relaxed);
  if (p->qos == 1) {
    encode_ack(pending_, options_.version, PacketType::puback, p->packet_id, ReasonCode::success, nullptr);
  } else if (p->qos == 2) {
    encode_ack(pending_, options_.version, PacketType::pubrec, p->packet_id, ReasonCode::success, nullptr);
  }
}

void Client::begin_publishing() {
  if (options_.role != Role::publisher || closed_) return;
  payload_.assign(std::max(options_.payload, kHeaderSize), 'x');
  started_ns_ = now_ns();
  if (options_.rate > 0) {
    tick();
  } else {
    publish_more();
    flush();
  }
}

void Client::record_ack(std::uint16_t packet_id) {
  if (packet_id >= sent_at_.size()) return;
  const auto now = now_ns();
  const auto at = sent_at_[packet_id];
  stats_.ack_latency.add(now > at ? now - at : 0);
}

void Client::publish_one() {
  const auto now = now_ns();
  write_header(payload_.data(), PayloadHeader{options_.publisher_id, sent_, now});
  std::uint16_t id = 0;
  if (options_.qos > 0) {
    next_id_ = static_cast<std::uint16_t>(next_id_ == 65535 ? 1 : next_id_ + 1);
    id = next_id_;
    ++inflight_;
    if (sent_at_.empty()) sent_at_.resize(65536);
    sent_at_[id] = now;
  }
  encode_publish_header(pending_, options_.version, options_.topic, options_.qos, false, false, id, nullptr,
                        payload_.size());
  pending_.insert(pending_.end(), payload_.begin(), payload_.end());
  ++sent_;
}

void Client::publish_more() {
  if (options_.role != Role::publisher || options_.rate > 0 || !run_.publishing.load() || closed_) return;
  if (options_.qos == 0) {
    // Keep about 64 KiB queued: enough to fill the socket, little enough to stop fast.
    while (pending_.size() < 64 * 1024) publish_one();
  } else {
    while (inflight_ < options_.window) publish_one();
  }
}

void Client::tick() {
  if (closed_ || !run_.publishing.load()) return;
  const double elapsed = static_cast<double>(now_ns() - started_ns_) / 1e9;
  const auto due = static_cast<std::uint64_t>(elapsed * options_.rate);
  while (sent_ < due && (options_.qos == 0 || inflight_ < options_.window)) publish_one();
  flush();
  timer_.expires_after(std::chrono::microseconds(500));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick();
  });
}

void Client::flush() {
  if (write_in_flight_ || pending_.empty() || closed_) return;
  std::swap(writing_, pending_);
  pending_.clear();
  write_in_flight_ = true;
  stream_->async_write(boost::asio::buffer(writing_),
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                             self->write_in_flight_ = false;
                             self->writing_.clear();
                             if (ec) {
                               if (!self->run_.stopping.load()) self->fail("write: " + ec.message());
                               self->close();
                               return;
                             }
                             if (self->options_.qos == 0) self->publish_more();
                             self->flush();
                           });
}

}  // namespace outpost::bench
