// The command line: options, --listen URLs, overrides, exit cases.
#include "cli.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace outpost {
namespace {

std::variant<Settings, ExitNow> run(std::vector<std::string> args) {
  args.insert(args.begin(), "outpost");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_and_resolve(static_cast<int>(argv.size()), argv.data());
}

Settings settings_of(std::vector<std::string> args) {
  auto r = run(std::move(args));
  if (auto* exit_now = std::get_if<ExitNow>(&r)) {
    ADD_FAILURE() << "exit " << exit_now->code << ": " << exit_now->text;
    return {};
  }
  return std::get<Settings>(r);
}

ExitNow exit_of(std::vector<std::string> args) {
  auto r = run(std::move(args));
  if (auto* exit_now = std::get_if<ExitNow>(&r)) return *exit_now;
  ADD_FAILURE() << "no exit";
  return {};
}

std::string listen_error(const std::string& url) {
  try {
    parse_listen_url(url);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// A configuration file that lives as long as the test.
class TempConfig {
 public:
  explicit TempConfig(const std::string& text)
      : path_((std::filesystem::temp_directory_path() /
               ("outpost-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".yaml"))
                  .string()) {
    std::ofstream(path_) << text;
  }
  ~TempConfig() { std::filesystem::remove(path_); }
  TempConfig(const TempConfig&) = delete;
  TempConfig& operator=(const TempConfig&) = delete;
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

TEST(CliListenUrl, Kinds) {
  auto m = parse_listen_url("mqtt://0.0.0.0:1883");
  EXPECT_EQ(m.protocol, ListenerProtocol::mqtt);
  EXPECT_EQ(m.address, "0.0.0.0");
  EXPECT_EQ(m.port, 1883);
  EXPECT_FALSE(m.tls);
  auto w = parse_listen_url("ws://127.0.0.1:8080/ws/mqtt");
  EXPECT_EQ(w.protocol, ListenerProtocol::ws);
  EXPECT_EQ(w.path, "/ws/mqtt");
  EXPECT_EQ(parse_listen_url("ws://127.0.0.1:8080").path, "/mqtt");
  EXPECT_EQ(parse_listen_url("wss://127.0.0.1:443").protocol, ListenerProtocol::wss);
  EXPECT_EQ(parse_listen_url("mqtts://127.0.0.1:8883").protocol, ListenerProtocol::mqtts);
  EXPECT_EQ(parse_listen_url("amqps://127.0.0.1:5671").protocol, ListenerProtocol::amqps);
  auto v6 = parse_listen_url("amqp://[::1]:5672");
  EXPECT_EQ(v6.protocol, ListenerProtocol::amqp);
  EXPECT_EQ(v6.address, "::1");
  EXPECT_EQ(v6.port, 5672);
  EXPECT_EQ(parse_listen_url("ws://[fe80::1%eth0]:80/x").address, "fe80::1%eth0");
  EXPECT_EQ(parse_listen_url("mqtt://gateway.local:0").address, "gateway.local");
}

TEST(CliListenUrl, AnonymousOnlyOnLoopback) {
  EXPECT_TRUE(parse_listen_url("mqtt://127.0.0.1:1883").allow_anonymous);
  EXPECT_TRUE(parse_listen_url("mqtt://127.10.0.1:1883").allow_anonymous);
  EXPECT_TRUE(parse_listen_url("mqtt://[::1]:1883").allow_anonymous);
  EXPECT_TRUE(parse_listen_url("ws://localhost:8080").allow_anonymous);
  EXPECT_FALSE(parse_listen_url("mqtt://0.0.0.0:1883").allow_anonymous);
  EXPECT_FALSE(parse_listen_url("mqtt://[::]:1883").allow_anonymous);
  EXPECT_FALSE(parse_listen_url("mqtt://192.168.1.10:1883").allow_anonymous);
  EXPECT_FALSE(parse_listen_url("mqtt://gateway.local:1883").allow_anonymous);
}

TEST(CliListenUrl, BadUrlsSayWhatIsWrong) {
  EXPECT_EQ(listen_error("1.2.3.4:1883"),
            "--listen 1.2.3.4:1883: expected SCHEME://ADDRESS:PORT such as mqtt://127.0.0.1:1883");
  EXPECT_EQ(listen_error("ftp://1.2.3.4:21"),
            "--listen ftp://1.2.3.4:21: unknown scheme 'ftp' (expected one of mqtt, mqtts, ws, wss, amqp, amqps, http, "
            "https)");
  EXPECT_EQ(listen_error("mqtt://1.2.3.4"), "--listen mqtt://1.2.3.4: missing the port, e.g. mqtt://127.0.0.1:1883");
  EXPECT_EQ(listen_error("mqtts://1.2.3.4:"),
            "--listen mqtts://1.2.3.4:: expected a port from 0 to 65535, got ''");
  EXPECT_EQ(listen_error("mqtt://1.2.3.4:99999"),
            "--listen mqtt://1.2.3.4:99999: expected a port from 0 to 65535, got '99999'");
  EXPECT_EQ(listen_error("mqtt://1.2.3.4:port"),
            "--listen mqtt://1.2.3.4:port: expected a port from 0 to 65535, got 'port'");
  EXPECT_EQ(listen_error("mqtt://:1883"), "--listen mqtt://:1883: missing the address, e.g. mqtt://127.0.0.1:1883");
  EXPECT_EQ(listen_error("mqtt://1.2.3.4:1883/path"), "--listen mqtt://1.2.3.4:1883/path: only ws:// and wss:// URLs have a path");
  EXPECT_EQ(listen_error("mqtt://::1:1883"),
            "--listen mqtt://::1:1883: IPv6 addresses go in brackets, e.g. mqtt://[::1]:1883");
  EXPECT_EQ(listen_error("mqtt://[::1:1883"), "--listen mqtt://[::1:1883: missing ']' after the IPv6 address");
  EXPECT_EQ(listen_error("mqtt://[1.2.3.4]:1883"),
            "--listen mqtt://[1.2.3.4]:1883: '1.2.3.4' in brackets is not an IPv6 address");
  EXPECT_EQ(listen_error("mqtt://300.1.2.3:1883"),
            "--listen mqtt://300.1.2.3:1883: '300.1.2.3' is not an IPv4 address, an IPv6 address or a host name");
  EXPECT_EQ(listen_error("mqtt://user@host:1883"),
            "--listen mqtt://user@host:1883: user names, queries and fragments have no meaning here; expected "
            "mqtt://127.0.0.1:1883");
}

TEST(Cli, NoOptionsGiveTheBuiltInDefault) {
  Settings s = settings_of({});
  ASSERT_EQ(s.listeners.size(), 2u);  // MQTT 1883 and AMQP 5672
  EXPECT_EQ(s.listeners[1].protocol, ListenerProtocol::amqp);
  EXPECT_EQ(s.listeners[1].port, 5672);
  EXPECT_EQ(s.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(s.listeners[0].port, 1883);
  EXPECT_TRUE(s.listeners[0].allow_anonymous);
  EXPECT_EQ(s.source, "<built-in>");
}

TEST(Cli, PortIsShortForALoopbackMqttListener) {
  Settings s = settings_of({"-p", "1884"});
  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners[0].protocol, ListenerProtocol::mqtt);
  EXPECT_EQ(s.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(s.listeners[0].port, 1884);
  EXPECT_TRUE(s.listeners[0].allow_anonymous);
  EXPECT_EQ(settings_of({"--port=0"}).listeners.at(0).port, 0);
}

TEST(Cli, ListenAndPortReplaceTheListenersInTheOrderGiven) {
  TempConfig config("auth:\n  password_file: /etc/outpost/passwd\n"
                    "listeners:\n  - {protocol: mqtt, port: 2883, address: 0.0.0.0}\n"
                    "  - {protocol: amqp, port: 5672}\n");
  Settings s = settings_of({"-c", config.path(), "--listen", "mqtt://0.0.0.0:1885", "-p", "1884", "--listen",
                            "ws://[::1]:8080/mqtt", "--port", "1886"});
  ASSERT_EQ(s.listeners.size(), 4u);
  EXPECT_EQ(s.listeners[0].port, 1885);
  EXPECT_EQ(s.listeners[0].address, "0.0.0.0");
  EXPECT_FALSE(s.listeners[0].allow_anonymous);
  EXPECT_EQ(s.listeners[1].port, 1884);
  EXPECT_EQ(s.listeners[2].protocol, ListenerProtocol::ws);
  EXPECT_EQ(s.listeners[2].address, "::1");
  EXPECT_TRUE(s.listeners[2].allow_anonymous);
  EXPECT_EQ(s.listeners[3].port, 1886);
  EXPECT_EQ(s.source, config.path());
}

TEST(Cli, ConfigFileAndOverrides) {
  TempConfig config("threads: 2\npersistence:\n  dir: /var/lib/outpost\nlogging:\n  level: warn\n");
  Settings s = settings_of({"-c", config.path()});
  EXPECT_EQ(s.threads, 2u);
  EXPECT_EQ(s.persistence.dir, "/var/lib/outpost");
  EXPECT_EQ(s.logging.level, "warn");
  ASSERT_EQ(s.listeners.size(), 2u);  // the key is absent: the built-in listeners

  s = settings_of({"--config", config.path(), "--data-dir", "/tmp/x", "-t", "3", "-v"});
  EXPECT_EQ(s.persistence.dir, "/tmp/x");
  EXPECT_EQ(s.threads, 3u);
  EXPECT_EQ(s.logging.level, "debug");
  EXPECT_EQ(settings_of({"-v", "--log-level", "error"}).logging.level, "error");
  EXPECT_EQ(settings_of({"--log-level", "trace"}).logging.level, "trace");
  EXPECT_EQ(settings_of({"--threads", "0"}).threads, 0u);
}

TEST(Cli, CommandLineListenersAloneMakeAThrowawayBroker) {
  EXPECT_TRUE(settings_of({}).persistence.enabled);  // plain `outpost` keeps ./outpost-data
  EXPECT_FALSE(settings_of({"-p", "1884"}).persistence.enabled);
  EXPECT_FALSE(settings_of({"--listen", "amqp://127.0.0.1:5673"}).persistence.enabled);
  Settings s = settings_of({"-p", "1884", "--data-dir", "state"});
  EXPECT_TRUE(s.persistence.enabled);
  EXPECT_EQ(s.persistence.dir, "state");
  TempConfig config("threads: 2\n");
  EXPECT_TRUE(settings_of({"-c", config.path(), "-p", "1884"}).persistence.enabled);
}

TEST(Cli, TlsListenersTakeTlsFromTheConfigurationFile) {
  TempConfig config(R"(auth:
  password_file: /etc/outpost/passwd
listeners:
  - protocol: mqtt
    port: 1883
  - protocol: mqtts
    port: 8883
    tls: {cert_file: /etc/outpost/a.crt, key_file: /etc/outpost/a.key}
  - protocol: mqtts
    address: "::1"
    port: 8883
    tls: {cert_file: /etc/outpost/b.crt, key_file: /etc/outpost/b.key}
)");
  Settings s = settings_of({"-c", config.path(), "--listen", "mqtts://0.0.0.0:9883"});
  ASSERT_EQ(s.listeners.size(), 1u);
  ASSERT_TRUE(s.listeners[0].tls);
  EXPECT_EQ(s.listeners[0].tls->cert_file, "/etc/outpost/a.crt");
  EXPECT_EQ(s.listeners[0].tls->key_file, "/etc/outpost/a.key");

  ExitNow e = exit_of({"-c", config.path(), "--listen", "wss://0.0.0.0:443"});
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.text, "outpost: --listen wss://0.0.0.0:443: a wss listener takes its tls settings from the first wss "
                    "listener of the configuration file, and " +
                        config.path() + " has none");
  e = exit_of({"--listen", "amqps://0.0.0.0:5671"});
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.text, "outpost: --listen amqps://0.0.0.0:5671: a amqps listener takes its tls settings from the first "
                    "amqps listener of the configuration file, and no file was given (-c FILE)");
}

TEST(Cli, ListenerThatWouldAcceptNobodyIsNamed) {
  // Anonymous clients are accepted on loopback only; elsewhere credentials must exist.
  ExitNow e = exit_of({"--listen", "mqtt://0.0.0.0:1884"});
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.text, "outpost: --listen mqtt://0.0.0.0:1884: the mqtt listener on 0.0.0.0 port 1884 would accept no "
                    "client: anonymous access is off and there is no password file (auth.password_file) nor client "
                    "certificate identity (tls.use_identity_as_username); set allow_anonymous: true or configure "
                    "one of them");
  TempConfig config("auth:\n  password_file: /etc/outpost/passwd\n");
  EXPECT_EQ(settings_of({"-c", config.path(), "--listen", "mqtt://0.0.0.0:1884"}).listeners.size(), 1u);
}

TEST(Cli, ProblemsNameTheOption) {
  ExitNow e = exit_of({"-p", "1884", "--listen", "mqtt://127.0.0.1:1884"});
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.text, "outpost: --listen mqtt://127.0.0.1:1884: 127.0.0.1 port 1884 is already taken by the mqtt "
                    "listener on 127.0.0.1 port 1884; an address and port can have one listener");
  e = exit_of({"--listen", "mqtt://0.0.0.0:1884", "-p", "1884"});
  EXPECT_EQ(e.text, "outpost: -p 1884: 127.0.0.1 port 1884 is already taken by the mqtt listener on 0.0.0.0 port "
                    "1884; an address and port can have one listener");
  e = exit_of({"--data-dir", ""});
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.text, "outpost: --data-dir: expected a directory, got nothing");
  e = exit_of({"--listen", "mqtt://1.2.3.4"});
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.text, "outpost: --listen mqtt://1.2.3.4: missing the port, e.g. mqtt://127.0.0.1:1883");
}

TEST(Cli, ConfigErrorsKeepTheirPosition) {
  TempConfig config("mqtt:\n  max_inflight: 10\n  max_inflihgt: 5\n");
  ExitNow e = exit_of({"-c", config.path()});
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.text.rfind("outpost: " + config.path() + ":3:3: unknown key 'max_inflihgt' in mqtt", 0), 0u) << e.text;
  e = exit_of({"-c", "/nonexistent/outpost.yaml"});
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.text, "outpost: /nonexistent/outpost.yaml: cannot read the configuration file: No such file or directory");
}

TEST(Cli, CheckConfig) {
  TempConfig good("threads: 1\n");
  ExitNow e = exit_of({"--check-config", "-c", good.path()});
  EXPECT_EQ(e.code, 0);
  EXPECT_EQ(e.text, good.path() + ": configuration OK");
  TempConfig bad("threads: many\n");
  e = exit_of({"-c", bad.path(), "--check-config"});
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.text, "outpost: " + bad.path() + ":1:10: threads: expected an integer from 0 to 1024, got 'many'");
  // Overrides are part of what is checked.
  e = exit_of({"--check-config", "-c", good.path(), "--listen", "mqtt://1.2.3.4:x"});
  EXPECT_EQ(e.code, 1);
  e = exit_of({"--check-config"});
  EXPECT_EQ(e.code, 2);
  EXPECT_EQ(e.text, "outpost: --check-config needs the file to check: -c FILE");
}

TEST(Cli, HelpVersionAndUsageErrors) {
  ExitNow e = exit_of({"--version"});
  EXPECT_EQ(e.code, 0);
  EXPECT_EQ(e.text, std::string("outpost ") + OUTPOST_VERSION);
  e = exit_of({"--help"});
  EXPECT_EQ(e.code, 0);
  for (const char* option : {"--config", "--check-config", "--listen", "--port", "--data-dir", "--threads",
                             "--verbose", "--log-level", "--version", "--help", "mqtt://[::1]:1883"}) {
    EXPECT_NE(e.text.find(option), std::string::npos) << option;
  }
  EXPECT_EQ(exit_of({"-h"}).code, 0);

  e = exit_of({"--frobnicate"});
  EXPECT_EQ(e.code, 2);
  EXPECT_NE(e.text.find("--frobnicate"), std::string::npos) << e.text;
  EXPECT_NE(e.text.find("\nRun 'outpost --help' for the options."), std::string::npos) << e.text;
  EXPECT_EQ(std::count(e.text.begin(), e.text.end(), '\n'), 1) << e.text;
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"stray"}, {"-p", "70000"}, {"-p", "abc"}, {"-t", "2000"}, {"--log-level", "loud"}, {"-c"}, {"--listen"}}) {
    e = exit_of(args);
    EXPECT_EQ(e.code, 2) << args[0];
    EXPECT_NE(e.text.find("--help"), std::string::npos) << e.text;
  }
}

}  // namespace
}  // namespace outpost
