#include "store/sqlite_writer.hpp"

#include <spdlog/spdlog.h>

#include <functional>
#include <type_traits>
#include <variant>

namespace outpost::store::detail {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

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

SqliteWriter::SqliteWriter(Connection& db, Counters& counters, std::string path)
    : db_(db), counters_(counters), path_(std::move(path)) {
  sqlite3* h = db_.get();
  st_.begin = Statement(h, "BEGIN");
  st_.commit = Statement(h, "COMMIT");
  st_.rollback = Statement(h, "ROLLBACK");
  st_.insert_message = Statement(
      h, "INSERT OR IGNORE INTO messages(id, topic, payload, qos, retain, expiry, properties) VALUES(?,?,?,?,?,?,?)");
  // The row's size comes back with the delete, so the byte budget needs no per-message
  // size in memory. CAST: length() of TEXT counts characters, the budget counts bytes.
  st_.delete_message = Statement(h,
                                 "DELETE FROM messages WHERE id=? RETURNING length(CAST(topic AS BLOB)) + "
                                 "ifnull(length(payload), 0) + ifnull(length(properties), 0)");
  st_.insert_entry = Statement(h,
                               "INSERT INTO entries(queue, seq, message_id, qos, retain, state, packet_id, "
                               "subscription_ids) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(queue, seq) DO NOTHING");
  st_.entry_message = Statement(h, "SELECT message_id FROM entries WHERE queue=? AND seq=?");
  st_.replace_entry = Statement(h,
                                "UPDATE entries SET message_id=?3, qos=?4, retain=?5, state=?6, packet_id=?7, "
                                "subscription_ids=?8 WHERE queue=?1 AND seq=?2");
  st_.update_entry = Statement(h, "UPDATE entries SET state=?3, packet_id=?4 WHERE queue=?1 AND seq=?2");
  st_.delete_entry = Statement(h, "DELETE FROM entries WHERE queue=? AND seq=? RETURNING message_id");
  st_.delete_queue = Statement(h, "DELETE FROM entries WHERE queue=? RETURNING message_id");
  st_.put_retained = Statement(h,
                               "INSERT OR REPLACE INTO retained(topic, id, payload, qos, retain, expiry, properties) "
                               "VALUES(?,?,?,?,?,?,?)");
  st_.delete_retained = Statement(h, "DELETE FROM retained WHERE topic=?");
  st_.put_session = Statement(h,
                              "INSERT OR REPLACE INTO sessions(client_id, protocol_level, expiry_interval, "
                              "disconnected_ms) VALUES(?,?,?,?)");
  st_.delete_session = Statement(h, "DELETE FROM sessions WHERE client_id=?");
  st_.delete_session_subscriptions = Statement(h, "DELETE FROM subscriptions WHERE client_id=?");
  st_.delete_session_qos2 = Statement(h, "DELETE FROM incoming_qos2 WHERE client_id=?");
  st_.put_subscription = Statement(h,
                                   "INSERT OR REPLACE INTO subscriptions(client_id, filter, qos, options, "
                                   "subscription_id) VALUES(?,?,?,?,?)");
  st_.delete_subscription = Statement(h, "DELETE FROM subscriptions WHERE client_id=? AND filter=?");
  st_.put_qos2 = Statement(h, "INSERT OR IGNORE INTO incoming_qos2(client_id, packet_id) VALUES(?,?)");
  st_.delete_qos2 = Statement(h, "DELETE FROM incoming_qos2 WHERE client_id=? AND packet_id=?");
}

// ---------------------------------------------------------------------------------------
// Coalescing: one pass over the batch in call order, remembering per key the last live
// operation. Everything cancelled here was superseded by a later operation of the same
// batch, so the batch's end state is unchanged.

void SqliteWriter::coalesce(std::vector<Op>& batch) {
  pending_messages_.clear();
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
      if (PutMessageOp* pm = pending_message(p->e.message_id)) --pm->live_entries;
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
              auto it = entry_ops_.find(EntryKey{d.queue, d.seq});
              if (it == entry_ops_.end()) return;
              // Put then delete: neither reaches the disk (a (queue, seq) key is not put
              // again while stored, so no older row can hide under the put).
              if (is_entry_put(batch[it->second])) cancel(i);
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
  if (cancelled) counters_.coalesced.fetch_add(cancelled, std::memory_order_relaxed);
  if (released) counters_.bytes.fetch_sub(released, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------
// Reference counts with an undo log.

void SqliteWriter::set_count(std::uint64_t id, std::uint32_t count) {
  std::uint32_t* c = refs_.find(id);
  undo_.emplace_back(id, c ? static_cast<std::int64_t>(*c) : -1);
  refs_[id] = count;
}

void SqliteWriter::add_new(std::uint64_t id) { set_count(id, 0); }

void SqliteWriter::erase_count(std::uint64_t id) {
  if (std::uint32_t* c = refs_.find(id)) {
    undo_.emplace_back(id, *c);
    refs_.erase(id);
  }
}

void SqliteWriter::increment(std::uint64_t id) {
  if (std::uint32_t* c = refs_.find(id)) {
    undo_.emplace_back(id, *c);
    ++*c;
  }
}

void SqliteWriter::decrement(std::uint64_t id) {
  std::uint32_t* c = refs_.find(id);
  if (!c) return;  // an entry whose message was already gone
  undo_.emplace_back(id, *c);
  if (*c > 0 && --*c == 0) zeroed_.push_back(id);
}

void SqliteWriter::undo_counts() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    if (it->second < 0) {
      refs_.erase(it->first);
    } else {
      refs_[it->first] = static_cast<std::uint32_t>(it->second);
    }
  }
  undo_.clear();
}

// ---------------------------------------------------------------------------------------
// Applying a batch.

bool SqliteWriter::commit(std::vector<Op>& batch, std::string& error) {
  bool work = false;
  for (auto& op : batch) {
    if (auto* pm = std::get_if<PutMessageOp>(&op.v)) pm->written = false;
    if (op.live && !std::holds_alternative<BarrierOp>(op.v)) work = true;
  }
  if (!work) return true;  // everything coalesced away: no transaction at all

  undo_.clear();
  zeroed_.clear();
  std::uint64_t freed = 0, applied = 0;
  int rc = apply_all(batch, freed, applied);
  if (rc == SQLITE_DONE || rc == SQLITE_OK) {
    ResetOnExit r(st_.commit);
    rc = st_.commit.step();
  }
  if (rc == SQLITE_DONE) {
    undo_.clear();
    counters_.bytes.fetch_sub(freed, std::memory_order_relaxed);
    counters_.messages.store(refs_.size(), std::memory_order_relaxed);
    counters_.commits.fetch_add(1, std::memory_order_relaxed);
    counters_.operations.fetch_add(applied, std::memory_order_relaxed);
    return true;
  }

  error = db_.errmsg();
  if (const int e = sqlite3_system_errno(db_.get()); e != 0) error += " (errno " + std::to_string(e) + ")";
  // A failed COMMIT or statement may already have rolled back (I/O errors, disk full do);
  // otherwise roll back here so the next attempt starts clean.
  if (!sqlite3_get_autocommit(db_.get())) {
    ResetOnExit r(st_.rollback);
    st_.rollback.step();
  }
  undo_counts();
  return false;
}

int SqliteWriter::apply_all(std::vector<Op>& batch, std::uint64_t& freed, std::uint64_t& applied) {
  int rc;
  {
    ResetOnExit r(st_.begin);
    if ((rc = st_.begin.step()) != SQLITE_DONE) return rc;
  }
  for (auto& op : batch) {
    if (!op.live) continue;
    if ((rc = apply(op, batch, applied)) != SQLITE_DONE) return rc;
  }
  if ((rc = finish_messages(batch, freed, applied)) != SQLITE_DONE) return rc;

  // Messages whose last reference went in this batch. Checked only now, so a count that
  // fell to zero and rose again within the batch keeps its message.
  for (std::uint64_t id : zeroed_) {
    const std::uint32_t* c = refs_.find(id);
    if (!c || *c != 0) continue;
    ResetOnExit r(st_.delete_message);
    st_.delete_message.bind(1, id);
    while ((rc = st_.delete_message.step()) == SQLITE_ROW) {
      freed += static_cast<std::uint64_t>(st_.delete_message.int64(0));
    }
    if (rc != SQLITE_DONE) return rc;
    erase_count(id);
    ++applied;
  }
  return SQLITE_DONE;
}

int SqliteWriter::write_message(const PutMessageOp& pm) {
  const MessageWrite& m = pm.m;
  Statement& s = st_.insert_message;
  ResetOnExit r(s);
  s.bind(1, m.id);
  s.bind_text(2, m.topic);
  s.bind_blob(3, m.payload.data(), m.payload.size());
  s.bind(4, int{m.qos});
  s.bind(5, m.retain ? 1 : 0);
  s.bind(6, m.expiry_unix_ms);
  s.bind_blob(7, m.properties.data(), m.properties.size());
  return s.step();
}

int SqliteWriter::ensure_message(std::uint64_t id, std::vector<Op>& batch, bool& known, std::uint64_t& applied) {
  known = true;
  if (refs_.find(id)) return SQLITE_DONE;
  auto it = pending_messages_.find(id);
  if (it == pending_messages_.end()) {
    known = false;
    return SQLITE_DONE;
  }
  auto& pm = std::get<PutMessageOp>(batch[it->second].v);
  const int rc = write_message(pm);
  if (rc != SQLITE_DONE) return rc;
  pm.written = true;
  add_new(id);
  ++applied;
  return SQLITE_DONE;
}

int SqliteWriter::finish_messages(std::vector<Op>& batch, std::uint64_t& freed, std::uint64_t& applied) {
  for (const auto& [id, index] : pending_messages_) {
    auto& pm = std::get<PutMessageOp>(batch[index].v);
    if (pm.written) continue;
    if (refs_.find(id)) {  // put again while already stored: the stored row stands
      freed += pm.bytes;
      continue;
    }
    // No entry named it yet; one in a later batch may. Written now, it is either
    // referenced later or removed by the next restore.
    const int rc = write_message(pm);
    if (rc != SQLITE_DONE) return rc;
    pm.written = true;
    add_new(id);
    ++applied;
  }
  return SQLITE_DONE;
}

int SqliteWriter::release_rows(Statement& s) {
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) decrement(static_cast<std::uint64_t>(s.int64(0)));
  return rc;
}

int SqliteWriter::put_entry(const EntryRecord& e, std::vector<Op>& batch, std::uint64_t& applied) {
  bool known = false;
  int rc = ensure_message(e.message_id, batch, known, applied);
  if (rc != SQLITE_DONE) return rc;
  if (!known) {
    spdlog::warn("store: entry {}#{} names message {}, which is not stored; entry not written", e.queue, e.seq,
                 e.message_id);
    return SQLITE_DONE;
  }
  subscription_ids_.clear();
  for (std::uint32_t sid : e.subscription_ids) {
    for (int b = 0; b < 4; ++b) subscription_ids_.push_back(static_cast<char>((sid >> (8 * b)) & 0xff));
  }
  auto bind_row = [&](Statement& s) {
    s.bind_text(1, e.queue);
    s.bind(2, e.seq);
    s.bind(3, e.message_id);
    s.bind(4, int{e.qos});
    s.bind(5, e.retain ? 1 : 0);
    s.bind(6, static_cast<int>(e.state));
    s.bind(7, int{e.packet_id});
    s.bind_blob(8, subscription_ids_.data(), subscription_ids_.size());
  };
  {
    ResetOnExit r(st_.insert_entry);
    bind_row(st_.insert_entry);
    if ((rc = st_.insert_entry.step()) != SQLITE_DONE) return rc;
  }
  if (sqlite3_changes(db_.get()) == 0) {
    // The key is already stored: replace the row and move the reference.
    {
      ResetOnExit r(st_.entry_message);
      st_.entry_message.bind_text(1, e.queue);
      st_.entry_message.bind(2, e.seq);
      if ((rc = st_.entry_message.step()) == SQLITE_ROW) {
        decrement(static_cast<std::uint64_t>(st_.entry_message.int64(0)));
        rc = SQLITE_DONE;
      }
      if (rc != SQLITE_DONE) return rc;
    }
    ResetOnExit r(st_.replace_entry);
    bind_row(st_.replace_entry);
    if ((rc = st_.replace_entry.step()) != SQLITE_DONE) return rc;
  }
  increment(e.message_id);
  ++applied;
  return SQLITE_DONE;
}

int SqliteWriter::apply(Op& op, std::vector<Op>& batch, std::uint64_t& applied) {
  // Steps a statement whose parameters `bind` sets, once, resetting it afterwards.
  auto run = [&](Statement& s, auto&& bind) {
    ResetOnExit r(s);
    bind(s);
    const int rc = s.step();
    if (rc == SQLITE_DONE) ++applied;
    return rc;
  };
  return std::visit(
      Overloaded{
          [](PutMessageOp&) { return SQLITE_DONE; },  // written with its first entry
          [&](PutEntryOp& p) { return put_entry(p.e, batch, applied); },
          [&](UpdateEntryOp& u) {
            return run(st_.update_entry, [&](Statement& s) {
              s.bind_text(1, u.queue);
              s.bind(2, u.seq);
              s.bind(3, static_cast<int>(u.state));
              s.bind(4, int{u.packet_id});
            });
          },
          [&](DeleteEntryOp& d) {
            ResetOnExit r(st_.delete_entry);
            st_.delete_entry.bind_text(1, d.queue);
            st_.delete_entry.bind(2, d.seq);
            const int rc = release_rows(st_.delete_entry);
            if (rc == SQLITE_DONE) ++applied;
            return rc;
          },
          [&](DeleteQueueOp& q) {
            ResetOnExit r(st_.delete_queue);
            st_.delete_queue.bind_text(1, q.queue);
            const int rc = release_rows(st_.delete_queue);
            if (rc == SQLITE_DONE) ++applied;
            return rc;
          },
          [&](PutRetainedOp& p) {
            return run(st_.put_retained, [&](Statement& s) {
              const MessageWrite& m = p.m;
              s.bind_text(1, m.topic);
              s.bind(2, m.id);
              s.bind_blob(3, m.payload.data(), m.payload.size());
              s.bind(4, int{m.qos});
              s.bind(5, m.retain ? 1 : 0);
              s.bind(6, m.expiry_unix_ms);
              s.bind_blob(7, m.properties.data(), m.properties.size());
            });
          },
          [&](DeleteRetainedOp& d) {
            return run(st_.delete_retained, [&](Statement& s) { s.bind_text(1, d.topic); });
          },
          [&](PutSessionOp& p) {
            return run(st_.put_session, [&](Statement& s) {
              s.bind_text(1, p.s.client_id);
              s.bind(2, int{p.s.protocol_level});
              s.bind(3, p.s.expiry_interval);
              s.bind(4, p.s.disconnected_unix_ms);
            });
          },
          [&](DeleteSessionOp& d) {
            for (Statement* s : {&st_.delete_session_subscriptions, &st_.delete_session_qos2}) {
              ResetOnExit r(*s);
              s->bind_text(1, d.client_id);
              if (const int rc = s->step(); rc != SQLITE_DONE) return rc;
            }
            return run(st_.delete_session, [&](Statement& s) { s.bind_text(1, d.client_id); });
          },
          [&](PutSubscriptionOp& p) {
            return run(st_.put_subscription, [&](Statement& s) {
              s.bind_text(1, p.s.client_id);
              s.bind_text(2, p.s.filter);
              s.bind(3, int{p.s.qos});
              s.bind(4, int{p.s.options});
              s.bind(5, p.s.subscription_id);
            });
          },
          [&](DeleteSubscriptionOp& d) {
            return run(st_.delete_subscription, [&](Statement& s) {
              s.bind_text(1, d.client_id);
              s.bind_text(2, d.filter);
            });
          },
          [&](PutQos2Op& p) {
            return run(st_.put_qos2, [&](Statement& s) {
              s.bind_text(1, p.client_id);
              s.bind(2, int{p.packet_id});
            });
          },
          [&](DeleteQos2Op& d) {
            return run(st_.delete_qos2, [&](Statement& s) {
              s.bind_text(1, d.client_id);
              s.bind(2, int{d.packet_id});
            });
          },
          [](BarrierOp&) { return SQLITE_DONE; },
      },
      op.v);
}

}  // namespace outpost::store::detail
