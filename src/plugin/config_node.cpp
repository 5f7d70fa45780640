// The configuration tree (ConfigTree) as the plugin ABI's outpost_node functions.
#include "plugin/api.hpp"
#include "plugin/config_node.hpp"
#include "plugin/message_view.hpp"

#include <cstring>

namespace outpost::plugin::node {

outpost_node_kind kind(const outpost_node* n) {
  const auto* t = tree_of(n);
  if (t == nullptr) return OUTPOST_NODE_NULL;
  switch (t->kind) {
    case ConfigTree::Kind::scalar: return OUTPOST_NODE_SCALAR;
    case ConfigTree::Kind::sequence: return OUTPOST_NODE_SEQUENCE;
    case ConfigTree::Kind::map: return OUTPOST_NODE_MAP;
    case ConfigTree::Kind::null: break;
  }
  return OUTPOST_NODE_NULL;
}

outpost_str scalar(const outpost_node* n) {
  const auto* t = tree_of(n);
  if (t == nullptr || t->kind != ConfigTree::Kind::scalar) return outpost_str{"", 0};
  return str(t->scalar);
}

size_t size(const outpost_node* n) {
  const auto* t = tree_of(n);
  return t == nullptr ? 0 : t->values.size();
}

const outpost_node* at(const outpost_node* n, size_t index) {
  const auto* t = tree_of(n);
  if (t == nullptr || index >= t->values.size()) return nullptr;
  return node_of(&t->values[index]);
}

outpost_str key_at(const outpost_node* n, size_t index) {
  const auto* t = tree_of(n);
  if (t == nullptr || t->kind != ConfigTree::Kind::map || index >= t->keys.size()) return outpost_str{"", 0};
  return str(t->keys[index]);
}

const outpost_node* get(const outpost_node* n, const char* key) {
  const auto* t = tree_of(n);
  if (t == nullptr || key == nullptr || t->kind != ConfigTree::Kind::map) return nullptr;
  for (std::size_t i = 0; i < t->keys.size(); ++i) {
    if (t->keys[i] == key) return node_of(&t->values[i]);
  }
  return nullptr;
}

const char* position(const outpost_node* n) {
  const auto* t = tree_of(n);
  return t == nullptr ? "" : t->position.c_str();
}

}  // namespace outpost::plugin::node
