// `plugins:` and `plugin_dir`: entries, the config section kept as a tree with positions,
// and the FILE:LINE:COLUMN of errors.
#include "test_util.hpp"

#include <gtest/gtest.h>

namespace outpost {
namespace {

using testing::yaml_error;

TEST(PluginsYaml, EntriesAndTheirConfigTree) {
  const Settings s = load_settings_string(R"(plugin_dir: /opt/plugins
plugins:
  - name: cloud
    library: bridge_mqtt
    user: bridge
    config:
      remote: mqtt://127.0.0.1:1883
      topics:
        - {pattern: "sensors/#", qos: 1}
      empty:
  - name: auth-2
    library: /usr/lib/x.so
)", "t.yaml");
  EXPECT_EQ(s.plugin_dir, "/opt/plugins");
  ASSERT_EQ(s.plugins.size(), 2u);
  const auto& p = s.plugins[0];
  EXPECT_EQ(p.name, "cloud");
  EXPECT_EQ(p.library, "bridge_mqtt");
  EXPECT_EQ(p.user, "bridge");
  EXPECT_EQ(p.position, "t.yaml:3:5");
  ASSERT_EQ(p.config.kind, ConfigTree::Kind::map);
  ASSERT_EQ(p.config.keys.size(), 3u);
  EXPECT_EQ(p.config.keys[0], "remote");
  EXPECT_EQ(p.config.values[0].scalar, "mqtt://127.0.0.1:1883");
  EXPECT_EQ(p.config.values[0].position, "t.yaml:7:15");
  const auto& topics = p.config.values[1];
  ASSERT_EQ(topics.kind, ConfigTree::Kind::sequence);
  ASSERT_EQ(topics.values.size(), 1u);
  EXPECT_EQ(topics.values[0].kind, ConfigTree::Kind::map);
  EXPECT_EQ(topics.values[0].values[0].scalar, "sensors/#");
  EXPECT_EQ(p.config.values[2].kind, ConfigTree::Kind::null);
  EXPECT_EQ(p.config.values[2].position, "t.yaml:10:7") << "an empty value points at its key";
  EXPECT_EQ(s.plugins[1].config.kind, ConfigTree::Kind::null);
  EXPECT_EQ(s.plugins[1].user, "");
}

TEST(PluginsYaml, Errors) {
  EXPECT_EQ(yaml_error("plugins:\n  - {library: x}\n"), "test.yaml:2:5: plugins[0]: missing required key 'name' (the instance name, e.g. cloud)");
  EXPECT_NE(yaml_error("plugins:\n  - {name: a}\n").find("test.yaml:2:5: plugins[0]: missing required key 'library'"), std::string::npos);
  EXPECT_NE(yaml_error("plugins:\n  - {name: a, library: x, extra: 1}\n").find("test.yaml:2:27: unknown key 'extra' in plugins[0] (allowed: name, library, user, config)"),
            std::string::npos)
      << yaml_error("plugins:\n  - {name: a, library: x, extra: 1}\n");
  EXPECT_NE(yaml_error("plugins:\n  - {name: 'a/b', library: x}\n").find("plugins[0].name: 'a/b' is not an instance name"),
            std::string::npos);
  const auto dup = yaml_error("plugins:\n  - {name: a, library: x}\n  - {name: a, library: y}\n");
  EXPECT_NE(dup.find("test.yaml:3:"), std::string::npos) << dup;
  EXPECT_NE(dup.find("already used by plugins[0]"), std::string::npos) << dup;
  EXPECT_NE(yaml_error("plugins: 3\n").find("test.yaml:1:10: plugins: expected a list of plugins"), std::string::npos);
}

TEST(PluginsYaml, ListenerWithoutLoginsIsLeftToThePlugins) {
  // Without plugins nobody could log in: an error. With one, the broker checks again once
  // the plugin said whether it authenticates.
  EXPECT_NE(yaml_error("listeners:\n  - {protocol: mqtt, port: 1883, allow_anonymous: false}\n").find("would accept no client"),
            std::string::npos);
  EXPECT_EQ(yaml_error("listeners:\n  - {protocol: mqtt, port: 1883, allow_anonymous: false}\n"
                       "plugins:\n  - {name: a, library: x}\n"),
            "");
}

}  // namespace
}  // namespace outpost
