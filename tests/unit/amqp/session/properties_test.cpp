// The MQTT <-> AMQP property mapping (protocols/amqp/properties.*), as pure functions.
#include "amqp/properties.hpp"

#include <gtest/gtest.h>

namespace outpost::amqp {
namespace {

core::MessagePtr make_message(std::shared_ptr<core::MessageProperties> props, std::uint8_t qos = 1,
                              std::int64_t expiry_unix_ms = 0, std::string topic = "a/b") {
  core::Message::Init init;
  init.topic = std::move(topic);
  init.qos = qos;
  init.expiry_unix_ms = expiry_unix_ms;
  init.properties = std::move(props);
  return core::Message::make(std::move(init));
}

TEST(AmqpProperties, MqttPropertiesBecomeAmqpProperties) {
  auto p = std::make_shared<core::MessageProperties>();
  p->content_type = "application/json";
  p->correlation_data = "corr";
  p->response_topic = "replies/c1";
  p->user_properties = {{"tenant", "acme"}, {"trace", "t-1"}};
  const auto m = make_message(p, 1, 1'000'000 + 30'000);
  std::span<const std::uint8_t> raw;
  const auto b = to_amqp_properties(*m, 1'000'000, raw);
  EXPECT_EQ(b.content_type, "application/json");
  EXPECT_EQ(b.correlation_id, "corr");
  EXPECT_EQ(b.reply_to, "replies.c1");  // a key on amq.topic
  EXPECT_EQ(b.expiration, "30000");
  EXPECT_EQ(b.delivery_mode, 2);
  // User properties go out as a table encoded from the message's strings (no copies).
  EXPECT_TRUE(b.has(prop::headers));
  EXPECT_TRUE(b.headers.empty());
  FieldTable headers;
  ASSERT_TRUE(decode_table_body(raw, headers));
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].name, "tenant");
  EXPECT_EQ(headers[0].value.type, 'S');
  EXPECT_EQ(headers[0].value.s, "acme");
  EXPECT_EQ(headers[1].name, "trace");
  EXPECT_EQ(headers[1].value.s, "t-1");
}

TEST(AmqpProperties, UserPropertiesAndLongCorrelationDataShareTheHeaders) {
  auto p = std::make_shared<core::MessageProperties>();
  p->correlation_data = std::string(300, '\x01');
  p->user_properties = {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  const auto m = make_message(p);
  std::span<const std::uint8_t> raw;
  const auto b = to_amqp_properties(*m, 0, raw);
  EXPECT_FALSE(b.has(prop::correlation_id));
  FieldTable headers;
  ASSERT_TRUE(decode_table_body(raw, headers));
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].name, "traceparent");
  EXPECT_EQ(headers[0].value.s, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(headers[1].name, "x-correlation-id");
  EXPECT_EQ(headers[1].value.type, 'x');
  EXPECT_EQ(headers[1].value.s, p->correlation_data);
}

TEST(AmqpProperties, QosZeroWithoutPropertiesIsTransientAndBare) {
  const auto m = make_message(nullptr, 0);
  std::span<const std::uint8_t> raw;
  const auto b = to_amqp_properties(*m, 0, raw);
  EXPECT_EQ(b.flags, 0);
  EXPECT_EQ(delivery_exchange(*m), "amq.topic");
  EXPECT_EQ(delivery_routing_key(*m), "a.b");
}

TEST(AmqpProperties, LongCorrelationDataAndResponseTopicMoveToHeaders) {
  auto p = std::make_shared<core::MessageProperties>();
  p->correlation_data = std::string(300, '\x01');
  p->response_topic = std::string(256, 'r') + "/x";
  const auto m = make_message(p);
  std::span<const std::uint8_t> raw;
  const auto b = to_amqp_properties(*m, 0, raw);
  EXPECT_FALSE(b.has(prop::correlation_id));
  EXPECT_FALSE(b.has(prop::reply_to));
  ASSERT_EQ(b.headers.size(), 2u);
  EXPECT_EQ(b.headers[0].name, "x-correlation-id");
  EXPECT_EQ(b.headers[0].value.s, p->correlation_data);
  EXPECT_EQ(b.headers[1].name, "x-reply-to");
  EXPECT_EQ(b.headers[1].value.s, std::string(256, 'r') + ".x");
}

TEST(AmqpProperties, AmqpPropertiesSurviveTheCoreExactly) {
  ContentHeader h;
  auto& in = h.properties;
  in.flags = prop::content_type | prop::content_encoding | prop::delivery_mode | prop::priority |
             prop::correlation_id | prop::reply_to | prop::expiration | prop::message_id | prop::timestamp |
             prop::type | prop::user_id | prop::app_id | prop::cluster_id;
  in.content_type = "text/plain";
  in.content_encoding = "gzip";
  in.delivery_mode = 2;
  in.priority = 7;
  in.correlation_id = "c-9";
  in.reply_to = "amq.gen-Xy/z";
  in.expiration = "5000";
  in.message_id = "m-1";
  in.timestamp = 1700000000;
  in.type = "order.created";
  in.user_id = "svc";
  in.app_id = "shop";
  in.cluster_id = "c1";
  core::MessageProperties core_props;
  std::int64_t expiry = 0;
  ASSERT_TRUE(to_core_properties(h, "orders", true, 1'000, core_props, expiry));
  EXPECT_EQ(expiry, 6'000);
  EXPECT_EQ(core_props.response_topic, "amq/gen-Xy.z");  // topic form
  const auto m = make_message(std::make_shared<core::MessageProperties>(core_props), 1, expiry, "order.created");
  std::span<const std::uint8_t> raw;
  const auto out = to_amqp_properties(*m, 2'000, raw);
  EXPECT_EQ(out, in);
  EXPECT_EQ(delivery_exchange(*m), "orders");
  EXPECT_EQ(delivery_routing_key(*m), "order.created");  // verbatim: not a topic exchange
}

TEST(AmqpProperties, ExpirationMustBeANumberOfMilliseconds) {
  ContentHeader h;
  h.properties.flags = prop::expiration;
  core::MessageProperties p;
  std::int64_t expiry = 0;
  for (const char* bad : {"-1", "1.5", "soon", "10 ", ""}) {
    h.properties.expiration = bad;
    EXPECT_FALSE(to_core_properties(h, "", true, 0, p, expiry)) << bad;
  }
  h.properties.expiration = "0";
  EXPECT_TRUE(to_core_properties(h, "", true, 0, p, expiry));
}

}  // namespace
}  // namespace outpost::amqp
