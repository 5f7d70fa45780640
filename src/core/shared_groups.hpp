// SharedGroups: MQTT shared subscriptions (`$share/GROUP/FILTER`). Each group and filter
// is one queue bound on the MQTT exchange with FILTER, and every member session is a
// consumer of it, so each message reaches one member [MQTT-4.8.2]. A member applies its
// own granted QoS, retain-as-published and subscription identifier when it sends.
// The queue exists while the group has members; with a persistent store it is durable
// (stored as "share:GROUP/FILTER"), so an acknowledged message survives a crash even when
// only a shared subscription matched it.
//
// Threading: any thread; one mutex guards the table.
#pragma once

#include "core/exchange.hpp"
#include "core/queue.hpp"
#include "core/topic.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::core {

// Whether a subscription filter is a shared one; core::parse_shared (topic.hpp) splits it.
bool is_shared_filter(std::string_view filter) noexcept;

class SharedGroups {
 public:
  using QueueFactory = std::function<QueuePtr(std::string name, const QueueLimits& limits)>;
  SharedGroups(Exchange& exchange, store::Store& store, QueueFactory make_queue);

  // Adds a member to the group's queue (created and bound on the first join).
  QueuePtr join(std::string_view group, std::string_view filter, const QueueLimits& limits);
  // Removes a member; the last one out unbinds the queue and discards what it holds.
  void leave(std::string_view group, std::string_view filter);
  // The group's queue if it has members (restore uses it for stored entries).
  QueuePtr find(std::string_view group, std::string_view filter) const;
  // The store name of a group's queue ("share:GROUP/FILTER"), and back.
  static constexpr std::string_view kStorePrefix = "share:";
  static std::string store_name(std::string_view group, std::string_view filter);
  static std::optional<std::pair<std::string, std::string>> from_store_name(std::string_view name);

 private:
  struct Group {
    QueuePtr queue;
    std::size_t members = 0;
  };
  static std::string key(std::string_view group, std::string_view filter);

  Exchange& exchange_;
  store::Store& store_;
  QueueFactory make_queue_;
  mutable std::mutex mutex_;
  std::map<std::string, Group, std::less<>> groups_;
};

}  // namespace outpost::core
