#include "settings.hpp"

#include <set>
#include <utility>

namespace outpost {

Settings Settings::builtin_default() {
  Settings s;
  ListenerSettings l;
  l.protocol = ListenerProtocol::mqtt;
  l.address = "127.0.0.1";
  l.port = 1883;
  l.allow_anonymous = true;
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
  }
  return "?";
}

const char* to_string(SyncMode m) {
  switch (m) {
    case SyncMode::full: return "full";
    case SyncMode::normal: return "normal";
    case SyncMode::off: return "off";
  }
  return "?";
}

bool is_loopback_address(const std::string& a) {
  return a == "localhost" || a == "::1" || a == "[::1]" || a.rfind("127.", 0) == 0;
}

void validate(const Settings& s, const std::string& where) {
  if (s.listeners.empty()) throw ConfigError(where + ": at least one listener is needed");
  if (s.threads > 1024) throw ConfigError(where + ": threads must be at most 1024");
  std::set<std::pair<std::string, std::uint16_t>> seen;
  for (const auto& l : s.listeners) {
    const bool tls_kind = l.protocol == ListenerProtocol::mqtts || l.protocol == ListenerProtocol::wss ||
                          l.protocol == ListenerProtocol::amqps;
    if (tls_kind && (!l.tls || l.tls->cert_file.empty() || l.tls->key_file.empty())) {
      throw ConfigError(where + ": listener " + to_string(l.protocol) + " on port " + std::to_string(l.port) +
                        " needs tls.cert_file and tls.key_file");
    }
    if (l.port != 0 && !seen.emplace(l.address, l.port).second) {
      throw ConfigError(where + ": two listeners on " + l.address + ":" + std::to_string(l.port));
    }
  }
  if (s.mqtt.min_keepalive > s.mqtt.max_keepalive) {
    throw ConfigError(where + ": mqtt.min_keepalive is larger than mqtt.max_keepalive");
  }
}

}  // namespace outpost
