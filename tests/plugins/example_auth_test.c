/* example_auth.so driven through the plugin interface alone, by a stand-in for the broker:
 * a config tree built here, an api table that records what the plugin does with it. Checks
 * every decision, the config errors and where they point, reload (good and bad), and that
 * authorize on several threads during reloads is safe (run it under ASan/UBSan or TSan).
 *
 *   example_auth_test path/to/example_auth.so
 */
#define _POSIX_C_SOURCE 200809L

#include <outpost/plugin.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ a config tree */

struct outpost_node {
  outpost_node_kind kind;
  const char *scalar;
  size_t size;
  const char **keys;
  const outpost_node **items;
  char position[32];
};

static int next_line = 1;
static outpost_node *all_nodes[100000]; /* freed at the end: the plugin must not keep any */
static size_t node_count;

static outpost_node *node_new(outpost_node_kind kind) {
  outpost_node *n = calloc(1, sizeof *n);
  all_nodes[node_count++] = n;
  n->kind = kind;
  snprintf(n->position, sizeof n->position, "test.yaml:%d:1", next_line++);
  return n;
}

static outpost_node *scalar(const char *text) {
  outpost_node *n = node_new(OUTPOST_NODE_SCALAR);
  n->scalar = text;
  return n;
}

/* seq(count, item...) */
static outpost_node *seq(size_t count, ...) {
  outpost_node *n = node_new(OUTPOST_NODE_SEQUENCE);
  n->size = count;
  n->items = calloc(count ? count : 1, sizeof *n->items);
  va_list args;
  va_start(args, count);
  for (size_t i = 0; i < count; i++) {
    n->items[i] = va_arg(args, const outpost_node *);
  }
  va_end(args);
  return n;
}

/* map(count, key, value, key, value...) */
static outpost_node *map(size_t count, ...) {
  outpost_node *n = node_new(OUTPOST_NODE_MAP);
  n->size = count;
  n->keys = calloc(count ? count : 1, sizeof *n->keys);
  n->items = calloc(count ? count : 1, sizeof *n->items);
  va_list args;
  va_start(args, count);
  for (size_t i = 0; i < count; i++) {
    n->keys[i] = va_arg(args, const char *);
    n->items[i] = va_arg(args, const outpost_node *);
  }
  va_end(args);
  return n;
}

static void free_nodes(void) {
  for (size_t i = 0; i < node_count; i++) {
    free((void *)all_nodes[i]->keys);
    free((void *)all_nodes[i]->items);
    free(all_nodes[i]);
  }
  node_count = 0;
}

static outpost_node_kind node_kind(const outpost_node *n) {
  return n ? n->kind : OUTPOST_NODE_NULL;
}
static outpost_str node_scalar(const outpost_node *n) {
  outpost_str s = {"", 0};
  if (n && n->kind == OUTPOST_NODE_SCALAR) {
    s.data = n->scalar;
    s.len = strlen(n->scalar);
  }
  return s;
}
static size_t node_size(const outpost_node *n) {
  return n && (n->kind == OUTPOST_NODE_MAP || n->kind == OUTPOST_NODE_SEQUENCE) ? n->size : 0;
}
static const outpost_node *node_at(const outpost_node *n, size_t i) {
  return i < node_size(n) ? n->items[i] : NULL;
}
static outpost_str node_key_at(const outpost_node *n, size_t i) {
  outpost_str s = {"", 0};
  if (n && n->kind == OUTPOST_NODE_MAP && i < n->size) {
    s.data = n->keys[i];
    s.len = strlen(n->keys[i]);
  }
  return s;
}
static const outpost_node *node_get(const outpost_node *n, const char *key) {
  if (n == NULL || n->kind != OUTPOST_NODE_MAP) {
    return NULL;
  }
  for (size_t i = 0; i < n->size; i++) {
    if (strcmp(n->keys[i], key) == 0) {
      return n->items[i];
    }
  }
  return NULL;
}
static const char *node_position(const outpost_node *n) {
  return n ? n->position : "test.yaml";
}

/* ------------------------------------------------------------------ the api table */

struct outpost_counter {
  char name[64];
  atomic_llong value;
};

static struct outpost_counter counters[16];
static size_t counter_count;
static outpost_callbacks registered;
static char last_error[1024];
static const outpost_node *last_error_node;
static char last_log[1024];

static outpost_result set_callbacks(outpost_plugin *self, const outpost_callbacks *cb) {
  (void)self;
  memset(&registered, 0, sizeof registered);
  memcpy(&registered, cb, cb->size < sizeof registered ? cb->size : sizeof registered);
  return OUTPOST_OK;
}
static void set_error(outpost_plugin *self, const outpost_node *node, const char *message) {
  (void)self;
  last_error_node = node;
  snprintf(last_error, sizeof last_error, "%s", message);
}
static void log_(outpost_plugin *self, outpost_log_level level, const char *message) {
  (void)self;
  (void)level;
  snprintf(last_log, sizeof last_log, "%s", message);
}
static outpost_counter *counter(outpost_plugin *self, const char *name, const char *help, outpost_counter_kind k) {
  (void)self;
  (void)help;
  (void)k;
  for (size_t i = 0; i < counter_count; i++) {
    if (strcmp(counters[i].name, name) == 0) {
      return &counters[i];
    }
  }
  if (counter_count == sizeof counters / sizeof counters[0]) {
    return NULL;
  }
  snprintf(counters[counter_count].name, sizeof counters[counter_count].name, "%s", name);
  return &counters[counter_count++];
}
static void counter_add(outpost_counter *c, uint64_t d) {
  atomic_fetch_add(&c->value, (long long)d);
}
static void counter_set(outpost_counter *c, int64_t v) {
  atomic_store(&c->value, v);
}
static long long counter_value(const char *name) {
  for (size_t i = 0; i < counter_count; i++) {
    if (strcmp(counters[i].name, name) == 0) {
      return atomic_load(&counters[i].value);
    }
  }
  return -1;
}

static outpost_api api = {
    .size = sizeof(outpost_api),
    .abi_version = OUTPOST_PLUGIN_ABI_VERSION,
    .broker_version = "test",
    .set_callbacks = set_callbacks,
    .set_error = set_error,
    .log = log_,
    .counter = counter,
    .counter_add = counter_add,
    .counter_set = counter_set,
    .node_kind = node_kind,
    .node_scalar = node_scalar,
    .node_size = node_size,
    .node_at = node_at,
    .node_key_at = node_key_at,
    .node_get = node_get,
    .node_position = node_position,
};

/* ------------------------------------------------------------------ checks */

static int failures;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                     \
    }                                                                 \
  } while (0)

typedef outpost_result (*init_fn)(const outpost_api *, const outpost_plugin_config *, void **);
typedef void (*cleanup_fn)(void *);
static init_fn plugin_init;
static cleanup_fn plugin_cleanup;

static outpost_str str(const char *s) {
  outpost_str r = {s, s ? strlen(s) : 0};
  return r;
}

static outpost_result init_with(const outpost_node *config, void **state) {
  outpost_plugin_config pc = {sizeof pc, (outpost_plugin *)&api, "devices", config, ""};
  last_error[0] = '\0';
  last_error_node = NULL;
  *state = NULL;
  return plugin_init(&api, &pc, state);
}

static outpost_result login(void *state, const char *user, const char *password) {
  outpost_client client = {sizeof client, OUTPOST_PROTOCOL_MQTT, str("mqtt 127.0.0.1:1883"), str("127.0.0.1:5000"),
                           str("c1"), str(user), str(NULL), 1};
  outpost_auth_request r = {sizeof r, &client, user != NULL, password != NULL, str(password), str(NULL)};
  return registered.authenticate(state, &r, NULL);
}

static outpost_result may(void *state, const char *user, outpost_access access, const char *exchange,
                          const char *name) {
  outpost_client client = {sizeof client, OUTPOST_PROTOCOL_MQTT, str(""), str(""), str("c1"), str(user), str(NULL), 1};
  return registered.authorize(state, &client, access, str(exchange), str(name));
}

static const outpost_node *users_config(const char *sensor_password, const char *dashboard_filter) {
  return map(2, "users",
             seq(2,
                 map(4, "user", scalar("sensor1"), "password", scalar(sensor_password), "publish",
                     seq(1, scalar("sensors/sensor1/#")), "subscribe", seq(1, scalar("cmd/sensor1/#"))),
                 map(3, "user", scalar("dashboard"), "password", scalar("view"), "subscribe",
                     seq(2, scalar(dashboard_filter), scalar("$SYS/broker/#")))),
             "defer_unknown", scalar("true"));
}

typedef struct hammer {
  void *state;
  atomic_int *stop;
  atomic_long checks;
} hammer;

static void *hammer_authorize(void *arg) {
  hammer *h = arg;
  while (!atomic_load(h->stop)) {
    outpost_result a = may(h->state, "sensor1", OUTPOST_ACCESS_PUBLISH, "amq.topic", "sensors/sensor1/t");
    outpost_result b = may(h->state, "dashboard", OUTPOST_ACCESS_CONSUME, "amq.topic", "sensors/x/t");
    if (a != OUTPOST_OK || (b != OUTPOST_OK && b != OUTPOST_DENY)) {
      fprintf(stderr, "FAIL concurrent authorize: %d %d\n", (int)a, (int)b);
      failures++;
      break;
    }
    atomic_fetch_add(&h->checks, 1);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s example_auth.so\n", argv[0]);
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "%s\n", dlerror());
    return 2;
  }
  /* ISO C has no cast from dlsym's object pointer to a function pointer; POSIX guarantees
   * the representation, so the bytes are copied. */
  uint32_t (*version)(void) = NULL;
  void *sym = dlsym(lib, "outpost_plugin_version");
  memcpy(&version, &sym, sizeof sym);
  sym = dlsym(lib, "outpost_plugin_init");
  memcpy(&plugin_init, &sym, sizeof sym);
  sym = dlsym(lib, "outpost_plugin_cleanup");
  memcpy(&plugin_cleanup, &sym, sizeof sym);
  CHECK(version != NULL && plugin_init != NULL && plugin_cleanup != NULL);
  CHECK(version() >> 16 == OUTPOST_PLUGIN_ABI_MAJOR);
  CHECK(dlsym(lib, "topic_matches") == NULL); /* internals stay hidden */

  void *state;
  CHECK(init_with(users_config("s3cret", "sensors/#"), &state) == OUTPOST_OK);
  CHECK(registered.authenticate && registered.authorize && registered.reload && !registered.message);

  CHECK(login(state, "sensor1", "s3cret") == OUTPOST_OK);
  CHECK(login(state, "sensor1", "s3cre") == OUTPOST_DENY);
  CHECK(login(state, "sensor1", "s3cret2") == OUTPOST_DENY);
  CHECK(login(state, "sensor1", "") == OUTPOST_DENY);
  CHECK(login(state, "sensor1", NULL) == OUTPOST_DENY);
  CHECK(login(state, "stranger", "s3cret") == OUTPOST_DEFER);
  CHECK(login(state, NULL, NULL) == OUTPOST_DEFER);
  CHECK(counter_value("auth_accepted_total") == 1);
  CHECK(counter_value("auth_refused_total") == 4);
  CHECK(counter_value("auth_deferred_total") == 2);
  CHECK(counter_value("users") == 2);

  const char *T = "amq.topic";
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_PUBLISH, T, "sensors/sensor1/temp") == OUTPOST_OK);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_PUBLISH, T, "sensors/sensor1") == OUTPOST_OK);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_PUBLISH, T, "sensors/sensor2/temp") == OUTPOST_DENY);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_PUBLISH, T, "cmd/sensor1/x") == OUTPOST_DENY);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_SUBSCRIBE, T, "cmd/sensor1/#") == OUTPOST_OK);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_SUBSCRIBE, T, "cmd/sensor1/+/set") == OUTPOST_OK);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_SUBSCRIBE, T, "cmd/#") == OUTPOST_DENY);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_SUBSCRIBE, T, "$share/g/cmd/sensor1/a") == OUTPOST_OK);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_SUBSCRIBE, T, "$share/g/cmd/#") == OUTPOST_DENY);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_CONSUME, T, "cmd/sensor1/led") == OUTPOST_OK);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_CONSUME, T, "cmd/sensor2/led") == OUTPOST_DENY);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_CONSUME, "", "some.queue") == OUTPOST_DEFER);
  CHECK(may(state, "sensor1", OUTPOST_ACCESS_PUBLISH, "", "some.queue") == OUTPOST_DEFER);
  CHECK(may(state, "dashboard", OUTPOST_ACCESS_SUBSCRIBE, T, "$SYS/#") == OUTPOST_DENY);
  CHECK(may(state, "dashboard", OUTPOST_ACCESS_SUBSCRIBE, T, "$SYS/broker/clients") == OUTPOST_OK);
  CHECK(may(state, "dashboard", OUTPOST_ACCESS_CONSUME, T, "$SYS/broker/clients") == OUTPOST_OK);
  CHECK(may(state, "stranger", OUTPOST_ACCESS_PUBLISH, T, "anything") == OUTPOST_DEFER);
  CHECK(may(state, "", OUTPOST_ACCESS_PUBLISH, T, "anything") == OUTPOST_DEFER);

  /* reload: a new password and narrower rules; then a bad section changes nothing */
  CHECK(registered.reload(state, users_config("n3w", "sensors/sensor1/#")) == OUTPOST_OK);
  CHECK(strstr(last_log, "reloaded: 2 users") != NULL);
  CHECK(login(state, "sensor1", "s3cret") == OUTPOST_DENY);
  CHECK(login(state, "sensor1", "n3w") == OUTPOST_OK);
  CHECK(may(state, "dashboard", OUTPOST_ACCESS_CONSUME, T, "sensors/sensor2/t") == OUTPOST_DENY);
  const outpost_node *bad_value = scalar("maybe");
  CHECK(registered.reload(state, map(2, "users", seq(0), "defer_unknown", bad_value)) == OUTPOST_ERROR);
  CHECK(strstr(last_log, bad_value->position) != NULL);
  CHECK(strstr(last_log, "defer_unknown: expected true or false, got 'maybe'") != NULL);
  CHECK(login(state, "sensor1", "n3w") == OUTPOST_OK);

  /* authorize on four threads while the table is replaced again and again */
  atomic_int stop = 0;
  pthread_t threads[4];
  hammer hammers[4];
  for (int i = 0; i < 4; i++) {
    hammers[i].state = state;
    hammers[i].stop = &stop;
    atomic_init(&hammers[i].checks, 0);
    pthread_create(&threads[i], NULL, hammer_authorize, &hammers[i]);
  }
  /* At least 300 reloads, and on until every thread has checked a thousand times. */
  for (int i = 0; i < 1000000; i++) {
    CHECK(registered.reload(state, users_config(i % 2 ? "a" : "b", i % 2 ? "sensors/#" : "sensors/x/#")) ==
          OUTPOST_OK);
    int busy = 1;
    for (int t = 0; t < 4; t++) {
      busy = busy && atomic_load(&hammers[t].checks) >= 1000;
    }
    if (i >= 300 && busy) {
      break;
    }
    if (node_count > 90000) {
      break;
    }
  }
  atomic_store(&stop, 1);
  long checks = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(threads[i], NULL);
    checks += atomic_load(&hammers[i].checks);
  }
  CHECK(checks > 0);
  plugin_cleanup(state);

  /* config errors: init fails, set_error points at the node, cleanup frees what init made */
  struct {
    const outpost_node *config;
    const char *message;
  } bad[] = {
      {NULL, "expected a mapping with 'users'"},
      {map(0), "missing required key 'users'"},
      {map(1, "users", scalar("alice")), "users: expected a list"},
      {map(2, "users", seq(0), "defer_unknwon", scalar("true")), "unknown key 'defer_unknwon' in config"},
      {map(1, "users", seq(1, map(1, "user", scalar("a")))), "users[0]: missing required key 'password'"},
      {map(1, "users", seq(1, map(2, "user", scalar("a"), "password", scalar("")))), "users[0].password: expected"},
      {map(1, "users", seq(1, map(3, "user", scalar("a"), "password", scalar("b"), "pasword", scalar("c")))),
       "unknown key 'pasword' in users[0]"},
      {map(1, "users", seq(1, map(3, "user", scalar("a"), "password", scalar("b"), "publish", seq(2, scalar("ok/#"), scalar("a/#/b"))))),
       "users[0].publish[1]: 'a/#/b' is not a valid MQTT topic filter"},
      {map(1, "users", seq(1, map(3, "user", scalar("a"), "password", scalar("b"), "subscribe", scalar("x/#")))),
       "users[0].subscribe: expected a list"},
      {map(1, "users", seq(2, map(2, "user", scalar("a"), "password", scalar("b")),
                           map(2, "user", scalar("a"), "password", scalar("c")))),
       "users[1].user: 'a' is listed twice"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(init_with(bad[i].config, &state) == OUTPOST_ERROR);
    if (strstr(last_error, bad[i].message) == NULL) {
      fprintf(stderr, "FAIL bad config %zu: '%s' does not contain '%s'\n", i, last_error, bad[i].message);
      failures++;
    }
    CHECK(bad[i].config == NULL || last_error_node != NULL);
    plugin_cleanup(state);
  }
  /* defer_unknown: false refuses users it does not list */
  CHECK(init_with(map(2, "users", seq(0), "defer_unknown", scalar("off")), &state) == OUTPOST_OK);
  CHECK(login(state, "stranger", "x") == OUTPOST_DENY);
  CHECK(login(state, NULL, NULL) == OUTPOST_DEFER);
  plugin_cleanup(state);

  dlclose(lib);
  free_nodes();
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("example_auth through the plugin interface: all checks pass (%ld concurrent checks during reloads)\n", checks);
  return 0;
}
