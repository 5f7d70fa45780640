#include "settings.hpp"

#include "log.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <regex>
#include <utility>

namespace outpost {

namespace {

// "64KiB" -> {64, "KiB"}; the number part must be present, one space may separate them.
struct NumberAndUnit {
  std::uint64_t number = 0;
  std::string_view unit;
};

std::optional<NumberAndUnit> split_number(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) ++digits;
  if (digits == 0) return std::nullopt;
  NumberAndUnit out;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, out.number);
  if (ec != std::errc() || end != text.data() + digits) return std::nullopt;  // too many digits
  out.unit = text.substr(digits);
  if (!out.unit.empty() && out.unit.front() == ' ') out.unit.remove_prefix(1);
  return out;
}

std::optional<std::uint64_t> checked_multiply(std::uint64_t a, std::uint64_t b) {
  if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b) return std::nullopt;
  return a * b;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool parse_ipv4(std::string_view text, std::array<unsigned char, 4>& out) {
  const std::string s(text);
  return inet_pton(AF_INET, s.c_str(), out.data()) == 1;
}

bool parse_ipv6(std::string_view text, std::array<unsigned char, 16>& out) {
  // A link-local address may name its interface: fe80::1%eth0.
  if (const auto pct = text.find('%'); pct != std::string_view::npos) {
    const auto scope = text.substr(pct + 1);
    const bool scope_ok = !scope.empty() && std::all_of(scope.begin(), scope.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
    });
    if (!scope_ok) return false;
    text = text.substr(0, pct);
  }
  const std::string s(text);
  return inet_pton(AF_INET6, s.c_str(), out.data()) == 1;
}

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
bool is_host_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // fully qualified
  if (name.empty() || name.size() > 253) return false;
  bool all_numeric = true;
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto dot = std::min(name.find('.', start), name.size());
    const auto label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-') return false;
      if (std::isdigit(static_cast<unsigned char>(c)) == 0 && c != '.') all_numeric = false;
    }
    start = dot + 1;
  }
  // "300.1.2.3" is a mistyped IPv4 address, not a host name.
  return !all_numeric;
}

std::string unbracket(std::string_view address) {
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  return std::string(address);
}

enum class Family { v4, v6, name };

struct Endpoint {
  Family family = Family::name;
  bool wildcard = false;
  std::string canonical;  // so that "::0001" and "::1" compare equal
};

Endpoint endpoint_of(const std::string& address) {
  const std::string a = unbracket(address);
  std::array<unsigned char, 4> v4{};
  std::array<unsigned char, 16> v6{};
  if (parse_ipv4(a, v4)) {
    return {Family::v4, v4 == std::array<unsigned char, 4>{}, std::string(v4.begin(), v4.end())};
  }
  if (a.find('%') == std::string::npos && parse_ipv6(a, v6)) {
    return {Family::v6, v6 == std::array<unsigned char, 16>{}, std::string(v6.begin(), v6.end())};
  }
  return {Family::name, false, lowercase(a)};
}

// Two listening sockets collide when they share a port and either the same address or a
// wildcard of the same family. The server binds IPv6 sockets v6-only, so "::" and
// "0.0.0.0" live side by side. Port 0 asks for a free port and never collides.
bool overlaps(const ListenerSettings& a, const ListenerSettings& b) {
  if (a.port == 0 || a.port != b.port) return false;
  const Endpoint ea = endpoint_of(a.address);
  const Endpoint eb = endpoint_of(b.address);
  if (ea.family != eb.family) return false;
  return ea.canonical == eb.canonical || ea.wildcard || eb.wildcard;
}

}  // namespace

bool valid_filter(std::string_view filter) {
  if (filter.empty()) return false;
  std::size_t start = 0;
  while (true) {
    const auto slash = filter.find('/', start);
    const auto level = filter.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    const bool last = slash == std::string_view::npos;
    if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) return false;
    if (level == "#" && !last) return false;
    if (last) return true;
    start = slash + 1;
  }
}

const std::string& password_file_of(const Settings& settings, const ListenerSettings& listener) {
  return listener.password_file ? *listener.password_file : settings.auth.password_file;
}

const std::string& acl_file_of(const Settings& settings, const ListenerSettings& listener) {
  return listener.acl_file ? *listener.acl_file : settings.auth.acl_file;
}

LimitSettings limits_of(const Settings& settings, const ListenerSettings& listener) {
  return with_overrides(settings.limits, listener.limits);
}

LimitSettings with_overrides(LimitSettings out, const LimitOverrides& o) {
  if (o.max_connections_per_second_per_address) {
    out.max_connections_per_second_per_address = *o.max_connections_per_second_per_address;
  }
  if (o.max_publish_rate) out.max_publish_rate = *o.max_publish_rate;
  if (o.max_publish_bytes_rate) out.max_publish_bytes_rate = *o.max_publish_bytes_rate;
  if (o.publish_rate_disconnect_after) out.publish_rate_disconnect_after = *o.publish_rate_disconnect_after;
  if (o.max_subscriptions_per_client) out.max_subscriptions_per_client = *o.max_subscriptions_per_client;
  if (o.max_topic_levels) out.max_topic_levels = *o.max_topic_levels;
  if (o.max_client_id_length) out.max_client_id_length = *o.max_client_id_length;
  return out;
}

Settings Settings::builtin_default() {
  Settings s;
  ListenerSettings l;
  l.protocol = ListenerProtocol::mqtt;
  l.address = "127.0.0.1";
  l.port = 1883;
  // Nothing outside this machine reaches a loopback listener, so no credentials are asked
  // for, as Mosquitto 2 does when it runs without a configuration.
  l.allow_anonymous = true;
  s.listeners.push_back(l);
  // AMQP 0-9-1 for services on the same machine, on the usual port.
  l.protocol = ListenerProtocol::amqp;
  l.port = 5672;
  s.listeners.push_back(l);
  return s;
}

const char* to_string(ListenerProtocol p) {
  switch (p) {
    case ListenerProtocol::mqtt: return "mqtt";
    case ListenerProtocol::mqtts: return "mqtts";
    case ListenerProtocol::ws: return "ws";
    case ListenerProtocol::wss: return "wss";
    case ListenerProtocol::amqp: return "amqp";
    case ListenerProtocol::amqps: return "amqps";
    case ListenerProtocol::http: return "http";
    case ListenerProtocol::https: return "https";
  }
  return "?";
}

const char* to_string(LogFormat f) { return f == LogFormat::json ? "json" : "text"; }

std::string position_of(const Settings& settings, std::string_view key) {
  std::string k(key);
  while (!k.empty()) {
    if (auto it = settings.positions.find(k); it != settings.positions.end()) return it->second;
    const auto cut = k.find_last_of(".[");
    k = cut == std::string::npos ? std::string() : k.substr(0, cut);
  }
  return settings.source;
}

const char* to_string(SyncMode m) {
  switch (m) {
    case SyncMode::full: return "full";
    case SyncMode::normal: return "normal";
    case SyncMode::off: return "off";
  }
  return "?";
}

bool is_tls_protocol(ListenerProtocol p) {
  return p == ListenerProtocol::mqtts || p == ListenerProtocol::wss || p == ListenerProtocol::amqps ||
         p == ListenerProtocol::https;
}

bool is_http_protocol(ListenerProtocol p) { return p == ListenerProtocol::http || p == ListenerProtocol::https; }

bool is_websocket_protocol(ListenerProtocol p) { return p == ListenerProtocol::ws || p == ListenerProtocol::wss; }

std::optional<ListenerProtocol> listener_protocol_from_string(std::string_view name) {
  for (auto p : {ListenerProtocol::mqtt, ListenerProtocol::mqtts, ListenerProtocol::ws, ListenerProtocol::wss,
                 ListenerProtocol::amqp, ListenerProtocol::amqps, ListenerProtocol::http, ListenerProtocol::https}) {
    if (name == to_string(p)) return p;
  }
  return std::nullopt;
}

const char* listener_protocol_names() { return "mqtt, mqtts, ws, wss, amqp, amqps, http, https"; }

std::optional<std::uint64_t> parse_size(std::string_view text) {
  const auto parts = split_number(text);
  if (!parts) return std::nullopt;
  static constexpr std::pair<std::string_view, std::uint64_t> units[] = {
      {"", 1},
      {"B", 1},
      {"KiB", 1ull << 10},
      {"MiB", 1ull << 20},
      {"GiB", 1ull << 30},
      {"KB", 1000ull},
      {"MB", 1000ull * 1000},
      {"GB", 1000ull * 1000 * 1000},
  };
  for (const auto& [unit, factor] : units) {
    if (parts->unit == unit) return checked_multiply(parts->number, factor);
  }
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const auto parts = split_number(text);
  if (!parts) return std::nullopt;
  static constexpr std::pair<std::string_view, std::uint64_t> units[] = {
      {"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60 * 1000}, {"h", 3600 * 1000},
  };
  constexpr auto most = static_cast<std::uint64_t>(std::numeric_limits<std::chrono::milliseconds::rep>::max());
  for (const auto& [unit, factor] : units) {
    if (parts->unit != unit) continue;
    const auto ms = checked_multiply(parts->number, factor);
    if (!ms || *ms > most) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(*ms));
  }
  return std::nullopt;
}

bool is_loopback_address(const std::string& address) {
  const std::string a = unbracket(address);
  const std::string lower = lowercase(a);
  if (lower == "localhost" || lower == "localhost.") return true;
  std::array<unsigned char, 4> v4{};
  if (parse_ipv4(a, v4)) return v4[0] == 127;
  std::array<unsigned char, 16> v6{};
  if (a.find('%') == std::string::npos && parse_ipv6(a, v6)) {
    static constexpr std::array<unsigned char, 16> one{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr std::array<unsigned char, 12> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (v6 == one) return true;
    return std::equal(mapped.begin(), mapped.end(), v6.begin()) && v6[12] == 127;
  }
  return false;
}

bool is_valid_address(std::string_view address) {
  std::array<unsigned char, 4> v4{};
  std::array<unsigned char, 16> v6{};
  return parse_ipv4(address, v4) || parse_ipv6(address, v6) || is_host_name(address);
}

std::optional<SettingsProblem> find_problem(const Settings& s) {
  if (s.listeners.empty()) return SettingsProblem{"listeners", "at least one listener is needed"};
  if (s.threads > 1024) {
    return SettingsProblem{"threads", fmt::format("expected at most 1024 I/O threads, got {}", s.threads)};
  }
  for (std::size_t i = 0; i < s.listeners.size(); ++i) {
    const ListenerSettings& l = s.listeners[i];
    const std::string key = fmt::format("listeners[{}]", i);
    if (!is_valid_address(l.address)) {
      return SettingsProblem{key + ".address",
                             fmt::format("expected an IPv4 address, an IPv6 address or a host name, got '{}'",
                                         l.address)};
    }
    if (is_tls_protocol(l.protocol)) {
      if (!l.tls || l.tls->cert_file.empty() || l.tls->key_file.empty()) {
        return SettingsProblem{key + ".tls", fmt::format("a {} listener needs tls.cert_file and tls.key_file",
                                                         to_string(l.protocol))};
      }
      if (l.tls->min_version != "1.2" && l.tls->min_version != "1.3") {
        return SettingsProblem{key + ".tls.min_version",
                               fmt::format("expected \"1.2\" or \"1.3\", got '{}'", l.tls->min_version)};
      }
      if (l.tls->require_client_cert && l.tls->ca_file.empty()) {
        return SettingsProblem{key + ".tls.require_client_cert",
                               "client certificates are checked against tls.ca_file, which is not set"};
      }
      if (l.tls->use_identity_as_username && l.tls->ca_file.empty()) {
        return SettingsProblem{key + ".tls.use_identity_as_username",
                               "the identity comes from a client certificate checked against tls.ca_file, which is "
                               "not set"};
      }
      if (!l.tls->crl_file.empty() && l.tls->ca_file.empty()) {
        return SettingsProblem{key + ".tls.crl_file", "a revocation list applies to client certificates checked "
                                                      "against tls.ca_file, which is not set"};
      }
    } else if (l.tls) {
      return SettingsProblem{key + ".tls", fmt::format("only mqtts, wss, amqps and https listeners use tls, this one is {}",
                                                       to_string(l.protocol))};
    }
    if (is_http_protocol(l.protocol)) {
      for (std::size_t j = 0; j < l.open_paths.size(); ++j) {
        if (l.open_paths[j].empty() || l.open_paths[j].front() != '/') {
          return SettingsProblem{fmt::format("{}.open[{}]", key, j),
                                 fmt::format("expected a path starting with '/', got '{}'", l.open_paths[j])};
        }
      }
      if (!l.admins.empty() && password_file_of(s, l).empty()) {
        return SettingsProblem{key + ".admins",
                               "admins log in with a password of the listener's password file, and this listener "
                               "has none (set password_file on it, or auth.password_file)"};
      }
    }
    if (is_websocket_protocol(l.protocol) && (l.path.empty() || l.path.front() != '/')) {
      return SettingsProblem{key + ".path", fmt::format("expected a path starting with '/', got '{}'", l.path)};
    }
    for (std::size_t j = 0; j < i; ++j) {
      const ListenerSettings& other = s.listeners[j];
      if (overlaps(other, l)) {
        return SettingsProblem{key + ".port", fmt::format("{} port {} is already taken by the {} listener on {} "
                                                          "port {}; an address and port can have one listener",
                                                          l.address, l.port, to_string(other.protocol),
                                                          other.address, other.port)};
      }
    }
  }
  // Checked once every listener is well formed: a listener that would refuse every client
  // is a configuration mistake, not a broker to start.
  for (std::size_t i = 0; i < s.listeners.size(); ++i) {
    const ListenerSettings& l = s.listeners[i];
    const bool certificate_users = l.tls && l.tls->use_identity_as_username;
    // A plugin may authenticate clients: the broker checks this again once its plugins
    // have said what they do.
    if (is_http_protocol(l.protocol)) continue;  // not a client listener
    if (!l.allow_anonymous && password_file_of(s, l).empty() && !certificate_users && s.plugins.empty()) {
      return SettingsProblem{fmt::format("listeners[{}]", i),
                             fmt::format("the {} listener on {} port {} would accept no client: anonymous access is "
                                         "off and there is no password file (auth.password_file) nor client "
                                         "certificate identity (tls.use_identity_as_username); set "
                                         "allow_anonymous: true or configure one of them",
                                         to_string(l.protocol), l.address, l.port)};
    }
  }
  for (std::size_t i = 0; i < s.plugins.size(); ++i) {
    const auto& p = s.plugins[i];
    const auto ok = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
    if (p.name.empty() || p.name.size() > 64 || !std::all_of(p.name.begin(), p.name.end(), ok)) {
      return SettingsProblem{fmt::format("plugins[{}].name", i),
                             fmt::format("'{}' is not an instance name: expected 1 to 64 letters, digits, '_' or '-' "
                                         "(it names the plugin's stored queues and $SYS topics)", p.name)};
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (s.plugins[j].name == p.name) {
        return SettingsProblem{fmt::format("plugins[{}].name", i),
                               fmt::format("the instance name '{}' is already used by plugins[{}]", p.name, j)};
      }
    }
    if (p.library.empty()) return SettingsProblem{fmt::format("plugins[{}].library", i), "expected a plugin name or path"};
  }
  for (std::size_t i = 0; i < s.auth.acl.size(); ++i) {
    const auto& e = s.auth.acl[i];
    const std::string key = fmt::format("auth.acl[{}]", i);
    if (e.access != "read" && e.access != "write" && e.access != "readwrite" && e.access != "deny") {
      return SettingsProblem{key + ".access", fmt::format("expected read, write, readwrite or deny, got '{}'", e.access)};
    }
    if (!valid_filter(e.topic)) {
      return SettingsProblem{e.scope == AclEntrySettings::Scope::pattern ? key + ".pattern" : key + ".topic",
                             fmt::format("'{}' is not a topic filter ('#' only as the last level, '+' only as a "
                                         "whole level)",
                                         e.topic)};
    }
    if (e.scope == AclEntrySettings::Scope::user && e.user.empty()) {
      return SettingsProblem{key + ".user", "expected a user name"};
    }
  }
  for (const auto& [user, p] : s.auth.permissions) {
    for (const auto& [which, pattern] : {std::pair<const char*, const std::string*>{"configure", &p.configure},
                                         {"write", &p.write},
                                         {"read", &p.read}}) {
      try {
        std::regex re(*pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return SettingsProblem{fmt::format("auth.permissions.{}.{}", user, which),
                               fmt::format("'{}' is not a regular expression: {}", *pattern, e.what())};
      }
    }
  }
  if (s.mqtt.min_keepalive > s.mqtt.max_keepalive) {
    return SettingsProblem{"mqtt.min_keepalive",
                           fmt::format("min_keepalive ({}) must not exceed max_keepalive ({})", s.mqtt.min_keepalive,
                                       s.mqtt.max_keepalive)};
  }
  if (!log::valid_level(s.logging.level)) {
    return SettingsProblem{"logging.level",
                           fmt::format("expected one of trace, debug, info, warn, error, critical, off, got '{}'",
                                       s.logging.level)};
  }
  if (s.persistence.dir.empty()) return SettingsProblem{"persistence.dir", "expected a directory, got nothing"};
  return std::nullopt;
}

void validate(const Settings& settings, const std::string& where) {
  if (auto problem = find_problem(settings)) {
    throw ConfigError(fmt::format("{}: {}: {}", where, problem->key, problem->message));
  }
}

}  // namespace outpost
