/* A plugin built for another major version of the interface: the broker must refuse it
 * before calling its init. */
#include <outpost/plugin.h>

#include <stdio.h>

OUTPOST_EXPORT uint32_t outpost_plugin_version(void) {
  return (uint32_t)(OUTPOST_PLUGIN_ABI_MAJOR + 1) << 16;
}

OUTPOST_EXPORT outpost_result outpost_plugin_init(const outpost_api *api, const outpost_plugin_config *config,
                                                  void **state) {
  (void)state;
  /* Never reached on a broker that checks the version; the test looks for this line. */
  api->log(config->self, OUTPOST_LOG_ERROR, "bad_version: init ran although the version is wrong");
  fprintf(stderr, "bad_version: init ran although the version is wrong\n");
  return OUTPOST_OK;
}

OUTPOST_EXPORT void outpost_plugin_cleanup(void *state) {
  (void)state;
  fprintf(stderr, "bad_version: cleanup ran although init never should have\n");
}
