#include "cli.hpp"
#include "settings_yaml.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace outpost {
namespace {

std::string error_of(std::string_view yaml) {
  try {
    load_settings_string(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(SettingsYaml, EmptyFileGivesDefaults) {
  Settings s = load_settings_string("", "test.yaml");
  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(s.listeners[0].port, 1883);
  EXPECT_EQ(s.mqtt.max_inflight, 20);
}

TEST(SettingsYaml, FullExample) {
  Settings s = load_settings_string(R"(
threads: 2
listeners:
  - protocol: mqtt
    address: 0.0.0.0
    port: 1883
    max_connections: 100
  - protocol: ws
    port: 8080
    path: /ws
    allowed_origins: [http://localhost]
mqtt:
  max_packet_size: 64KiB
  max_queued_bytes: 1MB
  connect_timeout: 2500ms
persistence:
  sync: normal
logging:
  level: debug
)",
                                    "test.yaml");
  EXPECT_EQ(s.threads, 2u);
  ASSERT_EQ(s.listeners.size(), 2u);
  EXPECT_FALSE(s.listeners[0].allow_anonymous);
  EXPECT_EQ(s.listeners[0].max_connections, 100u);
  EXPECT_EQ(s.listeners[1].protocol, ListenerProtocol::ws);
  EXPECT_EQ(s.listeners[1].path, "/ws");
  EXPECT_EQ(s.mqtt.max_packet_size, 65536u);
  EXPECT_EQ(s.mqtt.max_queued_bytes, 1000000u);
  EXPECT_EQ(s.persistence.sync, SyncMode::normal);
  EXPECT_EQ(s.logging.level, "debug");
  EXPECT_EQ(s.mqtt.connect_timeout, std::chrono::seconds(2));
}

TEST(SettingsYaml, ErrorsNamePosition) {
  EXPECT_EQ(error_of("threads: 1\nbogus: 2\n"),
            "test.yaml:2:1: unknown key 'bogus' in the configuration (allowed: threads, listeners, mqtt, amqp, "
            "persistence, logging)");
  EXPECT_NE(error_of("mqtt:\n  max_inflight: 0\n").find("test.yaml:2:17: 'max_inflight' expects an integer from 1"),
            std::string::npos);
  EXPECT_NE(error_of("mqtt:\n  max_packet_size: lots\n").find("test.yaml:2:20:"), std::string::npos);
  EXPECT_NE(error_of("persistence:\n  sync: sometimes\n").find("test.yaml:2:9: 'sync' expects one of full, normal, off"),
            std::string::npos);
  EXPECT_NE(error_of("listeners:\n  - protocol: mqtt\n").find("test.yaml:2:5: listener needs 'port'"), std::string::npos);
  EXPECT_NE(error_of("listeners:\n  - protocol: mqtts\n    port: 8883\n").find("needs a 'tls' section"),
            std::string::npos);
  EXPECT_NE(error_of("listeners:\n  - protocol: mqtt\n    port: 1\n    path: /x\n").find("test.yaml:4:11:"),
            std::string::npos);
  EXPECT_NE(error_of("threads: [1\n").find("test.yaml:"), std::string::npos);  // YAML syntax
  EXPECT_NE(error_of("logging:\n  level: loud\n").find("test.yaml:2:10:"), std::string::npos);
  EXPECT_NE(error_of("mqtt:\n  connect_timeout: 10 years\n").find("test.yaml:2:20:"), std::string::npos);
}

TEST(SettingsYaml, CrossFieldRules) {
  EXPECT_NE(error_of("listeners:\n  - {protocol: mqtt, port: 1}\n  - {protocol: mqtt, port: 1}\n").find("two listeners"),
            std::string::npos);
  EXPECT_NE(error_of("mqtt:\n  min_keepalive: 100\n  max_keepalive: 10\n").find("min_keepalive"), std::string::npos);
}

TEST(SettingsYaml, ShippedConfigLoads) {
  // Tests run from the build tree; the source tree is found by walking up.
  std::filesystem::path dir = std::filesystem::current_path();
  while (!std::filesystem::exists(dir / "config" / "outpost.yaml") && dir.has_parent_path() && dir != dir.parent_path()) {
    dir = dir.parent_path();
  }
  auto path = dir / "config" / "outpost.yaml";
  ASSERT_TRUE(std::filesystem::exists(path));
  Settings s = load_settings_file(path.string());
  EXPECT_EQ(s.listeners.size(), 1u);
  EXPECT_TRUE(s.listeners[0].allow_anonymous);
  EXPECT_EQ(s.persistence.dir, "outpost-data");
  for (const auto& entry : std::filesystem::directory_iterator(dir / "config" / "examples")) {
    EXPECT_NO_THROW(load_settings_file(entry.path().string())) << entry.path();
  }
}

TEST(Cli, ListenUrls) {
  auto l = parse_listen_url("mqtt://0.0.0.0:1883");
  EXPECT_EQ(l.protocol, ListenerProtocol::mqtt);
  EXPECT_EQ(l.address, "0.0.0.0");
  EXPECT_FALSE(l.allow_anonymous);  // not loopback
  auto w = parse_listen_url("ws://127.0.0.1:8080/mqtt");
  EXPECT_EQ(w.protocol, ListenerProtocol::ws);
  EXPECT_EQ(w.path, "/mqtt");
  EXPECT_TRUE(w.allow_anonymous);
  auto v6 = parse_listen_url("amqp://[::1]:5672");
  EXPECT_EQ(v6.address, "::1");
  EXPECT_EQ(v6.port, 5672);
  EXPECT_TRUE(v6.allow_anonymous);
  EXPECT_THROW(parse_listen_url("http://1.2.3.4:80"), ConfigError);
  EXPECT_THROW(parse_listen_url("mqtt://1.2.3.4"), ConfigError);
  EXPECT_THROW(parse_listen_url("mqtt://1.2.3.4:99999"), ConfigError);
  EXPECT_THROW(parse_listen_url("mqtt://1.2.3.4:1883/path"), ConfigError);
  EXPECT_THROW(parse_listen_url("1.2.3.4:1883"), ConfigError);
}

TEST(Cli, PortAndListenReplaceListeners) {
  const char* argv[] = {"outpost", "-p", "1884", "--listen", "mqtt://127.0.0.2:1885", "--data-dir", "/tmp/x"};
  auto r = parse_and_resolve(7, argv);
  ASSERT_TRUE(std::holds_alternative<Settings>(r));
  const auto& s = std::get<Settings>(r);
  ASSERT_EQ(s.listeners.size(), 2u);
  EXPECT_EQ(s.listeners[0].port, 1885);
  EXPECT_EQ(s.listeners[1].port, 1884);
  EXPECT_EQ(s.listeners[1].address, "127.0.0.1");
  EXPECT_EQ(s.persistence.dir, "/tmp/x");
}

TEST(Cli, ExitCases) {
  const char* version[] = {"outpost", "--version"};
  auto v = parse_and_resolve(2, version);
  ASSERT_TRUE(std::holds_alternative<ExitNow>(v));
  EXPECT_EQ(std::get<ExitNow>(v).code, 0);
  const char* unknown[] = {"outpost", "--frobnicate"};
  auto u = parse_and_resolve(2, unknown);
  ASSERT_TRUE(std::holds_alternative<ExitNow>(u));
  EXPECT_NE(std::get<ExitNow>(u).code, 0);
  EXPECT_NE(std::get<ExitNow>(u).text.find("--help"), std::string::npos);
  const char* missing[] = {"outpost", "-c", "/nonexistent/outpost.yaml"};
  auto m = parse_and_resolve(3, missing);
  ASSERT_TRUE(std::holds_alternative<ExitNow>(m));
  EXPECT_EQ(std::get<ExitNow>(m).code, 1);
}

}  // namespace
}  // namespace outpost
