// The outpost_node functions of the API table, over ConfigTree.
#pragma once

#include <outpost/plugin.h>

namespace outpost::plugin::node {

outpost_node_kind kind(const outpost_node* n);
outpost_str scalar(const outpost_node* n);
size_t size(const outpost_node* n);
const outpost_node* at(const outpost_node* n, size_t index);
outpost_str key_at(const outpost_node* n, size_t index);
const outpost_node* get(const outpost_node* n, const char* key);
const char* position(const outpost_node* n);

}  // namespace outpost::plugin::node
