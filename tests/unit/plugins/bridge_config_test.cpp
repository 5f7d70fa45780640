#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "config.hpp"
#include "fake_api.hpp"

using namespace outpost::bridge;
using outpost::test::Tree;

namespace {

const outpost_api api = outpost::test::fake_api();

std::optional<Config> parse(const std::string &yaml, ConfigError *error_out = nullptr) {
  Tree tree(yaml);
  ConfigError error{};
  auto c = parse_config(&api, tree.get(), "cloud", error);
  if (error_out) {
    *error_out = error;
    // The node belongs to the tree: keep only what a test can compare afterwards.
    error_out->node = error.node ? reinterpret_cast<const outpost_node *>(1) : nullptr;
    if (error.node) error_out->message = std::string(api.node_position(error.node)) + ": " + error.message;
  }
  return c;
}

// A file that exists and can be read wherever the tests run: a minimal build root (the
// cross builds' debootstrapped one) has no /etc/hosts.
std::string readable_file() {
  const std::string path = testing::TempDir() + "bridge-config-readable.pem";
  std::ofstream(path) << "not a certificate\n";
  return path;
}

std::string error_of(const std::string &yaml) {
  ConfigError error{};
  EXPECT_FALSE(parse(yaml, &error).has_value()) << yaml;
  return error.message;
}

const char *kMinimal = "remote: mqtt://127.0.0.1:1883\ntopics:\n  - {pattern: 'sensors/#'}\n";

}  // namespace

TEST(BridgeConfig, IssueExample) {
  // The shape of the issue's example, with files that exist.
  const std::string ca = testing::TempDir() + "/bridge-ca.pem";
  std::ofstream(ca) << "x";
  auto c = parse(R"(
remote: mqtts://iot.example.com:8883
client_id: edge-1
protocol_version: 5
clean_start: false
keepalive: 30s
username: edge-1
password: secret
tls: {ca_file: )" + ca + R"(, cert_file: )" + ca + R"(, key_file: )" + ca + R"(, alpn: x-amzn-mqtt-ca}
reconnect: {min_delay: 1s, max_delay: 2m}
topics:
  - {pattern: "sensors/#", direction: out, qos: 1, local_prefix: "", remote_prefix: "edge-1/"}
  - {pattern: "cmd/#", direction: in, qos: 1, local_prefix: "", remote_prefix: "edge-1/"}
queue: {max_bytes: 1GiB, on_full: refuse}
)");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->remote.host, "iot.example.com");
  EXPECT_EQ(c->remote.port, 8883);
  EXPECT_TRUE(c->tls.enabled);
  EXPECT_EQ(c->tls.ca_file, ca);
  EXPECT_EQ(c->tls.alpn, std::vector<std::string>{"x-amzn-mqtt-ca"});
  EXPECT_EQ(c->client_id, "edge-1");
  EXPECT_EQ(c->protocol_version, 5);
  EXPECT_FALSE(c->clean_start);
  EXPECT_EQ(c->keepalive, std::chrono::seconds(30));
  EXPECT_EQ(c->username, "edge-1");
  EXPECT_EQ(c->password, "secret");
  EXPECT_EQ(c->min_delay, std::chrono::seconds(1));
  EXPECT_EQ(c->max_delay, std::chrono::minutes(2));
  ASSERT_EQ(c->topics.size(), 2u);
  EXPECT_EQ(c->topics[0].direction, Direction::out);
  EXPECT_EQ(c->topics[0].remote_prefix, "edge-1/");
  EXPECT_EQ(c->topics[1].direction, Direction::in);
  EXPECT_EQ(c->queue_max_bytes, 1ull << 30);
  EXPECT_EQ(c->on_full, OUTPOST_OVERFLOW_REFUSE);
  std::remove(ca.c_str());
}

TEST(BridgeConfig, Defaults) {
  auto c = parse(kMinimal);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->client_id, "outpost-cloud");
  EXPECT_EQ(c->protocol_version, 5);
  EXPECT_EQ(c->topics[0].direction, Direction::out);
  EXPECT_EQ(c->topics[0].qos, 1);
  EXPECT_EQ(c->queue_max_bytes, 0u);
  EXPECT_EQ(c->on_full, OUTPOST_OVERFLOW_REFUSE);
  EXPECT_FALSE(c->tls.enabled);
}

TEST(BridgeConfig, ProtocolVersions) {
  auto c = parse(std::string(kMinimal) + "protocol_version: 3.1.1\n");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->protocol_version, 4);
  EXPECT_NE(error_of(std::string(kMinimal) + "protocol_version: 3.1\n").find("expected 5 or 3.1.1"), std::string::npos);
}

TEST(BridgeConfig, DropOldest) {
  auto c = parse(std::string(kMinimal) + "queue: {max_bytes: 64MiB, on_full: drop_oldest, max_messages: 10}\n");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->on_full, OUTPOST_OVERFLOW_DROP_OLDEST);
  EXPECT_EQ(c->queue_max_bytes, 64ull << 20);
  EXPECT_EQ(c->queue_max_messages, 10u);
}

TEST(BridgeConfig, ErrorsNameThePlaceAndWhatIsExpected) {
  EXPECT_NE(error_of(std::string(kMinimal) + "colour: blue\n").find("test.yaml:4:"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "colour: blue\n").find("unknown key 'colour'"), std::string::npos);
  EXPECT_NE(error_of("topics: [{pattern: a}]\n").find("remote is missing"), std::string::npos);
  EXPECT_NE(error_of("remote: http://x\ntopics: [{pattern: a}]\n").find("not supported"), std::string::npos);
  EXPECT_NE(error_of("remote: mqtt://x\n").find("topics must be a list"), std::string::npos);
  EXPECT_NE(error_of("remote: mqtt://x\ntopics: [{pattern: 'a/#/b'}]\n").find("not a valid MQTT topic filter"),
            std::string::npos);
  EXPECT_NE(error_of("remote: mqtt://x\ntopics: [{pattern: a, direction: sideways}]\n").find("out, in, both"),
            std::string::npos);
  EXPECT_NE(error_of("remote: mqtt://x\ntopics: [{pattern: a, qos: 3}]\n").find("qos must be 0, 1 or 2"),
            std::string::npos);
  EXPECT_NE(error_of("remote: mqtt://x\ntopics: [{pattern: a, remote_prefix: 'x/+/'}]\n").find("wildcards"),
            std::string::npos);
  EXPECT_NE(error_of("remote: mqtt://x\ntopics: [{pattern: a, colour: 1}]\n").find("unknown key 'colour' in a topics entry"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "keepalive: soon\n").find("duration"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "keepalive: 1500ms\n").find("whole seconds"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "queue: {max_bytes: lots}\n").find("size"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "queue: {on_full: block}\n").find("refuse, drop_oldest"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "reconnect: {min_delay: 10s, max_delay: 1s}\n").find("max_delay"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "reconnect: {min_delay: 0s}\n").find("min_delay"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "clean_start: maybe\n").find("true or false"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "tls: {ca_file: " + readable_file() + "}\n").find("mqtts:// or wss://"),
            std::string::npos);
  EXPECT_NE(error_of("remote: mqtts://x\ntopics: [{pattern: a}]\ntls: {ca_file: /nonexistent/ca.pem}\n").find("cannot be read"),
            std::string::npos);
  EXPECT_NE(error_of("remote: mqtts://x\ntopics: [{pattern: a}]\ntls: {cert_file: " + readable_file() + "}\n").find("both cert_file and key_file"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "tls: [1]\n").find("tls must be a map"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "protocol_version: 3.1.1\npassword: x\n").find("username"),
            std::string::npos);
  EXPECT_NE(error_of("").find("config section"), std::string::npos);
}
