// RetainedTree: the last value stored per exact topic, searched by subscription filter
// (the reverse of TopicTrie: here the tree holds topics and the query is a filter).
// Same rules: '+' one level, '#' the parent and everything below, and '$' topics are
// not matched by a filter whose first level is a wildcard [MQTT-4.7.2-1].
// Not thread-safe: RetainedStore locks.
#pragma once

#include "core/topic.hpp"
#include "core/topic_trie.hpp"

#include <boost/container/small_vector.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace outpost::core {

template <class Value>
class RetainedTree {
 public:
  void set(std::string_view topic, Value value) {
    Node* n = &root_;
    LevelIterator it(topic);
    std::string_view level;
    while (it.next(level)) {
      auto c = n->children.find(level);
      if (c == n->children.end()) c = n->children.emplace(std::string(level), std::make_unique<Node>()).first;
      n = c->second.get();
    }
    if (!n->value) ++size_;
    n->value = std::move(value);
  }

  bool erase(std::string_view topic) {
    boost::container::small_vector<std::pair<Node*, std::string_view>, 16> path;
    Node* n = &root_;
    LevelIterator it(topic);
    std::string_view level;
    while (it.next(level)) {
      auto c = n->children.find(level);
      if (c == n->children.end()) return false;
      path.emplace_back(n, level);
      n = c->second.get();
    }
    if (!n->value) return false;
    n->value.reset();
    --size_;
    while (!path.empty() && !n->value && n->children.empty()) {
      auto [parent, lvl] = path.back();
      path.pop_back();
      parent->children.erase(parent->children.find(lvl));
      n = parent;
    }
    return true;
  }

  const Value* find(std::string_view topic) const {
    const Node* n = &root_;
    LevelIterator it(topic);
    std::string_view level;
    while (it.next(level)) {
      auto c = n->children.find(level);
      if (c == n->children.end()) return nullptr;
      n = c->second.get();
    }
    return n->value ? &*n->value : nullptr;
  }

  // Calls f(value) for every stored topic that `filter` matches.
  template <class F>
  void match(std::string_view filter, F&& f) const {
    boost::container::small_vector<std::string_view, 16> levels;
    LevelIterator it(filter);
    std::string_view level;
    while (it.next(level)) levels.push_back(level);
    visit(root_, levels, 0, f);
  }

  std::size_t size() const noexcept { return size_; }

 private:
  struct Node {
    std::unordered_map<std::string, std::unique_ptr<Node>, TransparentStringHash, std::equal_to<>> children;
    std::optional<Value> value;
  };

  template <class Levels, class F>
  static void visit(const Node& n, const Levels& levels, std::size_t i, F& f) {
    if (i == levels.size()) {
      if (n.value) f(*n.value);
      return;
    }
    const std::string_view level = levels[i];
    if (level == "#") {
      if (n.value && i > 0) f(*n.value);  // "sport/#" matches "sport"
      for (const auto& [name, child] : n.children) {
        if (i == 0 && !name.empty() && name.front() == '$') continue;
        all(*child, f);
      }
      return;
    }
    if (level == "+") {
      for (const auto& [name, child] : n.children) {
        if (i == 0 && !name.empty() && name.front() == '$') continue;
        visit(*child, levels, i + 1, f);
      }
      return;
    }
    if (auto c = n.children.find(level); c != n.children.end()) visit(*c->second, levels, i + 1, f);
  }

  template <class F>
  static void all(const Node& n, F& f) {
    if (n.value) f(*n.value);
    for (const auto& [name, child] : n.children) all(*child, f);
  }

  Node root_;
  std::size_t size_ = 0;
};

}  // namespace outpost::core
