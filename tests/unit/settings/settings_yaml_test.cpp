// Loading YAML: values, defaults, and the exact FILE:LINE:COLUMN of every kind of error.
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace outpost {
namespace {

using testing::yaml_error;

TEST(SettingsYaml, EmptyFileGivesDefaultsWithTheBuiltInListener) {
  for (const char* text : {"", "# nothing but a comment\n", "---\n"}) {
    Settings s = load_settings_string(text, "empty.yaml");
    EXPECT_EQ(s.source, "empty.yaml");
    ASSERT_EQ(s.listeners.size(), 2u) << text;  // MQTT 1883 and AMQP 5672
    EXPECT_EQ(s.listeners[1].protocol, ListenerProtocol::amqp);
    EXPECT_EQ(s.listeners[0].protocol, ListenerProtocol::mqtt);
    EXPECT_EQ(s.listeners[0].address, "127.0.0.1");
    EXPECT_EQ(s.listeners[0].port, 1883);
    EXPECT_TRUE(s.listeners[0].allow_anonymous);
    EXPECT_EQ(s.threads, 0u);
    EXPECT_EQ(s.mqtt.max_inflight, MqttSettings{}.max_inflight);
    EXPECT_EQ(s.persistence.dir, "outpost-data");
  }
}

TEST(SettingsYaml, SectionsWithNothingInThemAreEmpty) {
  Settings s = load_settings_string("mqtt:\namqp:\npersistence:\nlogging:\n", "t.yaml");
  EXPECT_EQ(s.mqtt.max_packet_size, MqttSettings{}.max_packet_size);
  EXPECT_EQ(s.logging.level, "info");
}

TEST(SettingsYaml, EveryKey) {
  Settings s = load_settings_string(R"(
threads: 4
listeners:
  - protocol: mqtt
    address: 0.0.0.0
    port: 1883
    allow_anonymous: false
    max_connections: 100
    acl_file: /etc/outpost/devices.acl
  - protocol: ws
    address: "::1"
    port: 8080
    path: /ws
    allowed_origins: [https://a.example, "https://b.example"]
    allow_anonymous: yes
  - protocol: amqps
    address: gateway.local
    port: 5671
    tls:
      cert_file: /etc/outpost/server.crt
      key_file: /etc/outpost/server.key
      ca_file: /etc/outpost/ca.crt
      crl_file: /etc/outpost/crl.pem
      min_version: "1.3"
      ciphers: HIGH
      ciphersuites: TLS_AES_256_GCM_SHA384
      require_client_cert: true
      use_identity_as_username: true
    password_file: ""
mqtt:
  max_packet_size: 64KiB
  max_inflight: 5
  max_queued_messages: 77
  max_queued_bytes: 1MB
  max_keepalive: 10m
  min_keepalive: 5
  max_session_expiry: 1h
  topic_alias_maximum: 0
  receive_maximum: 100
  maximum_qos: 1
  retain_available: false
  wildcard_subscriptions: False
  shared_subscriptions: no
  subscription_identifiers: off
  publish_will_on_shutdown: true
  connect_timeout: 2000ms
amqp:
  channel_max: 16
  frame_max: 4096
  heartbeat: 0
  max_message_size: 1GiB
persistence:
  enabled: false
  dir: /var/lib/outpost
  sync: normal
  max_bytes: 512 MiB
logging:
  level: debug
  file: /var/log/outpost.log
auth:
  password_file: /etc/outpost/passwd
  acl_file: /etc/outpost/acl
  acl:
    - {anonymous: true, topic: "public/#", access: read}
    - {user: alice, topic: "sensors/#"}
    - {pattern: "devices/%c/#", access: write}
  permissions:
    alice: {configure: "^alice\\.", write: ".*", read: ".*"}
    "": {configure: "^$"}
  max_failed_logins_per_minute: 3
  max_pending_checks: 50
user: mqtt
)",
                                    "t.yaml");
  EXPECT_EQ(s.threads, 4u);
  EXPECT_EQ(s.user, "mqtt");
  EXPECT_EQ(s.auth.password_file, "/etc/outpost/passwd");
  EXPECT_EQ(s.auth.acl_file, "/etc/outpost/acl");
  ASSERT_EQ(s.auth.acl.size(), 3u);
  EXPECT_EQ(s.auth.acl[0].scope, AclEntrySettings::Scope::anonymous);
  EXPECT_EQ(s.auth.acl[0].access, "read");
  EXPECT_EQ(s.auth.acl[1].scope, AclEntrySettings::Scope::user);
  EXPECT_EQ(s.auth.acl[1].user, "alice");
  EXPECT_EQ(s.auth.acl[1].access, "readwrite");
  EXPECT_EQ(s.auth.acl[2].scope, AclEntrySettings::Scope::pattern);
  EXPECT_EQ(s.auth.acl[2].topic, "devices/%c/#");
  ASSERT_EQ(s.auth.permissions.size(), 2u);
  EXPECT_EQ(s.auth.permissions[0].first, "alice");
  EXPECT_EQ(s.auth.permissions[0].second.configure, "^alice\\.");
  EXPECT_EQ(s.auth.permissions[1].first, "");
  EXPECT_EQ(s.auth.permissions[1].second.write, ".*");
  EXPECT_EQ(s.auth.max_failed_logins_per_minute, 3u);
  EXPECT_EQ(s.auth.max_pending_checks, 50u);
  EXPECT_EQ(s.listeners[0].acl_file, "/etc/outpost/devices.acl");
  EXPECT_FALSE(s.listeners[0].password_file);
  EXPECT_EQ(acl_file_of(s, s.listeners[0]), "/etc/outpost/devices.acl");
  EXPECT_EQ(password_file_of(s, s.listeners[0]), "/etc/outpost/passwd");
  EXPECT_EQ(password_file_of(s, s.listeners[2]), "");
  ASSERT_EQ(s.listeners.size(), 3u);
  const auto& mqtt = s.listeners[0];
  EXPECT_EQ(mqtt.address, "0.0.0.0");
  EXPECT_FALSE(mqtt.allow_anonymous);
  EXPECT_EQ(mqtt.max_connections, 100u);
  EXPECT_FALSE(mqtt.tls);
  const auto& ws = s.listeners[1];
  EXPECT_EQ(ws.protocol, ListenerProtocol::ws);
  EXPECT_EQ(ws.address, "::1");
  EXPECT_EQ(ws.path, "/ws");
  EXPECT_EQ(ws.allowed_origins, (std::vector<std::string>{"https://a.example", "https://b.example"}));
  EXPECT_TRUE(ws.allow_anonymous);
  const auto& amqps = s.listeners[2];
  EXPECT_EQ(amqps.protocol, ListenerProtocol::amqps);
  EXPECT_EQ(amqps.address, "gateway.local");
  ASSERT_TRUE(amqps.tls);
  EXPECT_EQ(amqps.tls->cert_file, "/etc/outpost/server.crt");
  EXPECT_EQ(amqps.tls->key_file, "/etc/outpost/server.key");
  EXPECT_EQ(amqps.tls->ca_file, "/etc/outpost/ca.crt");
  EXPECT_EQ(amqps.tls->crl_file, "/etc/outpost/crl.pem");
  EXPECT_EQ(amqps.tls->min_version, "1.3");
  EXPECT_EQ(amqps.tls->ciphers, "HIGH");
  EXPECT_EQ(amqps.tls->ciphersuites, "TLS_AES_256_GCM_SHA384");
  EXPECT_TRUE(amqps.tls->require_client_cert);
  EXPECT_TRUE(amqps.tls->use_identity_as_username);
  EXPECT_EQ(s.mqtt.max_packet_size, 65536u);
  EXPECT_EQ(s.mqtt.max_inflight, 5);
  EXPECT_EQ(s.mqtt.max_queued_messages, 77u);
  EXPECT_EQ(s.mqtt.max_queued_bytes, 1000000u);
  EXPECT_EQ(s.mqtt.max_keepalive, 600);
  EXPECT_EQ(s.mqtt.min_keepalive, 5);
  EXPECT_EQ(s.mqtt.max_session_expiry, 3600u);
  EXPECT_EQ(s.mqtt.topic_alias_maximum, 0);
  EXPECT_EQ(s.mqtt.receive_maximum, 100);
  EXPECT_EQ(s.mqtt.maximum_qos, 1);
  EXPECT_FALSE(s.mqtt.retain_available);
  EXPECT_FALSE(s.mqtt.wildcard_subscriptions);
  EXPECT_FALSE(s.mqtt.shared_subscriptions);
  EXPECT_FALSE(s.mqtt.subscription_identifiers);
  EXPECT_TRUE(s.mqtt.publish_will_on_shutdown);
  EXPECT_EQ(s.mqtt.connect_timeout, std::chrono::seconds(2));
  EXPECT_EQ(s.amqp.channel_max, 16);
  EXPECT_EQ(s.amqp.frame_max, 4096u);
  EXPECT_EQ(s.amqp.heartbeat, 0);
  EXPECT_EQ(s.amqp.max_message_size, 1ull << 30);
  EXPECT_FALSE(s.persistence.enabled);
  EXPECT_EQ(s.persistence.dir, "/var/lib/outpost");
  EXPECT_EQ(s.persistence.sync, SyncMode::normal);
  EXPECT_EQ(s.persistence.max_bytes, 512ull << 20);
  EXPECT_EQ(s.logging.level, "debug");
  EXPECT_EQ(s.logging.file, "/var/log/outpost.log");
}

TEST(SettingsYaml, ListenerDefaults) {
  Settings s = load_settings_string("auth: {password_file: /etc/outpost/passwd}\n"
                                    "listeners:\n  - {protocol: ws, port: 9001}\n", "t.yaml");
  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(s.listeners[0].path, "/mqtt");
  // Anonymous access is opt-in in a file, even on loopback.
  EXPECT_FALSE(s.listeners[0].allow_anonymous);
  EXPECT_EQ(s.listeners[0].max_connections, 0u);
}

TEST(SettingsYaml, SyntaxErrors) {
  EXPECT_EQ(yaml_error("threads: [1\n"), "test.yaml:2:1: YAML syntax error: end of sequence flow not found");
  EXPECT_EQ(yaml_error("mqtt:\n\tmax_inflight: 1\n"),
            "test.yaml:2:14: YAML syntax error: illegal map value (indentation must use spaces; this line has a tab)");
  EXPECT_EQ(yaml_error("threads: 1\nlisteners: *nowhere\n"),
            "test.yaml:2:12: YAML syntax error: the referenced anchor is not defined");
  EXPECT_EQ(yaml_error("threads: 1\n---\nthreads: 2\n"),
            "test.yaml:3:1: expected one YAML document, but another one starts here (is the indentation of this "
            "line right?)");
}

// yaml-cpp 0.7's LoadAll never returned on these (an endless run of empty documents, memory
// growing): the loader must stop and name the place (found by tests/fuzz settings_yaml).
TEST(SettingsYaml, TextThatStopsTheYamlReaderIsASyntaxError) {
  EXPECT_EQ(yaml_error(","), "test.yaml:1:1: YAML syntax error: cannot read a YAML document here");
  EXPECT_EQ(yaml_error("threads: 1\n---\n,\n"), "test.yaml:3:1: YAML syntax error: cannot read a YAML document here");
}

TEST(SettingsYaml, UnknownKeysAtEveryLevel) {
  EXPECT_EQ(yaml_error("threads: 1\nbogus: 2\n"),
            "test.yaml:2:1: unknown key 'bogus' at the top level (allowed: threads, listeners, mqtt, amqp, "
            "persistence, logging, tracing, auth, limits, user, plugins, plugin_dir, sys_interval)");
  EXPECT_EQ(yaml_error("mqtt:\n  max_inflight: 10\n  max_inflihgt: 5\n"),
            "test.yaml:3:3: unknown key 'max_inflihgt' in mqtt (allowed: max_packet_size, max_inflight, "
            "max_queued_messages, max_queued_bytes, max_keepalive, min_keepalive, max_session_expiry, "
            "topic_alias_maximum, receive_maximum, maximum_qos, retain_available, wildcard_subscriptions, "
            "shared_subscriptions, subscription_identifiers, publish_will_on_shutdown, connect_timeout)");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtt\n    port: 1883\n    adress: 0.0.0.0\n"),
            "test.yaml:4:5: unknown key 'adress' in listeners[0] (allowed: protocol, address, port, path, "
            "allowed_origins, allow_anonymous, max_connections, tls, password_file, acl_file, limits, open, admins)");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtts\n    port: 8883\n    tls: {cert_file: a, key_file: b, "
                       "verify: yes}\n"),
            "test.yaml:4:38: unknown key 'verify' in listeners[0].tls (allowed: cert_file, key_file, ca_file, "
            "crl_file, min_version, ciphers, ciphersuites, require_client_cert, use_identity_as_username)");
  EXPECT_EQ(yaml_error("amqp:\n  prefetch: 10\n"),
            "test.yaml:2:3: unknown key 'prefetch' in amqp (allowed: channel_max, frame_max, heartbeat, "
            "max_message_size)");
  EXPECT_EQ(yaml_error("persistence:\n  path: /x\n"),
            "test.yaml:2:3: unknown key 'path' in persistence (allowed: enabled, dir, sync, max_bytes)");
  EXPECT_EQ(yaml_error("logging:\n  lvl: info\n"), "test.yaml:2:3: unknown key 'lvl' in logging (allowed: level, file, connections, format)");
}

TEST(SettingsYaml, DuplicateAndOddKeys) {
  EXPECT_EQ(yaml_error("threads: 1\nmqtt: {}\nthreads: 2\n"),
            "test.yaml:3:1: duplicate key 'threads' (first given at line 1)");
  EXPECT_EQ(yaml_error("? [a, b]\n: 1\n"), "test.yaml:1:3: expected a key name, got a list");
}

TEST(SettingsYaml, WrongShapes) {
  EXPECT_EQ(yaml_error("- threads\n"),
            "test.yaml:1:1: the configuration: expected a mapping of keys (threads, listeners, mqtt, amqp, "
            "persistence, logging, tracing, auth, limits, user, plugins, plugin_dir), got a list");
  EXPECT_EQ(yaml_error("mqtt: 5\n"),
            "test.yaml:1:7: mqtt: expected a mapping with the keys max_packet_size, max_inflight, "
            "max_queued_messages, max_queued_bytes, max_keepalive, min_keepalive, max_session_expiry, "
            "topic_alias_maximum, receive_maximum, maximum_qos, retain_available, wildcard_subscriptions, "
            "shared_subscriptions, subscription_identifiers, publish_will_on_shutdown, connect_timeout, got '5'");
  EXPECT_EQ(yaml_error("listeners:\n  protocol: mqtt\n"),
            "test.yaml:2:3: listeners: expected a list of listeners, got a mapping");
  EXPECT_EQ(yaml_error("listeners: []\n"), "test.yaml:1:12: listeners: expected at least one listener, got an empty list");
  EXPECT_EQ(yaml_error("listeners:\n  - mqtt\n"),
            "test.yaml:2:5: listeners[0]: expected a mapping with protocol, port and the other listener keys, got "
            "'mqtt'");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: ws\n    port: 80\n    allowed_origins: https://a.example\n"),
            "test.yaml:4:22: listeners[0].allowed_origins: expected a list of origins such as "
            "[\"https://example.com\"], got 'https://a.example'");
}

TEST(SettingsYaml, HttpAdmins) {
  auto s = load_settings_string("auth:\n  password_file: /etc/outpost/passwd\nlisteners:\n"
                                "  - {protocol: mqtt, port: 1883}\n"
                                "  - {protocol: http, port: 8080, admins: [ops, root]}\n",
                                "test.yaml");
  EXPECT_EQ(s.listeners[1].admins, (std::vector<std::string>{"ops", "root"}));
  EXPECT_TRUE(s.listeners[0].admins.empty());
  EXPECT_EQ(yaml_error("listeners:\n  - {protocol: mqtt, port: 1883, allow_anonymous: true}\n"
                       "  - {protocol: http, port: 8080, admins: [ops]}\n"),
            "test.yaml:3:42: listeners[1].admins: admins log in with a password of the listener's password file, "
            "and this listener has none (set password_file on it, or auth.password_file)");
  EXPECT_EQ(yaml_error("listeners:\n  - {protocol: mqtt, port: 1883, allow_anonymous: true, admins: [ops]}\n"),
            "test.yaml:2:65: listeners[0].admins: only http and https listeners have admins, this one is mqtt");
  EXPECT_EQ(yaml_error("listeners:\n  - {protocol: http, port: 8080, password_file: p, admins: ops}\n"),
            "test.yaml:2:60: listeners[0].admins: expected a list of user names such as [alice, bob], got 'ops'");
}

TEST(SettingsYaml, WrongTypesAndRanges) {
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtt\n    port: abc\n"),
            "test.yaml:3:11: listeners[0].port: expected an integer from 0 to 65535, got 'abc'");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtt\n    port: 65536\n"),
            "test.yaml:3:11: listeners[0].port: expected an integer from 0 to 65535, got '65536'");
  EXPECT_EQ(yaml_error("threads: -1\n"), "test.yaml:1:10: threads: expected an integer from 0 to 1024, got '-1'");
  EXPECT_EQ(yaml_error("threads: 1025\n"), "test.yaml:1:10: threads: expected an integer from 0 to 1024, got '1025'");
  EXPECT_EQ(yaml_error("threads:\n"), "test.yaml:1:1: threads: expected an integer from 0 to 1024, got nothing");
  EXPECT_EQ(yaml_error("threads: [1]\n"), "test.yaml:1:10: threads: expected an integer from 0 to 1024, got a list");
  EXPECT_EQ(yaml_error("mqtt:\n  max_inflight: 0\n"),
            "test.yaml:2:17: mqtt.max_inflight: expected an integer from 1 to 65535, got '0'");
  EXPECT_EQ(yaml_error("mqtt:\n  maximum_qos: 3\n"),
            "test.yaml:2:16: mqtt.maximum_qos: expected an integer from 0 to 2, got '3'");
  EXPECT_EQ(yaml_error("mqtt:\n  receive_maximum: 0\n"),
            "test.yaml:2:20: mqtt.receive_maximum: expected an integer from 1 to 65535, got '0'");
  EXPECT_EQ(yaml_error("mqtt:\n  retain_available: maybe\n"),
            "test.yaml:2:21: mqtt.retain_available: expected true or false, got 'maybe'");
  EXPECT_EQ(yaml_error("mqtt:\n  max_packet_size: lots\n"),
            "test.yaml:2:20: mqtt.max_packet_size: expected a size from 128 B to 256 MiB (bytes, or with a unit: "
            "512B, 64KiB, 1MiB, 1GiB, KB, MB, GB), got 'lots'");
  EXPECT_EQ(yaml_error("mqtt:\n  max_packet_size: 100\n"),
            "test.yaml:2:20: mqtt.max_packet_size: expected a size from 128 B to 256 MiB (bytes, or with a unit: "
            "512B, 64KiB, 1MiB, 1GiB, KB, MB, GB), got '100'");
  EXPECT_EQ(yaml_error("mqtt:\n  max_packet_size: 257MiB\n"),
            "test.yaml:2:20: mqtt.max_packet_size: expected a size from 128 B to 256 MiB (bytes, or with a unit: "
            "512B, 64KiB, 1MiB, 1GiB, KB, MB, GB), got '257MiB'");
  EXPECT_EQ(yaml_error("amqp:\n  frame_max: 4095\n"),
            "test.yaml:2:14: amqp.frame_max: expected a size from 4 KiB to 1 GiB (bytes, or with a unit: 512B, "
            "64KiB, 1MiB, 1GiB, KB, MB, GB), got '4095'");
  EXPECT_EQ(yaml_error("mqtt:\n  connect_timeout: 10 years\n"),
            "test.yaml:2:20: mqtt.connect_timeout: expected a duration from 1s to 3600s (seconds, or with a unit: "
            "500ms, 10s, 5m, 1h), got '10 years'");
  EXPECT_EQ(yaml_error("mqtt:\n  connect_timeout: 500ms\n"),
            "test.yaml:2:20: mqtt.connect_timeout: expected a duration from 1s to 3600s (seconds, or with a unit: "
            "500ms, 10s, 5m, 1h), got '500ms'");
  EXPECT_EQ(yaml_error("mqtt:\n  connect_timeout: 2500ms\n"),
            "test.yaml:2:20: mqtt.connect_timeout: expected a whole number of seconds, got '2500ms'");
  EXPECT_EQ(yaml_error("mqtt:\n  max_keepalive: 19h\n"),
            "test.yaml:2:18: mqtt.max_keepalive: expected a duration from 1s to 65535s (seconds, or with a unit: "
            "500ms, 10s, 5m, 1h), got '19h'");
  EXPECT_EQ(yaml_error("persistence:\n  dir: \"\"\n"),
            "test.yaml:2:8: persistence.dir: expected a directory, got ''");
  EXPECT_EQ(yaml_error("listeners:\n  - {protocol: mqtt, port: 1, address: [a]}\n"),
            "test.yaml:2:40: listeners[0].address: expected an IPv4 address, an IPv6 address or a host name, got a "
            "list");
}

TEST(SettingsYaml, BadChoicesListTheChoices) {
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: coap\n    port: 5683\n"),
            "test.yaml:2:15: listeners[0].protocol: expected one of mqtt, mqtts, ws, wss, amqp, amqps, http, https, got "
            "'coap'");
  EXPECT_EQ(yaml_error("persistence:\n  sync: sometimes\n"),
            "test.yaml:2:9: persistence.sync: expected one of full, normal, off, got 'sometimes'");
  EXPECT_EQ(yaml_error("logging:\n  level: loud\n"),
            "test.yaml:2:10: logging.level: expected one of trace, debug, info, warn, error, critical, off, got "
            "'loud'");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtts\n    port: 8883\n    tls:\n      cert_file: c\n      "
                       "key_file: k\n      min_version: 1.1\n"),
            "test.yaml:7:20: listeners[0].tls.min_version: expected one of 1.2, 1.3, got '1.1'");
}

TEST(SettingsYaml, MissingRequiredKeysPointAtTheEnclosingMap) {
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtt\n"),
            "test.yaml:2:5: listeners[0]: missing required key 'port' (an integer from 0 to 65535; 0 picks a free "
            "port)");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtt\n    port: 1883\n  - address: 0.0.0.0\n    port: 1884\n"),
            "test.yaml:4:5: listeners[1]: missing required key 'protocol' (one of mqtt, mqtts, ws, wss, amqp, "
            "amqps, http, https)");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: wss\n    port: 443\n    tls:\n      key_file: k\n"),
            "test.yaml:5:7: listeners[0].tls: missing required key 'cert_file' (the server certificate chain, PEM)");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtts\n    port: 8883\n    tls:\n"),
            "test.yaml:4:5: listeners[0].tls: missing required key 'cert_file' (the server certificate chain, PEM)");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtts\n    port: 8883\n"),
            "test.yaml:2:5: listeners[0].tls: a mqtts listener needs tls.cert_file and tls.key_file");
}

TEST(SettingsYaml, KeysThatApplyToOtherListenerKinds) {
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtt\n    port: 1\n    path: /x\n"),
            "test.yaml:4:11: listeners[0].path: only ws and wss listeners have a path, this one is mqtt");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: amqp\n    port: 1\n    allowed_origins: []\n"),
            "test.yaml:4:22: listeners[0].allowed_origins: only ws and wss listeners check origins, this one is "
            "amqp");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtt\n    port: 1\n    tls: {cert_file: c, key_file: k}\n"),
            "test.yaml:4:10: listeners[0].tls: only mqtts, wss, amqps and https listeners use tls, this one is mqtt");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: ws\n    port: 1\n    path: mqtt\n"),
            "test.yaml:4:11: listeners[0].path: expected a path starting with '/', got 'mqtt'");
}

TEST(SettingsYaml, RulesAcrossFieldsPointAtTheSetting) {
  EXPECT_EQ(yaml_error("listeners:\n  - {protocol: mqtt, port: 1883}\n  - {protocol: ws, port: 1883}\n"),
            "test.yaml:3:26: listeners[1].port: 127.0.0.1 port 1883 is already taken by the mqtt listener on "
            "127.0.0.1 port 1883; an address and port can have one listener");
  EXPECT_EQ(yaml_error("listeners:\n  - {protocol: mqtt, port: 1883, address: 127.0.0.1}\n"
                       "  - {protocol: mqtt, port: 1883, address: 0.0.0.0}\n"),
            "test.yaml:3:28: listeners[1].port: 0.0.0.0 port 1883 is already taken by the mqtt listener on "
            "127.0.0.1 port 1883; an address and port can have one listener");
  EXPECT_EQ(yaml_error("mqtt:\n  min_keepalive: 100\n  max_keepalive: 10\n"),
            "test.yaml:2:18: mqtt.min_keepalive: min_keepalive (100) must not exceed max_keepalive (10)");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtts\n    port: 8883\n    tls:\n      cert_file: c\n"
                       "      key_file: k\n      require_client_cert: true\n"),
            "test.yaml:7:28: listeners[0].tls.require_client_cert: client certificates are checked against "
            "tls.ca_file, which is not set");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: mqtts\n    port: 8883\n    tls:\n      cert_file: c\n"
                       "      key_file: k\n      use_identity_as_username: true\n"),
            "test.yaml:7:33: listeners[0].tls.use_identity_as_username: the identity comes from a client "
            "certificate checked against tls.ca_file, which is not set");
  EXPECT_EQ(yaml_error("listeners:\n  - protocol: wss\n    port: 8883\n    tls:\n      cert_file: c\n"
                       "      key_file: k\n      crl_file: r\n"),
            "test.yaml:7:17: listeners[0].tls.crl_file: a revocation list applies to client certificates checked "
            "against tls.ca_file, which is not set");
  EXPECT_EQ(yaml_error("listeners:\n  - {protocol: mqtt, port: 1883, address: \"300.1.2.3\"}\n"),
            "test.yaml:2:43: listeners[0].address: expected an IPv4 address, an IPv6 address or a host name, got "
            "'300.1.2.3'");
  EXPECT_EQ(yaml_error("listeners:\n  - {protocol: mqtt, port: 1883, address: \"[::1]\"}\n"),
            "test.yaml:2:43: listeners[0].address: write IPv6 addresses without brackets, e.g. '::1'");
}

TEST(SettingsYaml, AuthProblemsPointAtTheirLine) {
  EXPECT_EQ(yaml_error("listeners:\n  - {protocol: mqtt, port: 1883}\n"),
            "test.yaml:2:5: listeners[0]: the mqtt listener on 127.0.0.1 port 1883 would accept no client: anonymous "
            "access is off and there is no password file (auth.password_file) nor client certificate identity "
            "(tls.use_identity_as_username); set allow_anonymous: true or configure one of them");
  // A listener's own password file counts; "" on a listener turns the global one off.
  EXPECT_NO_THROW(load_settings_string("listeners:\n  - {protocol: mqtt, port: 1883, password_file: /p}\n", "t"));
  EXPECT_EQ(yaml_error("auth: {password_file: /p}\nlisteners:\n  - {protocol: mqtt, port: 1883, password_file: ''}\n")
                .substr(0, 27),
            "test.yaml:3:5: listeners[0]");
  EXPECT_EQ(yaml_error("auth:\n  acl:\n    - {user: bob, topic: a, access: all}\n"),
            "test.yaml:3:37: auth.acl[0].access: expected one of read, write, readwrite, deny, got 'all'");
  EXPECT_EQ(yaml_error("auth:\n  acl:\n    - {user: bob, anonymous: true, topic: a}\n"),
            "test.yaml:3:7: auth.acl[0]: expected exactly one of user: NAME, anonymous: true, pattern: FILTER");
  EXPECT_EQ(yaml_error("auth:\n  permissions:\n    bob: {read: '(('}\n"),
            "test.yaml:3:17: auth.permissions.bob.read: '((' is not a regular expression: Mismatched '(' and ')' in "
            "regular expression");
}

TEST(SettingsYaml, ListenersThatMayShareAPort) {
  // Different addresses of one family, different families, and port 0 (a free port each).
  Settings s = load_settings_string(R"(
auth: {password_file: /etc/outpost/passwd}
listeners:
  - {protocol: mqtt, port: 1883, address: 127.0.0.1}
  - {protocol: mqtt, port: 1883, address: 127.0.0.2}
  - {protocol: mqtt, port: 1883, address: "::"}
  - {protocol: mqtt, port: 0}
  - {protocol: ws, port: 0}
)",
                                    "t.yaml");
  EXPECT_EQ(s.listeners.size(), 5u);
}

TEST(SettingsYaml, FilesOnDisk) {
  const auto dir = std::filesystem::temp_directory_path() / ("outpost-settings-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "bad.yaml").string();
  {
    std::ofstream out(path);
    out << "threads: 2\nlogging:\n  level: chatty\n";
  }
  try {
    load_settings_file(path);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":3:10: logging.level: expected one of trace, debug, info, warn, error, "
                                            "critical, off, got 'chatty'");
  }
  {
    std::ofstream out(path);
    out << "threads: 2\n";
  }
  EXPECT_EQ(load_settings_file(path).threads, 2u);
  EXPECT_EQ(load_settings_file(path).source, path);
  const auto missing = (dir / "missing.yaml").string();
  try {
    load_settings_file(missing);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), missing + ": cannot read the configuration file: No such file or directory");
  }
  try {
    load_settings_file(dir.string());
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), dir.string() + ": cannot read the configuration file: it is a directory");
  }
  std::filesystem::remove_all(dir);
}

TEST(SettingsYaml, TracingInjectIsOffUnlessSet) {
  EXPECT_FALSE(load_settings_string("", "t.yaml").tracing.inject);
  EXPECT_FALSE(load_settings_string("tracing:\n", "t.yaml").tracing.inject);
  EXPECT_TRUE(load_settings_string("tracing: {inject: true}\n", "t.yaml").tracing.inject);
  EXPECT_FALSE(load_settings_string("tracing:\n  inject: false\n", "t.yaml").tracing.inject);
  EXPECT_EQ(yaml_error("tracing:\n  inject: true\n  sample: 1\n"),
            "test.yaml:3:3: unknown key 'sample' in tracing (allowed: inject)");
  EXPECT_NE(yaml_error("tracing:\n  inject: maybe\n").find("test.yaml:2:11: "), std::string::npos)
      << yaml_error("tracing:\n  inject: maybe\n");
}

}  // namespace
}  // namespace outpost
