/* Outpost plugin interface (C ABI).
 *
 * A plugin is a shared object loaded with dlopen from the configuration:
 *
 *   plugins:
 *     - name: cloud            # the instance name: logs, $SYS topics, metrics
 *       library: bridge_mqtt   # looked up in plugin_dir as bridge_mqtt.so, or an absolute path
 *       user: bridge           # optional: the user name its publishes are authorized as
 *       config: {...}          # any YAML: handed to the plugin as a tree (outpost_node)
 *
 * It exports three functions (see the end of this file): outpost_plugin_version(),
 * outpost_plugin_init() and outpost_plugin_cleanup(). One library may be loaded as several
 * instances; each gets its own `state`.
 *
 * Rules of the interface
 * - Plain C. No C++ type, no exception crosses it; a plugin written in C++ catches its
 *   exceptions before returning.
 * - Versioned: outpost_plugin_version() returns the OUTPOST_PLUGIN_ABI_VERSION the plugin
 *   was built with; the broker refuses to start with a plugin of another major version.
 * - Every struct passed across starts with `size` (its sizeof as the writer knew it).
 *   Fields are only ever added at the end; a reader uses a field only if `size` covers it
 *   (OUTPOST_HAS_FIELD). So a plugin built against an older header keeps working.
 * - Strings are outpost_str (pointer and length, not NUL-terminated, may hold any byte),
 *   except where a `const char *` is documented as NUL-terminated.
 * - What the broker hands to a callback is valid only during that call; copy what you
 *   keep.
 *
 * Threads
 * - init and cleanup run on the broker's main thread: init before any listener opens,
 *   cleanup after every connection has ended.
 * - Each plugin instance has a thread of its own, the "plugin thread". authenticate,
 *   client_connected, client_disconnected, reload, tick, queue deliveries and publish
 *   completions run there, one at a time, never on the broker's I/O threads: they may
 *   block (a blocking call delays only this plugin's other callbacks).
 * - authorize and message run on the I/O thread of the connection concerned, on every
 *   publish, subscribe or delivery: they must be fast, must not block, and may run on
 *   several threads at once.
 * - Every api function may be called from any thread (the plugin thread, an I/O thread
 *   inside authorize/message, or a thread of the plugin's own) unless it says otherwise.
 *
 * Errors
 * - A callback that returns OUTPOST_ERROR is logged with the plugin's name. For
 *   authenticate and authorize an error counts as a refusal; for message, as a refusal of
 *   the message. Nothing waits on a plugin forever: a client whose authentication is never
 *   completed is closed by the connect timeout.
 */
#ifndef OUTPOST_PLUGIN_H
#define OUTPOST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Major version in the high 16 bits, minor (additions only) in the low 16 bits. */
#define OUTPOST_PLUGIN_ABI_MAJOR 1
#define OUTPOST_PLUGIN_ABI_MINOR 0
#define OUTPOST_PLUGIN_ABI_VERSION ((OUTPOST_PLUGIN_ABI_MAJOR << 16) | OUTPOST_PLUGIN_ABI_MINOR)

/* True when the struct pointed to by `p` (its `size` as its writer set it) contains `field`. */
#define OUTPOST_HAS_FIELD(p, type, field) \
  ((p) != NULL && (p)->size >= offsetof(type, field) + sizeof(((type *)0)->field))

#if defined(__GNUC__)
#define OUTPOST_EXPORT __attribute__((visibility("default")))
#else
#define OUTPOST_EXPORT
#endif

typedef enum outpost_result {
  OUTPOST_OK = 0,        /* accepted / allowed / done */
  OUTPOST_DEFER = 1,     /* not this plugin's decision: the next plugin, then the broker's own rules decide */
  OUTPOST_DENY = 2,      /* refused: bad credentials, not authorized, or (message) refused to its publisher */
  OUTPOST_PENDING = 3,   /* authenticate: the answer follows through api->auth_complete */
  OUTPOST_DROP = 4,      /* message: accepted from its publisher and discarded */
  OUTPOST_NOT_FOUND = 5, /* kv_get: no such key */
  OUTPOST_FULL = 6,      /* publish: the store or the target queue is full */
  OUTPOST_ERROR = -1     /* failed: logged by the broker */
} outpost_result;

typedef struct outpost_str {
  const char *data;
  size_t len;
} outpost_str;

/* Opaque handles owned by the broker. */
typedef struct outpost_plugin outpost_plugin;           /* this plugin instance */
typedef struct outpost_node outpost_node;               /* a node of the plugin's YAML config */
typedef struct outpost_auth_ticket outpost_auth_ticket; /* one pending authentication */
typedef struct outpost_queue outpost_queue;             /* a durable queue the plugin consumes */
typedef struct outpost_counter outpost_counter;         /* a metric */

/* ------------------------------------------------------------------ clients */

typedef enum outpost_protocol {
  OUTPOST_PROTOCOL_BROKER = 0, /* the broker's own messages (dead letters, delayed wills) */
  OUTPOST_PROTOCOL_MQTT = 1,
  OUTPOST_PROTOCOL_AMQP = 2,
  OUTPOST_PROTOCOL_PLUGIN = 3
} outpost_protocol;

/* Who is connecting, publishing, subscribing or consuming. */
typedef struct outpost_client {
  uint32_t size;
  outpost_protocol protocol;
  outpost_str listener;             /* "mqtt 127.0.0.1:1883"; empty for plugins and the broker */
  outpost_str address;              /* remote "address:port" */
  outpost_str client_id;            /* MQTT client id; AMQP: empty */
  outpost_str user;                 /* the authenticated user; empty: anonymous */
  outpost_str certificate_identity; /* a verified TLS client certificate's identity; empty: none */
  uint64_t origin;                  /* the broker's number for this publisher, unique while it runs */
} outpost_client;

/* ------------------------------------------------------------------ messages */

typedef struct outpost_user_property {
  outpost_str key;
  outpost_str value;
} outpost_user_property;

/* A message. Topics are in MQTT form ('/' between levels), also for AMQP publishes on
 * amq.topic. */
typedef struct outpost_message {
  uint32_t size;
  outpost_str topic;
  outpost_str payload;
  uint8_t qos;            /* 0, 1, 2 */
  uint8_t retain;         /* 0 or 1 */
  int16_t payload_format; /* MQTT 5 payload format indicator: 0 or 1; -1 = absent */
  int64_t expiry_unix_ms; /* absolute expiry, ms since the epoch; 0 = never */
  outpost_str content_type;
  outpost_str response_topic;
  outpost_str correlation_data;
  /* MQTT 5 user properties / AMQP headers, in order. A W3C trace context travels here as
   * "traceparent" (and "tracestate"): a plugin that forwards a message keeps them. */
  const outpost_user_property *user_properties;
  size_t user_property_count;
} outpost_message;

/* ------------------------------------------------------------------ callbacks */

typedef struct outpost_auth_request {
  uint32_t size;
  const outpost_client *client; /* client->user is the user name as sent */
  int has_user;                 /* 0: the client sent no user name */
  int has_password;
  outpost_str password;         /* MQTT password / AMQP PLAIN password (bytes) */
  outpost_str mechanism;        /* AMQP SASL mechanism ("PLAIN", "AMQPLAIN"); MQTT: empty */
} outpost_auth_request;

typedef enum outpost_access {
  OUTPOST_ACCESS_PUBLISH = 1,   /* name: the topic (MQTT) / routing key on amq.topic, or the exchange's key */
  OUTPOST_ACCESS_SUBSCRIBE = 2, /* name: a subscription filter / a binding key on amq.topic */
  OUTPOST_ACCESS_CONSUME = 3    /* name: the topic of one message delivered (exchange "amq.topic"),
                                   or a queue consumed from by name (exchange empty) */
} outpost_access;

typedef struct outpost_callbacks {
  uint32_t size;
  /* Plugin thread. Decide now (OK: accepted with the user name as sent, DENY, DEFER,
   * ERROR), or return PENDING and call api->auth_complete(ticket, ...) exactly once, from
   * any thread, now or later. The first plugin that does not DEFER decides; if all defer,
   * the listener's own rules (password file, allow_anonymous) do. */
  outpost_result (*authenticate)(void *state, const outpost_auth_request *request, outpost_auth_ticket *ticket);
  /* I/O thread, must not block. `exchange` is "amq.topic" for MQTT topics and for AMQP
   * keys on amq.topic. OK allows, DENY refuses, DEFER leaves it to the next plugin and then
   * to the ACLs (no ACL configured: allowed). */
  outpost_result (*authorize)(void *state, const outpost_client *client, outpost_access access,
                              outpost_str exchange, outpost_str name);
  /* I/O thread, must not block: every message a client publishes (wills included), after
   * authorization, before it is stored and routed. The plugin may change fields of
   * `message` (pointing them at memory that stays valid until it returns); the broker
   * copies what changed. OK: goes on (changed or not); DROP: accepted and discarded; DENY
   * or ERROR: refused (MQTT 5 PUBACK 0x87, 3.1.1 dropped, AMQP 403). Messages published by
   * plugins through api->publish do not pass here. */
  outpost_result (*message)(void *state, const outpost_client *client, outpost_message *message);
  /* Plugin thread, after the client was accepted / after it is gone. */
  void (*client_connected)(void *state, const outpost_client *client);
  void (*client_disconnected)(void *state, const outpost_client *client);
  /* Plugin thread, on SIGHUP: `config` is the plugin's section of the configuration file
   * as read again (the previous one if the file no longer loads). */
  outpost_result (*reload)(void *state, const outpost_node *config);
  /* Plugin thread, about once a second. */
  void (*tick)(void *state, int64_t now_unix_ms);
} outpost_callbacks;

/* ------------------------------------------------------------------ queues */

/* Fixed layout (an array element): it changes only with a new major version. */
typedef struct outpost_subscription {
  outpost_str filter; /* an MQTT topic filter on amq.topic */
  uint8_t qos;        /* maximum QoS of the deliveries (as an MQTT subscription) */
  uint8_t no_local;   /* 1: not the messages this plugin instance published itself (loop prevention) */
  uint8_t reserved[6];
} outpost_subscription;

typedef enum outpost_overflow {
  OUTPOST_OVERFLOW_REFUSE = 0,     /* full: new messages are refused; their MQTT 5 publishers get 0x97 */
  OUTPOST_OVERFLOW_DROP_OLDEST = 1 /* full: the oldest message is dropped (counted, logged) */
} outpost_overflow;

typedef struct outpost_delivery {
  uint32_t size;
  uint64_t id; /* acknowledge with api->queue_ack(queue, id) */
  const outpost_message *message;
  int redelivered; /* handed over before (api->queue_recover, or before a restart) */
} outpost_delivery;

/* Plugin thread: one message from the queue. The plugin acknowledges it, from any thread,
 * once it is done with it (the bridge: once the remote broker acknowledged it); until then
 * it stays in the store. Deliveries come in queue order. */
typedef void (*outpost_delivery_fn)(void *userdata, outpost_queue *queue, const outpost_delivery *delivery);

typedef struct outpost_queue_options {
  uint32_t size;
  const char *name; /* NUL-terminated; unique within the instance; stored as "plugin:<instance>:<name>" */
  const outpost_subscription *subscriptions;
  size_t subscription_count;
  uint64_t max_bytes;    /* 0 = the broker's default for queues */
  uint64_t max_messages; /* 0 = no limit by count */
  outpost_overflow overflow;
  uint32_t window; /* deliveries handed over and not acknowledged at once; 0 = paused */
  outpost_delivery_fn on_delivery;
  void *userdata;
} outpost_queue_options;

typedef struct outpost_queue_stats {
  uint32_t size;
  uint64_t messages;    /* queued, handed over ones included */
  uint64_t bytes;
  uint64_t in_flight;   /* handed over and not acknowledged */
  uint64_t acked;       /* acknowledged since start */
  uint64_t dropped;     /* refused or dropped because of max_bytes / max_messages since start */
} outpost_queue_stats;

/* ------------------------------------------------------------------ config */

typedef enum outpost_node_kind {
  OUTPOST_NODE_NULL = 0,
  OUTPOST_NODE_SCALAR = 1,
  OUTPOST_NODE_SEQUENCE = 2,
  OUTPOST_NODE_MAP = 3
} outpost_node_kind;

typedef enum outpost_log_level {
  OUTPOST_LOG_DEBUG = 0,
  OUTPOST_LOG_INFO = 1,
  OUTPOST_LOG_WARN = 2,
  OUTPOST_LOG_ERROR = 3
} outpost_log_level;

typedef enum outpost_counter_kind {
  OUTPOST_COUNTER = 0, /* only goes up: counter_add */
  OUTPOST_GAUGE = 1    /* a level: counter_set */
} outpost_counter_kind;

/* publish's completion: plugin thread. OK: routed, and durable if the store keeps it (as a
 * client's PUBACK); DENY: not authorized; FULL: store or queue full; OUTPOST_DEFER: no
 * subscriber matched (routed nowhere, nothing kept). */
typedef void (*outpost_publish_done_fn)(void *userdata, outpost_result result);

/* ------------------------------------------------------------------ the broker's API */

typedef struct outpost_api {
  uint32_t size;
  uint32_t abi_version;       /* OUTPOST_PLUGIN_ABI_VERSION of the broker */
  const char *broker_version; /* NUL-terminated, "0.1.0" */

  /* Init only: the callbacks this instance wants; `callbacks` is copied, NULL members
   * are not called. */
  outpost_result (*set_callbacks)(outpost_plugin *self, const outpost_callbacks *callbacks);
  /* Init only: why init failed (NUL-terminated), shown in the start-up error; with a
   * `node`, prefixed with the node's file:line:column. */
  void (*set_error)(outpost_plugin *self, const outpost_node *node, const char *message);

  /* A line in the broker's log, prefixed with the instance name. */
  void (*log)(outpost_plugin *self, outpost_log_level level, const char *message);

  /* Publishes a message as this plugin (identity: protocol plugin, client id
   * "plugin:<instance>", user as configured with `user:`, by default the instance name),
   * through the same door as clients: ACLs
   * apply, the store-full check applies, retained messages are kept. The message is
   * copied before the call returns. `done` (may be NULL) runs on the plugin thread. */
  outpost_result (*publish)(outpost_plugin *self, const outpost_message *message, outpost_publish_done_fn done,
                            void *userdata);
  /* Sets a retained status topic "$SYS/broker/<subtopic>" (QoS 0), published as the
   * broker (no ACL). An empty value removes it. */
  outpost_result (*publish_sys)(outpost_plugin *self, outpost_str subtopic, outpost_str value);

  /* Init only: opens (creating, or finding after a restart) a durable queue bound to
   * `subscriptions`. QoS 1/2 messages in it are in the store from the moment their
   * publisher is acknowledged until the plugin acknowledges them; QoS 0 ones are kept in
   * memory only. Deliveries start once the broker runs. */
  outpost_result (*queue_open)(outpost_plugin *self, const outpost_queue_options *options, outpost_queue **queue);
  /* The plugin is done with delivery `id`: it leaves the queue and the store. */
  void (*queue_ack)(outpost_queue *queue, uint64_t id);
  /* Every delivery handed over and not acknowledged goes back to the head of the queue, in
   * its order, and is handed over again (redelivered). For a consumer whose link broke. */
  void (*queue_recover)(outpost_queue *queue);
  /* How many deliveries may be handed over and not acknowledged; 0 pauses the queue. */
  void (*queue_set_window)(outpost_queue *queue, uint32_t window);
  void (*queue_stats)(outpost_queue *queue, outpost_queue_stats *stats);

  /* Completes a PENDING authentication: result OK (accepted; `user`, if not NULL, is the
   * name the client is known by from now on), DENY, DEFER or ERROR. `reason`
   * (NUL-terminated, may be NULL) goes to the log. Exactly once per ticket. */
  void (*auth_complete)(outpost_auth_ticket *ticket, outpost_result result, const char *user, const char *reason);

  /* A small durable key-value space of this instance, kept in the broker's store. A put
   * or delete is durable after the store's next commit (milliseconds). kv_get calls
   * `found` with the value (valid during the call) and returns OK, or NOT_FOUND. */
  outpost_result (*kv_put)(outpost_plugin *self, outpost_str key, outpost_str value);
  outpost_result (*kv_delete)(outpost_plugin *self, outpost_str key);
  outpost_result (*kv_get)(outpost_plugin *self, outpost_str key, void (*found)(void *userdata, outpost_str value),
                           void *userdata);

  /* Init only: a metric of this instance, "outpost_plugin_<name>" labelled with the
   * instance. NULL if `name` is not [a-z_][a-z0-9_]*. */
  outpost_counter *(*counter)(outpost_plugin *self, const char *name, const char *help, outpost_counter_kind kind);
  void (*counter_add)(outpost_counter *counter, uint64_t delta);
  void (*counter_set)(outpost_counter *counter, int64_t value);

  /* The configuration tree. A missing node (NULL) has kind NULL; a scalar's text is
   * its YAML value as written (unquoted). */
  outpost_node_kind (*node_kind)(const outpost_node *node);
  outpost_str (*node_scalar)(const outpost_node *node);
  size_t (*node_size)(const outpost_node *node);                              /* sequence or map */
  const outpost_node *(*node_at)(const outpost_node *node, size_t index);      /* sequence item / map value */
  outpost_str (*node_key_at)(const outpost_node *node, size_t index);          /* map key */
  const outpost_node *(*node_get)(const outpost_node *map, const char *key);   /* NULL if absent */
  /* "file:line:column" of the node (NUL-terminated, valid while the broker runs). */
  const char *(*node_position)(const outpost_node *node);
} outpost_api;

/* What init gets besides the API. */
typedef struct outpost_plugin_config {
  uint32_t size;
  outpost_plugin *self;        /* pass to the api functions */
  const char *name;            /* the instance name (NUL-terminated) */
  const outpost_node *config;  /* the instance's `config:` section; kind NULL if absent */
  const char *data_dir;        /* the broker's data directory (NUL-terminated; empty if it keeps nothing) */
} outpost_plugin_config;

/* ------------------------------------------------------------------ what a plugin exports */

/* Returns OUTPOST_PLUGIN_ABI_VERSION as the plugin was built. */
OUTPOST_EXPORT uint32_t outpost_plugin_version(void);
/* Main thread, before listeners open. Returns OUTPOST_OK, or anything else to stop the
 * broker's start (after api->set_error with the reason). `*state` is passed to every
 * callback and to cleanup. */
OUTPOST_EXPORT outpost_result outpost_plugin_init(const outpost_api *api, const outpost_plugin_config *config,
                                                  void **state);
/* Main thread, at shutdown (also after a failed init, with the state it set). No callback
 * runs after it starts; api calls made from it are ignored except log. */
OUTPOST_EXPORT void outpost_plugin_cleanup(void *state);

#ifdef __cplusplus
}
#endif

#endif /* OUTPOST_PLUGIN_H */
