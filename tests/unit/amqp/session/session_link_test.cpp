// AmqpSession over the in-memory link (tests/unit/support): the protocol header, the
// connection handshake, a queue on the default exchange and basic.get, with no socket.
#include "amqp_driver.hpp"
#include "amqp_wire.hpp"
#include "core/broker.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace outpost::amqp {
namespace {

using test::AmqpFrame;
using test::Bytes;
using test::SessionDriver;
using Names = std::vector<std::string>;

class AmqpSessionLinkTest : public ::testing::Test {
 protected:
  AmqpSessionLinkTest() : broker_(store_), vhost_(broker_, settings_) {}

  std::unique_ptr<SessionDriver> session() {
    test::AmqpDriverOptions options;
    options.io = io_;
    return test::make_amqp_driver(vhost_, settings_, std::move(options));
  }

  std::vector<AmqpFrame> frames(SessionDriver& d) { return test::split_amqp(d.take_written()); }

  // Header, start / start-ok, tune / tune-ok, open / open-ok; everything checked.
  std::unique_ptr<SessionDriver> opened() {
    auto d = session();
    d->feed(test::amqp_protocol_header());
    EXPECT_EQ(test::names_of(frames(*d)), Names{"connection.start"});
    d->feed(test::amqp_start_ok_plain("guest", "guest"));
    EXPECT_EQ(test::names_of(frames(*d)), Names{"connection.tune"});
    d->feed(test::amqp_tune_ok(settings_.channel_max, settings_.frame_max, 0));
    EXPECT_TRUE(d->take_written().empty());
    d->feed(test::amqp_open("/"));
    EXPECT_EQ(test::names_of(frames(*d)), Names{"connection.open-ok"});
    EXPECT_FALSE(d->link().closed());
    return d;
  }

  store::MemoryStore store_;
  core::Broker broker_;
  AmqpSettings settings_;
  Vhost vhost_;
  std::shared_ptr<boost::asio::io_context> io_ = std::make_shared<boost::asio::io_context>();
};

TEST_F(AmqpSessionLinkTest, HeaderGetsConnectionStart) {
  auto d = session();
  // Half a header: nothing yet, nothing consumed.
  const Bytes header = test::amqp_protocol_header();
  d->feed(std::span<const std::uint8_t>(header).first(4));
  EXPECT_TRUE(d->take_written().empty());
  EXPECT_EQ(d->link().unconsumed().size(), 4u);
  d->feed(std::span<const std::uint8_t>(header).subspan(4));
  EXPECT_TRUE(d->link().unconsumed().empty());

  auto written = frames(*d);
  ASSERT_EQ(test::names_of(written), Names{"connection.start"});
  EXPECT_EQ(written[0].channel, 0);
  const auto start = written[0].method();
  // version-major, version-minor, server-properties, mechanisms, locales
  EXPECT_EQ(start.num(0), 0u);
  EXPECT_EQ(start.num(1), 9u);
  EXPECT_NE(find_field(start.table(2), "capabilities"), nullptr);
  EXPECT_EQ(start.str(3), "PLAIN AMQPLAIN");
  EXPECT_EQ(start.str(4), "en_US");
}

TEST_F(AmqpSessionLinkTest, HandshakeOpensTheConnection) {
  auto d = session();
  d->feed(test::amqp_protocol_header());
  frames(*d);
  d->feed(test::amqp_start_ok_plain("guest", "guest"));
  auto written = frames(*d);
  ASSERT_EQ(test::names_of(written), Names{"connection.tune"});
  const auto tune = written[0].method();
  EXPECT_EQ(tune.num(0), settings_.channel_max);
  EXPECT_EQ(tune.num(1), settings_.frame_max);
  EXPECT_EQ(tune.num(2), settings_.heartbeat);
  d->feed(test::concat(test::amqp_tune_ok(settings_.channel_max, settings_.frame_max, 0), test::amqp_open("/")));
  EXPECT_EQ(test::names_of(frames(*d)), Names{"connection.open-ok"});
  // Heartbeat 0 and open: no deadline.
  EXPECT_EQ(d->link().deadline(), std::chrono::steady_clock::time_point::max());
  EXPECT_FALSE(d->link().closed());
}

TEST_F(AmqpSessionLinkTest, PublishToTheDefaultExchangeThenBasicGet) {
  auto d = opened();
  d->feed(test::amqp_channel_open(1));
  EXPECT_EQ(test::names_of(frames(*d)), Names{"channel.open-ok"});

  d->feed(test::amqp_queue_declare(1, "jobs"));
  auto written = frames(*d);
  ASSERT_EQ(test::names_of(written), Names{"queue.declare-ok"});
  const auto declare_ok = written[0].method();
  EXPECT_EQ(declare_ok.str(0), "jobs");
  EXPECT_EQ(declare_ok.num(1), 0u);  // messages
  EXPECT_EQ(declare_ok.num(2), 0u);  // consumers

  // The default exchange routes by queue name; no confirms asked: no answer.
  BasicProperties props;
  props.flags = prop::content_type;
  props.content_type = "text/plain";
  d->feed(test::amqp_publish(1, "", "jobs", "hello, queue", props));
  EXPECT_TRUE(d->take_written().empty());

  d->feed(test::amqp_basic_get(1, "jobs", true));
  written = frames(*d);
  ASSERT_EQ(test::names_of(written), (Names{"basic.get-ok", "<content header>", "<content body>"}));
  EXPECT_EQ(written[0].channel, 1);
  const auto get_ok = written[0].method();
  // delivery-tag, redelivered, exchange, routing-key, message-count
  EXPECT_EQ(get_ok.num(0), 1u);
  EXPECT_FALSE(get_ok.flag(1));
  EXPECT_EQ(get_ok.str(2), "");
  EXPECT_EQ(get_ok.str(3), "jobs");
  EXPECT_EQ(get_ok.num(4), 0u);
  const auto header = written[1].header();
  EXPECT_EQ(header.class_id, cls::basic);
  EXPECT_EQ(header.body_size, 12u);
  EXPECT_EQ(header.properties.content_type, "text/plain");
  EXPECT_EQ(test::body_of(written, 2), "hello, queue");

  // Taken with no-ack: the queue is empty now.
  d->feed(test::amqp_basic_get(1, "jobs", true));
  EXPECT_EQ(test::names_of(frames(*d)), Names{"basic.get-empty"});
}

TEST_F(AmqpSessionLinkTest, EverythingInOneRead) {
  // A client may send the whole conversation without waiting for answers.
  auto d = session();
  Bytes all = test::amqp_protocol_header();
  for (const auto& part : {test::amqp_start_ok_plain("guest", "guest"), test::amqp_tune_ok(0, 0, 0),
                           test::amqp_open("/"), test::amqp_channel_open(7), test::amqp_queue_declare(7, "batch"),
                           test::amqp_publish(7, "", "batch", "one"), test::amqp_publish(7, "", "batch", "two"),
                           test::amqp_basic_get(7, "batch"), test::amqp_basic_get(7, "batch")}) {
    all = test::concat(std::move(all), part);
  }
  d->feed(all);
  EXPECT_TRUE(d->link().unconsumed().empty());
  const auto written = frames(*d);
  ASSERT_EQ(test::names_of(written),
            (Names{"connection.start", "connection.tune", "connection.open-ok", "channel.open-ok", "queue.declare-ok",
                   "basic.get-ok", "<content header>", "<content body>", "basic.get-ok", "<content header>",
                   "<content body>"}));
  EXPECT_EQ(test::body_of(written, 7), "one");
  EXPECT_EQ(test::body_of(written, 10), "two");
  EXPECT_EQ(written[5].method().num(4), 1u);  // one message left after the first get
}

TEST_F(AmqpSessionLinkTest, PublisherConfirmsOnAMemoryStore) {
  auto d = opened();
  d->feed(test::concat(test::amqp_channel_open(1), test::amqp_method(1, cls::confirm, m::select, {false})));
  EXPECT_EQ(test::names_of(frames(*d)), (Names{"channel.open-ok", "confirm.select-ok"}));
  d->feed(test::concat(test::amqp_queue_declare(1, "confirmed"), test::amqp_publish(1, "", "confirmed", "x")));
  auto written = frames(*d);
  ASSERT_EQ(test::names_of(written), (Names{"queue.declare-ok", "basic.ack"}));
  EXPECT_EQ(written[1].method().num(0), 1u);  // delivery-tag: the publish sequence number
}

TEST_F(AmqpSessionLinkTest, WrongProtocolHeaderGetsOursAndAClose) {
  auto d = session();
  d->feed(test::to_bytes("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(d->take_written(), test::amqp_protocol_header());  // AMQP 0 0 9 1 [section 4.2.2]
  EXPECT_TRUE(d->link().closed());
  EXPECT_TRUE(d->link().ended());
  EXPECT_EQ(d->link().close_reason(), "bad protocol header");
}

TEST_F(AmqpSessionLinkTest, AnotherProtocolVersionGetsOursAndAClose) {
  auto d = session();
  d->feed(Bytes{'A', 'M', 'Q', 'P', 1, 1, 0, 9});  // AMQP 0-9 (the old form)
  EXPECT_EQ(d->take_written(), test::amqp_protocol_header());
  EXPECT_TRUE(d->link().closed());
}

}  // namespace
}  // namespace outpost::amqp
