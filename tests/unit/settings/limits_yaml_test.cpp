// `limits:` at the top level and inside a listener: values, defaults, overrides and the
// FILE:LINE:COLUMN of errors.
#include "test_util.hpp"

#include <gtest/gtest.h>

namespace outpost {
namespace {

using testing::yaml_error;

TEST(LimitsYaml, Defaults) {
  const Settings s = load_settings_string("", "t.yaml");
  EXPECT_EQ(s.limits.max_connections_per_second_per_address, 0u);
  EXPECT_EQ(s.limits.max_publish_rate, 0u);
  EXPECT_EQ(s.limits.max_publish_bytes_rate, 0u);
  EXPECT_EQ(s.limits.publish_rate_disconnect_after, std::chrono::seconds(10));
  EXPECT_EQ(s.limits.max_subscriptions_per_client, 0u);
  EXPECT_EQ(s.limits.max_topic_levels, 200u);
  EXPECT_EQ(s.limits.max_client_id_length, 256u);
  const LimitSettings l = limits_of(s, s.listeners[0]);
  EXPECT_EQ(l.max_topic_levels, 200u);
}

TEST(LimitsYaml, EveryKeyAndListenerOverrides) {
  const Settings s = load_settings_string(R"(
listeners:
  - protocol: mqtt
    port: 1883
    allow_anonymous: true
    limits:
      max_publish_rate: 5
      max_client_id_length: 23
  - protocol: amqp
    port: 5672
    allow_anonymous: true
limits:
  max_connections_per_second_per_address: 20
  max_publish_rate: 100
  max_publish_bytes_rate: 64KiB
  publish_rate_disconnect_after: 1m
  max_subscriptions_per_client: 50
  max_topic_levels: 16
  max_client_id_length: 128
)",
                                          "t.yaml");
  EXPECT_EQ(s.limits.max_connections_per_second_per_address, 20u);
  EXPECT_EQ(s.limits.max_publish_rate, 100u);
  EXPECT_EQ(s.limits.max_publish_bytes_rate, 65536u);
  EXPECT_EQ(s.limits.publish_rate_disconnect_after, std::chrono::seconds(60));
  EXPECT_EQ(s.limits.max_subscriptions_per_client, 50u);
  EXPECT_EQ(s.limits.max_topic_levels, 16u);
  EXPECT_EQ(s.limits.max_client_id_length, 128u);

  const LimitSettings mqtt = limits_of(s, s.listeners[0]);
  EXPECT_EQ(mqtt.max_publish_rate, 5u);             // the listener's
  EXPECT_EQ(mqtt.max_client_id_length, 23u);        // the listener's
  EXPECT_EQ(mqtt.max_topic_levels, 16u);            // the top level's
  EXPECT_EQ(mqtt.max_publish_bytes_rate, 65536u);   // the top level's
  const LimitSettings amqp = limits_of(s, s.listeners[1]);
  EXPECT_EQ(amqp.max_publish_rate, 100u);
  EXPECT_EQ(amqp.max_client_id_length, 128u);
}

TEST(LimitsYaml, ZeroMeansUnlimitedWhereItCan) {
  const Settings s = load_settings_string("limits:\n  max_publish_rate: 0\n  max_publish_bytes_rate: 0\n"
                                          "  publish_rate_disconnect_after: 0\n",
                                          "t.yaml");
  EXPECT_EQ(s.limits.max_publish_rate, 0u);
  EXPECT_EQ(s.limits.publish_rate_disconnect_after, std::chrono::seconds(0));
}

TEST(LimitsYaml, Errors) {
  EXPECT_EQ(yaml_error("limits:\n  max_topic_level: 3\n"),
            "test.yaml:2:3: unknown key 'max_topic_level' in limits (allowed: max_connections_per_second_per_address, "
            "max_publish_rate, max_publish_bytes_rate, publish_rate_disconnect_after, max_subscriptions_per_client, "
            "max_topic_levels, max_client_id_length)");
  EXPECT_EQ(yaml_error("limits:\n  max_topic_levels: 0\n"),
            "test.yaml:2:21: limits.max_topic_levels: expected an integer from 1 to 65536, got '0'");
  EXPECT_EQ(yaml_error("limits:\n  max_client_id_length: 70000\n"),
            "test.yaml:2:25: limits.max_client_id_length: expected an integer from 1 to 65535, got '70000'");
  EXPECT_EQ(yaml_error("limits:\n  max_publish_rate: fast\n"),
            "test.yaml:2:21: limits.max_publish_rate: expected an integer from 0 to 100000000, got 'fast'");
  EXPECT_EQ(yaml_error("limits:\n  publish_rate_disconnect_after: 500ms\n"),
            "test.yaml:2:34: limits.publish_rate_disconnect_after: expected a whole number of seconds, got '500ms'");
  EXPECT_EQ(yaml_error("limits: 5\n"),
            "test.yaml:1:9: limits: expected a mapping with the keys max_connections_per_second_per_address, "
            "max_publish_rate, max_publish_bytes_rate, publish_rate_disconnect_after, max_subscriptions_per_client, "
            "max_topic_levels, max_client_id_length, got '5'");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtt\n    port: 1883\n    limits:\n      max_subscriptions_per_client: -1\n"),
            "test.yaml:5:37: listeners[0].limits.max_subscriptions_per_client: expected an integer from 0 to "
            "10000000, got '-1'");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtt\n    port: 1883\n    limits: {bogus: 1}\n"),
            "test.yaml:4:14: unknown key 'bogus' in listeners[0].limits (allowed: max_connections_per_second_per_address, "
            "max_publish_rate, max_publish_bytes_rate, publish_rate_disconnect_after, max_subscriptions_per_client, "
            "max_topic_levels, max_client_id_length)");
}

}  // namespace
}  // namespace outpost
