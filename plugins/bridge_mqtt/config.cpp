#include "config.hpp"

#include <fstream>
#include <initializer_list>
#include <stdexcept>
#include <string_view>

#include "units.hpp"

namespace outpost::bridge {
namespace {

// Thrown inside the parser only; parse_config turns it into a ConfigError.
struct Bad {
  const outpost_node *node;
  std::string message;
};

class Reader {
 public:
  explicit Reader(const outpost_api *api) : api_(api) {}

  outpost_node_kind kind(const outpost_node *n) const { return n ? api_->node_kind(n) : OUTPOST_NODE_NULL; }

  std::string scalar(const outpost_node *n, const std::string &what) const {
    if (kind(n) != OUTPOST_NODE_SCALAR) throw Bad{n, what + " must be a single value"};
    const auto s = api_->node_scalar(n);
    return std::string(s.data ? s.data : "", s.len);
  }

  void expect_map(const outpost_node *n, const std::string &what) const {
    if (kind(n) != OUTPOST_NODE_MAP) throw Bad{n, what + " must be a map"};
  }

  // Every key of map `n` must be one of `known`.
  void only_keys(const outpost_node *n, const std::string &what, std::initializer_list<std::string_view> known) const {
    const size_t size = api_->node_size(n);
    for (size_t i = 0; i < size; ++i) {
      const auto k = api_->node_key_at(n, i);
      const std::string_view key(k.data ? k.data : "", k.len);
      bool ok = false;
      std::string list;
      for (auto candidate : known) {
        ok = ok || key == candidate;
        list += (list.empty() ? "" : ", ") + std::string(candidate);
      }
      if (!ok) throw Bad{api_->node_at(n, i), "unknown key '" + std::string(key) + "' in " + what + " (expected one of: " + list + ")"};
    }
  }

  const outpost_node *get(const outpost_node *map, const char *key) const {
    const outpost_node *n = api_->node_get(map, key);
    return kind(n) == OUTPOST_NODE_NULL ? nullptr : n;
  }

  std::optional<std::string> opt_string(const outpost_node *map, const char *key) const {
    const auto *n = get(map, key);
    if (!n) return std::nullopt;
    return scalar(n, key);
  }

  std::optional<bool> opt_bool(const outpost_node *map, const char *key) const {
    const auto *n = get(map, key);
    if (!n) return std::nullopt;
    auto v = parse_bool(scalar(n, key));
    if (!v) throw Bad{n, std::string(key) + " must be true or false"};
    return v;
  }

  std::optional<std::chrono::milliseconds> opt_duration(const outpost_node *map, const char *key) const {
    const auto *n = get(map, key);
    if (!n) return std::nullopt;
    auto v = parse_duration(scalar(n, key));
    if (!v) throw Bad{n, std::string(key) + " must be a duration such as 500ms, 30s, 2m or 1h"};
    return v;
  }

  std::optional<uint64_t> opt_size(const outpost_node *map, const char *key) const {
    const auto *n = get(map, key);
    if (!n) return std::nullopt;
    auto v = parse_size(scalar(n, key));
    if (!v) throw Bad{n, std::string(key) + " must be a size such as 64MiB, 1GiB or a number of bytes"};
    return v;
  }

  const outpost_api *api_;
};

void readable(const Reader &r, const outpost_node *map, const char *key, std::string &out) {
  const auto *n = r.get(map, key);
  if (!n) return;
  out = r.scalar(n, key);
  std::ifstream f(out);
  if (!f) throw Bad{n, std::string(key) + " '" + out + "' cannot be read"};
}

TlsConfig read_tls(const Reader &r, const outpost_node *n, bool scheme_tls) {
  TlsConfig tls;
  tls.enabled = scheme_tls;
  if (!n) return tls;
  r.expect_map(n, "tls");
  r.only_keys(n, "tls", {"ca_file", "cert_file", "key_file", "key_password", "alpn", "insecure"});
  if (!scheme_tls) throw Bad{n, "tls settings need a remote with mqtts:// or wss://"};
  readable(r, n, "ca_file", tls.ca_file);
  readable(r, n, "cert_file", tls.cert_file);
  readable(r, n, "key_file", tls.key_file);
  if (tls.cert_file.empty() != tls.key_file.empty())
    throw Bad{n, "tls needs both cert_file and key_file for a client certificate, or neither"};
  tls.key_password = r.opt_string(n, "key_password").value_or("");
  if (const auto *alpn = r.get(n, "alpn")) {
    if (r.kind(alpn) == OUTPOST_NODE_SEQUENCE) {
      for (size_t i = 0; i < r.api_->node_size(alpn); ++i) tls.alpn.push_back(r.scalar(r.api_->node_at(alpn, i), "alpn"));
    } else {
      tls.alpn.push_back(r.scalar(alpn, "alpn"));
    }
    for (const auto &p : tls.alpn)
      if (p.empty() || p.size() > 255) throw Bad{alpn, "alpn protocol names must be 1 to 255 bytes"};
  }
  tls.insecure = r.opt_bool(n, "insecure").value_or(false);
  return tls;
}

TopicRule read_topic(const Reader &r, const outpost_node *n) {
  r.expect_map(n, "a topics entry");
  r.only_keys(n, "a topics entry", {"pattern", "direction", "qos", "local_prefix", "remote_prefix"});
  TopicRule rule;
  const auto *pattern = r.get(n, "pattern");
  if (!pattern) throw Bad{n, "a topics entry needs a pattern (an MQTT topic filter such as sensors/#)"};
  rule.pattern = r.scalar(pattern, "pattern");
  if (!valid_filter(rule.pattern))
    throw Bad{pattern, "pattern '" + rule.pattern + "' is not a valid MQTT topic filter ('#' last and alone, '+' alone in a level)"};
  if (const auto *d = r.get(n, "direction")) {
    const auto v = r.scalar(d, "direction");
    if (v == "out") rule.direction = Direction::out;
    else if (v == "in") rule.direction = Direction::in;
    else if (v == "both") rule.direction = Direction::both;
    else throw Bad{d, "direction '" + v + "' is not one of out, in, both"};
  }
  if (const auto *q = r.get(n, "qos")) {
    auto v = parse_int(r.scalar(q, "qos"), 0, 2);
    if (!v) throw Bad{q, "qos must be 0, 1 or 2"};
    rule.qos = static_cast<uint8_t>(*v);
  }
  for (auto [key, out] : {std::pair{"local_prefix", &rule.local_prefix}, std::pair{"remote_prefix", &rule.remote_prefix}}) {
    if (const auto *p = r.get(n, key)) {
      *out = r.scalar(p, key);
      if (out->find_first_of("+#") != std::string::npos)
        throw Bad{p, std::string(key) + " '" + *out + "' must not contain the wildcards + or #"};
    }
  }
  return rule;
}

Config read(const Reader &r, const outpost_node *root, const std::string &instance) {
  if (!root || r.kind(root) == OUTPOST_NODE_NULL)
    throw Bad{root, "the bridge needs a config section with at least remote and topics"};
  r.expect_map(root, "the bridge's config");
  r.only_keys(root, "the bridge's config",
              {"remote", "client_id", "protocol_version", "clean_start", "keepalive", "username", "password", "tls",
               "reconnect", "topics", "queue", "max_inflight", "connect_timeout"});
  Config c;
  const auto *remote = r.get(root, "remote");
  if (!remote) throw Bad{root, "remote is missing (expected mqtt://host[:port], mqtts://, ws:// or wss://)"};
  std::string error;
  auto url = parse_remote_url(r.scalar(remote, "remote"), error);
  if (!url) throw Bad{remote, error};
  c.remote = *url;

  c.client_id = r.opt_string(root, "client_id").value_or("outpost-" + instance);
  if (c.client_id.empty() || c.client_id.size() > 65535)
    throw Bad{r.get(root, "client_id"), "client_id must not be empty"};

  if (const auto *v = r.get(root, "protocol_version")) {
    const auto s = r.scalar(v, "protocol_version");
    if (s == "5" || s == "5.0") c.protocol_version = 5;
    else if (s == "3.1.1" || s == "311" || s == "4") c.protocol_version = 4;
    else throw Bad{v, "protocol_version '" + s + "' is not supported (expected 5 or 3.1.1)"};
  }
  c.clean_start = r.opt_bool(root, "clean_start").value_or(false);
  if (auto k = r.opt_duration(root, "keepalive")) {
    if (k->count() % 1000 != 0 || *k > std::chrono::seconds(65535))
      throw Bad{r.get(root, "keepalive"), "keepalive must be whole seconds from 0s to 65535s"};
    c.keepalive = std::chrono::duration_cast<std::chrono::seconds>(*k);
  }
  c.username = r.opt_string(root, "username");
  c.password = r.opt_string(root, "password");
  if (c.password && !c.username && c.protocol_version == 4)
    throw Bad{r.get(root, "password"), "MQTT 3.1.1 sends a password only with a username: set username too"};
  c.tls = read_tls(r, r.get(root, "tls"), c.remote.tls);

  if (const auto *rc = r.get(root, "reconnect")) {
    r.expect_map(rc, "reconnect");
    r.only_keys(rc, "reconnect", {"min_delay", "max_delay"});
    c.min_delay = r.opt_duration(rc, "min_delay").value_or(c.min_delay);
    c.max_delay = r.opt_duration(rc, "max_delay").value_or(c.max_delay);
    if (c.min_delay.count() <= 0) throw Bad{rc, "reconnect min_delay must be more than 0s"};
    if (c.max_delay < c.min_delay) throw Bad{rc, "reconnect max_delay must not be less than min_delay"};
  }
  if (auto t = r.opt_duration(root, "connect_timeout")) {
    if (t->count() < 1000) throw Bad{r.get(root, "connect_timeout"), "connect_timeout must be at least 1s"};
    c.connect_timeout = *t;
  }
  if (const auto *mi = r.get(root, "max_inflight")) {
    auto v = parse_int(r.scalar(mi, "max_inflight"), 1, 65535);
    if (!v) throw Bad{mi, "max_inflight must be a number from 1 to 65535"};
    c.max_inflight = static_cast<uint32_t>(*v);
  }

  const auto *topics = r.get(root, "topics");
  if (!topics || r.kind(topics) != OUTPOST_NODE_SEQUENCE || r.api_->node_size(topics) == 0)
    throw Bad{topics ? topics : root, "topics must be a list of at least one {pattern, direction, qos, local_prefix, remote_prefix}"};
  for (size_t i = 0; i < r.api_->node_size(topics); ++i) c.topics.push_back(read_topic(r, r.api_->node_at(topics, i)));

  if (const auto *q = r.get(root, "queue")) {
    r.expect_map(q, "queue");
    r.only_keys(q, "queue", {"max_bytes", "max_messages", "on_full"});
    c.queue_max_bytes = r.opt_size(q, "max_bytes").value_or(0);
    if (const auto *m = r.get(q, "max_messages")) {
      auto v = parse_int(r.scalar(m, "max_messages"), 0, INT64_MAX);
      if (!v) throw Bad{m, "max_messages must be a whole number (0: no limit)"};
      c.queue_max_messages = static_cast<uint64_t>(*v);
    }
    if (const auto *f = r.get(q, "on_full")) {
      const auto v = r.scalar(f, "on_full");
      if (v == "refuse") c.on_full = OUTPOST_OVERFLOW_REFUSE;
      else if (v == "drop_oldest") c.on_full = OUTPOST_OVERFLOW_DROP_OLDEST;
      else throw Bad{f, "on_full '" + v + "' is not one of refuse, drop_oldest"};
    }
  }
  return c;
}

}  // namespace

std::optional<Config> parse_config(const outpost_api *api, const outpost_node *node, const std::string &instance,
                                   ConfigError &error) {
  try {
    return read(Reader(api), node, instance);
  } catch (const Bad &bad) {
    error = {bad.node, bad.message};
  } catch (const std::exception &e) {
    error = {node, e.what()};
  }
  return std::nullopt;
}

}  // namespace outpost::bridge
