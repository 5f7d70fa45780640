// What SIGHUP reports: the settings that changed, named as the file spells them, and
// whether the reload applied them.
#include "settings_diff.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

namespace outpost {
namespace {

const char* kBase = R"(
listeners:
  - {protocol: mqtt, address: 127.0.0.1, port: 1883, allow_anonymous: true}
logging:
  level: info
plugins:
  - {name: hooks, library: /tmp/hooks.so, config: {a: 1}}
)";

std::vector<SettingChange> diff(const std::string& before, const std::string& after) {
  return diff_settings(load_settings_string(before, "a.yaml"), load_settings_string(after, "b.yaml"));
}

TEST(SettingsDiff, NothingChangedGivesNothing) {
  EXPECT_TRUE(diff(kBase, kBase).empty());
  // Moving lines around changes positions, not settings.
  EXPECT_TRUE(diff(kBase, std::string("\n\n# a comment\n") + kBase).empty());
}

TEST(SettingsDiff, LogLevelIsApplied) {
  std::string after = kBase;
  after.replace(after.find("level: info"), 11, "level: debug");
  const auto changes = diff(kBase, after);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key, "logging.level");
  EXPECT_TRUE(changes[0].applied);
  EXPECT_EQ(changes[0].describe(), "logging.level info -> debug");
}

TEST(SettingsDiff, ListenersAndLimitsNeedARestart) {
  std::string after = kBase;
  after.replace(after.find("port: 1883"), 10, "port: 1884");
  after += "mqtt:\n  max_inflight: 20\n  max_queued_bytes: 1MiB\n";
  const auto changes = diff(kBase, after);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].describe(), "listeners changed");
  EXPECT_FALSE(changes[0].applied);
  EXPECT_EQ(changes[1].describe(), "mqtt.max_inflight 65535 -> 20");
  EXPECT_FALSE(changes[1].applied);
  EXPECT_EQ(changes[2].describe(), "mqtt.max_queued_bytes 64 MiB -> 1 MiB");
}

TEST(SettingsDiff, LoggingKeys) {
  const auto changes = diff(kBase, std::string(kBase) + "  # end\n" +
                                       "auth:\n  password_file: /etc/outpost/passwd\n");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].describe(), "auth.password_file \"\" -> /etc/outpost/passwd");
  EXPECT_FALSE(changes[0].applied);

  std::string after = kBase;
  after.replace(after.find("  level: info"), 13, "  level: info\n  connections: false\n  format: json");
  const auto logging = diff(kBase, after);
  ASSERT_EQ(logging.size(), 2u);
  EXPECT_EQ(logging[0].describe(), "logging.connections true -> false");
  EXPECT_EQ(logging[1].describe(), "logging.format text -> json");
  EXPECT_FALSE(logging[0].applied);
}

TEST(SettingsDiff, PluginSectionsAreAppliedTheListNeedsARestart) {
  std::string section = kBase;
  section.replace(section.find("{a: 1}"), 6, "{a: 2}");
  auto changes = diff(kBase, section);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key, "plugins[hooks].config");
  EXPECT_TRUE(changes[0].applied);

  std::string library = kBase;
  library.replace(library.find("/tmp/hooks.so"), 13, "/tmp/other.so");
  changes = diff(kBase, library);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key, "plugins");
  EXPECT_FALSE(changes[0].applied);
}

TEST(SettingsDiff, TheCommandLineIsKeptOverTheFile) {
  Settings running = load_settings_string(kBase, "a.yaml");
  running.persistence.dir = "/var/lib/elsewhere";
  running.logging.level = "debug";
  running.from_command_line = {"persistence.dir", "logging.level"};
  std::string text = kBase;
  text += "mqtt:\n  max_inflight: 7\n";
  Settings fresh = load_settings_string(text, "a.yaml");
  keep_command_line(running, fresh);
  EXPECT_EQ(fresh.persistence.dir, "/var/lib/elsewhere");
  EXPECT_EQ(fresh.logging.level, "debug");
  const auto changes = diff_settings(running, fresh);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key, "mqtt.max_inflight");
}

TEST(SettingsPositions, EverySettingOfTheFileHasOne) {
  const Settings s = load_settings_string(R"(listeners:
  - protocol: mqtts
    port: 8883
    allow_anonymous: true
    tls:
      cert_file: /x/cert.pem
      key_file: /x/key.pem
logging:
  file: /x/outpost.log
)", "p.yaml");
  EXPECT_EQ(position_of(s, "listeners[0].tls.cert_file"), "p.yaml:6:18");
  EXPECT_EQ(position_of(s, "logging.file"), "p.yaml:9:9");
  // Not in the file: the nearest enclosing setting that is.
  EXPECT_EQ(position_of(s, "listeners[0].tls.ca_file"), "p.yaml:6:7");
  EXPECT_EQ(position_of(s, "auth.password_file"), "p.yaml");
}

TEST(SettingsYamlLogging, ConnectionsAndFormat) {
  Settings s = load_settings_string("logging:\n  connections: false\n  format: json\n", "t.yaml");
  EXPECT_FALSE(s.logging.connections);
  EXPECT_EQ(s.logging.format, LogFormat::json);
  s = load_settings_string("logging:\n  level: info\n", "t.yaml");
  EXPECT_TRUE(s.logging.connections);
  EXPECT_EQ(s.logging.format, LogFormat::text);
  EXPECT_EQ(testing::yaml_error("logging:\n  format: xml\n"),
            "test.yaml:2:11: logging.format: expected one of text, json, got 'xml'");
  EXPECT_EQ(testing::yaml_error("logging:\n  connection: false\n").rfind("test.yaml:2:3: unknown key 'connection'", 0),
            0u);
}

}  // namespace
}  // namespace outpost
