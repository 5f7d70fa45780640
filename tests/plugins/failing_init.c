/* A plugin whose init always fails: the broker must not start, and its error must name the
 * instance and the config node set_error pointed at (file:line:column). cleanup still runs
 * with the state init set, and may log. */
#include <outpost/plugin.h>

#include <stdio.h>
#include <stdlib.h>

typedef struct failing {
  const outpost_api *api;
  outpost_plugin *self;
} failing;

OUTPOST_EXPORT uint32_t outpost_plugin_version(void) {
  return OUTPOST_PLUGIN_ABI_VERSION;
}

OUTPOST_EXPORT outpost_result outpost_plugin_init(const outpost_api *api, const outpost_plugin_config *config,
                                                  void **state) {
  failing *f = malloc(sizeof *f);
  if (f != NULL) {
    f->api = api;
    f->self = config->self;
    *state = f;
  }
  /* `reason:` in the config is where the error points; without it, the section itself. */
  const outpost_node *reason = api->node_get(config->config, "reason");
  const outpost_node *at = reason != NULL ? reason : config->config;
  char message[256];
  if (api->node_kind(reason) == OUTPOST_NODE_SCALAR) {
    outpost_str text = api->node_scalar(reason);
    snprintf(message, sizeof message, "failing_init refuses to start: %.*s", (int)text.len, text.data);
  } else {
    snprintf(message, sizeof message, "failing_init refuses to start");
  }
  api->set_error(config->self, at, message);
  return OUTPOST_ERROR;
}

OUTPOST_EXPORT void outpost_plugin_cleanup(void *state) {
  failing *f = state;
  if (f != NULL) {
    f->api->log(f->self, OUTPOST_LOG_INFO, "failing_init: cleanup after the failed init");
    free(f);
  }
}
