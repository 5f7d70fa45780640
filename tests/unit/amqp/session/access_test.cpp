// The identity and access seams as an AMQP connection uses them (tests/unit/support's
// in-memory link): connection.tune waits for an asynchronous authenticator, a refusal is
// 403 ACCESS_REFUSED on the connection, and the access control's refusals of a publish,
// a topic binding and a consume are 403 on the channel, as RabbitMQ answers them.
#include "amqp_driver.hpp"
#include "amqp_wire.hpp"
#include "core/broker.hpp"
#include "held_authenticator.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace outpost::amqp {
namespace {

using test::SessionDriver;
using Names = std::vector<std::string>;

using test::HeldAuthenticator;

// Topics under "secret/" may be neither published nor bound; the queue "private" may
// not be consumed.
class DenySecret final : public core::AccessControl {
 public:
  bool may_publish(const core::ClientInfo&, std::string_view, std::string_view topic) const override {
    return !topic.starts_with("secret/");
  }
  bool may_subscribe(const core::ClientInfo&, std::string_view, std::string_view filter) const override {
    return !filter.starts_with("secret/");
  }
  bool may_consume(const core::ClientInfo&, std::string_view queue, std::string_view) const override {
    return queue != "private";
  }
};

class AmqpAccessTest : public ::testing::Test {
 protected:
  AmqpAccessTest() : broker_(store_), vhost_(broker_, settings_) {}

  std::unique_ptr<SessionDriver> session(std::shared_ptr<const core::Authenticator> auth = nullptr) {
    test::AmqpDriverOptions options;
    options.io = io_;
    options.authenticator = std::move(auth);
    options.access = std::make_shared<DenySecret>();
    return test::make_amqp_driver(vhost_, settings_, std::move(options));
  }
  std::vector<test::AmqpFrame> frames(SessionDriver& d) { return test::split_amqp(d.take_written()); }

  std::unique_ptr<SessionDriver> opened() {
    auto d = session();
    d->feed(test::amqp_protocol_header());
    d->feed(test::amqp_start_ok_plain("guest", "guest"));
    d->feed(test::concat(test::amqp_tune_ok(settings_.channel_max, settings_.frame_max, 0), test::amqp_open("/")));
    d->feed(test::amqp_channel_open(1));
    d->take_written();
    return d;
  }

  // The channel was closed with 403.
  void expect_channel_refused(SessionDriver& d) {
    auto written = frames(d);
    ASSERT_FALSE(written.empty());
    EXPECT_EQ(written.back().name(), "channel.close");
    EXPECT_EQ(written.back().method().num(0), 403u);
    EXPECT_FALSE(d.link().closed()) << "a channel error leaves the connection open";
  }

  store::MemoryStore store_;
  core::Broker broker_;
  AmqpSettings settings_;
  Vhost vhost_;
  std::shared_ptr<boost::asio::io_context> io_ = std::make_shared<boost::asio::io_context>();
};

TEST_F(AmqpAccessTest, TuneWaitsForTheAuthenticator) {
  auto auth = std::make_shared<HeldAuthenticator>();
  auto d = session(auth);
  d->feed(test::amqp_protocol_header());
  frames(*d);
  d->feed(test::amqp_start_ok_plain("alice", "s3cret"));
  ASSERT_EQ(auth->calls.size(), 1u);
  EXPECT_EQ(auth->calls[0].request.protocol, core::Protocol::amqp);
  EXPECT_EQ(auth->calls[0].request.mechanism, "PLAIN");
  EXPECT_EQ(auth->calls[0].request.user, "alice");
  EXPECT_EQ(auth->calls[0].request.password, "s3cret");
  EXPECT_TRUE(d->take_written().empty());
  EXPECT_TRUE(d->link().paused());
  auth->answer(core::AuthDecision{core::AuthStatus::accepted, "alice", {}});
  d->run();
  EXPECT_EQ(test::names_of(frames(*d)), Names{"connection.tune"});
  EXPECT_FALSE(d->link().paused());
}

TEST_F(AmqpAccessTest, RefusedLoginIsAccessRefusedOnTheConnection) {
  auto auth = std::make_shared<HeldAuthenticator>();
  auto d = session(auth);
  d->feed(test::amqp_protocol_header());
  frames(*d);
  d->feed(test::amqp_start_ok_plain("alice", "wrong"));
  auth->answer(core::AuthDecision{core::AuthStatus::bad_credentials, {}, "wrong password"});
  d->run();
  auto written = frames(*d);
  ASSERT_EQ(test::names_of(written), Names{"connection.close"});
  const auto close = written[0].method();
  EXPECT_EQ(close.num(0), 403u);
  EXPECT_NE(close.str(1).find("ACCESS_REFUSED"), std::string::npos) << close.str(1);
  EXPECT_EQ(close.num(2), cls::connection);
  EXPECT_EQ(close.num(3), m::start_ok);
}

TEST_F(AmqpAccessTest, DeniedPublishClosesTheChannel) {
  auto d = opened();
  d->feed(test::amqp_publish(1, "amq.topic", "secret.plans", "x"));
  expect_channel_refused(*d);
  EXPECT_EQ(broker_.counters().read()[core::Counter::refused_not_authorized], 1u);
  d->feed(test::amqp_channel_open(2));
  frames(*d);
  d->feed(test::amqp_publish(2, "amq.topic", "open.plans", "y"));
  EXPECT_TRUE(d->take_written().empty());
}

TEST_F(AmqpAccessTest, DeniedTopicBindingClosesTheChannel) {
  auto d = opened();
  d->feed(test::amqp_queue_declare(1, "q"));
  frames(*d);
  d->feed(test::amqp_queue_bind(1, "q", "amq.topic", "secret.#"));
  expect_channel_refused(*d);
  d->feed(test::amqp_channel_open(2));
  d->feed(test::amqp_queue_bind(2, "q", "amq.topic", "open.#"));
  EXPECT_EQ(test::names_of(frames(*d)), (Names{"channel.open-ok", "queue.bind-ok"}));
}

TEST_F(AmqpAccessTest, DeniedConsumeClosesTheChannel) {
  auto d = opened();
  d->feed(test::amqp_queue_declare(1, "private"));
  frames(*d);
  d->feed(test::amqp_basic_get(1, "private"));
  expect_channel_refused(*d);
}

}  // namespace
}  // namespace outpost::amqp
