// RetainedStore: the last retained message per topic of the MQTT exchange. Found on
// subscribe by walking the subscription filter over the retained tree.
// Threading: any thread; a shared_mutex guards the tree (writes are rare).
#pragma once

#include "core/message.hpp"
#include "core/retained_tree.hpp"
#include "store/store.hpp"

#include <shared_mutex>
#include <string_view>
#include <vector>

namespace outpost::core {

class RetainedStore {
 public:
  // A retained PUBLISH: an empty payload clears the topic [MQTT-3.3.1-10/11], anything
  // else replaces what was there [MQTT-3.3.1-5]. Returns true if something changed.
  bool update(const MessagePtr& message);
  bool erase(std::string_view topic);
  // Appends every retained message whose topic matches `filter`, skipping expired ones.
  void match(std::string_view filter, std::vector<MessagePtr>& out, std::int64_t now_unix_ms) const;
  MessagePtr find(std::string_view topic) const;
  std::size_t size() const;

  // From now on every change is also written to `store` (in the order of the changes).
  void persist_to(store::Store& store) { store_ = &store; }
  // Start-up: a retained message from the store (not written back).
  void restore(const MessagePtr& message);

 private:
  store::Store* store_ = nullptr;
  mutable std::shared_mutex mutex_;
  RetainedTree<MessagePtr> tree_;
};

}  // namespace outpost::core
