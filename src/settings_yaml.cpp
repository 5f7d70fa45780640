#include "settings_yaml.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

namespace outpost {

namespace {

constexpr const char* kLevels = "trace, debug, info, warn, error, critical, off";

std::string join(std::initializer_list<std::string_view> items) {
  std::string out;
  for (auto item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// How a value reads in "got ..." (nothing, 'text', a list, a mapping).
std::string describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsScalar()) return fmt::format("'{}'", n.Scalar());
  if (n.IsSequence()) return "a list";
  return "a mapping";
}

std::string format_size(std::uint64_t bytes) {
  constexpr std::pair<std::uint64_t, const char*> units[] = {{1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}};
  for (const auto& [factor, name] : units) {
    if (bytes >= factor && bytes % factor == 0) return fmt::format("{} {}", bytes / factor, name);
  }
  return fmt::format("{} B", bytes);
}

// One value in the file: the setting it stands for ("mqtt.max_inflight"), the node, and
// where to point. A missing value (`threads:`) is a null node that yaml-cpp places at
// the next token, so such values point at their key instead.
struct Field {
  std::string key;
  YAML::Node value;
  YAML::Mark mark;
};

using Fields = std::map<std::string, Field, std::less<>>;

class Loader {
 public:
  Loader(std::string file, std::string_view text) : file_(std::move(file)), text_(text) {}

  [[noreturn]] void fail(const YAML::Mark& m, const std::string& what) const {
    const int line = m.is_null() ? 1 : m.line + 1;
    const int column = m.is_null() ? 1 : m.column + 1;
    throw ConfigError(fmt::format("{}:{}:{}: {}", file_, line, column, what));
  }

  [[noreturn]] void fail(const Field& f, const std::string& what) const {
    fail(f.mark, fmt::format("{}: {}", f.key, what));
  }

  [[noreturn]] void syntax_error(const YAML::Mark& m, const std::string& msg) const {
    std::string hint;
    if (!m.is_null() && line_text(m.line).find('\t') != std::string_view::npos) {
      hint = " (indentation must use spaces; this line has a tab)";
    }
    fail(m, fmt::format("YAML syntax error: {}{}", msg, hint));
  }

  Settings load(const YAML::Node& root) {
    Settings s;
    s.source = file_;
    const Field top{"the configuration", root, root.IsDefined() ? root.Mark() : YAML::Mark::null_mark()};
    if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
      fail(top, fmt::format("expected a mapping of keys ({}), got {}", kTopKeys, describe(root)));
    }
    const Fields f = entries(top, "", {"threads", "listeners", "mqtt", "amqp", "persistence", "logging", "tracing", "auth", "limits", "user", "plugins",
                                       "plugin_dir", "sys_interval"});
    if (auto* v = get(f, "threads")) s.threads = static_cast<unsigned>(integer(*v, 0, 1024));
    if (auto* v = get(f, "listeners")) {
      s.listeners = listeners(*v);
    } else {
      s.listeners = Settings::builtin_default().listeners;
    }
    if (auto* v = get(f, "mqtt")) mqtt(*v, s.mqtt);
    if (auto* v = get(f, "amqp")) amqp(*v, s.amqp);
    if (auto* v = get(f, "persistence")) persistence(*v, s.persistence);
    if (auto* v = get(f, "logging")) logging(*v, s.logging);
    if (auto* v = get(f, "tracing")) tracing(*v, s.tracing);
    if (auto* v = get(f, "auth")) auth(*v, s.auth);
    if (auto* v = get(f, "limits")) s.limits = with_overrides(s.limits, limit_overrides(*v));
    if (auto* v = get(f, "user")) s.user = text(*v, true, "a user name");
    if (auto* v = get(f, "plugins")) s.plugins = plugins(*v);
    if (auto* v = get(f, "plugin_dir")) s.plugin_dir = text(*v, true, "a directory");
    if (auto* v = get(f, "sys_interval")) s.sys_interval = std::chrono::seconds(seconds(*v, 0, 86400));
    if (auto problem = find_problem(s)) fail(mark_of(problem->key), fmt::format("{}: {}", problem->key, problem->message));
    for (const auto& [key, mark] : marks_) s.positions.emplace(key, position(mark));
    return s;
  }

 private:
  static constexpr const char* kTopKeys = "threads, listeners, mqtt, amqp, persistence, logging, tracing, auth, limits, user, plugins, plugin_dir";

  std::string_view line_text(int line) const {
    std::size_t start = 0;
    for (int i = 0; i < line && start != std::string_view::npos; ++i) {
      start = text_.find('\n', start);
      if (start != std::string_view::npos) ++start;
    }
    if (start == std::string_view::npos || start > text_.size()) return {};
    return text_.substr(start, text_.find('\n', start) - start);
  }

  // The mark of a setting, or of the nearest enclosing one that the file spells out.
  YAML::Mark mark_of(std::string key) const {
    while (!key.empty()) {
      if (auto it = marks_.find(key); it != marks_.end()) return it->second;
      const auto cut = key.find_last_of(".[");
      key = cut == std::string::npos ? std::string() : key.substr(0, cut);
    }
    return YAML::Mark::null_mark();
  }

  // The entries of a mapping, checked: keys are plain names, each allowed and given once.
  // A section written with nothing after it (`mqtt:`) is an empty mapping.
  Fields entries(const Field& section, const std::string& prefix, std::initializer_list<std::string_view> allowed) {
    Fields out;
    const YAML::Node& map = section.value;
    if (!map.IsDefined() || map.IsNull()) return out;
    if (!map.IsMap()) fail(section, fmt::format("expected a mapping with the keys {}, got {}", join(allowed), describe(map)));
    for (const auto& kv : map) {
      const YAML::Node& name = kv.first;
      if (!name.IsScalar()) fail(name.Mark(), fmt::format("expected a key name, got {}", describe(name)));
      const std::string key = name.Scalar();
      bool known = false;
      for (auto a : allowed) known = known || key == a;
      if (!known) {
        fail(name.Mark(), fmt::format("unknown key '{}' {} (allowed: {})", key,
                                      prefix.empty() ? std::string("at the top level") : "in " + prefix, join(allowed)));
      }
      if (auto it = out.find(key); it != out.end()) {
        fail(name.Mark(), fmt::format("duplicate key '{}' (first given at line {})", key,
                                      marks_.at(it->second.key).line + 1));
      }
      const YAML::Node& value = kv.second;
      const YAML::Mark mark = value.IsNull() || value.Mark().is_null() ? name.Mark() : value.Mark();
      Field field{prefix.empty() ? key : prefix + "." + key, value, mark};
      marks_[field.key] = mark;
      out.emplace(key, std::move(field));
    }
    return out;
  }

  static const Field* get(const Fields& f, std::string_view key) {
    auto it = f.find(key);
    return it == f.end() ? nullptr : &it->second;
  }

  [[noreturn]] void missing(const Field& map, std::string_view key, std::string_view what) const {
    fail(map, fmt::format("missing required key '{}' ({})", key, what));
  }

  // --- values -----------------------------------------------------------------

  std::uint64_t integer(const Field& f, std::uint64_t min, std::uint64_t max) const {
    std::uint64_t v = 0;
    bool ok = f.value.IsScalar();
    if (ok) {
      const std::string& s = f.value.Scalar();
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      ok = !s.empty() && ec == std::errc() && end == s.data() + s.size() && v >= min && v <= max;
    }
    if (!ok) fail(f, fmt::format("expected an integer from {} to {}, got {}", min, max, describe(f.value)));
    return v;
  }

  bool boolean(const Field& f) const {
    if (f.value.IsScalar()) {
      const std::string& s = f.value.Scalar();
      for (const char* t : {"true", "True", "TRUE", "yes", "on"}) {
        if (s == t) return true;
      }
      for (const char* t : {"false", "False", "FALSE", "no", "off"}) {
        if (s == t) return false;
      }
    }
    fail(f, fmt::format("expected true or false, got {}", describe(f.value)));
  }

  // A string; `~` or nothing reads as empty where empty is allowed.
  std::string text(const Field& f, bool allow_empty, std::string_view what = "a string") const {
    if (f.value.IsNull() && allow_empty) return {};
    if (!f.value.IsScalar() || (!allow_empty && f.value.Scalar().empty())) {
      fail(f, fmt::format("expected {}, got {}", what, describe(f.value)));
    }
    return f.value.Scalar();
  }

  std::uint64_t size(const Field& f, std::uint64_t min, std::uint64_t max) const {
    std::optional<std::uint64_t> v;
    if (f.value.IsScalar()) v = parse_size(f.value.Scalar());
    if (!v || *v < min || *v > max) {
      fail(f, fmt::format("expected a size from {} to {} (bytes, or with a unit: 512B, 64KiB, 1MiB, 1GiB, KB, MB, "
                          "GB), got {}",
                          format_size(min), format_size(max), describe(f.value)));
    }
    return *v;
  }

  // Settings kept in whole seconds; units are accepted for readability.
  std::uint64_t seconds(const Field& f, std::uint64_t min, std::uint64_t max) const {
    std::optional<std::chrono::milliseconds> d;
    if (f.value.IsScalar()) d = parse_duration(f.value.Scalar());
    const auto ms = d ? static_cast<std::uint64_t>(d->count()) : 0;
    if (!d || ms < min * 1000 || ms > max * 1000) {
      fail(f, fmt::format("expected a duration from {}s to {}s (seconds, or with a unit: 500ms, 10s, 5m, 1h), got {}",
                          min, max, describe(f.value)));
    }
    if (ms % 1000 != 0) fail(f, fmt::format("expected a whole number of seconds, got {}", describe(f.value)));
    return ms / 1000;
  }

  template <class E>
  E choice(const Field& f, std::initializer_list<std::pair<std::string_view, E>> options) const {
    std::string names;
    for (const auto& [name, value] : options) {
      if (f.value.IsScalar() && f.value.Scalar() == name) return value;
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
    fail(f, fmt::format("expected one of {}, got {}", names, describe(f.value)));
  }

  // --- sections ---------------------------------------------------------------

  std::vector<ListenerSettings> listeners(const Field& f) {
    if (!f.value.IsSequence()) fail(f, fmt::format("expected a list of listeners, got {}", describe(f.value)));
    if (f.value.size() == 0) fail(f, "expected at least one listener, got an empty list");
    std::vector<ListenerSettings> out;
    for (std::size_t i = 0; i < f.value.size(); ++i) {
      const YAML::Node& node = f.value[i];
      const Field element{fmt::format("listeners[{}]", i), node, node.IsNull() ? f.mark : node.Mark()};
      marks_[element.key] = element.mark;
      out.push_back(listener(element));
    }
    return out;
  }

  ListenerSettings listener(const Field& element) {
    if (!element.value.IsMap()) {
      fail(element, fmt::format("expected a mapping with protocol, port and the other listener keys, got {}",
                                describe(element.value)));
    }
    const Fields f = entries(element, element.key,
                             {"protocol", "address", "port", "path", "allowed_origins", "allow_anonymous",
                              "max_connections", "tls", "password_file", "acl_file", "limits", "open", "admins"});
    ListenerSettings l;
    const Field* protocol = get(f, "protocol");
    if (!protocol) missing(element, "protocol", fmt::format("one of {}", listener_protocol_names()));
    l.protocol = choice<ListenerProtocol>(*protocol, {{"mqtt", ListenerProtocol::mqtt},
                                                      {"mqtts", ListenerProtocol::mqtts},
                                                      {"ws", ListenerProtocol::ws},
                                                      {"wss", ListenerProtocol::wss},
                                                      {"amqp", ListenerProtocol::amqp},
                                                      {"amqps", ListenerProtocol::amqps},
                                                      {"http", ListenerProtocol::http},
                                                      {"https", ListenerProtocol::https}});
    const Field* port = get(f, "port");
    if (!port) missing(element, "port", "an integer from 0 to 65535; 0 picks a free port");
    l.port = static_cast<std::uint16_t>(integer(*port, 0, 65535));
    if (auto* v = get(f, "address")) {
      l.address = text(*v, false, "an IPv4 address, an IPv6 address or a host name");
      if (l.address.size() > 2 && l.address.front() == '[' && l.address.back() == ']') {
        fail(*v, fmt::format("write IPv6 addresses without brackets, e.g. '{}'", l.address.substr(1, l.address.size() - 2)));
      }
    }
    const bool ws = is_websocket_protocol(l.protocol);
    if (auto* v = get(f, "path")) {
      if (!ws) fail(*v, fmt::format("only ws and wss listeners have a path, this one is {}", to_string(l.protocol)));
      l.path = text(*v, false, "a path starting with '/'");
    }
    if (auto* v = get(f, "allowed_origins")) {
      if (!ws) {
        fail(*v, fmt::format("only ws and wss listeners check origins, this one is {}", to_string(l.protocol)));
      }
      l.allowed_origins = origins(*v);
    }
    if (auto* v = get(f, "open")) {
      if (!is_http_protocol(l.protocol)) {
        fail(*v, fmt::format("only http and https listeners have open paths, this one is {}", to_string(l.protocol)));
      }
      l.open_paths = paths(*v);
    }
    if (auto* v = get(f, "admins")) {
      if (!is_http_protocol(l.protocol)) {
        fail(*v, fmt::format("only http and https listeners have admins, this one is {}", to_string(l.protocol)));
      }
      l.admins = names(*v);
    }
    if (auto* v = get(f, "allow_anonymous")) l.allow_anonymous = boolean(*v);
    if (auto* v = get(f, "password_file")) l.password_file = text(*v, true, "a file name");
    if (auto* v = get(f, "acl_file")) l.acl_file = text(*v, true, "a file name");
    if (auto* v = get(f, "max_connections")) l.max_connections = static_cast<std::uint32_t>(integer(*v, 0, 10000000));
    if (auto* v = get(f, "limits")) l.limits = limit_overrides(*v);
    // Whether this kind may or must have `tls` is a rule of find_problem.
    if (auto* v = get(f, "tls")) l.tls = tls(*v);
    return l;
  }

  std::vector<std::string> names(const Field& f) {
    std::vector<std::string> out;
    if (f.value.IsNull()) return out;
    if (!f.value.IsSequence()) {
      fail(f, fmt::format("expected a list of user names such as [alice, bob], got {}", describe(f.value)));
    }
    for (std::size_t i = 0; i < f.value.size(); ++i) {
      const YAML::Node& node = f.value[i];
      out.push_back(text(Field{fmt::format("{}[{}]", f.key, i), node, node.IsNull() ? f.mark : node.Mark()}, false,
                         "a user name of the password file"));
    }
    return out;
  }

  std::vector<std::string> paths(const Field& f) {
    std::vector<std::string> out;
    if (f.value.IsNull()) return out;
    if (!f.value.IsSequence()) {
      fail(f, fmt::format("expected a list of paths such as [/healthz, /metrics], got {}", describe(f.value)));
    }
    for (std::size_t i = 0; i < f.value.size(); ++i) {
      const YAML::Node& node = f.value[i];
      out.push_back(text(Field{fmt::format("{}[{}]", f.key, i), node, node.IsNull() ? f.mark : node.Mark()}, false,
                         "a path such as /metrics"));
    }
    return out;
  }

  std::vector<std::string> origins(const Field& f) {
    std::vector<std::string> out;
    if (f.value.IsNull()) return out;
    if (!f.value.IsSequence()) {
      fail(f, fmt::format("expected a list of origins such as [\"https://example.com\"], got {}", describe(f.value)));
    }
    for (std::size_t i = 0; i < f.value.size(); ++i) {
      const YAML::Node& node = f.value[i];
      out.push_back(text(Field{fmt::format("{}[{}]", f.key, i), node, node.IsNull() ? f.mark : node.Mark()}, false,
                         "an origin such as https://example.com"));
    }
    return out;
  }

  TlsSettings tls(const Field& section) {
    const Fields f = entries(section, section.key,
                             {"cert_file", "key_file", "ca_file", "crl_file", "min_version", "ciphers", "ciphersuites",
                              "require_client_cert", "use_identity_as_username"});
    TlsSettings t;
    const Field* cert = get(f, "cert_file");
    if (!cert) missing(section, "cert_file", "the server certificate chain, PEM");
    t.cert_file = text(*cert, false, "a file name");
    const Field* key = get(f, "key_file");
    if (!key) missing(section, "key_file", "the server's private key, PEM");
    t.key_file = text(*key, false, "a file name");
    if (auto* v = get(f, "ca_file")) t.ca_file = text(*v, true);
    if (auto* v = get(f, "crl_file")) t.crl_file = text(*v, true);
    if (auto* v = get(f, "min_version")) {
      t.min_version = choice<std::string>(*v, {{"1.2", "1.2"}, {"1.3", "1.3"}});
    }
    if (auto* v = get(f, "ciphers")) t.ciphers = text(*v, true);
    if (auto* v = get(f, "ciphersuites")) t.ciphersuites = text(*v, true);
    if (auto* v = get(f, "require_client_cert")) t.require_client_cert = boolean(*v);
    if (auto* v = get(f, "use_identity_as_username")) t.use_identity_as_username = boolean(*v);
    return t;
  }

  void mqtt(const Field& section, MqttSettings& m) {
    const Fields f =
        entries(section, "mqtt",
                {"max_packet_size", "max_inflight", "max_queued_messages", "max_queued_bytes", "max_keepalive",
                 "min_keepalive", "max_session_expiry", "topic_alias_maximum", "receive_maximum", "maximum_qos",
                 "retain_available", "wildcard_subscriptions", "shared_subscriptions", "subscription_identifiers",
                 "publish_will_on_shutdown", "connect_timeout"});
    // The largest MQTT packet is 268435460 bytes: a Remaining Length of 268435455
    // [MQTT-2.2.3] after up to five header bytes. 256 MiB is the round bound below it.
    if (auto* v = get(f, "max_packet_size")) m.max_packet_size = static_cast<std::uint32_t>(size(*v, 128, 256ull << 20));
    if (auto* v = get(f, "max_inflight")) m.max_inflight = static_cast<std::uint16_t>(integer(*v, 1, 65535));
    if (auto* v = get(f, "max_queued_messages")) {
      m.max_queued_messages = static_cast<std::uint32_t>(integer(*v, 1, 100000000));
    }
    if (auto* v = get(f, "max_queued_bytes")) m.max_queued_bytes = size(*v, 1ull << 10, 1ull << 40);
    // Keep Alive is a two-byte number of seconds [MQTT-3.1.2.10].
    if (auto* v = get(f, "max_keepalive")) m.max_keepalive = static_cast<std::uint16_t>(seconds(*v, 1, 65535));
    if (auto* v = get(f, "min_keepalive")) m.min_keepalive = static_cast<std::uint16_t>(seconds(*v, 0, 65535));
    // Session Expiry Interval is a four-byte number of seconds (MQTT 5, 3.1.2.11.2).
    if (auto* v = get(f, "max_session_expiry")) {
      m.max_session_expiry = static_cast<std::uint32_t>(seconds(*v, 0, 0xFFFFFFFFull));
    }
    if (auto* v = get(f, "topic_alias_maximum")) {
      m.topic_alias_maximum = static_cast<std::uint16_t>(integer(*v, 0, 65535));
    }
    // A Receive Maximum of 0 is a protocol error (MQTT 5, 3.2.2.3.3).
    if (auto* v = get(f, "receive_maximum")) m.receive_maximum = static_cast<std::uint16_t>(integer(*v, 1, 65535));
    if (auto* v = get(f, "maximum_qos")) m.maximum_qos = static_cast<std::uint8_t>(integer(*v, 0, 2));
    if (auto* v = get(f, "retain_available")) m.retain_available = boolean(*v);
    if (auto* v = get(f, "wildcard_subscriptions")) m.wildcard_subscriptions = boolean(*v);
    if (auto* v = get(f, "shared_subscriptions")) m.shared_subscriptions = boolean(*v);
    if (auto* v = get(f, "subscription_identifiers")) m.subscription_identifiers = boolean(*v);
    if (auto* v = get(f, "publish_will_on_shutdown")) m.publish_will_on_shutdown = boolean(*v);
    if (auto* v = get(f, "connect_timeout")) m.connect_timeout = std::chrono::seconds(seconds(*v, 1, 3600));
  }

  void amqp(const Field& section, AmqpSettings& a) {
    const Fields f = entries(section, "amqp", {"channel_max", "frame_max", "heartbeat", "max_message_size"});
    if (auto* v = get(f, "channel_max")) a.channel_max = static_cast<std::uint16_t>(integer(*v, 1, 65535));
    // AMQP 0-9-1 lets no peer refuse frames of 4096 octets (frame-min-size).
    if (auto* v = get(f, "frame_max")) a.frame_max = static_cast<std::uint32_t>(size(*v, 4096, 1ull << 30));
    if (auto* v = get(f, "heartbeat")) a.heartbeat = static_cast<std::uint16_t>(seconds(*v, 0, 65535));
    if (auto* v = get(f, "max_message_size")) a.max_message_size = size(*v, 1ull << 10, 4ull << 30);
  }

  // `limits:`, at the top level and inside a listener: the same keys and checks.
  LimitOverrides limit_overrides(const Field& section) {
    const Fields f = entries(section, section.key,
                             {"max_connections_per_second_per_address", "max_publish_rate", "max_publish_bytes_rate",
                              "publish_rate_disconnect_after", "max_subscriptions_per_client", "max_topic_levels",
                              "max_client_id_length"});
    LimitOverrides o;
    if (auto* v = get(f, "max_connections_per_second_per_address")) {
      o.max_connections_per_second_per_address = static_cast<std::uint32_t>(integer(*v, 0, 1000000));
    }
    if (auto* v = get(f, "max_publish_rate")) o.max_publish_rate = static_cast<std::uint32_t>(integer(*v, 0, 100000000));
    // A rate of bytes reads like a size: 64KiB means 64 KiB per second.
    if (auto* v = get(f, "max_publish_bytes_rate")) o.max_publish_bytes_rate = size(*v, 0, 1ull << 40);
    if (auto* v = get(f, "publish_rate_disconnect_after")) {
      o.publish_rate_disconnect_after = std::chrono::seconds(seconds(*v, 0, 86400));
    }
    if (auto* v = get(f, "max_subscriptions_per_client")) {
      o.max_subscriptions_per_client = static_cast<std::uint32_t>(integer(*v, 0, 10000000));
    }
    // A topic is at most 65535 bytes [MQTT-1.5.4], so it has at most 65536 levels.
    if (auto* v = get(f, "max_topic_levels")) o.max_topic_levels = static_cast<std::uint32_t>(integer(*v, 1, 65536));
    // An MQTT client id is a UTF-8 string: at most 65535 bytes [MQTT-1.5.4].
    if (auto* v = get(f, "max_client_id_length")) {
      o.max_client_id_length = static_cast<std::uint32_t>(integer(*v, 1, 65535));
    }
    return o;
  }

  void persistence(const Field& section, PersistenceSettings& p) {
    const Fields f = entries(section, "persistence", {"enabled", "dir", "sync", "max_bytes"});
    if (auto* v = get(f, "enabled")) p.enabled = boolean(*v);
    if (auto* v = get(f, "dir")) p.dir = text(*v, false, "a directory");
    if (auto* v = get(f, "sync")) {
      p.sync = choice<SyncMode>(*v, {{"full", SyncMode::full}, {"normal", SyncMode::normal}, {"off", SyncMode::off}});
    }
    if (auto* v = get(f, "max_bytes")) p.max_bytes = size(*v, 1ull << 20, 1ull << 50);
  }

  void logging(const Field& section, LoggingSettings& l) {
    const Fields f = entries(section, "logging", {"level", "file", "connections", "format"});
    if (auto* v = get(f, "level")) {
      l.level = choice<std::string>(*v, {{"trace", "trace"},
                                         {"debug", "debug"},
                                         {"info", "info"},
                                         {"warn", "warn"},
                                         {"error", "error"},
                                         {"critical", "critical"},
                                         {"off", "off"}});
    }
    if (auto* v = get(f, "file")) l.file = text(*v, true, "a file name");
    if (auto* v = get(f, "connections")) l.connections = boolean(*v);
    if (auto* v = get(f, "format")) l.format = choice<LogFormat>(*v, {{"text", LogFormat::text}, {"json", LogFormat::json}});
  }

  void tracing(const Field& section, TracingSettings& t) {
    const Fields f = entries(section, "tracing", {"inject"});
    if (auto* v = get(f, "inject")) t.inject = boolean(*v);
  }

  void auth(const Field& section, AuthSettings& a) {
    const Fields f = entries(section, "auth",
                             {"password_file", "acl_file", "acl", "permissions", "max_failed_logins_per_minute",
                              "max_pending_checks"});
    if (auto* v = get(f, "password_file")) a.password_file = text(*v, true, "a file name");
    if (auto* v = get(f, "acl_file")) a.acl_file = text(*v, true, "a file name");
    if (auto* v = get(f, "acl")) a.acl = acl(*v);
    if (auto* v = get(f, "permissions")) a.permissions = permissions(*v);
    if (auto* v = get(f, "max_failed_logins_per_minute")) {
      a.max_failed_logins_per_minute = static_cast<std::uint32_t>(integer(*v, 1, 1000000));
    }
    if (auto* v = get(f, "max_pending_checks")) a.max_pending_checks = static_cast<std::uint32_t>(integer(*v, 1, 1000000));
  }

  // - {anonymous: true, topic: FILTER, access: read}   rules for clients without a user name
  // - {user: NAME, topic: FILTER, access: write}       rules of one user
  // - {pattern: FILTER, access: readwrite}             every client, %u and %c substituted
  std::vector<AclEntrySettings> acl(const Field& f) {
    std::vector<AclEntrySettings> out;
    if (f.value.IsNull()) return out;
    if (!f.value.IsSequence()) {
      fail(f, fmt::format("expected a list of rules such as {{user: alice, topic: \"sensors/#\", access: read}}, got {}",
                          describe(f.value)));
    }
    for (std::size_t i = 0; i < f.value.size(); ++i) {
      const YAML::Node& node = f.value[i];
      const Field element{fmt::format("{}[{}]", f.key, i), node, node.IsNull() ? f.mark : node.Mark()};
      marks_[element.key] = element.mark;
      if (!node.IsMap()) fail(element, fmt::format("expected a mapping (user or anonymous or pattern, topic, access), got {}",
                                                   describe(node)));
      const Fields e = entries(element, element.key, {"user", "anonymous", "pattern", "topic", "access"});
      AclEntrySettings rule;
      const Field* user = get(e, "user");
      const Field* anonymous = get(e, "anonymous");
      const Field* pattern = get(e, "pattern");
      if ((user ? 1 : 0) + (anonymous ? 1 : 0) + (pattern ? 1 : 0) != 1) {
        fail(element, "expected exactly one of user: NAME, anonymous: true, pattern: FILTER");
      }
      if (user) {
        rule.scope = AclEntrySettings::Scope::user;
        rule.user = text(*user, false, "a user name");
        const Field* topic = get(e, "topic");
        if (!topic) missing(element, "topic", "a topic filter");
        rule.topic = text(*topic, false, "a topic filter");
      } else if (anonymous) {
        if (!boolean(*anonymous)) fail(*anonymous, "expected true (rules for clients without a user name)");
        rule.scope = AclEntrySettings::Scope::anonymous;
        const Field* topic = get(e, "topic");
        if (!topic) missing(element, "topic", "a topic filter");
        rule.topic = text(*topic, false, "a topic filter");
      } else {
        if (get(e, "topic")) fail(*get(e, "topic"), "a pattern rule gives its filter as pattern: FILTER");
        rule.scope = AclEntrySettings::Scope::pattern;
        rule.topic = text(*pattern, false, "a topic filter with %u or %c");
      }
      if (auto* v = get(e, "access")) {
        rule.access = choice<std::string>(*v, {{"read", "read"}, {"write", "write"}, {"readwrite", "readwrite"},
                                               {"deny", "deny"}});
      }
      out.push_back(std::move(rule));
    }
    return out;
  }

  // plugins: [{name: cloud, library: bridge_mqtt, user: bridge, config: {...}}]
  std::vector<PluginSettings> plugins(const Field& f) {
    std::vector<PluginSettings> out;
    if (f.value.IsNull()) return out;
    if (!f.value.IsSequence()) {
      fail(f, fmt::format("expected a list of plugins such as {{name: cloud, library: bridge_mqtt, config: {{...}}}}, "
                          "got {}", describe(f.value)));
    }
    for (std::size_t i = 0; i < f.value.size(); ++i) {
      const YAML::Node& node = f.value[i];
      const Field element{fmt::format("{}[{}]", f.key, i), node, node.IsNull() ? f.mark : node.Mark()};
      marks_[element.key] = element.mark;
      if (!node.IsMap()) fail(element, fmt::format("expected a mapping (name, library, user, config), got {}", describe(node)));
      const Fields e = entries(element, element.key, {"name", "library", "user", "config"});
      PluginSettings p;
      p.position = position(element.mark);
      const Field* name = get(e, "name");
      if (!name) missing(element, "name", "the instance name, e.g. cloud");
      p.name = text(*name, false, "an instance name");
      const Field* library = get(e, "library");
      if (!library) missing(element, "library", "a plugin name such as bridge_mqtt, or the path of its .so");
      p.library = text(*library, false, "a plugin name or path");
      if (auto* v = get(e, "user")) p.user = text(*v, false, "a user name");
      if (auto* v = get(e, "config")) {
        p.config = tree(v->value);
      } else {
        p.config.position = p.position;
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  std::string position(const YAML::Mark& m) const {
    return fmt::format("{}:{}:{}", file_, m.is_null() ? 1 : m.line + 1, m.is_null() ? 1 : m.column + 1);
  }

  ConfigTree tree(const YAML::Node& node) const {
    ConfigTree t;
    t.position = position(node.Mark());
    if (node.IsScalar()) {
      t.kind = ConfigTree::Kind::scalar;
      t.scalar = node.Scalar();
    } else if (node.IsSequence()) {
      t.kind = ConfigTree::Kind::sequence;
      for (const auto& item : node) {
        t.keys.emplace_back();
        t.values.push_back(tree(item));
      }
    } else if (node.IsMap()) {
      t.kind = ConfigTree::Kind::map;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) fail(kv.first.Mark(), fmt::format("expected a key name, got {}", describe(kv.first)));
        t.keys.push_back(kv.first.Scalar());
        ConfigTree value = tree(kv.second);
        // A key written with nothing after it points at the key.
        if (value.kind == ConfigTree::Kind::null) value.position = position(kv.first.Mark());
        t.values.push_back(std::move(value));
      }
    }
    return t;
  }

  // permissions: {alice: {configure: "^alice\\.", write: ".*", read: ".*"}}
  std::vector<std::pair<std::string, PermissionSettings>> permissions(const Field& f) {
    std::vector<std::pair<std::string, PermissionSettings>> out;
    if (f.value.IsNull()) return out;
    if (!f.value.IsMap()) {
      fail(f, fmt::format("expected a mapping of user names to {{configure, write, read}}, got {}", describe(f.value)));
    }
    for (const auto& kv : f.value) {
      if (!kv.first.IsScalar()) fail(kv.first.Mark(), fmt::format("expected a user name, got {}", describe(kv.first)));
      const std::string user = kv.first.Scalar();
      const YAML::Mark mark = kv.second.IsNull() ? kv.first.Mark() : kv.second.Mark();
      const Field element{fmt::format("{}.{}", f.key, user), kv.second, mark};
      marks_[element.key] = mark;
      const Fields e = entries(element, element.key, {"configure", "write", "read"});
      PermissionSettings p;
      if (auto* v = get(e, "configure")) p.configure = text(*v, true, "a regular expression");
      if (auto* v = get(e, "write")) p.write = text(*v, true, "a regular expression");
      if (auto* v = get(e, "read")) p.read = text(*v, true, "a regular expression");
      out.emplace_back(user, std::move(p));
    }
    return out;
  }

  std::string file_;
  std::string_view text_;
  std::map<std::string, YAML::Mark> marks_;  // settings key -> where the file sets it
};

// What one document of the stream holds: where it starts and where its first non-null node
// is, if any (a document of nothing but null is as good as none).
class DocumentProbe final : public YAML::EventHandler {
 public:
  YAML::Mark start = YAML::Mark::null_mark();
  std::optional<YAML::Mark> content;

  void OnDocumentStart(const YAML::Mark& m) override { start = m; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { note(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { note(m); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(m);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& m) {
    if (!content) content = m;
  }
};

Settings load(std::string_view text, const std::string& name) {
  Loader loader(name, text);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
    // The documents after the first, one by one rather than with YAML::LoadAll: on some text
    // that is not YAML (a lone ","), yaml-cpp 0.7 reports empty documents forever without
    // reading on, and LoadAll never returns while its memory grows (found by fuzzing:
    // tests/fuzz/corpus/settings_yaml/crash-comma-hang). A document that starts where the
    // one before it started is that loop: the text there cannot be read.
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    std::optional<YAML::Mark> previous;
    for (int index = 0;; ++index) {
      DocumentProbe doc;
      if (!parser.HandleNextDocument(doc)) break;
      if (previous && doc.start.pos == previous->pos) {
        loader.syntax_error(doc.start, "cannot read a YAML document here");
      }
      previous = doc.start;
      if (index == 1 && doc.content) {
        loader.fail(*doc.content, "expected one YAML document, but another one starts here (is the indentation "
                                  "of this line right?)");
      }
    }
  } catch (const YAML::ParserException& e) {
    loader.syntax_error(e.mark, e.msg);
  } catch (const YAML::Exception& e) {
    loader.fail(e.mark, fmt::format("cannot read YAML: {}", e.msg));
  }
  return loader.load(root);
}

}  // namespace

Settings load_settings_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError(fmt::format("{}: cannot read the configuration file: it is a directory", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot read the configuration file: {}", path, std::strerror(errno)));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw ConfigError(fmt::format("{}: cannot read the configuration file", path));
  return load(content.str(), path);
}

Settings load_settings_string(std::string_view yaml, const std::string& name) { return load(yaml, name); }

}  // namespace outpost
