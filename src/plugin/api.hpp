// The broker's API table handed to every plugin (outpost_api in plugin.h), and the
// configuration tree seen as outpost_node.
#pragma once

#include "config_tree.hpp"

#include <outpost/plugin.h>

namespace outpost::plugin {

const outpost_api& broker_api();

inline const outpost_node* node_of(const ConfigTree* t) noexcept { return reinterpret_cast<const outpost_node*>(t); }
inline const ConfigTree* tree_of(const outpost_node* n) noexcept { return reinterpret_cast<const ConfigTree*>(n); }

}  // namespace outpost::plugin
