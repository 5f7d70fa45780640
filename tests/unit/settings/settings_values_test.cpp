// Sizes, durations, addresses, and the rules of find_problem on Settings built in code.
#include "test_util.hpp"

#include <gtest/gtest.h>

namespace outpost {
namespace {

TEST(SettingsValues, Sizes) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("1048576"), 1048576u);
  EXPECT_EQ(parse_size("512B"), 512u);
  EXPECT_EQ(parse_size("64KiB"), 65536u);
  EXPECT_EQ(parse_size("1MiB"), 1048576u);
  EXPECT_EQ(parse_size("1GiB"), 1073741824u);
  EXPECT_EQ(parse_size("2KB"), 2000u);
  EXPECT_EQ(parse_size("3MB"), 3000000u);
  EXPECT_EQ(parse_size("4GB"), 4000000000u);
  EXPECT_EQ(parse_size("16 MiB"), 16u << 20);
  EXPECT_EQ(parse_size("18446744073709551615"), 18446744073709551615ull);
  for (const char* bad : {"", "MiB", "1.5MiB", "-1", "1 mib", "1kb", "1KIB", "1  MiB", "1MiB ", " 1", "1TiB",
                          "18446744073709551616", "17179869184GiB", "0x10"}) {
    EXPECT_FALSE(parse_size(bad)) << bad;
  }
}

TEST(SettingsValues, Durations) {
  using std::chrono::milliseconds;
  EXPECT_EQ(parse_duration("10"), milliseconds(10000));
  EXPECT_EQ(parse_duration("0"), milliseconds(0));
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("10s"), milliseconds(10000));
  EXPECT_EQ(parse_duration("5m"), milliseconds(300000));
  EXPECT_EQ(parse_duration("1h"), milliseconds(3600000));
  EXPECT_EQ(parse_duration("2 h"), milliseconds(7200000));
  for (const char* bad : {"", "s", "1.5s", "-1s", "1d", "1H", "1 min", "10 years", "10000000000000h", "9223372036854776s",
                          "99999999999999999999"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

TEST(SettingsValues, Addresses) {
  for (const char* good : {"127.0.0.1", "0.0.0.0", "::", "::1", "fe80::1%eth0", "2001:db8::17", "localhost",
                           "gateway.local", "broker-1.example.com", "example.com."}) {
    EXPECT_TRUE(is_valid_address(good)) << good;
  }
  for (const char* bad : {"", "300.1.2.3", "1.2.3", "[::1]", "a..b", "-a.example", "a_b.example", "host name",
                          "fe80::1%", "1.2.3.4:1883"}) {
    EXPECT_FALSE(is_valid_address(bad)) << bad;
  }
}

TEST(SettingsValues, Loopback) {
  for (const char* yes : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1",
                          "localhost", "LocalHost"}) {
    EXPECT_TRUE(is_loopback_address(yes)) << yes;
  }
  for (const char* no : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "127.example.com", "::2", "::ffff:10.0.0.1",
                         "gateway.local", ""}) {
    EXPECT_FALSE(is_loopback_address(no)) << no;
  }
}

TEST(SettingsValues, Protocols) {
  EXPECT_EQ(listener_protocol_from_string("wss"), ListenerProtocol::wss);
  EXPECT_FALSE(listener_protocol_from_string("MQTT"));
  for (auto p : {ListenerProtocol::mqtt, ListenerProtocol::mqtts, ListenerProtocol::ws, ListenerProtocol::wss,
                 ListenerProtocol::amqp, ListenerProtocol::amqps}) {
    EXPECT_EQ(listener_protocol_from_string(to_string(p)), p);
  }
  EXPECT_TRUE(is_tls_protocol(ListenerProtocol::amqps));
  EXPECT_FALSE(is_tls_protocol(ListenerProtocol::ws));
  EXPECT_TRUE(is_websocket_protocol(ListenerProtocol::wss));
  EXPECT_FALSE(is_websocket_protocol(ListenerProtocol::mqtt));
  EXPECT_STREQ(to_string(SyncMode::normal), "normal");
}

TEST(SettingsValues, BuiltinDefault) {
  const Settings s = Settings::builtin_default();
  ASSERT_EQ(s.listeners.size(), 2u);
  EXPECT_EQ(s.listeners[0].protocol, ListenerProtocol::mqtt);
  EXPECT_EQ(s.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(s.listeners[0].port, 1883);
  EXPECT_TRUE(s.listeners[0].allow_anonymous);
  EXPECT_EQ(s.listeners[1].protocol, ListenerProtocol::amqp);
  EXPECT_EQ(s.listeners[1].address, "127.0.0.1");
  EXPECT_EQ(s.listeners[1].port, 5672);
  EXPECT_TRUE(s.listeners[1].allow_anonymous);
  EXPECT_EQ(s.source, "<built-in>");
  EXPECT_FALSE(find_problem(s));
  EXPECT_NO_THROW(validate(s, "built-in"));
}

TEST(SettingsValues, Problems) {
  const auto problem_key = [](const Settings& s) { return find_problem(s) ? find_problem(s)->key : std::string(); };
  Settings s = Settings::builtin_default();
  s.threads = 1025;
  EXPECT_EQ(problem_key(s), "threads");
  s = Settings::builtin_default();
  s.listeners.clear();
  EXPECT_EQ(problem_key(s), "listeners");
  s = Settings::builtin_default();
  s.listeners[0].protocol = ListenerProtocol::wss;
  EXPECT_EQ(problem_key(s), "listeners[0].tls");
  s.listeners[0].tls = TlsSettings{};
  s.listeners[0].tls->cert_file = "c";
  EXPECT_EQ(problem_key(s), "listeners[0].tls");
  s.listeners[0].tls->key_file = "k";
  EXPECT_EQ(problem_key(s), "");
  s.listeners[0].tls->min_version = "1.0";
  EXPECT_EQ(problem_key(s), "listeners[0].tls.min_version");
  s = Settings::builtin_default();
  s.listeners.resize(1);
  s.listeners.push_back(s.listeners[0]);
  s.listeners[1].address = "::1";
  EXPECT_EQ(problem_key(s), "");
  s.listeners.push_back(s.listeners[1]);
  s.listeners[2].address = "0:0::1";
  EXPECT_EQ(problem_key(s), "listeners[2].port");
  s = Settings::builtin_default();
  s.logging.level = "verbose";
  EXPECT_EQ(problem_key(s), "logging.level");
  s = Settings::builtin_default();
  s.persistence.dir.clear();
  EXPECT_EQ(problem_key(s), "persistence.dir");
  try {
    validate(s, "somewhere");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "somewhere: persistence.dir: expected a directory, got nothing");
  }
}

}  // namespace
}  // namespace outpost
