/* A test plugin that uses every callback and most of the API, with behaviour a test can
 * observe from outside (tests/integration/45_plugin_host.py):
 *
 * - message: topics under "legacy/" are rewritten to "current/"; "drop/#" is accepted and
 *   discarded (DROP); "deny/#" is refused (DENY); "error/#" fails (ERROR, logged by the
 *   broker).
 * - authenticate: password "async-ok" answers PENDING and, 300 ms later from a thread of
 *   the plugin's own, accepts the client as "async-<user>"; "async-deny" refuses it the
 *   same way; "never" answers PENDING and never completes (the connect timeout must
 *   close the client); "auth-error" fails (ERROR: a refusal, logged); anything else is
 *   DEFERred.
 * - client_connected / client_disconnected: a log line each, "hooks: connected
 *   client_id=... user=... protocol=N".
 * - kv: init counts its starts in the key "starts" and logs "hooks: start number N".
 * - tick: logs "hooks: first tick" once and publishes "beat N" on `heartbeat_topic`
 *   (default "heartbeat/hooks"), logging each new publish result.
 * - reload: logs "hooks: reloaded".
 *
 * config (all optional): {heartbeat_topic: TOPIC}
 */
#define _POSIX_C_SOURCE 200809L

#include <outpost/plugin.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ASYNC_DELAY_MS 300

typedef struct pending_auth {
  outpost_auth_ticket *ticket;
  outpost_result result;
  char user[160];
  int64_t due_ms;
  struct pending_auth *next;
} pending_auth;

typedef struct hooks {
  const outpost_api *api;
  outpost_plugin *self;
  char heartbeat_topic[256];
  long beats;
  int last_publish_result; /* plugin thread only */
  int ticked;
  /* The authenticator thread: answers PENDING logins later, as a slow backend would. */
  pthread_t worker;
  int worker_started;
  pthread_mutex_t mutex;
  pthread_cond_t wake;
  pending_auth *queue; /* in due order: the delay is constant */
  int stopping;
} hooks;

static void logf_(hooks *h, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void logf_(hooks *h, const char *format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  vsnprintf(line, sizeof line, format, args);
  va_end(args);
  h->api->log(h->self, OUTPOST_LOG_INFO, line);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int starts_with(outpost_str s, const char *prefix) {
  size_t n = strlen(prefix);
  return s.len >= n && memcmp(s.data, prefix, n) == 0;
}

static int str_is(outpost_str s, const char *text) {
  return s.len == strlen(text) && memcmp(s.data, text, s.len) == 0;
}

/* ------------------------------------------------------------------ message (I/O threads) */

static outpost_result on_message(void *state, const outpost_client *client, outpost_message *message) {
  (void)state;
  (void)client;
  /* The rewritten topic must stay valid until this call returns: a buffer of this thread's
   * own is, and no other thread writes it meanwhile. */
  static _Thread_local char topic[65536 + 16];
  if (starts_with(message->topic, "drop/")) {
    return OUTPOST_DROP;
  }
  if (starts_with(message->topic, "deny/")) {
    return OUTPOST_DENY;
  }
  if (starts_with(message->topic, "error/")) {
    return OUTPOST_ERROR;
  }
  if (starts_with(message->topic, "legacy/")) {
    static const char to[] = "current/";
    size_t rest = message->topic.len - strlen("legacy/");
    if (rest + sizeof to > sizeof topic) {
      return OUTPOST_ERROR;
    }
    memcpy(topic, to, sizeof to - 1);
    memcpy(topic + sizeof to - 1, message->topic.data + strlen("legacy/"), rest);
    message->topic.data = topic;
    message->topic.len = sizeof to - 1 + rest;
  }
  return OUTPOST_OK;
}

/* ------------------------------------------------------------------ authenticate (plugin thread) */

static void *authenticator(void *arg) {
  hooks *h = arg;
  pthread_mutex_lock(&h->mutex);
  while (!h->stopping) {
    if (h->queue == NULL) {
      pthread_cond_wait(&h->wake, &h->mutex);
      continue;
    }
    int64_t wait = h->queue->due_ms - now_ms();
    if (wait > 0) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += wait / 1000;
      until.tv_nsec += (long)(wait % 1000) * 1000000L;
      if (until.tv_nsec >= 1000000000L) {
        until.tv_sec += 1;
        until.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&h->wake, &h->mutex, &until);
      continue;
    }
    pending_auth *job = h->queue;
    h->queue = job->next;
    pthread_mutex_unlock(&h->mutex);
    /* From a thread the broker does not know: allowed for every api function. */
    h->api->auth_complete(job->ticket, job->result, job->result == OUTPOST_OK ? job->user : NULL,
                          job->result == OUTPOST_OK ? "hooks: accepted later" : "hooks: refused later");
    free(job);
    pthread_mutex_lock(&h->mutex);
  }
  pthread_mutex_unlock(&h->mutex);
  return NULL;
}

static outpost_result on_authenticate(void *state, const outpost_auth_request *request, outpost_auth_ticket *ticket) {
  hooks *h = state;
  outpost_result later;
  if (request->has_password && str_is(request->password, "async-ok")) {
    later = OUTPOST_OK;
  } else if (request->has_password && str_is(request->password, "async-deny")) {
    later = OUTPOST_DENY;
  } else if (request->has_password && str_is(request->password, "never")) {
    logf_(h, "hooks: authentication of '%.*s' left pending for ever", (int)request->client->user.len,
          request->client->user.data);
    return OUTPOST_PENDING;
  } else if (request->has_password && str_is(request->password, "auth-error")) {
    return OUTPOST_ERROR;
  } else {
    return OUTPOST_DEFER;
  }
  pending_auth *job = calloc(1, sizeof *job);
  if (job == NULL) {
    return OUTPOST_ERROR;
  }
  job->ticket = ticket;
  job->result = later;
  snprintf(job->user, sizeof job->user, "async-%.*s", (int)(request->client->user.len > 100 ? 100 : request->client->user.len),
           request->client->user.data);
  job->due_ms = now_ms() + ASYNC_DELAY_MS;
  pthread_mutex_lock(&h->mutex);
  pending_auth **tail = &h->queue;
  while (*tail != NULL) {
    tail = &(*tail)->next;
  }
  *tail = job;
  pthread_cond_signal(&h->wake);
  pthread_mutex_unlock(&h->mutex);
  logf_(h, "hooks: authentication of '%.*s' pending", (int)request->client->user.len, request->client->user.data);
  return OUTPOST_PENDING;
}

/* ------------------------------------------------------------------ plugin-thread events */

static void log_client(hooks *h, const char *event, const outpost_client *client) {
  logf_(h, "hooks: %s client_id=%.*s user=%.*s protocol=%d", event, (int)client->client_id.len,
        client->client_id.data, (int)client->user.len, client->user.data, (int)client->protocol);
}

static void on_connected(void *state, const outpost_client *client) {
  log_client(state, "connected", client);
}

static void on_disconnected(void *state, const outpost_client *client) {
  log_client(state, "disconnected", client);
}

static void on_published(void *userdata, outpost_result result) {
  hooks *h = userdata;
  if ((int)result != h->last_publish_result) {
    h->last_publish_result = (int)result;
    logf_(h, "hooks: heartbeat publish result %d", (int)result);
  }
}

static void on_tick(void *state, int64_t now_unix_ms) {
  hooks *h = state;
  (void)now_unix_ms;
  if (!h->ticked) {
    h->ticked = 1;
    logf_(h, "hooks: first tick");
  }
  char payload[32];
  int n = snprintf(payload, sizeof payload, "beat %ld", ++h->beats);
  outpost_message message;
  memset(&message, 0, sizeof message);
  message.size = sizeof message;
  message.topic.data = h->heartbeat_topic;
  message.topic.len = strlen(h->heartbeat_topic);
  message.payload.data = payload;
  message.payload.len = (size_t)n;
  message.payload_format = -1;
  outpost_result r = h->api->publish(h->self, &message, on_published, h);
  if (r != OUTPOST_OK) {
    logf_(h, "hooks: publish returned %d", (int)r);
  }
}

static outpost_result on_reload(void *state, const outpost_node *config) {
  (void)config;
  logf_(state, "hooks: reloaded");
  return OUTPOST_OK;
}

/* ------------------------------------------------------------------ entry points */

static void found_starts(void *userdata, outpost_str value) {
  char text[32];
  size_t n = value.len < sizeof text - 1 ? value.len : sizeof text - 1;
  memcpy(text, value.data, n);
  text[n] = '\0';
  *(long *)userdata = strtol(text, NULL, 10);
}

OUTPOST_EXPORT uint32_t outpost_plugin_version(void) {
  return OUTPOST_PLUGIN_ABI_VERSION;
}

OUTPOST_EXPORT outpost_result outpost_plugin_init(const outpost_api *api, const outpost_plugin_config *config,
                                                  void **state) {
  hooks *h = calloc(1, sizeof *h);
  if (h == NULL) {
    return OUTPOST_ERROR;
  }
  h->api = api;
  h->self = config->self;
  h->last_publish_result = -100;
  pthread_mutex_init(&h->mutex, NULL);
  pthread_cond_init(&h->wake, NULL);
  *state = h;

  snprintf(h->heartbeat_topic, sizeof h->heartbeat_topic, "heartbeat/hooks");
  const outpost_node *cfg = config->config;
  if (api->node_kind(cfg) == OUTPOST_NODE_MAP) {
    for (size_t i = 0; i < api->node_size(cfg); i++) {
      outpost_str key = api->node_key_at(cfg, i);
      const outpost_node *value = api->node_at(cfg, i);
      if (str_is(key, "heartbeat_topic") && api->node_kind(value) == OUTPOST_NODE_SCALAR) {
        outpost_str t = api->node_scalar(value);
        snprintf(h->heartbeat_topic, sizeof h->heartbeat_topic, "%.*s", (int)(t.len > 200 ? 200 : t.len), t.data);
      } else {
        api->set_error(config->self, value, "hooks: the only key is heartbeat_topic (a topic)");
        return OUTPOST_ERROR;
      }
    }
  } else if (api->node_kind(cfg) != OUTPOST_NODE_NULL) {
    api->set_error(config->self, cfg, "hooks: config must be a mapping");
    return OUTPOST_ERROR;
  }

  /* Starts counted in the durable key-value space: survives restarts. */
  long starts = 0;
  outpost_str key = {"starts", 6};
  outpost_result got = api->kv_get(config->self, key, found_starts, &starts);
  if (got != OUTPOST_OK && got != OUTPOST_NOT_FOUND) {
    api->set_error(config->self, NULL, "hooks: kv_get failed");
    return OUTPOST_ERROR;
  }
  char value[32];
  int n = snprintf(value, sizeof value, "%ld", ++starts);
  outpost_str stored = {value, (size_t)n};
  if (api->kv_put(config->self, key, stored) != OUTPOST_OK) {
    api->set_error(config->self, NULL, "hooks: kv_put failed");
    return OUTPOST_ERROR;
  }
  logf_(h, "hooks: start number %ld", starts);

  if (pthread_create(&h->worker, NULL, authenticator, h) != 0) {
    api->set_error(config->self, NULL, "hooks: cannot start a thread");
    return OUTPOST_ERROR;
  }
  h->worker_started = 1;

  outpost_callbacks callbacks;
  memset(&callbacks, 0, sizeof callbacks);
  callbacks.size = sizeof callbacks;
  callbacks.authenticate = on_authenticate;
  callbacks.message = on_message;
  callbacks.client_connected = on_connected;
  callbacks.client_disconnected = on_disconnected;
  callbacks.reload = on_reload;
  callbacks.tick = on_tick;
  return api->set_callbacks(config->self, &callbacks);
}

OUTPOST_EXPORT void outpost_plugin_cleanup(void *state) {
  hooks *h = state;
  if (h == NULL) {
    return;
  }
  if (h->worker_started) {
    pthread_mutex_lock(&h->mutex);
    h->stopping = 1;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->mutex);
    pthread_join(h->worker, NULL);
  }
  /* Logins still pending belong to connections that have ended by now (cleanup runs after
   * every connection is gone); api calls other than log are ignored here, so they are only
   * freed. */
  while (h->queue != NULL) {
    pending_auth *next = h->queue->next;
    free(h->queue);
    h->queue = next;
  }
  pthread_cond_destroy(&h->wake);
  pthread_mutex_destroy(&h->mutex);
  free(h);
}
