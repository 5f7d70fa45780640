// RetainedTree: the last value stored per exact topic (the retained message of each
// topic), searched with a subscription filter. It is TopicTrie turned around: here the
// tree holds topics and the query is a filter.
//
// `match` applies the rules of [MQTT-4.7] from the filter's side: '+' takes every child
// of one level (the empty level too), '#' takes the node it follows ("sport/#" returns
// "sport") and everything below, and a filter whose first level is '+' or '#' skips
// topics starting with '$' [MQTT-4.7.2-1]. Matching is byte-exact [MQTT-4.7.3-4].
// The filter should be a valid MQTT filter (valid_topic_filter): retained messages
// belong to the MQTT exchange; a '#' before other levels is read as a final '#'.
//
// Walks use an explicit stack, never recursion, so a topic with tens of thousands of
// levels cannot exhaust the stack.
//
// Threading: not thread-safe; the owner (RetainedStore) locks. Concurrent const calls
// (find, match, for_each) are safe with each other. No call blocks. A callback must not
// modify the tree it is called from.
#pragma once

#include "core/topic.hpp"

#include <boost/container/small_vector.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace outpost::core {

template <class Value>
class RetainedTree {
 public:
  RetainedTree() = default;
  RetainedTree(const RetainedTree&) = delete;
  RetainedTree& operator=(const RetainedTree&) = delete;
  RetainedTree(RetainedTree&& other) : root_(std::exchange(other.root_, Node{})), size_(std::exchange(other.size_, 0)) {}
  RetainedTree& operator=(RetainedTree&& other) {
    if (this != &other) {
      clear();
      root_ = std::exchange(other.root_, Node{});
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~RetainedTree() { clear(); }

  // Stores `value` for `topic`, replacing what was there.
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

  // Removes the value of `topic` and the nodes it leaves empty. Returns whether there was one.
  bool erase(std::string_view topic) {
    boost::container::small_vector<std::pair<Node*, std::string_view>, 16> path;
    Node* n = &root_;
    LevelIterator it(topic);
    std::string_view level;
    while (it.next(level)) {
      const auto c = n->children.find(level);
      if (c == n->children.end()) return false;
      path.emplace_back(n, level);
      n = c->second.get();
    }
    if (!n->value) return false;
    n->value.reset();
    --size_;
    while (!path.empty() && !n->value && n->children.empty()) {
      auto [parent, name] = path.back();
      path.pop_back();
      parent->children.erase(parent->children.find(name));
      n = parent;
    }
    return true;
  }

  // The value stored for exactly `topic`, or nullptr. Valid until the tree changes.
  const Value* find(std::string_view topic) const {
    const Node* n = &root_;
    LevelIterator it(topic);
    std::string_view level;
    while (it.next(level)) {
      const auto c = n->children.find(level);
      if (c == n->children.end()) return nullptr;
      n = c->second.get();
    }
    return n->value ? &*n->value : nullptr;
  }

  // Calls f for every stored topic that `filter` matches, in no particular order: with
  // f(const Value&) when the value knows its topic (a message does), or with
  // f(std::string_view topic, const Value&), in which case the topic is rebuilt in one
  // reused buffer as the walk goes and the view is valid only during the call.
  template <class F>
  void match(std::string_view filter, F&& f) const {
    walk(Frame{&root_, {}, 0, 0, LevelIterator(filter), false}, f);
  }

  // Calls f for every stored topic, '$' topics included, with the same two forms as match.
  template <class F>
  void for_each(F&& f) const {
    walk(Frame{&root_, {}, 0, 0, LevelIterator({}), true}, f);
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // Nodes below the root: shows that erase prunes. For tests and diagnostics; O(nodes).
  std::size_t node_count() const {
    std::size_t count = 0;
    boost::container::small_vector<const Node*, 32> stack{&root_};
    while (!stack.empty()) {
      const Node* n = stack.back();
      stack.pop_back();
      for (const auto& [name, child] : n->children) stack.push_back(child.get());
      ++count;
    }
    return count - 1;
  }

  // Removes everything. Nodes are freed one by one, without recursion.
  void clear() {
    std::vector<std::unique_ptr<Node>> pending;
    for (auto& [name, child] : root_.children) pending.push_back(std::move(child));
    root_.children.clear();
    while (!pending.empty()) {
      std::unique_ptr<Node> n = std::move(pending.back());
      pending.pop_back();
      for (auto& [name, child] : n->children) pending.push_back(std::move(child));
      n->children.clear();
    }
    root_ = Node{};
    size_ = 0;
  }

 private:
  struct Node {
    std::unordered_map<std::string, std::unique_ptr<Node>, TransparentStringHash, std::equal_to<>> children;
    std::optional<Value> value;
  };

  struct Frame {
    const Node* node;
    std::string_view name;  // the level that leads to node ("" for the root)
    std::size_t depth;      // levels from the root to node
    std::size_t prefix;     // length of the parent's topic in the path buffer
    LevelIterator rest;     // filter levels still to match below node
    bool whole_subtree;     // under a '#': node and everything below it match
  };
  using Stack = boost::container::small_vector<Frame, 32>;

  template <class F>
  static void walk(const Frame& start, F& f) {
    constexpr bool with_topic = std::is_invocable_v<F&, std::string_view, const Value&>;
    Stack stack;
    std::string path;
    stack.push_back(start);
    while (!stack.empty()) {
      const Frame frame = stack.back();
      stack.pop_back();
      if constexpr (with_topic) enter(frame, path);
      const Node& n = *frame.node;
      const std::size_t prefix = path.size();
      const std::size_t depth = frame.depth + 1;
      if (frame.whole_subtree) {
        report(n, path, f);
        for (const auto& [name, child] : n.children) stack.push_back(Frame{child.get(), name, depth, prefix, frame.rest, true});
        continue;
      }
      LevelIterator after = frame.rest;
      std::string_view level;
      if (!after.next(level)) {
        report(n, path, f);
        continue;
      }
      // [MQTT-4.7.2-1]: at the first level a wildcard does not take '$' topics.
      const bool skip_dollar = frame.depth == 0;
      if (level == "#") {
        if (frame.depth > 0) report(n, path, f);  // "sport/#" matches "sport" [MQTT-4.7.1-2]
        for (const auto& [name, child] : n.children) {
          if (skip_dollar && is_dollar(name)) continue;
          stack.push_back(Frame{child.get(), name, depth, prefix, after, true});
        }
      } else if (level == "+") {
        for (const auto& [name, child] : n.children) {
          if (skip_dollar && is_dollar(name)) continue;
          stack.push_back(Frame{child.get(), name, depth, prefix, after, false});
        }
      } else if (const auto c = n.children.find(level); c != n.children.end()) {
        stack.push_back(Frame{c->second.get(), c->first, depth, prefix, after, false});
      }
    }
  }

  static bool is_dollar(std::string_view level) noexcept { return !level.empty() && level.front() == '$'; }

  // Depth-first order keeps the parent's topic as a prefix of `path`.
  static void enter(const Frame& frame, std::string& path) {
    path.resize(frame.prefix);
    if (frame.depth > 1) path.push_back('/');
    path.append(frame.name);
  }

  template <class F>
  static void report(const Node& n, const std::string& path, F& f) {
    if (!n.value) return;
    if constexpr (std::is_invocable_v<F&, std::string_view, const Value&>) {
      f(std::string_view(path), *n.value);
    } else {
      f(*n.value);
    }
  }

  Node root_;
  std::size_t size_ = 0;
};

}  // namespace outpost::core
