// The bridge's `config:` section, read from the broker's node tree (outpost_api node_*
// functions) and validated at init. Main thread; the result is immutable afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <outpost/plugin.h>

#include "remote_url.hpp"
#include "topic_map.hpp"

namespace outpost::bridge {

struct TlsConfig {
  bool enabled = false;   // the scheme is mqtts:// or wss://
  std::string ca_file;    // empty: the system's trust store
  std::string cert_file;  // client certificate (mutual TLS), PEM
  std::string key_file;   // its private key, PEM
  std::string key_password;
  std::vector<std::string> alpn;
  bool insecure = false;  // do not verify the remote's certificate (tests only)
};

struct Config {
  RemoteUrl remote;
  std::string client_id;
  int protocol_version = 5;  // 5, or 4 for 3.1.1
  bool clean_start = false;
  std::chrono::seconds keepalive{30};
  std::optional<std::string> username;
  std::optional<std::string> password;
  TlsConfig tls;
  std::chrono::milliseconds min_delay{1000};
  std::chrono::milliseconds max_delay{120000};
  std::chrono::milliseconds connect_timeout{10000};
  std::vector<TopicRule> topics;
  uint64_t queue_max_bytes = 0;  // 0: the broker's default for queues
  uint64_t queue_max_messages = 0;
  outpost_overflow on_full = OUTPOST_OVERFLOW_REFUSE;
  uint32_t max_inflight = 0;  // 0: 1000 for MQTT 5 (capped by the remote's Receive Maximum), 100 for 3.1.1
};

struct ConfigError {
  const outpost_node *node;  // where (the host prefixes its file:line:column); may be null
  std::string message;       // what is wrong and what is expected
};

// Reads and validates; `instance` names the default client id. On error returns nullopt
// and fills `error`.
std::optional<Config> parse_config(const outpost_api *api, const outpost_node *node, const std::string &instance,
                                   ConfigError &error);

}  // namespace outpost::bridge
