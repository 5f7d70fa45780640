#include "core/exchange.hpp"

#include <algorithm>
#include <mutex>

namespace outpost::core {

const char* to_string(ExchangeType t) {
  switch (t) {
    case ExchangeType::direct: return "direct";
    case ExchangeType::fanout: return "fanout";
    case ExchangeType::topic: return "topic";
  }
  return "?";
}

Exchange::Exchange(std::string name, ExchangeType type, bool durable, bool auto_delete, bool internal)
    : name_(std::move(name)), type_(type), durable_(durable), auto_delete_(auto_delete), internal_(internal) {}

Exchange::~Exchange() = default;

bool Exchange::bind(std::string_view key, QueuePtr queue, BindingOptions options) {
  std::unique_lock lock(mutex_);
  bool added = false;
  switch (type_) {
    case ExchangeType::topic: {
      const auto id = queue->id();
      added = trie_.insert(key, id, Binding{std::move(queue), options});
      break;
    }
    case ExchangeType::direct: {
      auto found = direct_.find(key);
      if (found == direct_.end()) found = direct_.emplace(std::string(key), std::vector<Binding>{}).first;
      auto& list = found->second;
      auto it = std::find_if(list.begin(), list.end(), [&](const Binding& b) { return b.queue == queue; });
      if (it != list.end()) {
        it->options = options;
      } else {
        list.push_back(Binding{std::move(queue), options});
        added = true;
      }
      break;
    }
    case ExchangeType::fanout: {
      auto it = std::find_if(fanout_.begin(), fanout_.end(),
                             [&](const auto& e) { return e.first == key && e.second.queue == queue; });
      if (it != fanout_.end()) {
        it->second.options = options;
      } else {
        fanout_.emplace_back(std::string(key), Binding{std::move(queue), options});
        added = true;
      }
      break;
    }
  }
  if (added) ++count_;
  return added;
}

bool Exchange::unbind(std::string_view key, const Queue& queue) {
  std::unique_lock lock(mutex_);
  bool removed = false;
  switch (type_) {
    case ExchangeType::topic:
      removed = trie_.erase(key, queue.id());
      break;
    case ExchangeType::direct: {
      auto it = direct_.find(key);
      if (it == direct_.end()) break;
      auto& list = it->second;
      auto b = std::find_if(list.begin(), list.end(), [&](const Binding& x) { return x.queue.get() == &queue; });
      if (b != list.end()) {
        list.erase(b);
        removed = true;
        if (list.empty()) direct_.erase(it);
      }
      break;
    }
    case ExchangeType::fanout: {
      auto it = std::find_if(fanout_.begin(), fanout_.end(),
                             [&](const auto& e) { return e.first == key && e.second.queue.get() == &queue; });
      if (it != fanout_.end()) {
        fanout_.erase(it);
        removed = true;
      }
      break;
    }
  }
  if (removed) --count_;
  return removed;
}

std::size_t Exchange::binding_count() const {
  std::shared_lock lock(mutex_);
  return count_;
}

void Exchange::route(std::string_view routing_key, RouteSink& sink) const {
  std::shared_lock lock(mutex_);
  switch (type_) {
    case ExchangeType::topic:
      trie_.match(routing_key, [&](const std::uint64_t&, const Binding& b) { sink.on_match(b); });
      break;
    case ExchangeType::direct: {
      auto it = direct_.find(routing_key);
      if (it != direct_.end()) {
        for (const auto& b : it->second) sink.on_match(b);
      }
      break;
    }
    case ExchangeType::fanout:
      for (const auto& e : fanout_) sink.on_match(e.second);
      break;
  }
  sink.on_done();
}

}  // namespace outpost::core
