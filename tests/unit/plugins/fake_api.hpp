// An outpost_api table for unit tests of bridge_mqtt's pure parts: the node functions over
// an in-memory tree built from YAML text (yaml-cpp); the rest is not needed by them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include <outpost/plugin.h>

namespace outpost::test {

struct FakeNode {
  outpost_node_kind kind = OUTPOST_NODE_NULL;
  std::string scalar;
  std::vector<std::pair<std::string, std::unique_ptr<FakeNode>>> items;  // map (key) or sequence (empty key)
  std::string position;
};

inline std::unique_ptr<FakeNode> build(const YAML::Node &y) {
  auto n = std::make_unique<FakeNode>();
  const auto mark = y.Mark();
  n->position = "test.yaml:" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  switch (y.Type()) {
    case YAML::NodeType::Scalar:
      n->kind = OUTPOST_NODE_SCALAR;
      n->scalar = y.Scalar();
      break;
    case YAML::NodeType::Sequence:
      n->kind = OUTPOST_NODE_SEQUENCE;
      for (const auto &item : y) n->items.emplace_back("", build(item));
      break;
    case YAML::NodeType::Map:
      n->kind = OUTPOST_NODE_MAP;
      for (const auto &kv : y) n->items.emplace_back(kv.first.Scalar(), build(kv.second));
      break;
    default:
      break;
  }
  return n;
}

inline const FakeNode *fake(const outpost_node *n) { return reinterpret_cast<const FakeNode *>(n); }
inline const outpost_node *node(const FakeNode *n) { return reinterpret_cast<const outpost_node *>(n); }

inline outpost_api fake_api() {
  outpost_api api{};
  api.size = sizeof api;
  api.abi_version = OUTPOST_PLUGIN_ABI_VERSION;
  api.broker_version = "test";
  api.node_kind = [](const outpost_node *n) { return n ? fake(n)->kind : OUTPOST_NODE_NULL; };
  api.node_scalar = [](const outpost_node *n) {
    return n && fake(n)->kind == OUTPOST_NODE_SCALAR ? outpost_str{fake(n)->scalar.data(), fake(n)->scalar.size()}
                                                    : outpost_str{nullptr, 0};
  };
  api.node_size = [](const outpost_node *n) { return n ? fake(n)->items.size() : size_t{0}; };
  api.node_at = [](const outpost_node *n, size_t i) {
    return n && i < fake(n)->items.size() ? node(fake(n)->items[i].second.get()) : nullptr;
  };
  api.node_key_at = [](const outpost_node *n, size_t i) {
    if (!n || i >= fake(n)->items.size()) return outpost_str{nullptr, 0};
    const auto &k = fake(n)->items[i].first;
    return outpost_str{k.data(), k.size()};
  };
  api.node_get = [](const outpost_node *n, const char *key) -> const outpost_node * {
    if (!n || fake(n)->kind != OUTPOST_NODE_MAP) return nullptr;
    for (const auto &[k, v] : fake(n)->items)
      if (k == key) return node(v.get());
    return nullptr;
  };
  api.node_position = [](const outpost_node *n) { return n ? fake(n)->position.c_str() : ""; };
  return api;
}

// A parsed YAML document and its tree, kept alive together.
struct Tree {
  explicit Tree(const std::string &text) : root(build(YAML::Load(text))) {}
  const outpost_node *get() const { return node(root.get()); }
  std::unique_ptr<FakeNode> root;
};

}  // namespace outpost::test
