/* The minimal plugin of plugins/README.md, built by the tests so the README's example
 * stays true: refuses every message published under "secret/". */
#include <outpost/plugin.h>
#include <string.h>

static outpost_result on_message(void *state, const outpost_client *client, outpost_message *m) {
  (void)state;
  (void)client;
  return m->topic.len >= 7 && memcmp(m->topic.data, "secret/", 7) == 0 ? OUTPOST_DENY : OUTPOST_OK;
}

OUTPOST_EXPORT uint32_t outpost_plugin_version(void) { return OUTPOST_PLUGIN_ABI_VERSION; }

OUTPOST_EXPORT outpost_result outpost_plugin_init(const outpost_api *api, const outpost_plugin_config *config,
                                                  void **state) {
  outpost_callbacks callbacks = {.size = sizeof callbacks, .message = on_message};
  *state = NULL;
  api->log(config->self, OUTPOST_LOG_INFO, "refusing messages under secret/");
  return api->set_callbacks(config->self, &callbacks);
}

OUTPOST_EXPORT void outpost_plugin_cleanup(void *state) { (void)state; }
