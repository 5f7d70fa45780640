#include "settings_yaml.hpp"

#include "log.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>

namespace outpost {

namespace {

class Loader {
 public:
  explicit Loader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Mark& m, const std::string& what) const {
    throw ConfigError(fmt::format("{}:{}:{}: {}", file_, m.line + 1, m.column + 1, what));
  }
  [[noreturn]] void fail(const YAML::Node& n, const std::string& what) const { fail(n.Mark(), what); }

  void expect_map(const YAML::Node& n, const std::string& what) const {
    if (!n.IsMap()) fail(n, fmt::format("'{}' must be a mapping of keys to values", what));
  }

  // Unknown keys are errors, naming the key and the ones allowed there.
  void check_keys(const YAML::Node& map, const std::string& what, std::initializer_list<std::string_view> allowed) const {
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>();
      bool ok = false;
      for (auto a : allowed) ok = ok || key == a;
      if (!ok) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        fail(kv.first, fmt::format("unknown key '{}' in {} (allowed: {})", key, what, list));
      }
    }
  }

  std::string scalar(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(n, fmt::format("'{}' must be a single value", key));
    return n.Scalar();
  }

  std::uint64_t uint(const YAML::Node& n, const std::string& key, std::uint64_t min, std::uint64_t max) const {
    const std::string s = scalar(n, key);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) {
      fail(n, fmt::format("'{}' expects an integer from {} to {}, got '{}'", key, min, max, s));
    }
    return v;
  }

  bool boolean(const YAML::Node& n, const std::string& key) const {
    const std::string s = scalar(n, key);
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
    fail(n, fmt::format("'{}' expects true or false, got '{}'", key, s));
  }

  std::string string(const YAML::Node& n, const std::string& key) const {
    if (n.IsNull()) return {};
    return scalar(n, key);
  }

  // 64KiB, 1MiB, 1GiB, 512B (powers of 1024) or KB/MB/GB (powers of 1000), or a plain integer.
  std::uint64_t size(const YAML::Node& n, const std::string& key, std::uint64_t min, std::uint64_t max) const {
    const std::string s = scalar(n, key);
    std::size_t i = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + i, v);
    std::string unit = s.substr(i);
    while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
    std::uint64_t mul = 0;
    if (unit.empty() || unit == "B") mul = 1;
    else if (unit == "KiB") mul = 1ull << 10;
    else if (unit == "MiB") mul = 1ull << 20;
    else if (unit == "GiB") mul = 1ull << 30;
    else if (unit == "KB") mul = 1000ull;
    else if (unit == "MB") mul = 1000ull * 1000;
    else if (unit == "GB") mul = 1000ull * 1000 * 1000;
    if (i == 0 || ec != std::errc() || p != s.data() + i || mul == 0 ||
        v > std::numeric_limits<std::uint64_t>::max() / mul || v * mul < min || v * mul > max) {
      fail(n, fmt::format("'{}' expects a size from {} to {} bytes (e.g. 1048576, 64KiB, 1MiB), got '{}'", key, min,
                          max, s));
    }
    return v * mul;
  }

  // An integer of seconds or a number with ms, s, m or h.
  std::chrono::milliseconds duration(const YAML::Node& n, const std::string& key) const {
    const std::string s = scalar(n, key);
    std::size_t i = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + i, v);
    const std::string unit = s.substr(i);
    std::uint64_t ms = 0;
    if (unit.empty() || unit == "s") ms = 1000;
    else if (unit == "ms") ms = 1;
    else if (unit == "m") ms = 60000;
    else if (unit == "h") ms = 3600000;
    if (i == 0 || ec != std::errc() || p != s.data() + i || ms == 0 || v > 100000000) {
      fail(n, fmt::format("'{}' expects a duration (e.g. 10, 500ms, 10s, 5m, 1h), got '{}'", key, s));
    }
    return std::chrono::milliseconds(v * ms);
  }

  template <class E>
  E choice(const YAML::Node& n, const std::string& key, std::initializer_list<std::pair<std::string_view, E>> opts) const {
    const std::string s = scalar(n, key);
    std::string list;
    for (const auto& [name, value] : opts) {
      if (s == name) return value;
      list += (list.empty() ? "" : ", ") + std::string(name);
    }
    fail(n, fmt::format("'{}' expects one of {}, got '{}'", key, list, s));
  }

  Settings load(const YAML::Node& root) const {
    Settings s;
    s.source = file_;
    if (root.IsNull()) return with_default_listener(s);
    expect_map(root, "the configuration");
    check_keys(root, "the configuration", {"threads", "listeners", "mqtt", "amqp", "persistence", "logging"});
    if (auto n = root["threads"]) s.threads = static_cast<unsigned>(uint(n, "threads", 0, 1024));
    if (auto n = root["listeners"]) {
      if (!n.IsSequence()) fail(n, "'listeners' must be a list of listeners");
      for (const auto& l : n) s.listeners.push_back(listener(l));
      if (s.listeners.empty()) fail(n, "'listeners' is empty: at least one listener is needed");
    } else {
      with_default_listener(s);
    }
    if (auto n = root["mqtt"]) mqtt(n, s.mqtt);
    if (auto n = root["amqp"]) amqp(n, s.amqp);
    if (auto n = root["persistence"]) persistence(n, s.persistence);
    if (auto n = root["logging"]) logging(n, s.logging);
    return s;
  }

 private:
  static Settings& with_default_listener(Settings& s) {
    s.listeners = Settings::builtin_default().listeners;
    return s;
  }

  ListenerSettings listener(const YAML::Node& n) const {
    expect_map(n, "listener");
    check_keys(n, "a listener",
               {"protocol", "address", "port", "path", "allowed_origins", "allow_anonymous", "max_connections", "tls"});
    ListenerSettings l;
    auto p = n["protocol"];
    if (!p) fail(n, "listener needs 'protocol' (mqtt, mqtts, ws, wss, amqp or amqps)");
    l.protocol = choice<ListenerProtocol>(p, "protocol",
                                          {{"mqtt", ListenerProtocol::mqtt},
                                           {"mqtts", ListenerProtocol::mqtts},
                                           {"ws", ListenerProtocol::ws},
                                           {"wss", ListenerProtocol::wss},
                                           {"amqp", ListenerProtocol::amqp},
                                           {"amqps", ListenerProtocol::amqps}});
    auto port = n["port"];
    if (!port) fail(n, "listener needs 'port'");
    l.port = static_cast<std::uint16_t>(uint(port, "port", 0, 65535));
    if (auto a = n["address"]) l.address = scalar(a, "address");
    const bool ws = l.protocol == ListenerProtocol::ws || l.protocol == ListenerProtocol::wss;
    if (auto a = n["path"]) {
      if (!ws) fail(a, "'path' applies only to ws and wss listeners");
      l.path = scalar(a, "path");
      if (l.path.empty() || l.path.front() != '/') fail(a, "'path' must start with '/'");
    }
    if (auto a = n["allowed_origins"]) {
      if (!ws) fail(a, "'allowed_origins' applies only to ws and wss listeners");
      if (!a.IsSequence()) fail(a, "'allowed_origins' must be a list of origins");
      for (const auto& o : a) l.allowed_origins.push_back(scalar(o, "allowed_origins"));
    }
    if (auto a = n["allow_anonymous"]) l.allow_anonymous = boolean(a, "allow_anonymous");
    if (auto a = n["max_connections"]) {
      l.max_connections = static_cast<std::uint32_t>(uint(a, "max_connections", 0, 10000000));
    }
    const bool tls_kind = l.protocol == ListenerProtocol::mqtts || l.protocol == ListenerProtocol::wss ||
                          l.protocol == ListenerProtocol::amqps;
    if (auto t = n["tls"]) {
      if (!tls_kind) fail(t, "'tls' applies only to mqtts, wss and amqps listeners");
      l.tls = tls(t);
    } else if (tls_kind) {
      fail(n, fmt::format("a {} listener needs a 'tls' section with cert_file and key_file", to_string(l.protocol)));
    }
    return l;
  }

  TlsSettings tls(const YAML::Node& n) const {
    expect_map(n, "tls");
    check_keys(n, "tls",
               {"cert_file", "key_file", "ca_file", "crl_file", "min_version", "ciphers", "ciphersuites",
                "require_client_cert", "use_identity_as_username"});
    TlsSettings t;
    auto cert = n["cert_file"];
    auto key = n["key_file"];
    if (!cert) fail(n, "tls needs 'cert_file'");
    if (!key) fail(n, "tls needs 'key_file'");
    t.cert_file = scalar(cert, "cert_file");
    t.key_file = scalar(key, "key_file");
    if (auto a = n["ca_file"]) t.ca_file = string(a, "ca_file");
    if (auto a = n["crl_file"]) t.crl_file = string(a, "crl_file");
    if (auto a = n["min_version"]) {
      t.min_version = scalar(a, "min_version");
      if (t.min_version != "1.2" && t.min_version != "1.3") fail(a, "'min_version' expects \"1.2\" or \"1.3\"");
    }
    if (auto a = n["ciphers"]) t.ciphers = string(a, "ciphers");
    if (auto a = n["ciphersuites"]) t.ciphersuites = string(a, "ciphersuites");
    if (auto a = n["require_client_cert"]) t.require_client_cert = boolean(a, "require_client_cert");
    if (auto a = n["use_identity_as_username"]) t.use_identity_as_username = boolean(a, "use_identity_as_username");
    if (t.require_client_cert && t.ca_file.empty()) fail(n, "require_client_cert needs 'ca_file'");
    return t;
  }

  void mqtt(const YAML::Node& n, MqttSettings& m) const {
    expect_map(n, "mqtt");
    check_keys(n, "mqtt",
               {"max_packet_size", "max_inflight", "max_queued_messages", "max_queued_bytes", "max_keepalive",
                "min_keepalive", "max_session_expiry", "topic_alias_maximum", "receive_maximum", "maximum_qos",
                "retain_available", "wildcard_subscriptions", "shared_subscriptions", "subscription_identifiers",
                "publish_will_on_shutdown", "connect_timeout"});
    if (auto a = n["max_packet_size"]) {
      m.max_packet_size = static_cast<std::uint32_t>(size(a, "max_packet_size", 128, 268435460));
    }
    if (auto a = n["max_inflight"]) m.max_inflight = static_cast<std::uint16_t>(uint(a, "max_inflight", 1, 65535));
    if (auto a = n["max_queued_messages"]) {
      m.max_queued_messages = static_cast<std::uint32_t>(uint(a, "max_queued_messages", 1, 100000000));
    }
    if (auto a = n["max_queued_bytes"]) m.max_queued_bytes = size(a, "max_queued_bytes", 1024, 1ull << 40);
    if (auto a = n["max_keepalive"]) m.max_keepalive = static_cast<std::uint16_t>(uint(a, "max_keepalive", 1, 65535));
    if (auto a = n["min_keepalive"]) m.min_keepalive = static_cast<std::uint16_t>(uint(a, "min_keepalive", 0, 65535));
    if (auto a = n["max_session_expiry"]) {
      m.max_session_expiry = static_cast<std::uint32_t>(uint(a, "max_session_expiry", 0, 0xFFFFFFFF));
    }
    if (auto a = n["topic_alias_maximum"]) {
      m.topic_alias_maximum = static_cast<std::uint16_t>(uint(a, "topic_alias_maximum", 0, 65535));
    }
    if (auto a = n["receive_maximum"]) {
      m.receive_maximum = static_cast<std::uint16_t>(uint(a, "receive_maximum", 1, 65535));
    }
    if (auto a = n["maximum_qos"]) m.maximum_qos = static_cast<std::uint8_t>(uint(a, "maximum_qos", 0, 2));
    if (auto a = n["retain_available"]) m.retain_available = boolean(a, "retain_available");
    if (auto a = n["wildcard_subscriptions"]) m.wildcard_subscriptions = boolean(a, "wildcard_subscriptions");
    if (auto a = n["shared_subscriptions"]) m.shared_subscriptions = boolean(a, "shared_subscriptions");
    if (auto a = n["subscription_identifiers"]) m.subscription_identifiers = boolean(a, "subscription_identifiers");
    if (auto a = n["publish_will_on_shutdown"]) m.publish_will_on_shutdown = boolean(a, "publish_will_on_shutdown");
    if (auto a = n["connect_timeout"]) {
      auto d = duration(a, "connect_timeout");
      if (d < std::chrono::seconds(1)) fail(a, "'connect_timeout' must be at least 1s");
      m.connect_timeout = std::chrono::duration_cast<std::chrono::seconds>(d);
    }
    if (m.min_keepalive > m.max_keepalive) fail(n, "mqtt.min_keepalive is larger than mqtt.max_keepalive");
  }

  void amqp(const YAML::Node& n, AmqpSettings& a) const {
    expect_map(n, "amqp");
    check_keys(n, "amqp", {"channel_max", "frame_max", "heartbeat", "max_message_size"});
    if (auto v = n["channel_max"]) a.channel_max = static_cast<std::uint16_t>(uint(v, "channel_max", 1, 65535));
    if (auto v = n["frame_max"]) a.frame_max = static_cast<std::uint32_t>(size(v, "frame_max", 4096, 1u << 30));
    if (auto v = n["heartbeat"]) a.heartbeat = static_cast<std::uint16_t>(uint(v, "heartbeat", 0, 65535));
    if (auto v = n["max_message_size"]) a.max_message_size = size(v, "max_message_size", 1024, 1ull << 32);
  }

  void persistence(const YAML::Node& n, PersistenceSettings& p) const {
    expect_map(n, "persistence");
    check_keys(n, "persistence", {"enabled", "dir", "sync", "max_bytes"});
    if (auto v = n["enabled"]) p.enabled = boolean(v, "enabled");
    if (auto v = n["dir"]) {
      p.dir = scalar(v, "dir");
      if (p.dir.empty()) fail(v, "'dir' must not be empty");
    }
    if (auto v = n["sync"]) {
      p.sync = choice<SyncMode>(v, "sync", {{"full", SyncMode::full}, {"normal", SyncMode::normal}, {"off", SyncMode::off}});
    }
    if (auto v = n["max_bytes"]) p.max_bytes = size(v, "max_bytes", 1ull << 20, 1ull << 50);
  }

  void logging(const YAML::Node& n, LoggingSettings& l) const {
    expect_map(n, "logging");
    check_keys(n, "logging", {"level", "file"});
    if (auto v = n["level"]) {
      l.level = scalar(v, "level");
      if (!log::valid_level(l.level)) {
        fail(v, fmt::format("'level' expects one of trace, debug, info, warn, error, critical, off, got '{}'", l.level));
      }
    }
    if (auto v = n["file"]) l.file = string(v, "file");
  }

  std::string file_;
};

Settings load(std::string_view text, const std::string& name) {
  Loader loader(name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    loader.fail(e.mark, "YAML syntax error: " + e.msg);
  }
  Settings s = loader.load(root);
  validate(s, name);
  return s;
}

}  // namespace

Settings load_settings_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open the configuration file");
  std::stringstream ss;
  ss << in.rdbuf();
  return load(ss.str(), path);
}

Settings load_settings_string(std::string_view yaml, const std::string& name) { return load(yaml, name); }

}  // namespace outpost
