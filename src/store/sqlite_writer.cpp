#include "store/sqlite_writer.hpp"

#include "store/overloaded.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <type_traits>
#include <variant>

namespace outpost::store::detail {
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
  st_.put_definition = Statement(h, "INSERT OR REPLACE INTO definitions(kind, name, body) VALUES(?,?,?)");
  st_.delete_definition = Statement(h, "DELETE FROM definitions WHERE kind=? AND name=?");
  st_.log_mark = Statement(h, "INSERT OR REPLACE INTO meta(key, value) VALUES('log_applied', ?)");
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

bool SqliteWriter::rejects_operation(int rc) noexcept {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return true;
    default:
      return false;
  }
}

void SqliteWriter::record_commit(std::chrono::steady_clock::duration took, std::uint64_t operations) {
  auto bump = [](std::atomic<std::uint64_t>& v, std::uint64_t n) {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  };
  const double seconds = std::chrono::duration<double>(took).count();
  std::size_t i = 0;
  while (i < kCommitSecondsBounds.size() && seconds > kCommitSecondsBounds[i]) ++i;
  bump(counters_.commit_seconds[i], 1);
  bump(counters_.commit_microseconds_sum,
       static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  std::size_t j = 0;
  while (j < kCommitOperationsBounds.size() && static_cast<double>(operations) > kCommitOperationsBounds[j]) ++j;
  bump(counters_.commit_operations[j], 1);
}

SqliteWriter::Outcome SqliteWriter::commit(std::vector<Op>& batch) {
  bool work = false;
  for (auto& op : batch) {
    if (auto* pm = std::get_if<PutMessageOp>(&op.v)) pm->written = false;
    if (op.live && !std::holds_alternative<BarrierOp>(op.v)) work = true;
  }
  for (std::uint64_t id : unreferenced_) {
    if (const std::uint32_t* c = refs_.find(id); c && *c == 0) work = true;  // a message to delete
  }
  if (log_mark_) work = true;  // the mark goes in even when nothing else does
  if (!work) return {};  // everything coalesced away: no transaction at all

  undo_.clear();
  zeroed_.clear();
  failed_op_ = kNoOp;
  std::uint64_t freed = 0, applied = 0;
  const auto started = std::chrono::steady_clock::now();
  int rc = apply_all(batch, freed, applied);
  if (rc == SQLITE_DONE || rc == SQLITE_OK) {
    ResetOnExit r(st_.commit);
    rc = st_.commit.step();
  }
  if (rc == SQLITE_DONE) {
    undo_.clear();
    log_mark_.reset();
    counters_.bytes.fetch_sub(freed, std::memory_order_relaxed);
    counters_.messages.store(refs_.size(), std::memory_order_relaxed);
    counters_.commits.fetch_add(1, std::memory_order_relaxed);
    counters_.operations.fetch_add(applied, std::memory_order_relaxed);
    const auto took = std::chrono::steady_clock::now() - started;
    record_commit(took, applied);
    group_commit_.commit_seen(took);
    return {};
  }

  Outcome failed{false, rc, db_.errmsg(), failed_op_};
  if (const int e = sqlite3_system_errno(db_.get()); e != 0) failed.error += " (errno " + std::to_string(e) + ")";
  // A failed COMMIT or statement may already have rolled back (I/O errors, disk full do);
  // otherwise roll back here so the next attempt starts clean.
  if (!sqlite3_get_autocommit(db_.get())) {
    ResetOnExit r(st_.rollback);
    st_.rollback.step();
  }
  undo_counts();
  return failed;
}

int SqliteWriter::apply_all(std::vector<Op>& batch, std::uint64_t& freed, std::uint64_t& applied) {
  int rc;
  {
    ResetOnExit r(st_.begin);
    if ((rc = st_.begin.step()) != SQLITE_DONE) return rc;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].live) continue;
    if ((rc = apply(batch[i], batch, applied)) != SQLITE_DONE) {
      if (failed_op_ == kNoOp) failed_op_ = i;  // unless its message's insert failed first
      return rc;
    }
  }
  if ((rc = finish_messages(batch, freed, applied)) != SQLITE_DONE) return rc;
  if (log_mark_) {
    ResetOnExit r(st_.log_mark);
    st_.log_mark.bind(1, *log_mark_);
    if ((rc = st_.log_mark.step()) != SQLITE_DONE) return rc;
  }
  // A message written in an earlier batch whose only entries were put and deleted within
  // this one never had its count go up and down: it is zero without having "reached" it.
  for (std::uint64_t id : unreferenced_) {
    const std::uint32_t* c = refs_.find(id);
    if (c && *c == 0) zeroed_.push_back(id);
  }

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
  if (it == pending_messages_.end() || !batch[it->second].live) {
    known = false;
    return SQLITE_DONE;
  }
  auto& pm = std::get<PutMessageOp>(batch[it->second].v);
  const int rc = write_message(pm);
  if (rc != SQLITE_DONE) {
    failed_op_ = it->second;
    return rc;
  }
  pm.written = true;
  add_new(id);
  ++applied;
  return SQLITE_DONE;
}

int SqliteWriter::finish_messages(std::vector<Op>& batch, std::uint64_t& freed, std::uint64_t& applied) {
  for (const auto& [id, index] : pending_messages_) {
    auto& pm = std::get<PutMessageOp>(batch[index].v);
    if (pm.written || !batch[index].live) continue;
    if (refs_.find(id)) {  // put again while already stored: the stored row stands
      freed += pm.bytes;
      continue;
    }
    // No entry named it yet; one in a later batch may. Written now, it is either
    // referenced later or removed by the next restore.
    const int rc = write_message(pm);
    if (rc != SQLITE_DONE) {
      failed_op_ = index;
      return rc;
    }
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
          [&](PutDefinitionOp& p) {
            return run(st_.put_definition, [&](Statement& s) {
              s.bind_text(1, p.d.kind);
              s.bind_text(2, p.d.name);
              s.bind_blob(3, p.d.body.data(), p.d.body.size());
            });
          },
          [&](DeleteDefinitionOp& d) {
            return run(st_.delete_definition, [&](Statement& s) {
              s.bind_text(1, d.kind);
              s.bind_text(2, d.name);
            });
          },
          [](BarrierOp&) { return SQLITE_DONE; },
      },
      op.v);
}

}  // namespace outpost::store::detail
