#include "core/restore_router.hpp"

#include "core/persist.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace outpost::core {

void RestoreRouter::add(std::vector<Owned>& table, std::string_view prefix, RestoreOwner& owner, const char* what) {
  if (prefix.empty()) throw std::invalid_argument(std::string("restore: empty ") + what + " prefix");
  for (const auto& o : table) {
    if (o.prefix == prefix) {
      throw std::invalid_argument(std::string("restore: ") + what + " prefix '" + std::string(prefix) +
                                  "' registered twice");
    }
  }
  // Longest first, so the first match is the longest prefix.
  auto at = std::find_if(table.begin(), table.end(), [&](const Owned& o) { return o.prefix.size() < prefix.size(); });
  table.insert(at, Owned{std::string(prefix), &owner});
}

const RestoreRouter::Owned* RestoreRouter::find(const std::vector<Owned>& table, std::string_view name) {
  for (const auto& o : table) {
    if (name.starts_with(o.prefix)) return &o;
  }
  return nullptr;
}

void RestoreRouter::note_owner(RestoreOwner& owner) {
  if (std::find(owners_.begin(), owners_.end(), &owner) == owners_.end()) owners_.push_back(&owner);
}

void RestoreRouter::add_queue_owner(std::string_view prefix, RestoreOwner& owner) {
  add(queue_owners_, prefix, owner, "queue");
  note_owner(owner);
}

void RestoreRouter::add_definition_owner(std::string_view kind_prefix, RestoreOwner& owner) {
  add(definition_owners_, kind_prefix, owner, "definition kind");
  note_owner(owner);
}

void RestoreRouter::set_session_owner(RestoreOwner& owner) {
  session_owner_ = &owner;
  note_owner(owner);
}

void RestoreRouter::set_retained_owner(RestoreOwner& owner) {
  retained_owner_ = &owner;
  note_owner(owner);
}

std::string_view RestoreRouter::unowned_prefix(std::string_view queue) {
  static constexpr std::string_view plugin = "plugin:";
  auto colon = queue.find(':');
  if (colon == std::string_view::npos) return {};
  if (queue.starts_with(plugin)) {
    const auto next = queue.find(':', plugin.size());
    if (next != std::string_view::npos) colon = next;
  }
  return queue.substr(0, colon + 1);
}

void RestoreRouter::count_unowned(std::map<std::string, std::size_t, std::less<>>& counts, std::string_view key) {
  ++counts_.unowned;
  auto it = counts.find(key);
  if (it == counts.end()) it = counts.emplace(std::string(key), 0).first;
  ++it->second;
}

void RestoreRouter::message(store::StoredMessage&& m) {
  const auto id = m.id;
  auto message = from_store(std::move(m));
  if (!message) {
    ++counts_.skipped;
    spdlog::warn("store: message {} has damaged properties; skipped", id);
    return;
  }
  messages_.emplace(id, std::move(message));
  ++counts_.messages;
}

void RestoreRouter::retained(store::StoredMessage&& m) {
  if (retained_owner_ == nullptr) {
    count_unowned(unowned_records_, "retained message");
    return;
  }
  m.id = 0;  // kept in the retained table, not as a stored message entries may name
  std::string topic = m.topic;
  auto message = from_store(std::move(m));
  if (!message) {
    ++counts_.skipped;
    spdlog::warn("store: retained message on '{}' has damaged properties; skipped", topic);
    return;
  }
  retained_owner_->retained(std::move(message));
}

void RestoreRouter::session(store::SessionRecord&& s) {
  if (session_owner_ == nullptr) {
    count_unowned(unowned_records_, "session");
    return;
  }
  session_owner_->session(std::move(s));
}

void RestoreRouter::subscription(store::SubscriptionRecord&& s) {
  if (session_owner_ == nullptr) {
    count_unowned(unowned_records_, "subscription");
    return;
  }
  session_owner_->subscription(std::move(s));
}

void RestoreRouter::definition(store::DefinitionRecord&& d) {
  const Owned* o = find(definition_owners_, d.kind);
  if (o == nullptr) {
    count_unowned(unowned_kinds_, d.kind);
    return;
  }
  o->owner->definition(std::move(d));
}

void RestoreRouter::end_definitions() {
  if (definitions_done_) return;
  definitions_done_ = true;
  for (auto* owner : owners_) owner->definitions_done();
}

void RestoreRouter::entry(store::EntryRecord&& e) {
  end_definitions();
  const Owned* o = find(queue_owners_, e.queue);
  if (o == nullptr) {
    count_unowned(unowned_queues_, unowned_prefix(e.queue));
    return;
  }
  auto m = messages_.find(e.message_id);
  if (m == messages_.end()) {
    // Its message was damaged (warned above): the entry cannot be restored.
    ++counts_.skipped;
    ++missing_[o->prefix];
    spdlog::debug("store: entry {} of queue '{}' names message {}, which was not restored; skipped", e.seq, e.queue,
                  e.message_id);
    return;
  }
  ++counts_.entries;
  o->owner->entry(std::move(e), m->second);
}

void RestoreRouter::incoming_qos2(const std::string& client_id, std::uint16_t packet_id) {
  end_definitions();
  if (session_owner_ == nullptr) {
    count_unowned(unowned_records_, "incoming QoS 2 packet id");
    return;
  }
  session_owner_->incoming_qos2(client_id, packet_id);
}

RestoreRouter::Counts RestoreRouter::finish() {
  end_definitions();
  for (const auto& [prefix, n] : missing_) {
    spdlog::warn("store: queues '{}...': {} entr{} named a message that could not be restored; skipped", prefix, n,
                 n == 1 ? "y" : "ies");
  }
  for (const auto& [prefix, n] : unowned_queues_) {
    spdlog::warn("store: no owner for queues {}: {} entr{} left in the store",
                 prefix.empty() ? std::string("without a prefix") : "'" + prefix + "...'", n, n == 1 ? "y" : "ies");
  }
  for (const auto& [kind, n] : unowned_kinds_) {
    spdlog::warn("store: no owner for definitions of kind '{}': {} left in the store", kind, n);
  }
  for (const auto& [what, n] : unowned_records_) {
    spdlog::warn("store: no owner for {} records: {} left in the store", what, n);
  }
  missing_.clear();
  unowned_queues_.clear();
  unowned_kinds_.clear();
  unowned_records_.clear();
  messages_.clear();
  return counts_;
}

}  // namespace outpost::core
