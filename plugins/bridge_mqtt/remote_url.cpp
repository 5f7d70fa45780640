#include "remote_url.hpp"

#include <charconv>

namespace outpost::bridge {

std::string RemoteUrl::paho_uri() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string scheme_out = websocket ? (tls ? "wss" : "ws") : (tls ? "ssl" : "tcp");
  std::string uri = scheme_out + "://" + h + ":" + std::to_string(port);
  if (websocket) uri += path;
  return uri;
}

std::optional<RemoteUrl> parse_remote_url(std::string_view text, std::string &error) {
  const auto expected = " (expected mqtt://host[:port], mqtts://, ws://host[:port][/path] or wss://)";
  RemoteUrl url;
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    error = "remote '" + std::string(text) + "' has no scheme" + expected;
    return std::nullopt;
  }
  url.scheme = std::string(text.substr(0, sep));
  if (url.scheme == "mqtt") {
    url.port = 1883;
  } else if (url.scheme == "mqtts") {
    url.port = 8883, url.tls = true;
  } else if (url.scheme == "ws") {
    url.port = 80, url.websocket = true;
  } else if (url.scheme == "wss") {
    url.port = 443, url.websocket = url.tls = true;
  } else {
    error = "remote scheme '" + url.scheme + "' is not supported" + expected;
    return std::nullopt;
  }
  std::string_view rest = text.substr(sep + 3);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    if (!url.websocket && rest.substr(slash) != "/") {
      error = "remote '" + std::string(text) + "' has a path, which only ws:// and wss:// take" + expected;
      return std::nullopt;
    }
    url.path = std::string(rest.substr(slash));
  }
  if (url.websocket && (url.path.empty() || url.path == "/")) url.path = url.path.empty() ? "/mqtt" : "/";
  if (!url.websocket) url.path.clear();
  if (authority.find('@') != std::string_view::npos) {
    error = "remote '" + std::string(text) + "' holds credentials: use username and password instead";
    return std::nullopt;
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "remote '" + std::string(text) + "' has an unclosed '['" + expected;
      return std::nullopt;
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "remote '" + std::string(text) + "' has text after ']'" + expected;
        return std::nullopt;
      }
      port_text = after.substr(1);
      if (port_text.empty()) port_text = "x";
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) port_text = "x";
    }
  }
  if (url.host.empty()) {
    error = "remote '" + std::string(text) + "' has no host" + expected;
    return std::nullopt;
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      error = "remote '" + std::string(text) + "' has an invalid port (expected 1-65535)";
      return std::nullopt;
    }
    url.port = static_cast<uint16_t>(value);
  }
  return url;
}

}  // namespace outpost::bridge
