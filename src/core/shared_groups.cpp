#include "core/shared_groups.hpp"

namespace outpost::core {

namespace {
constexpr std::string_view kPrefix = "$share/";
}  // namespace

bool is_shared_filter(std::string_view filter) noexcept { return filter.starts_with(kPrefix); }

SharedGroups::SharedGroups(Exchange& exchange, store::Store& store, QueueFactory make_queue)
    : exchange_(exchange), store_(store), make_queue_(std::move(make_queue)) {}

std::string SharedGroups::key(std::string_view group, std::string_view filter) {
  std::string k(group);
  k.push_back('/');
  k.append(filter);
  return k;
}

std::string SharedGroups::store_name(std::string_view group, std::string_view filter) {
  return std::string(kStorePrefix) + key(group, filter);
}

std::optional<std::pair<std::string, std::string>> SharedGroups::from_store_name(std::string_view name) {
  if (!name.starts_with(kStorePrefix)) return std::nullopt;
  name.remove_prefix(kStorePrefix.size());
  const auto slash = name.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  return std::make_pair(std::string(name.substr(0, slash)), std::string(name.substr(slash + 1)));
}

QueuePtr SharedGroups::join(std::string_view group, std::string_view filter, const QueueLimits& limits) {
  std::lock_guard lock(mutex_);
  const std::string k = key(group, filter);
  auto it = groups_.find(k);
  if (it == groups_.end()) {
    Group g;
    g.queue = make_queue_("$share/" + k, limits);
    if (store_.persistent()) g.queue->make_durable(store_, store_name(group, filter));
    // Members narrow QoS and retain themselves: the binding passes both as published.
    BindingOptions o;
    o.max_qos = 2;
    o.retain_as_published = true;
    exchange_.bind(std::string(filter), g.queue, o);
    it = groups_.emplace(k, std::move(g)).first;
  }
  ++it->second.members;
  return it->second.queue;
}

void SharedGroups::leave(std::string_view group, std::string_view filter) {
  QueuePtr gone;
  {
    std::lock_guard lock(mutex_);
    auto it = groups_.find(key(group, filter));
    if (it == groups_.end()) return;
    if (--it->second.members > 0) return;
    gone = std::move(it->second.queue);
    groups_.erase(it);
    exchange_.unbind(std::string(filter), *gone);
  }
  gone->purge();
}

QueuePtr SharedGroups::find(std::string_view group, std::string_view filter) const {
  std::lock_guard lock(mutex_);
  auto it = groups_.find(key(group, filter));
  return it == groups_.end() ? nullptr : it->second.queue;
}

}  // namespace outpost::core
