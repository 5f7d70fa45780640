#include "cli.hpp"

#include "settings_yaml.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string_view>

namespace outpost {

namespace {

constexpr const char* kFooter = R"(Listener URLs (--listen, repeatable; they replace the configured listeners):
  mqtt://ADDRESS:PORT   mqtts://ADDRESS:PORT   amqp://ADDRESS:PORT   amqps://ADDRESS:PORT
  ws://ADDRESS:PORT/PATH   wss://ADDRESS:PORT/PATH   (PATH defaults to /mqtt)
  IPv6 addresses go in brackets: mqtt://[::1]:1883. Anonymous clients are accepted only
  on loopback addresses; TLS kinds take their tls settings from the configuration file.

Examples:
  outpost                                   MQTT on 127.0.0.1:1883, state in ./outpost-data
  outpost -c /etc/outpost/outpost.yaml
  outpost --check-config -c outpost.yaml
  outpost -p 1884                           a throwaway broker: keeps nothing (no -c, no --data-dir)
  outpost -p 1884 --listen ws://127.0.0.1:8080/mqtt --data-dir /tmp/outpost
  outpost passwd -c passwd alice            a password file (mosquitto_passwd's flags)
  outpost store check --data-dir DIR        check a store the broker refuses (also: store recover)

Configuration reference: docs/config.md)";

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Where a problem found in the resolved settings came from, in the user's terms.
std::string origin_of(const std::string& key, const CommandLine& cl, const Settings& s) {
  if (key.rfind("listeners[", 0) == 0 && !cl.listen.empty()) {
    std::size_t index = 0;
    std::from_chars(key.data() + 10, key.data() + key.size(), index);
    if (index < cl.listen.size()) return cl.listen[index].given;
  }
  if (key == "threads" && cl.threads) return "--threads";
  if (key == "persistence.dir" && cl.data_dir) return "--data-dir";
  if (key == "logging.level" && cl.log_level) return "--log-level";
  return fmt::format("{}: {}", s.source, key);
}

}  // namespace

ListenerSettings parse_listen_url(const std::string& url) {
  const auto bad = [&url](const std::string& why) { return ConfigError(fmt::format("--listen {}: {}", url, why)); };
  const auto separator = url.find("://");
  if (separator == std::string::npos) throw bad("expected SCHEME://ADDRESS:PORT such as mqtt://127.0.0.1:1883");
  const std::string scheme = url.substr(0, separator);
  const auto protocol = listener_protocol_from_string(scheme);
  if (!protocol) throw bad(fmt::format("unknown scheme '{}' (expected one of {})", scheme, listener_protocol_names()));
  const std::string example = fmt::format("{}://127.0.0.1:{}", scheme, is_tls_protocol(*protocol) ? 8883 : 1883);

  std::string_view rest(url);
  rest.remove_prefix(separator + 3);
  if (rest.find_first_of("@?#") != std::string_view::npos) {
    throw bad(fmt::format("user names, queries and fragments have no meaning here; expected {}", example));
  }
  std::string host;
  std::string_view after;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) throw bad("missing ']' after the IPv6 address");
    host = std::string(rest.substr(1, close - 1));
    after = rest.substr(close + 1);
    if (host.find(':') == std::string::npos || !is_valid_address(host)) {
      throw bad(fmt::format("'{}' in brackets is not an IPv6 address", host));
    }
  } else {
    const auto end = std::min(rest.find_first_of(":/"), rest.size());
    host = std::string(rest.substr(0, end));
    after = rest.substr(end);
    const auto port_end = std::min(after.find('/'), after.size());
    if (after.substr(0, port_end).find(':', 1) != std::string_view::npos) {
      throw bad(fmt::format("IPv6 addresses go in brackets, e.g. {}://[::1]:1883", scheme));
    }
    if (host.empty()) throw bad(fmt::format("missing the address, e.g. {}", example));
    if (!is_valid_address(host)) {
      throw bad(fmt::format("'{}' is not an IPv4 address, an IPv6 address or a host name", host));
    }
  }
  if (after.empty() || after.front() != ':') throw bad(fmt::format("missing the port, e.g. {}", example));
  after.remove_prefix(1);
  const auto slash = std::min(after.find('/'), after.size());
  const std::string_view port_text = after.substr(0, slash);
  const std::string_view path = after.substr(slash);
  const auto port = parse_port(port_text);
  if (!port) throw bad(fmt::format("expected a port from 0 to 65535, got '{}'", port_text));

  ListenerSettings l;
  l.protocol = *protocol;
  l.address = host;
  l.port = *port;
  if (!path.empty()) {
    if (!is_websocket_protocol(l.protocol)) throw bad("only ws:// and wss:// URLs have a path");
    l.path = std::string(path);
  }
  // The same rule as the built-in default: without a configuration saying otherwise,
  // credentials are waived only where no other machine can connect.
  l.allow_anonymous = is_loopback_address(host);
  return l;
}

Settings resolve_settings(const CommandLine& cl) {
  Settings s = cl.config_file.empty() ? Settings::builtin_default() : load_settings_file(cl.config_file);
  if (!cl.listen.empty()) {
    std::vector<ListenerSettings> listeners;
    for (const auto& option : cl.listen) {
      ListenerSettings l = parse_listen_url(option.url);
      if (is_tls_protocol(l.protocol)) {
        // A URL has no room for certificates; the configuration file keeps them.
        const auto model = std::find_if(s.listeners.begin(), s.listeners.end(), [&l](const ListenerSettings& c) {
          return c.protocol == l.protocol && c.tls.has_value();
        });
        if (model == s.listeners.end()) {
          throw ConfigError(fmt::format(
              "{}: a {} listener takes its tls settings from the first {} listener of the configuration file, and {}",
              option.given, to_string(l.protocol), to_string(l.protocol),
              cl.config_file.empty() ? std::string("no file was given (-c FILE)") : cl.config_file + " has none"));
        }
        l.tls = model->tls;
      }
      listeners.push_back(std::move(l));
    }
    s.listeners = std::move(listeners);
    s.from_command_line.emplace_back("listeners");
  }
  if (cl.data_dir) {
    s.persistence.dir = *cl.data_dir;
    s.from_command_line.emplace_back("persistence.dir");
  } else if (cl.config_file.empty() && !cl.listen.empty()) {
    // `outpost -p PORT` is a throwaway broker: it keeps nothing, so an earlier run in the
    // same folder can neither leave state behind nor have it restored.
    s.persistence.enabled = false;
    s.from_command_line.emplace_back("persistence.enabled");
  }
  if (cl.threads) {
    s.threads = *cl.threads;
    s.from_command_line.emplace_back("threads");
  }
  if (cl.log_level) {
    s.logging.level = *cl.log_level;
    s.from_command_line.emplace_back("logging.level");
  }
  if (auto problem = find_problem(s)) {
    throw ConfigError(fmt::format("{}: {}", origin_of(problem->key, cl, s), problem->message));
  }
  return s;
}

ExitNow check_config(const CommandLine& cl) {
  if (cl.config_file.empty()) return ExitNow{2, "outpost: --check-config needs the file to check: -c FILE"};
  try {
    return ExitNow{0, fmt::format("{}: configuration OK", cl.config_file), resolve_settings(cl)};
  } catch (const ConfigError& e) {
    return ExitNow{1, fmt::format("outpost: {}", e.what())};
  }
}

std::variant<CommandLine, ExitNow> parse_command_line(int argc, const char* const* argv) {
  CLI::App app{"Outpost: an MQTT/AMQP edge broker for IoT gateways.", "outpost"};
  app.footer(kFooter);
  CommandLine cl;
  std::vector<std::string> listen;
  std::vector<std::string> ports;
  std::string data_dir;
  std::string log_level;
  unsigned threads = 0;
  bool verbose = false;
  bool version = false;
  app.add_option("-c,--config", cl.config_file, "configuration file (YAML); without it, the built-in default")
      ->type_name("FILE");
  app.add_flag("--check-config", cl.check_config, "load and check the configuration, then exit (0 = valid)");
  auto* listen_option = app.add_option("--listen", listen, "listen on URL instead of the configured listeners")
                            ->type_name("URL")
                            ->allow_extra_args(false);
  auto* port_option = app.add_option("-p,--port", ports, "short for --listen mqtt://127.0.0.1:PORT")
                          ->type_name("PORT")
                          ->allow_extra_args(false)
                          ->check(CLI::Range(0, 65535));
  auto* data_dir_option =
      app.add_option("--data-dir", data_dir, "where state is kept (sets persistence.dir); without it and without -c, -p and --listen "
                                "keep nothing")->type_name("DIR");
  auto* threads_option =
      app.add_option("-t,--threads", threads, "I/O threads, 0 = one per core")->type_name("N")->check(CLI::Range(0, 1024));
  auto* level_option =
      app.add_option("--log-level", log_level, "sets logging.level")
          ->type_name("LEVEL")
          ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_flag("-v,--verbose", verbose, "log at debug level (--log-level wins when both are given)");
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return ExitNow{0, app.help()};
  } catch (const CLI::ParseError& e) {
    return ExitNow{2, fmt::format("outpost: {}\nRun 'outpost --help' for the options.", e.what())};
  }
  if (version) return ExitNow{0, fmt::format("outpost {}", OUTPOST_VERSION)};

  // --listen and -p fill one list; keep the order in which they were typed.
  std::size_t next_listen = 0;
  std::size_t next_port = 0;
  for (const CLI::Option* option : app.parse_order()) {
    if (option == listen_option && next_listen < listen.size()) {
      const std::string& url = listen[next_listen++];
      cl.listen.push_back({url, "--listen " + url});
    } else if (option == port_option && next_port < ports.size()) {
      const std::string& text = ports[next_port++];
      const auto port = parse_port(text);
      if (!port) return ExitNow{2, fmt::format("outpost: --port: expected a port from 0 to 65535, got '{}'", text)};
      cl.listen.push_back({fmt::format("mqtt://127.0.0.1:{}", *port), "-p " + text});
    }
  }
  if (*data_dir_option) cl.data_dir = data_dir;
  if (*threads_option) cl.threads = threads;
  if (verbose) cl.log_level = "debug";
  if (*level_option) cl.log_level = log_level;
  return cl;
}

std::variant<Settings, ExitNow> parse_and_resolve(int argc, const char* const* argv) {
  auto parsed = parse_command_line(argc, argv);
  if (auto* exit_now = std::get_if<ExitNow>(&parsed)) return std::move(*exit_now);
  const CommandLine& cl = std::get<CommandLine>(parsed);
  if (cl.check_config) return check_config(cl);
  try {
    return resolve_settings(cl);
  } catch (const ConfigError& e) {
    return ExitNow{1, fmt::format("outpost: {}", e.what())};
  }
}

}  // namespace outpost
