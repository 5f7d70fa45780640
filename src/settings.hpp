// Settings: the whole configuration as plain structs, filled from YAML (settings_yaml.cpp)
// and from the command line (cli.cpp). Read-only once the broker starts, except for the
// fields SIGHUP reloads (logging.level). Every component gets the part it needs through
// its constructor; nothing reads settings through a global.
//
// Everything declared here is a pure function of its arguments: any thread may call it,
// nothing blocks.
#pragma once

#include "config_tree.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace outpost {

enum class ListenerProtocol { mqtt, mqtts, ws, wss, amqp, amqps, http, https };

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
  bool operator==(const TlsSettings&) const = default;
};

// What one client may do: connection rate, publish rate, subscriptions, topic depth,
// client id length. `limits:` at the top level gives the values; a listener's own
// `limits:` overrides some of them for its clients (limits_of).
struct LimitSettings {
  // New connections per second from one source address (IP, port ignored); 0 = unlimited.
  std::uint32_t max_connections_per_second_per_address = 0;
  std::uint32_t max_publish_rate = 0;        // messages per second per client; 0 = unlimited
  std::uint64_t max_publish_bytes_rate = 0;  // bytes per second per client; 0 = unlimited
  // An MQTT 5 client held back by the publish rate this long without a break gets
  // DISCONNECT 0x96 (message rate too high); 0 = never.
  std::chrono::seconds publish_rate_disconnect_after{10};
  std::uint32_t max_subscriptions_per_client = 0;  // MQTT filters / AMQP consumers; 0 = unlimited
  std::uint32_t max_topic_levels = 200;            // levels of a PUBLISH topic or SUBSCRIBE filter
  std::uint32_t max_client_id_length = 256;        // bytes of an MQTT client id
  bool operator==(const LimitSettings&) const = default;
};

// A listener's `limits:`: what it sets replaces the top-level value.
struct LimitOverrides {
  std::optional<std::uint32_t> max_connections_per_second_per_address;
  std::optional<std::uint32_t> max_publish_rate;
  std::optional<std::uint64_t> max_publish_bytes_rate;
  std::optional<std::chrono::seconds> publish_rate_disconnect_after;
  std::optional<std::uint32_t> max_subscriptions_per_client;
  std::optional<std::uint32_t> max_topic_levels;
  std::optional<std::uint32_t> max_client_id_length;
  bool operator==(const LimitOverrides&) const = default;
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
  // This listener's own password and ACL files instead of auth.password_file /
  // auth.acl_file (Mosquitto's per_listener_settings); "" = none on this listener.
  std::optional<std::string> password_file;
  std::optional<std::string> acl_file;
  LimitOverrides limits;  // over Settings::limits
  // http / https only: the paths answered to anyone who can reach the listener. Other
  // paths need a login when the listener has a password file, and are answered only on a
  // loopback address when it has none.
  std::vector<std::string> open_paths = {"/healthz", "/readyz"};
  // http / https only: the users of the listener's password file who may log in (HTTP
  // Basic) to the paths that are not open. Needs a password file.
  std::vector<std::string> admins;
  bool operator==(const ListenerSettings&) const = default;
};

struct MqttSettings {
  std::uint32_t max_packet_size = 1024 * 1024;      // bytes, whole packet; also CONNACK maximum packet size (v5)
  std::uint16_t max_inflight = 65535;               // cap of the QoS 1/2 window towards one client
  std::uint32_t max_queued_messages = 100000;       // per session queue
  std::uint64_t max_queued_bytes = 64ull << 20;     // per session queue
  std::uint16_t max_keepalive = 65535;              // seconds; a larger client value is capped (v5: server keep alive)
  std::uint16_t min_keepalive = 0;                  // seconds; 0 = clients may disable keepalive
  std::uint32_t max_session_expiry = 0xFFFFFFFF;    // seconds, v5 cap
  std::uint16_t topic_alias_maximum = 10;           // v5, inbound aliases accepted per connection
  std::uint16_t receive_maximum = 100;              // v5, inbound QoS 1/2 in flight per client
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

enum class LogFormat { text, json };

struct LoggingSettings {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string file;            // empty = standard error
  // Each client's connection and disconnection at info level (MQTT and AMQP).
  bool connections = true;
  // text: "TIME LEVEL MESSAGE"; json: one JSON object per line (time, level, message, ...).
  LogFormat format = LogFormat::text;
};

// W3C trace context (core/trace_context.hpp): the traceparent user property / AMQP header
// is always carried as it is; with `inject` the broker gives every message without one a
// fresh one as it enters.
struct TracingSettings {
  bool inject = false;
};

// One ACL rule written in the configuration: the same meaning as a line of an acl_file.
struct AclEntrySettings {
  enum class Scope { anonymous, user, pattern };
  Scope scope = Scope::anonymous;
  std::string user;                 // Scope::user
  std::string access = "readwrite"; // read, write, readwrite, deny
  std::string topic;                // a topic filter; %u and %c in patterns
  bool operator==(const AclEntrySettings&) const = default;
};

// What a user may do with AMQP resources, as RabbitMQ's permissions: regular expressions
// (ECMAScript, matched against the whole name) over exchange and queue names. configure:
// declare and delete; write: publish to an exchange, bind a queue (the queue's name);
// read: consume from or purge a queue, bind from an exchange (the exchange's name).
struct PermissionSettings {
  std::string configure = ".*";
  std::string write = ".*";
  std::string read = ".*";
  bool operator==(const PermissionSettings&) const = default;
};

struct AuthSettings {
  std::string password_file;  // mosquitto_passwd format; empty = no password logins
  std::string acl_file;       // Mosquitto acl_file format; empty = no file rules
  std::vector<AclEntrySettings> acl;  // rules in the config, added to the acl_file's
  // AMQP resource permissions per user name ("" = anonymous clients); a user without an
  // entry may use every resource while no user has one.
  std::vector<std::pair<std::string, PermissionSettings>> permissions;
  // Failed logins allowed per source address per minute; beyond it that address's logins
  // are refused without a check until the minute passes (and logged once).
  std::uint32_t max_failed_logins_per_minute = 10;
  // Password checks waiting for a worker; beyond it a login is refused at once.
  std::uint32_t max_pending_checks = 1000;
};

// One plugin instance (plugins/include/outpost/plugin.h).
struct PluginSettings {
  std::string name;     // the instance: logs, $SYS topics, metrics, its stored queues
  std::string library;  // a bare name ("bridge_mqtt": <plugin_dir>/bridge_mqtt.so) or a path to the .so
  std::string user;     // who its publishes are authorized as; empty: the instance name
  ConfigTree config;    // its `config:` section, as written
  std::string position; // where the entry stands, "file:line:column"
};

struct Settings {
  std::string source = "<built-in>";  // the config file path, for messages
  std::vector<ListenerSettings> listeners;
  unsigned threads = 0;  // 0 = number of cores
  MqttSettings mqtt;
  AmqpSettings amqp;
  PersistenceSettings persistence;
  LoggingSettings logging;
  TracingSettings tracing;
  AuthSettings auth;
  LimitSettings limits;
  // Started as root, the broker runs as this user once its listeners and files are open
  // ("" or "root": stays root).
  std::string user = "outpost";
  std::vector<PluginSettings> plugins;
  // Where bare plugin names are looked up; empty: beside the broker's build tree
  // (<binary's directory>/../plugins) and the installed package's directory.
  std::string plugin_dir;
  // How often the $SYS topics are published; 0 = never.
  std::chrono::seconds sys_interval{10};
  // Where the file sets each setting: key as the file spells it ("listeners[0].tls.cert_file",
  // "logging.file") -> "file:line:column". Empty for settings not from a file.
  std::map<std::string, std::string, std::less<>> positions;
  // The settings the command line set over the file ("listeners", "persistence.dir",
  // "persistence.enabled" (off for -p without -c and --data-dir), "threads", "logging.level"): a reload of the file keeps them (keep_command_line).
  std::vector<std::string> from_command_line;

  // The built-in default: MQTT on 127.0.0.1:1883 and AMQP on 127.0.0.1:5672 with anonymous
  // access (loopback only).
  static Settings builtin_default();
};

const char* to_string(ListenerProtocol p);
const char* to_string(SyncMode m);
const char* to_string(LogFormat f);

// Where `key` (or the nearest enclosing setting the file spells out) is set:
// "file:line:column", or the configuration's source when the file does not set it.
std::string position_of(const Settings& settings, std::string_view key);

// A configuration error; the message names the place (file:line:column) and what was expected.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A rule that a Settings value breaks. `key` names the setting as the configuration file
// spells it ("listeners[1].port", "mqtt.min_keepalive", "threads") so that each front end
// can point at its own source: the YAML loader at a line and column, the command line at
// an option.
struct SettingsProblem {
  std::string key;
  std::string message;  // what is wrong and what is expected, without the key
};

// The first rule `settings` breaks, if any. These are the rules both front ends share:
// at least one listener, threads <= 1024, valid listener addresses, TLS kinds with
// cert_file and key_file (and no `tls` on other kinds), one listener per address and
// port (a wildcard address overlaps every address of its family), min_keepalive <=
// max_keepalive, a known log level, a data directory.
std::optional<SettingsProblem> find_problem(const Settings& settings);

// find_problem, thrown as ConfigError("WHERE: KEY: MESSAGE").
void validate(const Settings& settings, const std::string& where);

// An MQTT topic filter: '+' only as a whole level, '#' only as the whole last level.
bool valid_filter(std::string_view filter);

// The password / ACL file that applies on a listener ("" = none).
const std::string& password_file_of(const Settings& settings, const ListenerSettings& listener);
const std::string& acl_file_of(const Settings& settings, const ListenerSettings& listener);

// The limits that apply to a listener's clients: its overrides over the top-level values.
LimitSettings limits_of(const Settings& settings, const ListenerSettings& listener);
// `base` with what `overrides` sets replaced.
LimitSettings with_overrides(LimitSettings base, const LimitOverrides& overrides);

// True for 127.0.0.0/8, ::1 (also IPv4-mapped, also in brackets) and "localhost".
bool is_loopback_address(const std::string& address);

// True for an IPv4 or IPv6 literal (IPv6 may carry a %scope) or a DNS host name.
bool is_valid_address(std::string_view address);

bool is_tls_protocol(ListenerProtocol p);        // mqtts, wss, amqps, https
bool is_http_protocol(ListenerProtocol p);       // http, https
bool is_websocket_protocol(ListenerProtocol p);  // ws, wss
// "mqtt" -> ListenerProtocol::mqtt, ...; nullopt for anything else.
std::optional<ListenerProtocol> listener_protocol_from_string(std::string_view name);
// "mqtt, mqtts, ws, wss, amqp, amqps", for messages.
const char* listener_protocol_names();

// A size in bytes: a plain integer, or an integer with a unit B, KiB, MiB, GiB (powers of
// 1024) or KB, MB, GB (powers of 1000), optionally one space between. nullopt when the
// text is not a size or does not fit in 64 bits.
std::optional<std::uint64_t> parse_size(std::string_view text);

// A duration: a plain integer of seconds, or an integer with a unit ms, s, m or h,
// optionally one space between. nullopt when the text is not a duration or does not fit
// in milliseconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace outpost
