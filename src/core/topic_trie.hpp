// TopicTrie: the subscription index of a topic exchange. It maps (filter, key) pairs to
// a value, where the key names a subscriber (a queue id, say) and the filter is in
// canonical form (see topic.hpp); `match` finds every pair whose filter matches a topic.
//
// Filters are stored level by level. Each node keeps its exact-level children in a small
// array (with a hash index once it is crowded; looked up by string_view, no allocation)
// and its '+' and '#' children apart, so a lookup costs O(levels) plus the wildcard
// branches actually present.
//
// Matching rules [MQTT-4.7]:
//   - '+' matches exactly one level, an empty one too ("a/+" matches "a/").
//   - '#' matches any number of levels, zero included, so "sport/#" matches "sport"
//     [MQTT-4.7.1-2] and "#" matches every topic.
//   - A topic starting with '$' is not matched by a filter whose first level is '+' or
//     '#' [MQTT-4.7.2-1]; "$SYS/#" matches it.
//   - Empty levels are ordinary levels; comparison is byte-exact and case-sensitive, with
//     no normalisation [MQTT-4.7.3-4].
//   - For AMQP bindings (converted to this form by the AMQP adapter) a '#' may also stand
//     before other levels and still matches zero or more levels: "a/#/z" matches "a/z",
//     "a/b/z" and "a/b/c/z". MQTT validation never lets such a filter in from a client.
//
// Each (filter, key) is reported once per match, even for AMQP patterns with several
// '#' that could match one topic in several ways. A key with two overlapping filters is
// reported once per filter: folding those into one delivery is the caller's job.
//
// Nothing here recurses, so a filter or topic with tens of thousands of levels (legal in
// MQTT) cannot exhaust the stack; memory for a walk is on the stack for ordinary depths
// and on the heap beyond that.
//
// Threading: not thread-safe; the owner (Exchange) locks. Concurrent const calls (match,
// for_each, find) are safe with each other. No call blocks. A callback must not modify
// the trie it is called from.
#pragma once

#include "core/topic.hpp"

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace outpost::core {

template <class Key, class Value, class KeyHash = std::hash<Key>, class KeyEqual = std::equal_to<Key>>
class TopicTrie {
 public:
  TopicTrie() = default;
  TopicTrie(const TopicTrie&) = delete;
  TopicTrie& operator=(const TopicTrie&) = delete;
  TopicTrie(TopicTrie&& other) : root_(std::exchange(other.root_, Node{})), size_(std::exchange(other.size_, 0)) {}
  TopicTrie& operator=(TopicTrie&& other) {
    if (this != &other) {
      clear();
      root_ = std::exchange(other.root_, Node{});
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~TopicTrie() { clear(); }

  // Adds (filter, key) with `value`, or replaces the value if this key already has this
  // exact filter. Returns true if the pair is new, false if it replaced.
  bool insert(std::string_view filter, const Key& key, Value value) {
    Node* n = &root_;
    LevelIterator it = levels(filter);
    std::string_view level;
    while (it.next(level)) n = child_for_insert(*n, level);
    if (const auto pos = n->find_entry(key); pos != npos) {
      n->entries[pos].second = std::move(value);
      return false;
    }
    n->add_entry(key, std::move(value));
    ++size_;
    return true;
  }

  // Removes (filter, key) and the nodes it leaves empty, so memory follows the number of
  // subscriptions, not their history. Returns whether the pair existed.
  bool erase(std::string_view filter, const Key& key) {
    boost::container::small_vector<std::pair<Node*, std::string_view>, 16> path;
    Node* n = &root_;
    LevelIterator it = levels(filter);
    std::string_view level;
    while (it.next(level)) {
      Node* child = n->find_child(level);
      if (child == nullptr) return false;
      path.emplace_back(n, level);
      n = child;
    }
    const auto pos = n->find_entry(key);
    if (pos == npos) return false;
    n->remove_entry(pos);
    --size_;
    while (!path.empty() && n->empty()) {
      auto [parent, name] = path.back();
      path.pop_back();
      parent->remove_child(name);
      n = parent;
    }
    return true;
  }

  // The value stored for exactly (filter, key), or nullptr.
  const Value* find(std::string_view filter, const Key& key) const {
    const Node* n = &root_;
    LevelIterator it = levels(filter);
    std::string_view level;
    while (it.next(level)) {
      n = n->find_child(level);
      if (n == nullptr) return nullptr;
    }
    const auto pos = n->find_entry(key);
    return pos == npos ? nullptr : &n->entries[pos].second;
  }

  // Calls f(const Key&, const Value&) once for every (filter, key) whose filter matches
  // `topic`, in no particular order.
  template <class F>
  void match(std::string_view topic, F&& f) const {
    const bool dollar = !topic.empty() && topic.front() == '$';
    Stack stack;
    Seen seen;
    stack.push_back(Frame{&root_, levels(topic), Step::visit});
    while (!stack.empty()) {
      const Frame frame = stack.back();
      stack.pop_back();
      const Node& n = *frame.node;
      if (frame.step == Step::hash_scan) {
        // '#' has absorbed the levels before frame.rest; try the rest of the filter from
        // here, then from one level further on.
        stack.push_back(Frame{&n, frame.rest, Step::below_hash});
        LevelIterator further = frame.rest;
        std::string_view skipped;
        if (further.next(skipped)) stack.push_back(Frame{&n, further, Step::hash_scan});
        continue;
      }
      LevelIterator after = frame.rest;
      std::string_view level;
      if (!after.next(level)) {
        if (frame.step == Step::visit) emit(n, seen, f);
        // "sport/#" matches "sport" [MQTT-4.7.1-2].
        if (n.hash) enter_hash(*n.hash, frame.rest, stack, seen, f);
        continue;
      }
      if (const Node* c = n.children.find(level)) stack.push_back(Frame{c, after, Step::visit});
      // [MQTT-4.7.2-1]: a first-level wildcard does not match a '$' topic.
      if (dollar && &n == &root_) continue;
      if (n.plus) stack.push_back(Frame{n.plus.get(), after, Step::visit});
      if (n.hash) enter_hash(*n.hash, frame.rest, stack, seen, f);
    }
  }

  // Calls f(const Key&, const Value&) for every stored pair, or, if f takes three
  // arguments, f(std::string_view filter, const Key&, const Value&). The filter view is
  // valid only during the call.
  template <class F>
  void for_each(F&& f) const {
    constexpr bool with_filter = std::is_invocable_v<F&, std::string_view, const Key&, const Value&>;
    struct Item {
      const Node* node;
      std::string_view name;
      std::size_t depth;
      std::size_t prefix;
    };
    boost::container::small_vector<Item, 32> stack;
    std::string path;
    stack.push_back(Item{&root_, {}, 0, 0});
    while (!stack.empty()) {
      const Item item = stack.back();
      stack.pop_back();
      if constexpr (with_filter) {
        // Depth-first order keeps the parent's path as a prefix of `path`.
        path.resize(item.prefix);
        if (item.depth > 1) path.push_back('/');
        path.append(item.name);
      }
      for (const auto& e : item.node->entries) {
        if constexpr (with_filter) {
          f(std::string_view(path), e.first, e.second);
        } else {
          f(e.first, e.second);
        }
      }
      const std::size_t prefix = path.size();
      for (const auto& [name, child] : item.node->children) stack.push_back(Item{child.get(), name, item.depth + 1, prefix});
      if (item.node->plus) stack.push_back(Item{item.node->plus.get(), "+", item.depth + 1, prefix});
      if (item.node->hash) stack.push_back(Item{item.node->hash.get(), "#", item.depth + 1, prefix});
    }
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
      if (n->plus) stack.push_back(n->plus.get());
      if (n->hash) stack.push_back(n->hash.get());
      ++count;
    }
    return count - 1;
  }

  // Removes everything. Nodes are freed one by one, without recursion.
  void clear() {
    std::vector<std::unique_ptr<Node>> pending;
    root_.release_children(pending);
    while (!pending.empty()) {
      std::unique_ptr<Node> n = std::move(pending.back());
      pending.pop_back();
      n->release_children(pending);
    }
    root_ = Node{};
    size_ = 0;
  }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  // Past this many keys on one filter, a hash index replaces the linear scan.
  static constexpr std::size_t index_above = 16;

  // Past this many exact-level children, a hash index replaces the linear scan.
  static constexpr std::size_t children_index_above = 8;

  using Entry = std::pair<Key, Value>;
  using Index = std::unordered_map<Key, std::size_t, KeyHash, KeyEqual>;

  struct Node;

  // A node's exact-level children. Most nodes have a few: they are scanned, which costs
  // less than hashing the level; a crowded node (e.g. one child per device) gets an index.
  class Children {
   public:
    using Item = std::pair<std::string, std::unique_ptr<Node>>;

    Node* find(std::string_view level) const {
      if (index_) {
        const auto it = index_->find(level);
        return it == index_->end() ? nullptr : items_[it->second].second.get();
      }
      for (const auto& item : items_) {
        if (item.first == level) return item.second.get();
      }
      return nullptr;
    }

    // The slot for `level`, made empty if there was none.
    std::unique_ptr<Node>& slot(std::string_view level) {
      if (index_) {
        if (const auto it = index_->find(level); it != index_->end()) return items_[it->second].second;
      } else {
        for (auto& item : items_) {
          if (item.first == level) return item.second;
        }
      }
      items_.emplace_back(std::string(level), nullptr);
      if (index_) {
        index_->emplace(items_.back().first, items_.size() - 1);
      } else if (items_.size() > children_index_above) {
        index_ = std::make_unique<NameIndex>();
        for (std::size_t i = 0; i < items_.size(); ++i) index_->emplace(items_[i].first, i);
      }
      return items_.back().second;
    }

    void erase(std::string_view level) {
      std::size_t pos = npos;
      if (index_) {
        const auto it = index_->find(level);
        if (it == index_->end()) return;
        pos = it->second;
        index_->erase(it);
      } else {
        for (std::size_t i = 0; i < items_.size() && pos == npos; ++i) {
          if (items_[i].first == level) pos = i;
        }
        if (pos == npos) return;
      }
      // Order does not matter: the last child fills the gap.
      if (pos + 1 != items_.size()) {
        items_[pos] = std::move(items_.back());
        if (index_) index_->find(std::string_view(items_[pos].first))->second = pos;
      }
      items_.pop_back();
      if (index_ && items_.size() <= children_index_above / 2) index_.reset();
    }

    bool empty() const noexcept { return items_.empty(); }
    auto begin() const noexcept { return items_.begin(); }
    auto end() const noexcept { return items_.end(); }
    auto begin() noexcept { return items_.begin(); }
    auto end() noexcept { return items_.end(); }
    void clear() noexcept {
      items_.clear();
      index_.reset();
    }

   private:
    using NameIndex = std::unordered_map<std::string, std::size_t, TransparentStringHash, std::equal_to<>>;
    std::vector<Item> items_;
    std::unique_ptr<NameIndex> index_;  // name -> position in items_, only for crowded nodes
  };

  struct Node {
    Children children;
    std::unique_ptr<Node> plus;
    std::unique_ptr<Node> hash;
    std::vector<Entry> entries;
    std::unique_ptr<Index> index;  // key -> position in entries, only for crowded filters
    // '#' levels on the path from the root, this one included. From two on, one topic may
    // reach this node in several ways, so its entries are de-duplicated per match.
    std::uint32_t hash_levels = 0;

    bool has_children() const noexcept { return !children.empty() || plus || hash; }
    bool empty() const noexcept { return entries.empty() && !has_children(); }

    Node* find_child(std::string_view level) const {
      if (level == "+") return plus.get();
      if (level == "#") return hash.get();
      return children.find(level);
    }

    void remove_child(std::string_view level) {
      if (level == "+") {
        plus.reset();
      } else if (level == "#") {
        hash.reset();
      } else {
        children.erase(level);
      }
    }

    void release_children(std::vector<std::unique_ptr<Node>>& out) {
      for (auto& [name, child] : children) out.push_back(std::move(child));
      children.clear();
      if (plus) out.push_back(std::move(plus));
      if (hash) out.push_back(std::move(hash));
    }

    std::size_t find_entry(const Key& key) const {
      if (index) {
        const auto it = index->find(key);
        return it == index->end() ? npos : it->second;
      }
      for (std::size_t i = 0; i < entries.size(); ++i) {
        if (KeyEqual{}(entries[i].first, key)) return i;
      }
      return npos;
    }

    void add_entry(const Key& key, Value value) {
      entries.emplace_back(key, std::move(value));
      if (index) {
        index->emplace(key, entries.size() - 1);
      } else if (entries.size() > index_above) {
        index = std::make_unique<Index>();
        index->reserve(entries.size() * 2);
        for (std::size_t i = 0; i < entries.size(); ++i) index->emplace(entries[i].first, i);
      }
    }

    // Order among the keys of one filter does not matter, so the last entry fills the gap.
    void remove_entry(std::size_t pos) {
      if (index) index->erase(entries[pos].first);
      if (pos + 1 != entries.size()) {
        entries[pos] = std::move(entries.back());
        if (index) (*index)[entries[pos].first] = pos;
      }
      entries.pop_back();
      if (index && entries.size() <= index_above / 2) index.reset();
      if (entries.empty()) entries.shrink_to_fit();
    }
  };

  // The levels of a topic or filter. An empty one has none: MQTT has no empty topic or
  // filter, and an empty AMQP routing or binding key is zero words, so it is matched by
  // "#" and "" only, never by "*" (which needs exactly one word), as RabbitMQ does.
  static LevelIterator levels(std::string_view s) noexcept { return s.empty() ? LevelIterator::none() : LevelIterator(s); }

  static Node* child_for_insert(Node& n, std::string_view level) {
    std::unique_ptr<Node>* slot = nullptr;
    bool is_hash = false;
    if (level == "+") {
      slot = &n.plus;
    } else if (level == "#") {
      slot = &n.hash;
      is_hash = true;
    } else {
      slot = &n.children.slot(level);
    }
    if (!*slot) {
      *slot = std::make_unique<Node>();
      (*slot)->hash_levels = n.hash_levels + (is_hash ? 1 : 0);
    }
    return slot->get();
  }

  // Why a frame is on the match stack.
  enum class Step : std::uint8_t {
    visit,       // match `rest` below `node`; its entries match if nothing is left
    below_hash,  // `node` is a '#' whose own entries are already reported; match below it
    hash_scan,   // `node` is a '#': try its children after absorbing 0, 1, 2... levels
  };
  struct Frame {
    const Node* node;
    LevelIterator rest;
    Step step;
  };
  using Stack = boost::container::small_vector<Frame, 32>;
  using Seen = boost::container::small_vector<const Node*, 4>;

  template <class F>
  static void enter_hash(const Node& h, LevelIterator rest, Stack& stack, Seen& seen, F& f) {
    emit(h, seen, f);  // '#' matches whatever is left, zero levels included
    if (h.has_children()) stack.push_back(Frame{&h, rest, Step::hash_scan});
  }

  template <class F>
  static void emit(const Node& n, Seen& seen, F& f) {
    if (n.entries.empty()) return;
    if (n.hash_levels >= 2) {
      if (std::find(seen.begin(), seen.end(), &n) != seen.end()) return;
      seen.push_back(&n);
    }
    for (const auto& e : n.entries) f(e.first, e.second);
  }

  Node root_;
  std::size_t size_ = 0;
};

}  // namespace outpost::core
