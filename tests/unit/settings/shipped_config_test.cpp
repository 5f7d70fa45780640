// The configuration files that ship in config/ load, and say what they promise.
#include "test_util.hpp"

#include <gtest/gtest.h>

namespace outpost {
namespace {

TEST(ShippedConfig, DefaultRunsAsTheBuiltInDefaultDoes) {
  const auto path = testing::source_dir() / "config" / "outpost.yaml";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  Settings s = load_settings_file(path.string());
  const Settings builtin = Settings::builtin_default();
  // The file adds the operator's http listener on loopback to the built-in client listeners.
  ASSERT_FALSE(s.listeners.empty());
  EXPECT_EQ(s.listeners.back().protocol, ListenerProtocol::http);
  EXPECT_EQ(s.listeners.back().address, "127.0.0.1");
  EXPECT_EQ(s.listeners.back().port, 8080);
  s.listeners.pop_back();
  ASSERT_EQ(s.listeners.size(), builtin.listeners.size());
  for (std::size_t i = 0; i < s.listeners.size(); ++i) {
    EXPECT_EQ(s.listeners[i].protocol, builtin.listeners[i].protocol);
    EXPECT_EQ(s.listeners[i].address, builtin.listeners[i].address);
    EXPECT_EQ(s.listeners[i].port, builtin.listeners[i].port);
    EXPECT_EQ(s.listeners[i].allow_anonymous, builtin.listeners[i].allow_anonymous);
  }
  EXPECT_EQ(s.persistence.dir, "outpost-data");
  EXPECT_EQ(s.logging.level, "info");
  EXPECT_EQ(s.logging.file, "");

  // The file writes out the defaults; it must not drift from the structs.
  const Settings d;
  EXPECT_EQ(s.threads, d.threads);
  EXPECT_EQ(s.sys_interval, d.sys_interval);
  EXPECT_EQ(s.mqtt.max_packet_size, d.mqtt.max_packet_size);
  EXPECT_EQ(s.mqtt.max_inflight, d.mqtt.max_inflight);
  EXPECT_EQ(s.mqtt.max_queued_messages, d.mqtt.max_queued_messages);
  EXPECT_EQ(s.mqtt.max_queued_bytes, d.mqtt.max_queued_bytes);
  EXPECT_EQ(s.mqtt.max_keepalive, d.mqtt.max_keepalive);
  EXPECT_EQ(s.mqtt.min_keepalive, d.mqtt.min_keepalive);
  EXPECT_EQ(s.amqp.channel_max, d.amqp.channel_max);
  EXPECT_EQ(s.amqp.frame_max, d.amqp.frame_max);
  EXPECT_EQ(s.amqp.heartbeat, d.amqp.heartbeat);
  EXPECT_EQ(s.amqp.max_message_size, d.amqp.max_message_size);
  EXPECT_EQ(s.mqtt.max_session_expiry, d.mqtt.max_session_expiry);
  EXPECT_EQ(s.mqtt.topic_alias_maximum, d.mqtt.topic_alias_maximum);
  EXPECT_EQ(s.mqtt.receive_maximum, d.mqtt.receive_maximum);
  EXPECT_EQ(s.mqtt.maximum_qos, d.mqtt.maximum_qos);
  EXPECT_EQ(s.mqtt.retain_available, d.mqtt.retain_available);
  EXPECT_EQ(s.mqtt.wildcard_subscriptions, d.mqtt.wildcard_subscriptions);
  EXPECT_EQ(s.mqtt.shared_subscriptions, d.mqtt.shared_subscriptions);
  EXPECT_EQ(s.mqtt.subscription_identifiers, d.mqtt.subscription_identifiers);
  EXPECT_EQ(s.mqtt.publish_will_on_shutdown, d.mqtt.publish_will_on_shutdown);
  EXPECT_EQ(s.mqtt.connect_timeout, d.mqtt.connect_timeout);
  EXPECT_EQ(s.amqp.channel_max, d.amqp.channel_max);
  EXPECT_EQ(s.amqp.frame_max, d.amqp.frame_max);
  EXPECT_EQ(s.amqp.heartbeat, d.amqp.heartbeat);
  EXPECT_EQ(s.amqp.max_message_size, d.amqp.max_message_size);
  EXPECT_EQ(s.persistence.enabled, d.persistence.enabled);
  EXPECT_EQ(s.persistence.sync, d.persistence.sync);
  EXPECT_EQ(s.persistence.max_bytes, d.persistence.max_bytes);
  EXPECT_EQ(s.limits.max_connections_per_second_per_address, d.limits.max_connections_per_second_per_address);
  EXPECT_EQ(s.limits.max_publish_rate, d.limits.max_publish_rate);
  EXPECT_EQ(s.limits.max_publish_bytes_rate, d.limits.max_publish_bytes_rate);
  EXPECT_EQ(s.limits.publish_rate_disconnect_after, d.limits.publish_rate_disconnect_after);
  EXPECT_EQ(s.limits.max_subscriptions_per_client, d.limits.max_subscriptions_per_client);
  EXPECT_EQ(s.limits.max_topic_levels, d.limits.max_topic_levels);
  EXPECT_EQ(s.limits.max_client_id_length, d.limits.max_client_id_length);
}

TEST(ShippedConfig, EveryExampleLoads) {
  const auto dir = testing::source_dir() / "config" / "examples";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    EXPECT_NO_THROW(load_settings_file(entry.path().string())) << entry.path();
  }
  EXPECT_GE(count, 2);
}

TEST(ShippedConfig, ListenersExample) {
  const Settings s = load_settings_file((testing::source_dir() / "config" / "examples" / "listeners.yaml").string());
  bool open_mqtt = false;
  bool ws = false;
  for (const auto& l : s.listeners) {
    if (l.protocol == ListenerProtocol::mqtt && l.address == "0.0.0.0") open_mqtt = !l.allow_anonymous;
    ws = ws || l.protocol == ListenerProtocol::ws;
    if (!is_loopback_address(l.address)) {
      EXPECT_FALSE(l.allow_anonymous) << l.address << ":" << l.port;
    }
  }
  EXPECT_TRUE(open_mqtt);
  EXPECT_TRUE(ws);
}

TEST(ShippedConfig, GatewayExample) {
  const Settings s = load_settings_file((testing::source_dir() / "config" / "examples" / "gateway.yaml").string());
  EXPECT_EQ(s.threads, 1u);
  EXPECT_LT(s.mqtt.max_queued_messages, MqttSettings{}.max_queued_messages);
  EXPECT_LT(s.mqtt.max_queued_bytes, MqttSettings{}.max_queued_bytes);
  for (const auto& l : s.listeners) {
    if (!is_loopback_address(l.address)) {
      EXPECT_FALSE(l.allow_anonymous) << l.address << ":" << l.port;
    }
  }
}

}  // namespace
}  // namespace outpost
