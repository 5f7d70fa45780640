#include "amqp_client.hpp"

#include "amqp/codec/content.hpp"
#include "amqp/codec/frame.hpp"
#include "amqp/codec/method.hpp"
#include "amqp/codec/wire.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>

namespace outpost::bench {

using namespace outpost::amqp;

namespace {
// A client context for make_stream; the AMQP mode runs over plain TCP only.
boost::asio::ssl::context& no_tls() {
  static boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
  return ctx;
}
constexpr std::uint16_t kChannel = 1;
// Frame_max we ask for: large enough that a benchmark message is one body frame.
constexpr std::uint32_t kFrameMax = 131072;
}  // namespace

AmqpClient::AmqpClient(boost::asio::io_context& io, boost::asio::ip::tcp::endpoint broker, Options options,
                       RunState& run, ThreadStats& stats)
    : stream_(make_stream(io, Transport::tcp, no_tls())), broker_(broker), options_(std::move(options)), run_(run),
      stats_(stats), timer_(io) {
  tracker_.resize(options_.publishers);
}

void AmqpClient::start() {
  stream_->socket().async_connect(broker_, [self = shared_from_this()](const boost::system::error_code& e) {
    self->on_connected(e);
  });
}

void AmqpClient::fail(const std::string& why) {
  if (closed_) return;
  if (!run_.stopping.load()) {
    std::fprintf(stderr, "loadgen: %s: %s\n", options_.name.c_str(), why.c_str());
    run_.failed.fetch_add(1);
  }
  close();
}

void AmqpClient::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  stream_->socket().close(ignored);
}

void AmqpClient::on_connected(const boost::system::error_code& ec) {
  if (ec) {
    fail("connect: " + ec.message());
    return;
  }
  stream_->socket().set_option(boost::asio::ip::tcp::no_delay(true));
  pending_.insert(pending_.end(), kProtocolHeader.begin(), kProtocolHeader.end());
  flush();
  rbuf_.resize(256 * 1024);
  read();
}

void AmqpClient::read() {
  if (closed_) return;
  if (rlen_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);
  stream_->async_read_some(
      boost::asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (ec) {
          if (!self->run_.stopping.load()) self->fail("read: " + ec.message());
          self->close();
          return;
        }
        self->rlen_ += n;
        std::size_t pos = 0;
        while (!self->closed_) {
          const auto f = read_frame({self->rbuf_.data() + pos, self->rlen_ - pos}, 0);
          if (f.status == FrameStatus::need_more) break;
          if (f.status == FrameStatus::error) {
            self->fail("bad frame from the broker: " + f.error.text);
            return;
          }
          if (!self->on_frame(static_cast<std::uint8_t>(f.type), f.channel, f.payload)) return;
          pos += f.consumed;
        }
        if (pos > 0) {
          std::memmove(self->rbuf_.data(), self->rbuf_.data() + pos, self->rlen_ - pos);
          self->rlen_ -= pos;
        }
        self->publish_more();
        self->flush();
        self->read();
      });
}

bool AmqpClient::on_frame(std::uint8_t type, std::uint16_t, std::span<const std::uint8_t> payload) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::method: return on_method(payload);
    case FrameType::header: {
      if (!in_delivery_) return true;  // basic.return or get-ok content: not measured
      Reader r(payload);
      r.u16();
      r.u16();
      body_expected_ = r.u64();
      body_.clear();
      if (body_expected_ == 0) on_delivery_complete();
      return true;
    }
    case FrameType::body:
      if (!in_delivery_) return true;
      // The measurement header is all we read; copy no more than it.
      if (body_.size() < kHeaderSize) {
        const std::size_t take = std::min(payload.size(), kHeaderSize - body_.size());
        body_.insert(body_.end(), payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(take));
      }
      body_expected_ -= std::min<std::uint64_t>(body_expected_, payload.size());
      if (body_expected_ == 0) on_delivery_complete();
      return true;
    case FrameType::heartbeat: return true;
  }
  return true;
}

bool AmqpClient::on_method(std::span<const std::uint8_t> payload) {
  Reader r(payload);
  const auto class_id = r.u16();
  const auto method_id = r.u16();
  // The hot methods are read in place; the rest go through the codec's method table.
  if (class_id == cls::basic && method_id == m::deliver) {
    r.shortstr();  // consumer tag
    delivery_tag_ = r.u64();
    in_delivery_ = true;
    if (!r.ok()) {
      fail("short basic.deliver");
      return false;
    }
    return true;
  }
  if (class_id == cls::basic && (method_id == m::ack || method_id == m::nack)) {
    const auto tag = r.u64();
    const bool multiple = (r.u8() & 1) != 0;
    if (!r.ok()) {
      fail("short basic.ack");
      return false;
    }
    on_confirm(tag, multiple, method_id == m::ack);
    return true;
  }
  auto d = decode_method(payload);
  if (d.error) {
    fail("undecodable method from the broker: " + d.error.text);
    return false;
  }
  const Method& mm = d.method;
  if (mm.is(cls::connection, m::close) || mm.is(cls::channel, m::ch_close)) {
    fail(fmt::format("{} {} {}", mm.spec->name, mm.num(0), mm.str(1)));
    return false;
  }
  if (mm.is(cls::connection, m::blocked)) return true;
  if (mm.is(cls::connection, m::unblocked)) return true;
  switch (phase_) {
    case Phase::start:
      if (!mm.is(cls::connection, m::start)) break;
      {
        FieldTable props{{"product", FieldValue::string("outpost-loadgen")}};
        std::string response;
        response.push_back('\0');
        response += options_.user;
        response.push_back('\0');
        response += options_.password;
        encode_method(pending_, 0, cls::connection, m::start_ok, {props, "PLAIN", response, "en_US"});
      }
      phase_ = Phase::tune;
      return true;
    case Phase::tune: {
      if (!mm.is(cls::connection, m::tune)) break;
      // channel-max, frame-max, heartbeat: take the broker's frame_max if smaller, no heartbeats.
      const auto offered = static_cast<std::uint32_t>(mm.num(1));
      frame_max_ = offered == 0 ? kFrameMax : std::min(offered, kFrameMax);
      const auto channel_max = mm.num(0) == 0 ? 2047 : mm.num(0);
      encode_method(pending_, 0, cls::connection, m::tune_ok, {channel_max, frame_max_, 0});
      encode_method(pending_, 0, cls::connection, m::open, {"/", "", false});
      phase_ = Phase::open;
      return true;
    }
    case Phase::open:
      if (!mm.is(cls::connection, m::open_ok)) break;
      encode_method(pending_, kChannel, cls::channel, m::ch_open, {""});
      phase_ = Phase::channel;
      return true;
    case Phase::channel:
      if (!mm.is(cls::channel, m::ch_open_ok)) break;
      if (options_.role == Role::publisher && options_.confirm) {
        encode_method(pending_, kChannel, cls::confirm, m::select, {false});
        phase_ = Phase::confirm;
      } else {
        declare_queue();
      }
      return true;
    case Phase::confirm:
      if (!mm.is(cls::confirm, m::select_ok)) break;
      declare_queue();
      return true;
    case Phase::declare:
      if (!mm.is(cls::queue, m::q_declare_ok)) break;
      if (options_.role == Role::publisher) {
        prepare_publish_frames();
        phase_ = Phase::ready;
        run_.ready.fetch_add(1);
      } else if (options_.no_ack) {
        encode_method(pending_, kChannel, cls::basic, m::consume,
                      {0, options_.queue, options_.name, false, true, false, false, FieldTable{}});
        phase_ = Phase::consume;
      } else {
        encode_method(pending_, kChannel, cls::basic, m::qos, {0, options_.prefetch, false});
        phase_ = Phase::qos;
      }
      return true;
    case Phase::qos:
      if (!mm.is(cls::basic, m::qos_ok)) break;
      encode_method(pending_, kChannel, cls::basic, m::consume,
                    {0, options_.queue, options_.name, false, false, false, false, FieldTable{}});
      phase_ = Phase::consume;
      return true;
    case Phase::consume:
      if (!mm.is(cls::basic, m::consume_ok)) break;
      phase_ = Phase::ready;
      run_.ready.fetch_add(1);
      return true;
    case Phase::ready: break;
  }
  fail(fmt::format("unexpected {} from the broker", mm.spec->name));
  return false;
}

void AmqpClient::declare_queue() {
  // ticket, queue, passive, durable, exclusive, auto-delete, no-wait, arguments
  encode_method(pending_, kChannel, cls::queue, m::q_declare,
                {0, options_.queue, false, options_.durable, false, false, false, FieldTable{}});
  phase_ = Phase::declare;
}

void AmqpClient::on_delivery_complete() {
  in_delivery_ = false;
  if (body_.size() >= kHeaderSize) {
    const PayloadHeader ph = read_header(body_.data());
    const std::uint64_t now = now_ns();
    stats_.latency.add(now > ph.sent_ns ? now - ph.sent_ns : 0);
    tracker_.on_message(ph.publisher, ph.sequence);
  }
  std::atomic_ref<std::uint64_t>(stats_.received).fetch_add(1, std::memory_order_relaxed);
  // One basic.ack per message, as an application acknowledges after handling each one;
  // the acks of one read leave in one write.
  if (!options_.no_ack) encode_method(pending_, kChannel, cls::basic, m::ack, {delivery_tag_, false});
}

void AmqpClient::on_confirm(std::uint64_t tag, bool multiple, bool ack) {
  if (tag < first_unconfirmed_ || tag >= first_unconfirmed_ + unconfirmed_.size()) return;
  const std::uint64_t now = now_ns();
  auto settle = [&](Unconfirmed& u) {
    if (u.settled) return;
    u.settled = true;
    --inflight_;
    if (ack) {
      ++confirmed_;
    } else {
      ++nacked_;
    }
    stats_.ack_latency.add(now > u.sent_ns ? now - u.sent_ns : 0);
  };
  if (multiple) {
    for (std::uint64_t s = first_unconfirmed_; s <= tag; ++s) settle(unconfirmed_[s - first_unconfirmed_]);
  } else {
    settle(unconfirmed_[tag - first_unconfirmed_]);
  }
  while (!unconfirmed_.empty() && unconfirmed_.front().settled) {
    unconfirmed_.pop_front();
    ++first_unconfirmed_;
  }
}

void AmqpClient::prepare_publish_frames() {
  // basic.publish: ticket, exchange (the default one), routing key (the queue),
  // mandatory, immediate; then the content header and one body frame.
  publish_frames_.clear();
  encode_method(publish_frames_, kChannel, cls::basic, m::publish, {0, "", options_.queue, false, false});
  const std::size_t size = std::max(options_.payload, kHeaderSize);
  BasicProperties p;
  p.flags = prop::delivery_mode;
  p.delivery_mode = options_.durable ? 2 : 1;
  encode_content_header(publish_frames_, kChannel, cls::basic, size, p);
  std::vector<std::uint8_t> body(size, 'x');
  const std::size_t at = publish_frames_.size();
  write_body_frames(publish_frames_, kChannel, body, frame_max_);
  body_at_ = at + 7;  // the first body frame's header
}

void AmqpClient::begin_publishing() {
  if (options_.role != Role::publisher || closed_) return;
  started_ns_ = now_ns();
  if (options_.rate > 0) {
    tick();
  } else {
    publish_more();
    flush();
  }
}

void AmqpClient::publish_one() {
  const auto now = now_ns();
  write_header(publish_frames_.data() + body_at_, PayloadHeader{options_.publisher_id, sent_, now});
  pending_.insert(pending_.end(), publish_frames_.begin(), publish_frames_.end());
  ++sent_;
  std::atomic_ref<std::uint64_t>(stats_.published).fetch_add(1, std::memory_order_relaxed);
  if (options_.confirm) {
    unconfirmed_.push_back(Unconfirmed{now, false});
    ++inflight_;
  }
}

void AmqpClient::publish_more() {
  if (options_.role != Role::publisher || phase_ != Phase::ready || options_.rate > 0 || !run_.publishing.load() ||
      closed_) {
    return;
  }
  if (options_.confirm) {
    while (inflight_ < options_.window) publish_one();
  } else {
    // Without confirms, keep about 64 KiB queued: enough to fill the socket, little
    // enough to stop fast (TCP back-pressure paces the publisher).
    while (pending_.size() < 64 * 1024) publish_one();
  }
}

void AmqpClient::tick() {
  if (closed_ || !run_.publishing.load()) return;
  const double elapsed = static_cast<double>(now_ns() - started_ns_) / 1e9;
  const auto due = static_cast<std::uint64_t>(elapsed * options_.rate);
  while (sent_ < due && (!options_.confirm || inflight_ < options_.window)) publish_one();
  flush();
  timer_.expires_after(std::chrono::microseconds(500));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick();
  });
}

void AmqpClient::flush() {
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
                         if (!self->options_.confirm) self->publish_more();
                         self->flush();
                       });
}

}  // namespace outpost::bench
