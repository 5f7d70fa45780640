#include "core/retained.hpp"

#include <mutex>

namespace outpost::core {

bool RetainedStore::update(const MessagePtr& message) {
  std::unique_lock lock(mutex_);
  if (message->payload().empty()) return tree_.erase(message->topic());
  tree_.set(message->topic(), message);
  return true;
}

bool RetainedStore::erase(std::string_view topic) {
  std::unique_lock lock(mutex_);
  return tree_.erase(topic);
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
