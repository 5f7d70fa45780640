#include "settings_diff.hpp"

#include "log.hpp"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <type_traits>

namespace outpost {

namespace {

std::string show(bool v) { return v ? "true" : "false"; }
std::string show(const std::string& v) { return v.empty() ? "\"\"" : v; }
std::string show(std::chrono::seconds v) { return fmt::format("{}s", v.count()); }
std::string show(SyncMode v) { return to_string(v); }
std::string show(LogFormat v) { return to_string(v); }
template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
std::string show(T v) {
  return fmt::format("{}", static_cast<std::uint64_t>(v));
}

struct Bytes {
  std::uint64_t n;
  bool operator==(const Bytes&) const = default;
};
std::string show(Bytes v) { return log::readable_bytes(v.n); }

// Equal as written, wherever they stand in the file.
bool same_tree(const ConfigTree& a, const ConfigTree& b) {
  if (a.kind != b.kind || a.scalar != b.scalar || a.keys != b.keys || a.values.size() != b.values.size()) return false;
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    if (!same_tree(a.values[i], b.values[i])) return false;
  }
  return true;
}

class Differ {
 public:
  std::vector<SettingChange> out;

  template <class T>
  void value(std::string key, const T& a, const T& b, bool applied = false) {
    if (a == b) return;
    out.push_back(SettingChange{std::move(key), show(a), show(b), applied});
  }
  void changed(std::string key, bool applied = false) { out.push_back(SettingChange{std::move(key), "", "", applied}); }
};

}  // namespace

std::string SettingChange::describe() const {
  if (before.empty() && after.empty()) return key + " changed";
  return fmt::format("{} {} -> {}", key, before, after);
}

std::vector<SettingChange> diff_settings(const Settings& a, const Settings& b) {
  Differ d;
  d.value("threads", a.threads, b.threads);
  if (a.listeners != b.listeners) d.changed("listeners");

  const auto& m = a.mqtt;
  const auto& n = b.mqtt;
  d.value("mqtt.max_packet_size", Bytes{m.max_packet_size}, Bytes{n.max_packet_size});
  d.value("mqtt.max_inflight", m.max_inflight, n.max_inflight);
  d.value("mqtt.max_queued_messages", m.max_queued_messages, n.max_queued_messages);
  d.value("mqtt.max_queued_bytes", Bytes{m.max_queued_bytes}, Bytes{n.max_queued_bytes});
  d.value("mqtt.max_keepalive", m.max_keepalive, n.max_keepalive);
  d.value("mqtt.min_keepalive", m.min_keepalive, n.min_keepalive);
  d.value("mqtt.max_session_expiry", m.max_session_expiry, n.max_session_expiry);
  d.value("mqtt.topic_alias_maximum", m.topic_alias_maximum, n.topic_alias_maximum);
  d.value("mqtt.receive_maximum", m.receive_maximum, n.receive_maximum);
  d.value("mqtt.maximum_qos", m.maximum_qos, n.maximum_qos);
  d.value("mqtt.retain_available", m.retain_available, n.retain_available);
  d.value("mqtt.wildcard_subscriptions", m.wildcard_subscriptions, n.wildcard_subscriptions);
  d.value("mqtt.shared_subscriptions", m.shared_subscriptions, n.shared_subscriptions);
  d.value("mqtt.subscription_identifiers", m.subscription_identifiers, n.subscription_identifiers);
  d.value("mqtt.publish_will_on_shutdown", m.publish_will_on_shutdown, n.publish_will_on_shutdown);
  d.value("mqtt.connect_timeout", m.connect_timeout, n.connect_timeout);

  d.value("amqp.channel_max", a.amqp.channel_max, b.amqp.channel_max);
  d.value("amqp.frame_max", Bytes{a.amqp.frame_max}, Bytes{b.amqp.frame_max});
  d.value("amqp.heartbeat", a.amqp.heartbeat, b.amqp.heartbeat);
  d.value("amqp.max_message_size", Bytes{a.amqp.max_message_size}, Bytes{b.amqp.max_message_size});

  d.value("persistence.enabled", a.persistence.enabled, b.persistence.enabled);
  d.value("persistence.dir", a.persistence.dir, b.persistence.dir);
  d.value("persistence.sync", a.persistence.sync, b.persistence.sync);
  d.value("persistence.max_bytes", Bytes{a.persistence.max_bytes}, Bytes{b.persistence.max_bytes});

  d.value("logging.level", a.logging.level, b.logging.level, true);
  d.value("logging.file", a.logging.file, b.logging.file);
  d.value("logging.connections", a.logging.connections, b.logging.connections);
  d.value("logging.format", a.logging.format, b.logging.format);

  d.value("auth.password_file", a.auth.password_file, b.auth.password_file);
  d.value("auth.acl_file", a.auth.acl_file, b.auth.acl_file);
  if (a.auth.acl != b.auth.acl) d.changed("auth.acl");
  if (a.auth.permissions != b.auth.permissions) d.changed("auth.permissions");
  d.value("auth.max_failed_logins_per_minute", a.auth.max_failed_logins_per_minute,
          b.auth.max_failed_logins_per_minute);
  d.value("auth.max_pending_checks", a.auth.max_pending_checks, b.auth.max_pending_checks);

  const auto& l = a.limits;
  const auto& k = b.limits;
  d.value("limits.max_connections_per_second_per_address", l.max_connections_per_second_per_address,
          k.max_connections_per_second_per_address);
  d.value("limits.max_publish_rate", l.max_publish_rate, k.max_publish_rate);
  d.value("limits.max_publish_bytes_rate", Bytes{l.max_publish_bytes_rate}, Bytes{k.max_publish_bytes_rate});
  d.value("limits.publish_rate_disconnect_after", l.publish_rate_disconnect_after, k.publish_rate_disconnect_after);
  d.value("limits.max_subscriptions_per_client", l.max_subscriptions_per_client, k.max_subscriptions_per_client);
  d.value("limits.max_topic_levels", l.max_topic_levels, k.max_topic_levels);
  d.value("limits.max_client_id_length", l.max_client_id_length, k.max_client_id_length);

  d.value("user", a.user, b.user);

  // Plugins by instance name: a section that changed is handed to the running instance;
  // an instance added, removed or given another library or user needs a restart.
  std::map<std::string, const PluginSettings*> before;
  for (const auto& p : a.plugins) before.emplace(p.name, &p);
  bool restart = a.plugins.size() != b.plugins.size();
  for (const auto& p : b.plugins) {
    auto it = before.find(p.name);
    if (it == before.end() || it->second->library != p.library || it->second->user != p.user) {
      restart = true;
      continue;
    }
    if (!same_tree(it->second->config, p.config)) d.changed(fmt::format("plugins[{}].config", p.name), true);
  }
  if (restart) d.changed("plugins");
  d.value("plugin_dir", a.plugin_dir, b.plugin_dir);
  d.value("sys_interval", static_cast<std::uint64_t>(a.sys_interval.count()),
          static_cast<std::uint64_t>(b.sys_interval.count()));
  return d.out;
}

void keep_command_line(const Settings& running, Settings& fresh) {
  for (const auto& key : running.from_command_line) {
    if (key == "listeners") fresh.listeners = running.listeners;
    if (key == "persistence.dir") fresh.persistence.dir = running.persistence.dir;
    if (key == "persistence.enabled") fresh.persistence.enabled = running.persistence.enabled;
    if (key == "threads") fresh.threads = running.threads;
    if (key == "logging.level") fresh.logging.level = running.logging.level;
  }
  fresh.from_command_line = running.from_command_line;
}

}  // namespace outpost
