#include "core/retained.hpp"

#include "core/persist.hpp"

#include <mutex>

namespace outpost::core {

namespace {
// The broker's status topics are made anew by the running broker: never written to the
// store (a restart would otherwise bring back the figures of the last run).
bool broker_status(std::string_view topic) { return topic.starts_with("$SYS/"); }
}  // namespace

bool RetainedStore::update(const MessagePtr& message) {
  // The store write happens under the lock so the disk sees changes in memory's order.
  std::unique_lock lock(mutex_);
  if (message->payload().empty()) {
    const bool erased = tree_.erase(message->topic());
    if (erased && store_) store_->delete_retained(message->topic());
    return erased;
  }
  tree_.set(message->topic(), message);
  if (store_ && !broker_status(message->topic())) store_->put_retained(to_store(message, 0));
  return true;
}

bool RetainedStore::erase(std::string_view topic) {
  std::unique_lock lock(mutex_);
  const bool erased = tree_.erase(topic);
  if (erased && store_) store_->delete_retained(std::string(topic));
  return erased;
}

void RetainedStore::restore(const MessagePtr& message) {
  if (broker_status(message->topic())) return;  // kept by an earlier version: stale
  std::unique_lock lock(mutex_);
  tree_.set(message->topic(), message);
}

void RetainedStore::match(std::string_view filter, std::vector<MessagePtr>& out, std::int64_t now) const {
  std::shared_lock lock(mutex_);
  tree_.match(filter, [&](const MessagePtr& m) {
    if (!m->expired(now)) out.push_back(m);
  });
}

MessagePtr RetainedStore::find(std::string_view topic) const {
  std::shared_lock lock(mutex_);
  const MessagePtr* m = tree_.find(topic);
  return m ? *m : nullptr;
}

std::size_t RetainedStore::size() const {
  std::shared_lock lock(mutex_);
  return tree_.size();
}

}  // namespace outpost::core
