// TopicTrie: the subscription index of a topic exchange. Filters are stored level by
// level; exact levels, '+' and '#' children are kept apart so a lookup costs O(levels)
// plus the wildcard branches, and walks string_views without allocating.
//
// MQTT semantics [MQTT-4.7]: '+' matches exactly one level (an empty one too), '#'
// matches the parent level and any number of levels below it ("sport/#" matches
// "sport"), and a topic starting with '$' is not matched by a filter whose first level
// is a wildcard [MQTT-4.7.2-1]. For AMQP bindings (converted to this form) '#' may also
// stand in the middle, matching zero or more levels ("a/#/z" matches "a/z").
//
// Not thread-safe: the owning Exchange locks.
#pragma once

#include "core/topic.hpp"

#include <boost/container/small_vector.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace outpost::core {

struct TransparentStringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class Key, class Value>
class TopicTrie {
 public:
  // Adds (filter, key) or replaces its value. Returns true if it was new.
  bool insert(std::string_view filter, const Key& key, Value value) {
    Node* n = &root_;
    LevelIterator it(filter);
    std::string_view level;
    while (it.next(level)) n = n->child_for_insert(level);
    for (auto& e : n->entries) {
      if (e.first == key) {
        e.second = std::move(value);
        return false;
      }
    }
    n->entries.emplace_back(key, std::move(value));
    ++size_;
    return true;
  }

  // Removes (filter, key); prunes nodes left empty. Returns whether it existed.
  bool erase(std::string_view filter, const Key& key) {
    boost::container::small_vector<std::pair<Node*, std::string_view>, 16> path;
    Node* n = &root_;
    LevelIterator it(filter);
    std::string_view level;
    while (it.next(level)) {
      Node* c = n->find_child(level);
      if (!c) return false;
      path.emplace_back(n, level);
      n = c;
    }
    auto& entries = n->entries;
    for (auto e = entries.begin(); e != entries.end(); ++e) {
      if (e->first == key) {
        entries.erase(e);
        --size_;
        prune(path, n);
        return true;
      }
    }
    return false;
  }

  // Calls f(key, value) for every stored (filter, key) whose filter matches `topic`.
  template <class F>
  void match(std::string_view topic, F&& f) const {
    Levels levels;
    LevelIterator it(topic);
    std::string_view level;
    while (it.next(level)) levels.push_back(level);
    const bool dollar = !topic.empty() && topic.front() == '$';
    visit(root_, levels, 0, dollar, true, f);
  }

  template <class F>
  void for_each(F&& f) const {
    for_each_node(root_, f);
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

 private:
  using Levels = boost::container::small_vector<std::string_view, 16>;

  struct Node {
    std::unordered_map<std::string, std::unique_ptr<Node>, TransparentStringHash, std::equal_to<>> children;
    std::unique_ptr<Node> plus;
    std::unique_ptr<Node> hash;
    std::vector<std::pair<Key, Value>> entries;

    bool empty() const noexcept { return children.empty() && !plus && !hash && entries.empty(); }
    bool has_children() const noexcept { return !children.empty() || plus || hash; }

    Node* find_child(std::string_view level) const {
      if (level == "+") return plus.get();
      if (level == "#") return hash.get();
      auto it = children.find(level);
      return it == children.end() ? nullptr : it->second.get();
    }
    Node* child_for_insert(std::string_view level) {
      std::unique_ptr<Node>* slot;
      if (level == "+") {
        slot = &plus;
      } else if (level == "#") {
        slot = &hash;
      } else {
        auto it = children.find(level);
        if (it == children.end()) it = children.emplace(std::string(level), nullptr).first;
        slot = &it->second;
      }
      if (!*slot) *slot = std::make_unique<Node>();
      return slot->get();
    }
    void remove_child(std::string_view level) {
      if (level == "+") {
        plus.reset();
      } else if (level == "#") {
        hash.reset();
      } else {
        auto it = children.find(level);
        if (it != children.end()) children.erase(it);
      }
    }
  };

  template <class Path>
  void prune(Path& path, Node* n) {
    while (!path.empty() && n->empty()) {
      auto [parent, level] = path.back();
      path.pop_back();
      parent->remove_child(level);
      n = parent;
    }
  }

  template <class F>
  static void emit(const Node& n, F& f) {
    for (const auto& e : n.entries) f(e.first, e.second);
  }

  // `self` says whether n's own entries may be emitted when all levels are consumed
  // (false when re-entering a '#' node for its children only).
  template <class F>
  static void visit(const Node& n, const Levels& levels, std::size_t i, bool dollar, bool self, F& f) {
    if (i == levels.size()) {
      if (self) emit(n, f);
      // "sport/#" matches "sport" [MQTT-4.7.1-2].
      if (n.hash) visit_hash(*n.hash, levels, i, f);
      return;
    }
    const bool wildcard_ok = !(i == 0 && dollar);
    if (auto it = n.children.find(levels[i]); it != n.children.end()) {
      visit(*it->second, levels, i + 1, dollar, true, f);
    }
    if (n.plus && wildcard_ok) visit(*n.plus, levels, i + 1, dollar, true, f);
    if (n.hash && wildcard_ok) visit_hash(*n.hash, levels, i, f);
  }

  // A '#' node absorbs levels i.. (zero or more). Its entries match whatever remains;
  // below it (AMQP only) matching resumes after any number of absorbed levels.
  template <class F>
  static void visit_hash(const Node& h, const Levels& levels, std::size_t i, F& f) {
    emit(h, f);
    if (!h.has_children()) return;
    for (std::size_t j = i; j <= levels.size(); ++j) visit(h, levels, j, false, false, f);
  }

  template <class F>
  static void for_each_node(const Node& n, F& f) {
    emit(n, f);
    for (const auto& [level, child] : n.children) for_each_node(*child, f);
    if (n.plus) for_each_node(*n.plus, f);
    if (n.hash) for_each_node(*n.hash, f);
  }

  Node root_;
  std::size_t size_ = 0;
};

}  // namespace outpost::core
