// The exported entry points of bridge_mqtt.so (outpost/plugin.h). Exceptions stop here.
#include <memory>
#include <string>

#include <outpost/plugin.h>

#include "bridge.hpp"
#include "config.hpp"

extern "C" OUTPOST_EXPORT uint32_t outpost_plugin_version(void) { return OUTPOST_PLUGIN_ABI_VERSION; }

extern "C" OUTPOST_EXPORT outpost_result outpost_plugin_init(const outpost_api *api, const outpost_plugin_config *config,
                                                             void **state) {
  using namespace outpost::bridge;
  *state = nullptr;
  if (!api || !config || (api->abi_version >> 16) != OUTPOST_PLUGIN_ABI_MAJOR) return OUTPOST_ERROR;
  try {
    const std::string name = config->name ? config->name : "bridge";
    ConfigError error{};
    auto parsed = parse_config(api, config->config, name, error);
    if (!parsed) {
      api->set_error(config->self, error.node, error.message.c_str());
      return OUTPOST_ERROR;
    }
    auto bridge = std::make_unique<Bridge>(api, config->self, name, std::move(*parsed));
    const auto result = bridge->open();
    *state = bridge.release();
    return result;
  } catch (const std::exception &e) {
    api->set_error(config->self, nullptr, e.what());
    return OUTPOST_ERROR;
  }
}

extern "C" OUTPOST_EXPORT void outpost_plugin_cleanup(void *state) {
  try {
    delete static_cast<outpost::bridge::Bridge *>(state);
  } catch (...) {
  }
}
