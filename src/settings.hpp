// Settings: the whole configuration as plain structs, filled from YAML (settings_yaml.cpp)
// and from the command line (cli.cpp). Read-only once the broker starts, except for the
// fields SIGHUP reloads (logging.level). Every component gets the part it needs through
// its constructor; nothing reads settings through a global.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace outpost {

enum class ListenerProtocol { mqtt, mqtts, ws, wss, amqp, amqps };

struct TlsSettings {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  std::string crl_file;
  std::string min_version = "1.2";  // "1.2" or "1.3"
  std::string ciphers;              // OpenSSL cipher list for TLS 1.2; empty = OpenSSL default
  std::string ciphersuites;         // TLS 1.3 suites; empty = OpenSSL default
  bool require_client_cert = false;
  bool use_identity_as_username = false;
};

struct ListenerSettings {
  ListenerProtocol protocol = ListenerProtocol::mqtt;
  std::string address = "127.0.0.1";
  std::uint16_t port = 1883;
  std::string path = "/mqtt";               // ws / wss only
  std::vector<std::string> allowed_origins;  // ws / wss only; empty = any
  std::optional<TlsSettings> tls;            // mqtts / wss / amqps
  // Anonymous clients are accepted only where this is true. The built-in default
  // (no config file) allows it on loopback listeners only, as Mosquitto 2 does.
  bool allow_anonymous = false;
  std::uint32_t max_connections = 0;  // 0 = unlimited
};

struct MqttSettings {
  std::uint32_t max_packet_size = 1024 * 1024;      // bytes, whole packet; also CONNACK maximum packet size (v5)
  std::uint16_t max_inflight = 20;                  // QoS 1/2 messages in flight towards one client
  std::uint32_t max_queued_messages = 100000;       // per session queue
  std::uint64_t max_queued_bytes = 64ull << 20;     // per session queue
  std::uint16_t max_keepalive = 65535;              // seconds; a larger client value is capped (v5: server keep alive)
  std::uint16_t min_keepalive = 0;                  // seconds; 0 = clients may disable keepalive
  std::uint32_t max_session_expiry = 0xFFFFFFFF;    // seconds, v5 cap
  std::uint16_t topic_alias_maximum = 10;           // v5, inbound aliases accepted per connection
  std::uint16_t receive_maximum = 65535;            // v5, inbound QoS 1/2 in flight per client
  std::uint8_t maximum_qos = 2;
  bool retain_available = true;
  bool wildcard_subscriptions = true;
  bool shared_subscriptions = true;
  bool subscription_identifiers = true;
  bool publish_will_on_shutdown = false;  // wills of connected clients on SIGINT/SIGTERM
  std::chrono::seconds connect_timeout{10};  // time allowed between TCP accept and CONNECT
};

struct AmqpSettings {
  std::uint16_t channel_max = 2047;
  std::uint32_t frame_max = 131072;
  std::uint16_t heartbeat = 60;                     // seconds, offered in tune
  std::uint64_t max_message_size = 128ull << 20;
};

enum class SyncMode { full, normal, off };

struct PersistenceSettings {
  bool enabled = true;
  std::string dir = "outpost-data";
  SyncMode sync = SyncMode::full;
  std::uint64_t max_bytes = 1ull << 30;
};

struct LoggingSettings {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string file;            // empty = standard error
};

struct Settings {
  std::string source = "<built-in>";  // the config file path, for messages
  std::vector<ListenerSettings> listeners;
  unsigned threads = 0;  // 0 = number of cores
  MqttSettings mqtt;
  AmqpSettings amqp;
  PersistenceSettings persistence;
  LoggingSettings logging;

  // The built-in default: MQTT on 127.0.0.1:1883 with anonymous access (loopback only).
  static Settings builtin_default();
};

const char* to_string(ListenerProtocol p);
const char* to_string(SyncMode m);

// A configuration error; the message names the place (file:line:column) and what was expected.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Rules across fields (TLS kinds need certificates, one listener per address and port, ...).
// `where` prefixes the message. Throws ConfigError.
void validate(const Settings& settings, const std::string& where);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_address(const std::string& address);

}  // namespace outpost
