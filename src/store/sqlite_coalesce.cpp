// SqliteWriter::coalesce: the pass over a batch that cancels operations made pointless
// by later ones, before any SQL runs.
#include "store/sqlite_writer.hpp"

#include "store/overloaded.hpp"

#include <functional>
#include <variant>

namespace outpost::store::detail {
namespace {

std::size_t mix(std::size_t h, std::size_t v) noexcept { return h ^ (v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2)); }

bool is_entry_put(const Op& op) noexcept { return std::holds_alternative<PutEntryOp>(op.v); }

}  // namespace

std::size_t SqliteWriter::KeyHash::operator()(const EntryKey& k) const noexcept {
  return mix(std::hash<std::string_view>{}(k.queue), std::hash<std::uint64_t>{}(k.seq));
}
std::size_t SqliteWriter::KeyHash::operator()(const PairKey& k) const noexcept {
  return mix(std::hash<std::string_view>{}(k.a), std::hash<std::string_view>{}(k.b));
}
std::size_t SqliteWriter::KeyHash::operator()(const Qos2Key& k) const noexcept {
  return mix(std::hash<std::string_view>{}(k.client_id), k.packet_id);
}

// One pass over the batch in call order, remembering per key the last live
// operation. Everything cancelled here was superseded by a later operation of the same
// batch, so the batch's end state is unchanged.
void SqliteWriter::coalesce(std::vector<Op>& batch, bool preview) {
  pending_messages_.clear();
  unreferenced_.clear();
  entry_ops_.clear();
  queue_ops_.clear();
  retained_ops_.clear();
  session_ops_.clear();
  client_ops_.clear();
  subscription_ops_.clear();
  qos2_ops_.clear();

  std::uint64_t cancelled = 0;
  std::uint64_t released = 0;  // bytes of message puts that will never be written
  auto pending_message = [&](std::uint64_t id) -> PutMessageOp* {
    auto m = pending_messages_.find(id);
    return m == pending_messages_.end() ? nullptr : &std::get<PutMessageOp>(batch[m->second].v);
  };
  auto cancel = [&](std::size_t j) {
    if (!batch[j].live) return;
    batch[j].live = false;
    ++cancelled;
    if (const auto* p = std::get_if<PutEntryOp>(&batch[j].v)) {
      if (PutMessageOp* pm = pending_message(p->e.message_id)) {
        --pm->live_entries;
      } else {
        // Its message was written by an earlier batch, perhaps with no entry ever
        // committed for it: checked after this batch's counts (SqliteWriter::apply_all).
        unreferenced_.push_back(p->e.message_id);
      }
    }
  };
  // The entry key of a live put/update at index j.
  auto entry_key = [&](std::size_t j) -> EntryKey {
    if (const auto* p = std::get_if<PutEntryOp>(&batch[j].v)) return {p->e.queue, p->e.seq};
    const auto& u = std::get<UpdateEntryOp>(batch[j].v);
    return {u.queue, u.seq};
  };

  for (std::size_t i = 0; i < batch.size(); ++i) {
    std::visit(
        Overloaded{
            [&](PutMessageOp& p) {
              auto [it, fresh] = pending_messages_.try_emplace(p.m.id, i);
              if (!fresh) {  // the same id put twice: the later one carries the data
                auto& earlier = std::get<PutMessageOp>(batch[it->second].v);
                released += earlier.bytes;
                p.referenced = earlier.referenced;
                p.live_entries = earlier.live_entries;
                cancel(it->second);
                it->second = i;
              }
            },
            [&](PutEntryOp& p) {
              if (PutMessageOp* pm = pending_message(p.e.message_id)) {
                pm->referenced = true;
                ++pm->live_entries;
              }
              auto [it, fresh] = entry_ops_.try_emplace(EntryKey{p.e.queue, p.e.seq}, i);
              if (!fresh) {
                // A put over a pending put of the same key replaces it; an update before
                // it belongs to an older stored row and stays.
                if (is_entry_put(batch[it->second])) cancel(it->second);
                it->second = i;
              }
              queue_ops_[p.e.queue].push_back(i);
            },
            [&](UpdateEntryOp& u) {
              auto [it, fresh] = entry_ops_.try_emplace(EntryKey{u.queue, u.seq}, i);
              if (fresh) {
                queue_ops_[u.queue].push_back(i);
                return;
              }
              if (auto* put = std::get_if<PutEntryOp>(&batch[it->second].v)) {
                put->e.state = u.state;  // the row is written once, already in its new state
                put->e.packet_id = u.packet_id;
                cancel(i);
              } else {
                cancel(it->second);  // the later update wins
                it->second = i;
                queue_ops_[u.queue].push_back(i);
              }
            },
            [&](DeleteEntryOp& d) {
              const EntryKey key{d.queue, d.seq};
              auto it = entry_ops_.find(key);
              if (it == entry_ops_.end()) {
                if (!preview) acknowledged_late(key, batch[i].at);
                return;
              }
              // Put then delete: neither reaches the disk (a (queue, seq) key is not put
              // again while stored, so no older row can hide under the put).
              if (is_entry_put(batch[it->second])) {
                cancel(i);
                const auto put_at = batch[it->second].at;
                if (!preview && put_at.time_since_epoch().count() != 0 && batch[i].at >= put_at) {
                  group_commit_.ack_seen(batch[i].at - put_at);
                }
              }
              cancel(it->second);
              entry_ops_.erase(it);
            },
            [&](DeleteQueueOp& q) {
              auto it = queue_ops_.find(q.queue);
              if (it == queue_ops_.end()) return;
              for (std::size_t j : it->second) {
                if (!batch[j].live) continue;
                auto e = entry_ops_.find(entry_key(j));
                if (e != entry_ops_.end() && e->second == j) entry_ops_.erase(e);
                cancel(j);
              }
              queue_ops_.erase(it);
            },
            [&](PutRetainedOp& p) {
              auto [it, fresh] = retained_ops_.try_emplace(p.m.topic, i);
              if (!fresh) {
                cancel(it->second);
                it->second = i;
              }
            },
            [&](DeleteRetainedOp& d) {
              auto [it, fresh] = retained_ops_.try_emplace(d.topic, i);
              if (!fresh) {
                cancel(it->second);
                it->second = i;
              }
            },
            [&](PutSessionOp& p) {
              auto [it, fresh] = session_ops_.try_emplace(p.s.client_id, i);
              if (!fresh) {
                // A later put replaces an earlier one; it never replaces a delete, which
                // also removed the session's subscriptions and QoS 2 ids.
                if (std::holds_alternative<PutSessionOp>(batch[it->second].v)) cancel(it->second);
                it->second = i;
              }
            },
            [&](DeleteSessionOp& d) {
              auto [it, fresh] = session_ops_.try_emplace(d.client_id, i);
              if (!fresh) {
                if (std::holds_alternative<PutSessionOp>(batch[it->second].v)) cancel(it->second);
                it->second = i;
              }
              auto c = client_ops_.find(d.client_id);
              if (c == client_ops_.end()) return;
              for (std::size_t j : c->second) {
                if (!batch[j].live) continue;
                std::visit(Overloaded{
                               [&](const PutSubscriptionOp& s) { subscription_ops_.erase(PairKey{s.s.client_id, s.s.filter}); },
                               [&](const DeleteSubscriptionOp& s) { subscription_ops_.erase(PairKey{s.client_id, s.filter}); },
                               [&](const PutQos2Op& s) { qos2_ops_.erase(Qos2Key{s.client_id, s.packet_id}); },
                               [&](const DeleteQos2Op& s) { qos2_ops_.erase(Qos2Key{s.client_id, s.packet_id}); },
                               [](const auto&) {},
                           },
                           batch[j].v);
                cancel(j);
              }
              client_ops_.erase(c);
            },
            [&](PutSubscriptionOp& p) {
              // Puts replace rows whole, so the last put or delete of a key decides alone.
              auto [it, fresh] = subscription_ops_.try_emplace(PairKey{p.s.client_id, p.s.filter}, i);
              if (!fresh) {
                cancel(it->second);
                it->second = i;
              }
              client_ops_[p.s.client_id].push_back(i);
            },
            [&](DeleteSubscriptionOp& d) {
              auto [it, fresh] = subscription_ops_.try_emplace(PairKey{d.client_id, d.filter}, i);
              if (!fresh) {
                cancel(it->second);
                it->second = i;
              }
              client_ops_[d.client_id].push_back(i);
            },
            [&](PutQos2Op& p) {
              auto [it, fresh] = qos2_ops_.try_emplace(Qos2Key{p.client_id, p.packet_id}, i);
              if (!fresh) {
                cancel(it->second);
                it->second = i;
              }
              client_ops_[p.client_id].push_back(i);
            },
            [&](DeleteQos2Op& d) {
              auto [it, fresh] = qos2_ops_.try_emplace(Qos2Key{d.client_id, d.packet_id}, i);
              if (!fresh) {
                cancel(it->second);
                it->second = i;
              }
              client_ops_[d.client_id].push_back(i);
            },
            [](PutDefinitionOp&) {},
            [](DeleteDefinitionOp&) {},
            [](BarrierOp&) {},
        },
        batch[i].v);
  }
  // A message whose every entry was cancelled was delivered and acknowledged before it
  // reached the disk; it never will. (One that no entry named yet is still written, see
  // finish_messages.)
  for (auto it = pending_messages_.begin(); it != pending_messages_.end();) {
    const auto& pm = std::get<PutMessageOp>(batch[it->second].v);
    if (pm.referenced && pm.live_entries == 0) {
      released += pm.bytes;
      cancel(it->second);
      it = pending_messages_.erase(it);
    } else {
      ++it;
    }
  }
  if (preview) return;  // the figures are the real coalesce()'s, of the same operations
  if (cancelled) counters_.coalesced.fetch_add(cancelled, std::memory_order_relaxed);
  if (released) counters_.bytes.fetch_sub(released, std::memory_order_relaxed);

  // The entries this batch stores, for the deletes of the next two.
  recent_puts_[1].swap(recent_puts_[0]);
  recent_puts_[0].clear();
  for (const auto& [key, index] : entry_ops_) {
    const Op& op = batch[index];
    if (op.live && std::holds_alternative<PutEntryOp>(op.v) && op.at.time_since_epoch().count() != 0) {
      recent_puts_[0].emplace(KeyHash{}(key), op.at);
    }
  }
}

void SqliteWriter::acknowledged_late(const EntryKey& key, std::chrono::steady_clock::time_point deleted_at) {
  if (deleted_at.time_since_epoch().count() == 0) return;
  const std::size_t h = KeyHash{}(key);
  for (auto& recent : recent_puts_) {
    auto it = recent.find(h);
    if (it == recent.end()) continue;
    if (deleted_at >= it->second) group_commit_.ack_seen(deleted_at - it->second);
    recent.erase(it);
    return;
  }
}

}  // namespace outpost::store::detail
