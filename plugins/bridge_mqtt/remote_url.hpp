// The remote broker's address as configured: mqtt://, mqtts://, ws://, wss://. Pure, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::bridge {

struct RemoteUrl {
  std::string scheme;  // "mqtt", "mqtts", "ws", "wss"
  std::string host;    // without brackets for IPv6
  uint16_t port = 0;   // the scheme's default when the URL has none
  std::string path;    // WebSocket only: "/mqtt" when the URL has none
  bool tls = false;
  bool websocket = false;

  // The same address in the form Paho's C library takes: tcp://, ssl://, ws://, wss://.
  std::string paho_uri() const;
};

// nullopt with `error` set (what is wrong, what is expected) if `text` is not such a URL.
std::optional<RemoteUrl> parse_remote_url(std::string_view text, std::string &error);

}  // namespace outpost::bridge
