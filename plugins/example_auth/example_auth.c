/* example_auth: authentication and topic ACLs from a list of users in the plugin's own
 * configuration section. It is the example third parties learn the plugin interface from,
 * so it is plain C11 and uses nothing but include/outpost/plugin.h and libc.
 *
 *   plugins:
 *     - name: devices
 *       library: example_auth
 *       config:
 *         users:
 *           - {user: sensor1, password: s3cret, publish: ["sensors/sensor1/#"], subscribe: ["cmd/sensor1/#"]}
 *           - {user: dashboard, password: view, subscribe: ["sensors/#"]}
 *         defer_unknown: true
 *
 * Decisions
 * - authenticate: a listed user with the right password is accepted (OK), with a wrong or
 *   no password refused (DENY). Anonymous clients are not this plugin's business (DEFER);
 *   unlisted users are DEFERred to the broker's own rules, or refused when
 *   defer_unknown is false.
 * - authorize, for listed users only (anyone else: DEFER), on amq.topic:
 *   publish: the topic matches one of the user's `publish` filters;
 *   subscribe: the filter is covered by (equal to or narrower than) a `subscribe` filter;
 *   consume: the delivered message's topic matches a `subscribe` filter.
 *   Anything else (other exchanges, queues consumed by name) is DEFERred.
 *
 * Threads: authorize runs on the broker's I/O threads, several at once, while reload
 * replaces the user table on the plugin thread. The table is read under a read lock and
 * swapped under the write lock, which is held only for the pointer swap, so authorize
 * never waits for a reload to parse its configuration.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_rwlock_t under -std=c11 */

#include <outpost/plugin.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topic_filter.h"

/* ------------------------------------------------------------------ the user table */

typedef struct text {
  char *data; /* NUL-terminated copy (for log lines); len is authoritative */
  size_t len;
} text;

typedef struct user_entry {
  text name;
  text password;
  text *publish;
  size_t publish_count;
  text *subscribe;
  size_t subscribe_count;
} user_entry;

typedef struct user_table {
  user_entry *users;
  size_t count;
  bool defer_unknown;
} user_table;

static void text_free(text *t) {
  free(t->data);
  t->data = NULL;
  t->len = 0;
}

static bool text_copy(text *out, outpost_str s) {
  out->data = malloc(s.len + 1);
  if (out->data == NULL) {
    return false;
  }
  if (s.len) {
    memcpy(out->data, s.data, s.len);
  }
  out->data[s.len] = '\0';
  out->len = s.len;
  return true;
}

static void table_free(user_table *table) {
  if (table == NULL) {
    return;
  }
  for (size_t i = 0; i < table->count; i++) {
    user_entry *u = &table->users[i];
    text_free(&u->name);
    /* The password leaves memory as it came: wiped before it is freed. */
    if (u->password.data) {
      memset(u->password.data, 0, u->password.len);
    }
    text_free(&u->password);
    for (size_t j = 0; j < u->publish_count; j++) {
      text_free(&u->publish[j]);
    }
    for (size_t j = 0; j < u->subscribe_count; j++) {
      text_free(&u->subscribe[j]);
    }
    free(u->publish);
    free(u->subscribe);
  }
  free(table->users);
  free(table);
}

static bool str_equals(outpost_str a, const char *data, size_t len) {
  return a.len == len && (len == 0 || memcmp(a.data, data, len) == 0);
}

static bool str_is(outpost_str a, const char *literal) {
  return str_equals(a, literal, strlen(literal));
}

/* A linear search: an example's list is short. A real plugin with many users would use a
 * hash table. */
static const user_entry *table_find(const user_table *table, outpost_str name) {
  for (size_t i = 0; i < table->count; i++) {
    if (str_equals(name, table->users[i].name.data, table->users[i].name.len)) {
      return &table->users[i];
    }
  }
  return NULL;
}

/* Compares a password without returning early at the first differing byte, so the time
 * taken does not tell an attacker how much of a guess was right. (It does depend on the
 * stored password's length, and on the guess's length, which the attacker knows.) */
static bool same_password(const text *stored, outpost_str given) {
  volatile unsigned char diff = stored->len != given.len;
  for (size_t i = 0; i < stored->len; i++) {
    unsigned char g = i < given.len ? (unsigned char)given.data[i] : 0;
    diff = (unsigned char)(diff | ((unsigned char)stored->data[i] ^ g));
  }
  return diff == 0;
}

/* ------------------------------------------------------------------ the instance */

typedef struct example_auth {
  const outpost_api *api;
  outpost_plugin *self;
  pthread_rwlock_t lock; /* guards `table` (the pointer, not the table: a table never changes) */
  user_table *table;
  outpost_counter *auth_accepted;
  outpost_counter *auth_refused;
  outpost_counter *auth_deferred;
  outpost_counter *access_allowed;
  outpost_counter *access_denied;
  outpost_counter *access_deferred;
  outpost_counter *users;
} example_auth;

static void log_line(const example_auth *plugin, outpost_log_level level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void log_line(const example_auth *plugin, outpost_log_level level, const char *format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  vsnprintf(line, sizeof line, format, args);
  va_end(args);
  plugin->api->log(plugin->self, level, line);
}

/* api->counter returns NULL for a name it refuses; a metric is not worth failing for. */
static void count(const example_auth *plugin, outpost_counter *counter) {
  if (counter != NULL) {
    plugin->api->counter_add(counter, 1);
  }
}

/* ------------------------------------------------------------------ reading the configuration */

/* Where a configuration error goes: at init, to api->set_error (the broker's start-up
 * error, with the node's file:line:column); at reload, to the log (the old table stays). */
typedef struct config_reader {
  const outpost_api *api;
  outpost_plugin *self;
  bool at_init;
} config_reader;

static void config_error(const config_reader *reader, const outpost_node *node, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void config_error(const config_reader *reader, const outpost_node *node, const char *format, ...) {
  char message[512];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  if (reader->at_init) {
    reader->api->set_error(reader->self, node, message);
  } else {
    char line[768];
    if (node != NULL) {
      snprintf(line, sizeof line, "%s: %s; keeping the previous configuration", reader->api->node_position(node),
               message);
    } else {
      snprintf(line, sizeof line, "%s; keeping the previous configuration", message);
    }
    reader->api->log(reader->self, OUTPOST_LOG_ERROR, line);
  }
}

/* For messages: a scalar's text, at most 100 bytes of it. */
#define SHOWN(s) (int)((s).len > 100 ? 100 : (s).len), (s).data

static bool read_bool(const config_reader *reader, const outpost_node *node, const char *what, bool *out) {
  static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  const outpost_api *api = reader->api;
  if (api->node_kind(node) == OUTPOST_NODE_SCALAR) {
    outpost_str s = api->node_scalar(node);
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
      if (str_is(s, yes[i])) {
        *out = true;
        return true;
      }
      if (str_is(s, no[i])) {
        *out = false;
        return true;
      }
    }
    config_error(reader, node, "%s: expected true or false, got '%.*s'", what, SHOWN(s));
    return false;
  }
  config_error(reader, node, "%s: expected true or false", what);
  return false;
}

/* A list of topic filters: `publish: ["a/#", "b/+"]`. */
static bool read_filters(const config_reader *reader, const outpost_node *node, const char *what, text **out,
                         size_t *out_count) {
  const outpost_api *api = reader->api;
  if (api->node_kind(node) != OUTPOST_NODE_SEQUENCE) {
    config_error(reader, node, "%s: expected a list of topic filters", what);
    return false;
  }
  size_t n = api->node_size(node);
  text *filters = calloc(n ? n : 1, sizeof *filters);
  if (filters == NULL) {
    config_error(reader, node, "%s: out of memory", what);
    return false;
  }
  *out = filters;
  *out_count = 0;
  for (size_t i = 0; i < n; i++) {
    const outpost_node *item = api->node_at(node, i);
    if (api->node_kind(item) != OUTPOST_NODE_SCALAR) {
      config_error(reader, item, "%s[%zu]: expected a topic filter", what, i);
      return false;
    }
    outpost_str filter = api->node_scalar(item);
    if (!topic_filter_valid(filter.data, filter.len)) {
      config_error(reader, item,
                   "%s[%zu]: '%.*s' is not a valid MQTT topic filter ('+' and '#' stand alone in a level, "
                   "'#' only last)",
                   what, i, SHOWN(filter));
      return false;
    }
    if (!text_copy(&filters[i], filter)) {
      config_error(reader, item, "%s: out of memory", what);
      return false;
    }
    *out_count = i + 1;
  }
  return true;
}

static bool read_user(const config_reader *reader, const outpost_node *node, size_t index, const user_table *table,
                      user_entry *user) {
  const outpost_api *api = reader->api;
  char what[64];
  snprintf(what, sizeof what, "users[%zu]", index);
  if (api->node_kind(node) != OUTPOST_NODE_MAP) {
    config_error(reader, node, "%s: expected a mapping {user: NAME, password: SECRET, publish: [...], subscribe: [...]}",
                 what);
    return false;
  }
  const outpost_node *name = NULL, *password = NULL;
  for (size_t i = 0; i < api->node_size(node); i++) {
    outpost_str key = api->node_key_at(node, i);
    const outpost_node *value = api->node_at(node, i);
    char field[96];
    snprintf(field, sizeof field, "%s.%.*s", what, SHOWN(key));
    if (str_is(key, "user")) {
      name = value;
    } else if (str_is(key, "password")) {
      password = value;
    } else if (str_is(key, "publish")) {
      if (!read_filters(reader, value, field, &user->publish, &user->publish_count)) {
        return false;
      }
    } else if (str_is(key, "subscribe")) {
      if (!read_filters(reader, value, field, &user->subscribe, &user->subscribe_count)) {
        return false;
      }
    } else {
      config_error(reader, value, "unknown key '%.*s' in %s (allowed: user, password, publish, subscribe)",
                   SHOWN(key), what);
      return false;
    }
  }
  if (name == NULL || password == NULL) {
    config_error(reader, node, "%s: missing required key '%s'", what, name == NULL ? "user" : "password");
    return false;
  }
  if (api->node_kind(name) != OUTPOST_NODE_SCALAR || api->node_scalar(name).len == 0) {
    config_error(reader, name, "%s.user: expected a user name", what);
    return false;
  }
  if (api->node_kind(password) != OUTPOST_NODE_SCALAR || api->node_scalar(password).len == 0) {
    config_error(reader, password, "%s.password: expected a password that is not empty", what);
    return false;
  }
  if (table_find(table, api->node_scalar(name)) != NULL) {
    config_error(reader, name, "%s.user: '%.*s' is listed twice", what, SHOWN(api->node_scalar(name)));
    return false;
  }
  if (!text_copy(&user->name, api->node_scalar(name)) || !text_copy(&user->password, api->node_scalar(password))) {
    config_error(reader, node, "%s: out of memory", what);
    return false;
  }
  return true;
}

/* The whole `config:` section. Returns a new table, or NULL after reporting the error. */
static user_table *read_config(const config_reader *reader, const outpost_node *config) {
  const outpost_api *api = reader->api;
  if (api->node_kind(config) != OUTPOST_NODE_MAP) {
    config_error(reader, config, "config: expected a mapping with 'users' (and optionally 'defer_unknown')");
    return NULL;
  }
  user_table *table = calloc(1, sizeof *table);
  if (table == NULL) {
    config_error(reader, config, "out of memory");
    return NULL;
  }
  table->defer_unknown = true;
  const outpost_node *users = NULL;
  for (size_t i = 0; i < api->node_size(config); i++) {
    outpost_str key = api->node_key_at(config, i);
    const outpost_node *value = api->node_at(config, i);
    if (str_is(key, "users")) {
      users = value;
    } else if (str_is(key, "defer_unknown")) {
      if (!read_bool(reader, value, "defer_unknown", &table->defer_unknown)) {
        goto fail;
      }
    } else {
      config_error(reader, value, "unknown key '%.*s' in config (allowed: users, defer_unknown)", SHOWN(key));
      goto fail;
    }
  }
  if (users == NULL) {
    config_error(reader, config, "config: missing required key 'users' (a list of {user, password, publish, subscribe})");
    goto fail;
  }
  if (api->node_kind(users) != OUTPOST_NODE_SEQUENCE) {
    config_error(reader, users, "users: expected a list of {user, password, publish, subscribe}");
    goto fail;
  }
  size_t n = api->node_size(users);
  table->users = calloc(n ? n : 1, sizeof *table->users);
  if (table->users == NULL) {
    config_error(reader, users, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < n; i++) {
    /* Counted before it is read, so that table_free frees what a failed read left. */
    table->count = i + 1;
    if (!read_user(reader, api->node_at(users, i), i, table, &table->users[i])) {
      goto fail;
    }
  }
  return table;
fail:
  table_free(table);
  return NULL;
}

/* ------------------------------------------------------------------ callbacks */

static outpost_result on_authenticate(void *state, const outpost_auth_request *request, outpost_auth_ticket *ticket) {
  example_auth *plugin = state;
  (void)ticket; /* decided at once: this plugin never answers PENDING */
  /* A field added to the request by a later minor version would be read only after this
   * check; `password` has been there since 1.0, so this is the pattern, not a necessity. */
  if (!OUTPOST_HAS_FIELD(request, outpost_auth_request, password) || !request->has_user ||
      request->client->user.len == 0) {
    count(plugin, plugin->auth_deferred);
    return OUTPOST_DEFER; /* anonymous: the listener's allow_anonymous decides */
  }
  outpost_str name = request->client->user;
  outpost_result result;
  const char *why;
  pthread_rwlock_rdlock(&plugin->lock);
  const user_entry *user = table_find(plugin->table, name);
  if (user == NULL) {
    result = plugin->table->defer_unknown ? OUTPOST_DEFER : OUTPOST_DENY;
    why = plugin->table->defer_unknown ? "not listed, left to the broker" : "not listed";
  } else if (!request->has_password) {
    result = OUTPOST_DENY;
    why = "no password";
  } else if (same_password(&user->password, request->password)) {
    result = OUTPOST_OK;
    why = "accepted";
  } else {
    result = OUTPOST_DENY;
    why = "wrong password";
  }
  pthread_rwlock_unlock(&plugin->lock);
  count(plugin, result == OUTPOST_OK     ? plugin->auth_accepted
                : result == OUTPOST_DENY ? plugin->auth_refused
                                         : plugin->auth_deferred);
  log_line(plugin, OUTPOST_LOG_DEBUG, "user '%.*s': %s", SHOWN(name), why);
  return result;
}

/* "$share/GROUP/FILTER" is checked as FILTER: the group only says who shares the messages. */
static outpost_str without_share_prefix(outpost_str filter) {
  static const char prefix[] = "$share/";
  const size_t prefix_len = sizeof prefix - 1;
  if (filter.len > prefix_len && memcmp(filter.data, prefix, prefix_len) == 0) {
    const char *group_end = memchr(filter.data + prefix_len, '/', filter.len - prefix_len);
    if (group_end != NULL) {
      size_t skip = (size_t)(group_end + 1 - filter.data);
      outpost_str rest = {filter.data + skip, filter.len - skip};
      return rest;
    }
  }
  return filter;
}

static bool any_matches(const text *filters, size_t count, outpost_str topic) {
  for (size_t i = 0; i < count; i++) {
    if (topic_matches(filters[i].data, filters[i].len, topic.data, topic.len)) {
      return true;
    }
  }
  return false;
}

static bool any_covers(const text *filters, size_t count, outpost_str filter) {
  for (size_t i = 0; i < count; i++) {
    if (topic_filter_covers(filters[i].data, filters[i].len, filter.data, filter.len)) {
      return true;
    }
  }
  return false;
}

/* I/O thread: no blocking, no allocation, no logging on the way through. */
static outpost_result on_authorize(void *state, const outpost_client *client, outpost_access access,
                                   outpost_str exchange, outpost_str name) {
  example_auth *plugin = state;
  if (client->user.len == 0 || !str_is(exchange, "amq.topic")) {
    /* Anonymous clients, other exchanges and queues consumed by name: not ours. */
    count(plugin, plugin->access_deferred);
    return OUTPOST_DEFER;
  }
  outpost_result result = OUTPOST_DEFER;
  pthread_rwlock_rdlock(&plugin->lock);
  const user_entry *user = table_find(plugin->table, client->user);
  if (user != NULL) {
    bool allowed = false;
    switch (access) {
      case OUTPOST_ACCESS_PUBLISH:
        allowed = any_matches(user->publish, user->publish_count, name);
        break;
      case OUTPOST_ACCESS_SUBSCRIBE:
        allowed = any_covers(user->subscribe, user->subscribe_count, without_share_prefix(name));
        break;
      case OUTPOST_ACCESS_CONSUME:
        allowed = any_matches(user->subscribe, user->subscribe_count, name);
        break;
    }
    result = allowed ? OUTPOST_OK : OUTPOST_DENY;
  }
  pthread_rwlock_unlock(&plugin->lock);
  count(plugin, result == OUTPOST_OK     ? plugin->access_allowed
                : result == OUTPOST_DENY ? plugin->access_denied
                                         : plugin->access_deferred);
  return result;
}

static void install(example_auth *plugin, user_table *table) {
  pthread_rwlock_wrlock(&plugin->lock);
  user_table *old = plugin->table;
  plugin->table = table;
  pthread_rwlock_unlock(&plugin->lock);
  table_free(old); /* no reader can hold it: they all took the lock after the swap */
  if (plugin->users != NULL) {
    plugin->api->counter_set(plugin->users, (int64_t)table->count);
  }
}

/* Plugin thread, on SIGHUP. */
static outpost_result on_reload(void *state, const outpost_node *config) {
  example_auth *plugin = state;
  config_reader reader = {plugin->api, plugin->self, false};
  user_table *table = read_config(&reader, config);
  if (table == NULL) {
    return OUTPOST_ERROR; /* already logged with the node's position */
  }
  size_t users = table->count;
  install(plugin, table);
  log_line(plugin, OUTPOST_LOG_INFO, "reloaded: %zu user%s", users, users == 1 ? "" : "s");
  return OUTPOST_OK;
}

/* ------------------------------------------------------------------ entry points */

OUTPOST_EXPORT uint32_t outpost_plugin_version(void) {
  return OUTPOST_PLUGIN_ABI_VERSION;
}

OUTPOST_EXPORT outpost_result outpost_plugin_init(const outpost_api *api, const outpost_plugin_config *config,
                                                  void **state) {
  /* The broker's table must hold every function used here. A broker of the same major
   * version always has them; a newer plugin on an older broker would check the fields it
   * added the same way. */
  if (!OUTPOST_HAS_FIELD(api, outpost_api, node_position) ||
      !OUTPOST_HAS_FIELD(config, outpost_plugin_config, config)) {
    return OUTPOST_ERROR;
  }
  example_auth *plugin = calloc(1, sizeof *plugin);
  if (plugin == NULL) {
    api->set_error(config->self, NULL, "out of memory");
    return OUTPOST_ERROR;
  }
  plugin->api = api;
  plugin->self = config->self;
  if (pthread_rwlock_init(&plugin->lock, NULL) != 0) {
    free(plugin);
    api->set_error(config->self, NULL, "cannot create a lock");
    return OUTPOST_ERROR;
  }
  *state = plugin; /* from here on, cleanup frees it, also when init fails */

  config_reader reader = {api, config->self, true};
  user_table *table = read_config(&reader, config->config);
  if (table == NULL) {
    return OUTPOST_ERROR; /* set_error said why and where */
  }

  plugin->auth_accepted = api->counter(config->self, "auth_accepted_total", "logins accepted", OUTPOST_COUNTER);
  plugin->auth_refused = api->counter(config->self, "auth_refused_total", "logins refused", OUTPOST_COUNTER);
  plugin->auth_deferred =
      api->counter(config->self, "auth_deferred_total", "logins left to the broker's rules", OUTPOST_COUNTER);
  plugin->access_allowed =
      api->counter(config->self, "access_allowed_total", "publish/subscribe/consume allowed", OUTPOST_COUNTER);
  plugin->access_denied =
      api->counter(config->self, "access_denied_total", "publish/subscribe/consume denied", OUTPOST_COUNTER);
  plugin->access_deferred =
      api->counter(config->self, "access_deferred_total", "decisions left to the broker's rules", OUTPOST_COUNTER);
  plugin->users = api->counter(config->self, "users", "users listed in the configuration", OUTPOST_GAUGE);
  install(plugin, table);

  outpost_callbacks callbacks;
  memset(&callbacks, 0, sizeof callbacks);
  callbacks.size = sizeof callbacks; /* tells the broker which members this plugin knows */
  callbacks.authenticate = on_authenticate;
  callbacks.authorize = on_authorize;
  callbacks.reload = on_reload;
  if (api->set_callbacks(config->self, &callbacks) != OUTPOST_OK) {
    api->set_error(config->self, NULL, "the broker refused the callbacks");
    return OUTPOST_ERROR;
  }
  log_line(plugin, OUTPOST_LOG_INFO, "%zu user%s, unknown users %s", plugin->table->count,
           plugin->table->count == 1 ? "" : "s", plugin->table->defer_unknown ? "left to the broker" : "refused");
  return OUTPOST_OK;
}

OUTPOST_EXPORT void outpost_plugin_cleanup(void *state) {
  example_auth *plugin = state;
  if (plugin == NULL) {
    return; /* init failed before it had a state */
  }
  table_free(plugin->table);
  pthread_rwlock_destroy(&plugin->lock);
  free(plugin);
}
