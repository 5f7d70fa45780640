#include "cli.hpp"

#include "log.hpp"
#include "settings_yaml.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <charconv>

namespace outpost {

ListenerSettings parse_listen_url(const std::string& url) {
  const auto bad = [&](const std::string& why) { return ConfigError("--listen " + url + ": " + why); };
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) throw bad("expected SCHEME://ADDRESS:PORT, e.g. mqtt://127.0.0.1:1883");
  const std::string scheme = url.substr(0, scheme_end);
  ListenerSettings l;
  if (scheme == "mqtt") l.protocol = ListenerProtocol::mqtt;
  else if (scheme == "mqtts") l.protocol = ListenerProtocol::mqtts;
  else if (scheme == "ws") l.protocol = ListenerProtocol::ws;
  else if (scheme == "wss") l.protocol = ListenerProtocol::wss;
  else if (scheme == "amqp") l.protocol = ListenerProtocol::amqp;
  else if (scheme == "amqps") l.protocol = ListenerProtocol::amqps;
  else throw bad("unknown scheme '" + scheme + "' (mqtt, mqtts, ws, wss, amqp, amqps)");
  std::string rest = url.substr(scheme_end + 3);
  const bool ws = l.protocol == ListenerProtocol::ws || l.protocol == ListenerProtocol::wss;
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    if (!ws) throw bad("a path applies only to ws:// and wss://");
    l.path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  std::string host, port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      throw bad("expected [IPV6]:PORT");
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) throw bad("missing :PORT");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) throw bad("missing address");
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    throw bad("port must be a number from 0 to 65535");
  }
  l.address = host;
  l.port = static_cast<std::uint16_t>(value);
  // As with the built-in default, anonymous access only where nobody else can reach.
  l.allow_anonymous = is_loopback_address(host);
  return l;
}

Settings resolve_settings(const CommandLine& cl) {
  Settings s = cl.config_file.empty() ? Settings::builtin_default() : load_settings_file(cl.config_file);
  if (!cl.listen.empty() || !cl.ports.empty()) {
    std::vector<ListenerSettings> listeners;
    for (const auto& url : cl.listen) {
      ListenerSettings l = parse_listen_url(url);
      const bool tls_kind = l.protocol == ListenerProtocol::mqtts || l.protocol == ListenerProtocol::wss ||
                            l.protocol == ListenerProtocol::amqps;
      if (tls_kind) {
        for (const auto& c : s.listeners) {
          if (c.protocol == l.protocol && c.tls) {
            l.tls = c.tls;
            break;
          }
        }
        if (!l.tls) {
          throw ConfigError("--listen " + url + ": TLS settings come from a listener of the same kind in the "
                            "configuration file, and there is none");
        }
      }
      listeners.push_back(l);
    }
    for (auto port : cl.ports) listeners.push_back(parse_listen_url("mqtt://127.0.0.1:" + std::to_string(port)));
    s.listeners = std::move(listeners);
  }
  if (cl.data_dir) s.persistence.dir = *cl.data_dir;
  if (cl.threads) s.threads = *cl.threads;
  if (cl.log_level) s.logging.level = *cl.log_level;
  validate(s, cl.config_file.empty() ? "command line" : cl.config_file);
  return s;
}

std::variant<Settings, ExitNow> parse_and_resolve(int argc, const char* const* argv) {
  CLI::App app{"Outpost: an MQTT/AMQP edge broker for IoT gateways.", "outpost"};
  CommandLine cl;
  bool version = false;
  bool verbose = false;
  std::string data_dir, log_level;
  unsigned threads = 0;
  app.add_option("-c,--config", cl.config_file, "configuration file (YAML)");
  app.add_flag("--check-config", cl.check_config, "load and check the configuration, then exit");
  app.add_option("--listen", cl.listen,
                 "listen on URL, replacing the configured listeners (repeatable): mqtt://ADDR:PORT, "
                 "amqp://ADDR:PORT, ws://ADDR:PORT/PATH, mqtts://, wss://, amqps://");
  app.add_option("-p,--port", cl.ports, "short for --listen mqtt://127.0.0.1:PORT (repeatable)")
      ->check(CLI::Range(0, 65535));
  auto* dd = app.add_option("--data-dir", data_dir, "where state is kept (persistence.dir)");
  auto* th = app.add_option("-t,--threads", threads, "I/O threads (0 = one per core)")->check(CLI::Range(0, 1024));
  auto* ll = app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off");
  app.add_flag("-v,--verbose", verbose, "log at debug level");
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return ExitNow{0, app.help()};
  } catch (const CLI::ParseError& e) {
    return ExitNow{2, fmt::format("outpost: {}\nRun 'outpost --help' for the options.", e.what())};
  }
  if (version) return ExitNow{0, fmt::format("outpost {}", OUTPOST_VERSION)};
  if (*dd) cl.data_dir = data_dir;
  if (*th) cl.threads = threads;
  if (verbose) cl.log_level = "debug";
  if (*ll) {
    if (!log::valid_level(log_level)) {
      return ExitNow{2, fmt::format("outpost: --log-level: unknown level '{}' (trace, debug, info, warn, error, "
                                    "critical, off)", log_level)};
    }
    cl.log_level = log_level;
  }
  if (cl.check_config && cl.config_file.empty()) {
    return ExitNow{2, "outpost: --check-config needs -c FILE"};
  }
  try {
    Settings s = resolve_settings(cl);
    if (cl.check_config) return ExitNow{0, cl.config_file + ": configuration OK"};
    return s;
  } catch (const std::exception& e) {
    return ExitNow{1, fmt::format("outpost: {}", e.what())};
  }
}

}  // namespace outpost
