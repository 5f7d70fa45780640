// outpost: wires settings, the routing core, the protocols and the server together.
// Protocols are registered here, explicitly, one line per listener kind.
#include "amqp/amqp_session.hpp"
#include "amqp/restore.hpp"
#include "amqp/vhost.hpp"
#include "auth/passwd_tool.hpp"
#include "auth/password_authenticator.hpp"
#include "auth/realm.hpp"
#include "auth/realm_access.hpp"
#include "cli.hpp"
#include "config_check.hpp"
#include "core/broker.hpp"
#include "core/restore_router.hpp"
#include "core/shared_groups.hpp"
#include "log.hpp"
#include "mqtt/mqtt_session.hpp"
#include "mqtt/restore.hpp"
#include "http/credentials.hpp"
#include "http/http_session.hpp"
#include "observe/http_api.hpp"
#include "observe/observer.hpp"
#include "observe/sys_publisher.hpp"
#include "plugin/host.hpp"
#include "plugin/library.hpp"
#include "server/server.hpp"
#include "service_notify.hpp"
#include "settings.hpp"
#include "settings_diff.hpp"
#include "settings_yaml.hpp"
#include "store/sqlite_store.hpp"
#include "store_tool.hpp"
#include "store/store.hpp"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <memory>
#include <string_view>
#include <thread>

namespace {

using namespace outpost;

// Detached sessions whose expiry has passed are ended, and delayed wills published, once
// a second.
class ExpirySweep {
 public:
  ExpirySweep(boost::asio::any_io_executor ex, core::Broker& broker) : timer_(ex), broker_(broker) {}
  void start() {
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      // A wait that had already completed when stop() ran comes here without an error.
      if (ec || stopped_) return;
      if (auto n = broker_.expire_sessions(core::Clock::now()); n > 0) {
        spdlog::info("{} expired session(s) removed", n);
      }
      start();
    });
  }
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

 private:
  boost::asio::steady_timer timer_;
  bool stopped_ = false;  // read and written on the timer's thread only
  core::Broker& broker_;
};

// The protocol a listener kind speaks; the transport under it is the server's business.
enum class Family { mqtt, amqp, http };

Family family_of(ListenerProtocol p) {
  if (is_http_protocol(p)) return Family::http;
  return p == ListenerProtocol::amqp || p == ListenerProtocol::amqps ? Family::amqp : Family::mqtt;
}

// Who may connect and what they may do, per listener: the password and ACL files (one
// Realm per distinct pair of files, reloaded on SIGHUP), the ACL rules and AMQP
// permissions of the config, the worker threads that check passwords.
class Security {
 public:
  explicit Security(const Settings& s)
      : settings_(s),
        pool_(2, s.auth.max_pending_checks),
        failures_(s.auth.max_failed_logins_per_minute),
        permissions_(std::make_shared<const auth::PermissionTable>(permission_entries(s))) {
    for (const auto& e : s.auth.acl) rules_.push_back(configured_rule(e));
  }

  // Reads every file a listener uses; throws naming the file when one cannot be read.
  core::ListenerAccess access_for(const ListenerSettings& l) {
    core::ListenerAccess access;
    access.name = fmt::format("{} {}:{}", to_string(l.protocol), l.address, l.port);
    const auto& passwords = password_file_of(settings_, l);
    const auto& acl = acl_file_of(settings_, l);
    auto& realm = realms_[{passwords, acl}];
    if (!realm) {
      realm = std::make_shared<auth::Realm>(passwords, acl, rules_);
      realm->load(true);
    }
    access.authenticator = std::make_shared<auth::PasswordAuthenticator>(realm, l.allow_anonymous, pool_, failures_);
    // No rule at all: no AccessControl, so nothing is checked per message.
    if (!acl.empty() || !rules_.empty() || !permissions_->empty()) {
      access.access = std::make_shared<auth::RealmAccess>(realm, permissions_);
    }
    return access;
  }

  // What plugin publishes are checked against: the global files and rules (null: none).
  std::shared_ptr<const core::AccessControl> global_access() {
    const auto& passwords = settings_.auth.password_file;
    const auto& acl = settings_.auth.acl_file;
    if (acl.empty() && rules_.empty() && permissions_->empty()) return nullptr;
    auto& realm = realms_[{passwords, acl}];
    if (!realm) {
      realm = std::make_shared<auth::Realm>(passwords, acl, rules_);
      realm->load(true);
    }
    return std::make_shared<auth::RealmAccess>(realm, permissions_);
  }

  // SIGHUP, main thread: every realm reads its files again (one that fails keeps its rules).
  void reload() {
    for (auto& [files, realm] : realms_) realm->load(false);
  }

  void stop() { pool_.stop(); }

 private:
  static std::vector<std::pair<std::string, auth::ResourcePermissions>> permission_entries(const Settings& s) {
    std::vector<std::pair<std::string, auth::ResourcePermissions>> out;
    for (const auto& [user, p] : s.auth.permissions) out.emplace_back(user, auth::ResourcePermissions{p.configure, p.write, p.read});
    return out;
  }

  static auth::ConfiguredRule configured_rule(const AclEntrySettings& e) {
    auth::ConfiguredRule r;
    r.scope = e.scope == AclEntrySettings::Scope::user      ? auth::ConfiguredRule::Scope::user
              : e.scope == AclEntrySettings::Scope::pattern ? auth::ConfiguredRule::Scope::pattern
                                                            : auth::ConfiguredRule::Scope::anonymous;
    r.user = e.user;
    r.rule.access = e.access == "read"    ? auth::AclAccess::read
                    : e.access == "write" ? auth::AclAccess::write
                    : e.access == "deny"  ? auth::AclAccess::deny
                                          : auth::AclAccess::readwrite;
    r.rule.filter = e.topic;
    r.rule.pattern = e.scope == AclEntrySettings::Scope::pattern;
    return r;
  }

  const Settings& settings_;
  auth::CheckPool pool_;
  auth::FailedLogins failures_;
  std::shared_ptr<const auth::PermissionTable> permissions_;
  std::vector<auth::ConfiguredRule> rules_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<auth::Realm>> realms_;
};

// What an http listener answers to whom: its open paths to anyone. The rest: with a
// password file, to the listener's admins who log in with HTTP Basic (checked by the same
// authenticator as the MQTT and AMQP listeners: on the check threads, failed logins
// counted and rate limited); without one, to anyone on a loopback listener, nobody else.
std::shared_ptr<http::Handler> http_api_for(const ListenerSettings& l, const Settings& settings, Security& security,
                                            observe::Observer& observer, core::Broker& broker, const amqp::Vhost& vhost,
                                            std::vector<observe::ReadinessCheck> checks) {
  using Api = observe::HttpApi;
  const bool login = !password_file_of(settings, l).empty();
  const bool local = is_loopback_address(l.address) && !login;
  std::shared_ptr<const core::Authenticator> authenticator;
  if (login) authenticator = security.access_for(l).authenticator;
  const std::string listener = fmt::format("{} {}:{}", to_string(l.protocol), l.address, l.port);
  Api::Gate gate = [open = l.open_paths, admins = l.admins, local, authenticator, listener](
                       const http::Request& r, std::function<void(Api::GateAnswer)> answer) {
    // `who` names the asker in the log: a user who logged in, else the address.
    const std::string anonymous = "a request without login from " + r.remote_address;
    if (local || std::find(open.begin(), open.end(), r.path) != open.end()) {
      answer({Api::Verdict::allow, anonymous});
      return;
    }
    if (!authenticator) {
      answer({Api::Verdict::closed, anonymous});
      return;
    }
    auto credentials = http::parse_basic_authorization(r.authorization);
    if (!credentials) {
      answer({Api::Verdict::unauthorized, anonymous});
      return;
    }
    core::AuthRequest request;
    request.protocol = core::Protocol::broker;
    request.listener = listener;
    request.remote_address = r.remote_address;
    request.client_id = "http";
    request.user = credentials->user;
    request.password = credentials->password;
    authenticator->authenticate(
        std::move(request), r.executor,
        [admins, user = credentials->user, address = r.remote_address, answer = std::move(answer)](core::AuthDecision d) {
          if (d.status != core::AuthStatus::accepted || d.user.empty()) {
            answer({Api::Verdict::unauthorized, address});
            return;
          }
          const bool admin = std::find(admins.begin(), admins.end(), d.user) != admins.end();
          answer({admin ? Api::Verdict::allow : Api::Verdict::not_admin,
                  fmt::format("{} '{}' from {}", admin ? "admin" : "user", d.user, address)});
        });
  };
  Api::QueueList queues = [&vhost] {
    std::vector<observe::QueueSample> out;
    for (auto& q : vhost.queue_infos()) {
      out.push_back({q.name, q.durable, q.stats.messages, q.stats.bytes, q.consumers, q.stats.dropped});
    }
    return out;
  };
  return std::make_shared<Api>(observer, broker.clients(), std::move(queues), std::move(checks), std::move(gate));
}

// The readiness conditions of /readyz: the listeners accept, the store's commits get
// through, and no bridge has been away from its remote for over a minute.
std::vector<observe::ReadinessCheck> readiness_checks(const std::atomic<bool>& serving, store::Store& store,
                                                      const plugin::Host& plugins) {
  std::vector<observe::ReadinessCheck> checks;
  checks.push_back({"listeners", [&serving] { return serving.load() ? std::string() : std::string("not open yet"); }});
  checks.push_back({"store", [&store] {
                      return store.stats().failing ? std::string("commits are failing (see the log)") : std::string();
                    }});
  struct Outage {
    std::mutex mutex;
    std::map<std::string, std::chrono::steady_clock::time_point> since;
  };
  auto outage = std::make_shared<Outage>();
  checks.push_back({"bridges", [&plugins, outage] {
                      constexpr auto kBudget = std::chrono::seconds(60);
                      const auto now = std::chrono::steady_clock::now();
                      std::string problem;
                      std::lock_guard lock(outage->mutex);
                      for (const auto& instance : plugins.instances()) {
                        for (const auto& c : instance->counters()) {
                          if (c.name != "bridge_connected") continue;
                          if (c.value.load(std::memory_order_relaxed) != 0) {
                            outage->since.erase(instance->name());
                            continue;
                          }
                          auto [it, added] = outage->since.emplace(instance->name(), now);
                          if (now - it->second >= kBudget) {
                            problem += fmt::format("{}{} disconnected for {} s", problem.empty() ? "" : "; ",
                                                   instance->name(),
                                                   std::chrono::duration_cast<std::chrono::seconds>(now - it->second).count());
                          }
                        }
                      }
                      return problem;
                    }});
  return checks;
}

// The observer's view of what lives above the core: listeners, AMQP queues, plugin metrics.
void add_collectors(observe::Observer& observer, const server::Server& server, const amqp::Vhost& vhost,
                    const plugin::Host& plugins) {
  observer.add([&server](observe::Snapshot& s) {
    for (const auto& l : server.listener_stats()) {
      observe::ListenerSample sample;
      sample.protocol = to_string(l.settings->protocol);
      sample.address = l.settings->address;
      sample.port = l.port;
      sample.connections = l.connections;
      sample.received_bytes = l.traffic.received;
      sample.sent_bytes = l.traffic.sent;
      if (!is_http_protocol(l.settings->protocol)) s.clients_connected += l.connections;
      s.listeners.push_back(std::move(sample));
    }
  });
  observer.add([&vhost](observe::Snapshot& s) {
    for (auto& q : vhost.queue_infos()) {
      s.amqp_queues.push_back({q.name, q.durable, q.stats.messages, q.stats.bytes, q.consumers, q.stats.dropped});
    }
  });
  observer.add([&plugins](observe::Snapshot& s) {
    for (const auto& instance : plugins.instances()) {
      for (const auto& c : instance->counters()) {
        s.plugin_metrics.push_back({instance->name(), c.name, c.help, c.kind == OUTPOST_GAUGE,
                                    c.value.load(std::memory_order_relaxed)});
      }
    }
  });
}

// One line per protocol: every transport of a protocol shares its session factory.
proto::SessionFactory factory_for(const ListenerSettings& l, core::Broker& broker, const Settings& settings,
                                  amqp::Vhost& vhost, Security& security, const plugin::Host& plugins,
                                  std::shared_ptr<http::Handler> http_api) {
  switch (family_of(l.protocol)) {
    case Family::mqtt:
      return mqtt::make_session_factory(broker, settings.mqtt, limits_of(settings, l),
                                        plugins.wrap(security.access_for(l)), nullptr, settings.logging.connections);
    case Family::amqp:
      return amqp::make_session_factory(vhost, settings.amqp, limits_of(settings, l),
                                        plugins.wrap(security.access_for(l)), settings.logging.connections);
    case Family::http:
      return http::make_session_factory(std::move(http_api));
  }
  throw std::runtime_error(std::string("listener kind '") + to_string(l.protocol) + "' is not supported yet");
}

// The store as the start line names it; a throwaway broker says why it keeps nothing.
std::string store_description(const store::Store& store, const Settings& settings) {
  const auto& set = settings.from_command_line;
  if (std::find(set.begin(), set.end(), "persistence.enabled") != set.end() && !settings.persistence.enabled) {
    return store.describe() + ": a throwaway broker (listeners from the command line without -c or --data-dir); "
                              "add --data-dir DIR to keep state";
  }
  return store.describe();
}

std::unique_ptr<store::Store> open_store(const PersistenceSettings& p) {
  if (!p.enabled) return std::make_unique<store::MemoryStore>();
  store::SqliteStore::Options o;
  o.dir = p.dir;
  o.max_bytes = p.max_bytes;
  o.sync = p.sync == SyncMode::full     ? store::SqliteStore::Options::Sync::full
           : p.sync == SyncMode::normal ? store::SqliteStore::Options::Sync::normal
                                        : store::SqliteStore::Options::Sync::off;
  return std::make_unique<store::SqliteStore>(o);
}

// Everything the store kept, back in the broker before any listener opens.
void restore(store::Store& store, core::Broker& broker, const Settings& settings, amqp::Vhost& vhost,
             plugin::Host& plugins) {
  const auto start = std::chrono::steady_clock::now();
  mqtt::SessionRestorer mqtt_restorer(broker, settings.mqtt);
  amqp::AmqpRestorer amqp_restorer(vhost);
  // Who takes back what the store kept: one line per owner and prefix.
  core::RestoreRouter router;
  router.add_queue_owner(mqtt::kStoreQueuePrefix, mqtt_restorer);
  router.add_queue_owner(core::SharedGroups::kStorePrefix, mqtt_restorer);
  router.set_session_owner(mqtt_restorer);
  router.set_retained_owner(mqtt_restorer);
  router.add_queue_owner(amqp::kStoreQueuePrefix, amqp_restorer);
  router.add_definition_owner(amqp::kDefinitionKindPrefix, amqp_restorer);
  plugins.register_restore(router);  // "plugin:<instance>:..." queues and key-value pairs
  store.restore(router);
  const auto routed = router.finish();
  const auto amqp_counts = amqp_restorer.finish();
  const auto n = mqtt_restorer.finish();
  if (amqp_counts.queues > 0) {
    const auto& a = amqp_counts;
    spdlog::info("restored {} durable AMQP queue(s) holding {} message(s){}", a.queues, a.messages,
                 a.skipped ? fmt::format("; {} message(s) of queues not restored skipped", a.skipped) : std::string());
  }
  if (!store.persistent()) return;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  const auto skipped = n.skipped + routed.skipped;
  spdlog::info("restored in {} ms: {} session(s) ({} expired while stopped), {} subscription(s), {} queued and {} "
               "in-flight message(s), {} retained message(s){}{}",
               ms.count(), n.sessions, n.expired_sessions, n.subscriptions, n.queued, n.in_flight, n.retained,
               skipped ? fmt::format("; {} damaged record(s) skipped", skipped) : std::string(),
               routed.unowned ? fmt::format("; {} record(s) without an owner left in the store", routed.unowned)
                              : std::string());
}

// Every connection holds a file descriptor. A shell's default soft limit (often 1024)
// would refuse the thousandth device while the hard limit allows far more, so the soft
// limit is raised to the hard one; the systemd unit sets the hard limit (LimitNOFILE).
// Returns the limit in effect.
rlim_t raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    const rlim_t was = r.rlim_cur;
    r.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) != 0) {
      spdlog::warn("could not raise the open-file limit from {} to {}", was, r.rlim_max);
      r.rlim_cur = was;
    }
  }
  if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < 4096) {
    spdlog::warn("open-file limit is {}: fewer than {} connections can be held (raise LimitNOFILE / ulimit -n)",
                 r.rlim_cur, r.rlim_cur);
  }
  return r.rlim_cur;
}

// Started as root, the broker gives root up once its listeners and files are open, as
// Mosquitto does: it becomes `user` (settings `user`, "outpost" by default), and the data
// directory it keeps writing to becomes that user's.
void drop_privileges(const Settings& settings) {
  if (geteuid() != 0) return;
  const std::string& name = settings.user;
  if (name.empty() || name == "root") {
    spdlog::warn("running as root (user: {}): a broker reachable from the network should run as its own user",
                 name.empty() ? "\"\"" : name);
    return;
  }
  errno = 0;
  const passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) {
    spdlog::warn("running as root: the user '{}' to run as does not exist (create it, or set `user:` in the "
                 "configuration)", name);
    return;
  }
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  if (settings.persistence.enabled) {
    std::error_code ec;
    const std::filesystem::path dir(settings.persistence.dir);
    auto own = [&](const std::filesystem::path& p) {
      if (::chown(p.c_str(), uid, gid) != 0) {
        spdlog::warn("could not give {} to user '{}': {}", p.string(), name, std::strerror(errno));
      }
    };
    own(dir);
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) own(entry.path());
  }
  if (!settings.logging.file.empty() && ::chown(settings.logging.file.c_str(), uid, gid) != 0) {
    spdlog::warn("could not give {} to user '{}': {}", settings.logging.file, name, std::strerror(errno));
  }
  if (initgroups(name.c_str(), gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
    throw std::runtime_error(fmt::format("cannot run as user '{}': {}", name, std::strerror(errno)));
  }
  if (setuid(0) == 0) throw std::runtime_error("root privileges could not be given up");
  spdlog::info("running as user '{}' (uid {}, gid {})", name, uid, gid);
}

// The plugins of the configuration, their libraries found (plugin_dir) and opened.
std::vector<plugin::Spec> plugin_specs(const Settings& settings) {
  std::vector<plugin::Spec> out;
  const auto dirs = plugin::plugin_dirs(settings.plugin_dir);
  for (const auto& p : settings.plugins) {
    plugin::Spec spec;
    spec.name = p.name;
    try {
      spec.library = plugin::resolve_library(p.library, dirs);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{}: plugin '{}': {}", p.position, p.name, e.what()));
    }
    spec.user = p.user;
    spec.config = std::make_shared<const ConfigTree>(p.config);
    spec.data_dir = settings.persistence.enabled ? settings.persistence.dir : std::string();
    out.push_back(std::move(spec));
  }
  return out;
}

// A listener nobody can log in to is a configuration error. With plugins, whether one of
// them authenticates is known only once they are initialised.
void check_listeners_accept(const Settings& settings, const plugin::Host& plugins) {
  if (plugins.authenticates()) return;
  for (const auto& l : settings.listeners) {
    if (is_http_protocol(l.protocol)) continue;  // not a client listener
    const bool certificate_users = l.tls && l.tls->use_identity_as_username;
    if (!l.allow_anonymous && password_file_of(settings, l).empty() && !certificate_users) {
      throw std::runtime_error(fmt::format(
          "the {} listener on {} port {} would accept no client: anonymous access is off, there is no password file "
          "nor client certificate identity, and no plugin authenticates clients",
          to_string(l.protocol), l.address, l.port));
    }
  }
}

// --check-config: every plugin is found, loaded and initialised with its section (on a
// broker that keeps nothing and opens no listener), then stopped; "" when all went well.
std::string check_plugins(const Settings& settings) {
  if (settings.plugins.empty()) return {};
  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::warn);
  std::string problem;
  try {
    store::MemoryStore store;
    core::Broker broker(store);
    plugin::Host plugins(broker);
    plugins.load(plugin_specs(settings));
    plugins.init();
    check_listeners_accept(settings, plugins);
    plugins.stop();
  } catch (const std::exception& e) {
    problem = e.what();
  }
  spdlog::set_level(level);
  return problem;
}

log::Format log_format(const Settings& settings) {
  return settings.logging.format == LogFormat::json ? log::Format::json : log::Format::text;
}

// SIGHUP: what changed in the file, named setting by setting, and what of it was applied.
// `running` follows what is applied, so each reload compares with what is in force.
void report_reload(Settings& running, const Settings& fresh) {
  const auto changes = diff_settings(running, fresh);
  if (changes.empty()) spdlog::info("reload: no setting changed in {}", fresh.source);
  for (const auto& c : changes) {
    if (c.applied) {
      spdlog::info("reload: {}", c.describe());
    } else {
      spdlog::warn("reload: {}: needs a restart, not applied", c.describe());
    }
  }
  running.logging.level = fresh.logging.level;
  for (auto& p : running.plugins) {
    for (const auto& q : fresh.plugins) {
      if (q.name == p.name && q.library == p.library && q.user == p.user) p.config = q.config;
    }
  }
}

int run(const Settings& settings) {
  try {
    log::setup(settings.logging.level, settings.logging.file, log_format(settings));
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: logging.file: {}", position_of(settings, "logging.file"), e.what()));
  }
  const rlim_t fd_limit = raise_fd_limit();
  const unsigned threads = settings.threads != 0 ? settings.threads : std::max(1u, std::thread::hardware_concurrency());

  auto store_ptr = open_store(settings.persistence);
  store::Store& store = *store_ptr;
  core::Broker broker(store);
  broker.set_trace_inject(settings.tracing.inject);
  amqp::Vhost vhost(broker, settings.amqp);
  plugin::Host plugins(broker);
  plugins.load(plugin_specs(settings));
  restore(store, broker, settings, vhost, plugins);
  Security security(settings);
  plugins.init();
  plugins.attach(security.global_access());
  check_listeners_accept(settings, plugins);
  server::Server server(threads);
  observe::Observer observer(broker, OUTPOST_VERSION, settings.persistence.enabled ? settings.persistence.max_bytes : 0);
  add_collectors(observer, server, vhost, plugins);
  std::atomic<bool> serving{false};
  for (const auto& l : settings.listeners) {
    // The read buffer never needs to hold more than one packet of the protocol's maximum.
    server::ConnectionLimits limits;
    std::shared_ptr<http::Handler> http_api;
    switch (family_of(l.protocol)) {
      case Family::mqtt:
        limits.max_read_buffer = std::size_t{settings.mqtt.max_packet_size} + 16;
        // A client gets as long for its TLS handshake and WebSocket upgrade as for CONNECT.
        limits.handshake_timeout = settings.mqtt.connect_timeout;
        break;
      case Family::amqp:
        limits.max_read_buffer = std::size_t{settings.amqp.frame_max} + 16;
        limits.handshake_timeout = settings.mqtt.connect_timeout;  // TLS handshake of amqps
        break;
      case Family::http:
        limits.max_read_buffer = 128 * 1024;  // the session's header and body limits come first
        limits.handshake_timeout = std::chrono::seconds(10);
        http_api = http_api_for(l, settings, security, observer, broker, vhost, readiness_checks(serving, store, plugins));
        break;
    }
    limits.max_connections_per_second_per_address = limits_of(settings, l).max_connections_per_second_per_address;
    server.add_listener(l, factory_for(l, broker, settings, vhost, security, plugins, std::move(http_api)), limits);
  }
  drop_privileges(settings);
  server.start();
  plugins.start();
  serving = true;
  spdlog::info("outpost {} running with {} I/O thread(s); store: {}; open-file limit {}", OUTPOST_VERSION, threads,
               store_description(store, settings), fd_limit == RLIM_INFINITY ? std::string("unlimited") : std::to_string(fd_limit));
  service::notify_ready(fmt::format("{} listener(s), {} I/O thread(s)", settings.listeners.size(), threads));

  ExpirySweep sweep(server.executor(0), broker);
  boost::asio::post(server.executor(0), [&sweep] { sweep.start(); });
  // AMQP: message TTL, x-expires and dead-lettering of evicted messages, on I/O thread 0.
  boost::asio::post(server.executor(0), [&vhost, &server] { vhost.start(server.executor(0)); });
  // $SYS topics, on I/O thread 0.
  std::optional<observe::SysPublisher> sys;
  if (settings.sys_interval.count() > 0) {
    sys.emplace(observer, broker, std::chrono::duration_cast<std::chrono::milliseconds>(settings.sys_interval));
    boost::asio::post(server.executor(0), [&sys, &server] { sys->start(server.executor(0)); });
  }

  Settings running = settings;  // what SIGHUP compares a reloaded file with
  server.run_until_signal([&settings, &running, &server, &security, &plugins] {
    // SIGHUP: new TLS certificates and keys (renewed in place), the password and ACL files
    // (connected clients are checked again on their threads), then the config file.
    service::ReloadScope reloading;  // systemd: RELOADING=1 now, READY=1 when done
    log::reopen();                   // logrotate moved the log file away
    server.reload_tls();
    security.reload();
    server.notify_access_changed();
    if (settings.source == "<built-in>" || settings.source.empty()) {
      spdlog::info("SIGHUP: no configuration file to reload");
      return;
    }
    try {
      Settings fresh = load_settings_file(settings.source);
      keep_command_line(settings, fresh);
      std::map<std::string, std::shared_ptr<const ConfigTree>> sections;
      for (const auto& p : fresh.plugins) sections.emplace(p.name, std::make_shared<const ConfigTree>(p.config));
      plugins.reload(sections);
      if (log::set_level(fresh.logging.level)) {
        spdlog::info("SIGHUP: configuration reloaded from {}; log level {}", settings.source, fresh.logging.level);
      }
      report_reload(running, fresh);
    } catch (const std::exception& e) {
      spdlog::error("SIGHUP: configuration not reloaded: {}", e.what());
      plugins.reload({});  // each plugin gets the section it runs with
    }
  });
  service::notify_stopping();
  spdlog::info("shutting down");
  boost::asio::post(server.executor(0), [&sweep] { sweep.stop(); });
  boost::asio::post(server.executor(0), [&vhost] { vhost.stop(); });
  if (sys) boost::asio::post(server.executor(0), [&sys] { sys->stop(); });
  server.shutdown(std::chrono::milliseconds(2000));
  // No client is left: the plugins stop (their threads, then their cleanup).
  plugins.stop();
  security.stop();
  vhost.stop();  // the I/O threads are gone; its timer must not outlive their contexts
  if (sys) sys->stop();
  // Every connection is gone: nothing writes any more. What is queued is committed.
  store.close();
  if (store.persistent()) {
    const auto st = store.stats();
    spdlog::info("store: {} commits, {} writes, {} more cancelled before reaching the disk", st.commits,
                 st.operations, st.coalesced);
  }
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // `outpost passwd ...` edits a password file and never starts the broker.
  if (argc >= 2 && std::string_view(argv[1]) == "passwd") {
    return outpost::auth::passwd_main(argc - 1, argv + 1, std::cin, std::cout, std::cerr);
  }
  // `outpost store check|recover ...` looks at the store without starting the broker.
  if (argc >= 2 && std::string_view(argv[1]) == "store") {
    return outpost::store_main(argc - 1, argv + 1, std::cout, std::cerr);
  }
  auto parsed = outpost::parse_and_resolve(argc, argv);
  if (auto* exit_now = std::get_if<outpost::ExitNow>(&parsed)) {
    if (exit_now->checked) {
      // --check-config: every file the configuration names must open and read, every plugin
      // library must load, and each plugin must accept its section.
      const auto& checked = *exit_now->checked;
      auto problems = check_named_files(checked);
      auto libraries = check_plugin_libraries(checked);
      if (!libraries.empty()) {
        problems.insert(problems.end(), libraries.begin(), libraries.end());
      } else if (auto p = check_plugins(checked); !p.empty()) {
        problems.push_back(std::move(p));
      }
      if (!problems.empty()) {
        for (const auto& p : problems) std::cerr << "outpost: " << p << '\n';
        return 1;
      }
    }
    auto& stream = exit_now->code == 0 ? std::cout : std::cerr;
    stream << exit_now->text;
    if (!exit_now->text.empty() && exit_now->text.back() != '\n') stream << '\n';
    return exit_now->code;
  }
  try {
    return run(std::get<outpost::Settings>(parsed));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "outpost: %s\n", e.what());
    return 1;
  }
}
