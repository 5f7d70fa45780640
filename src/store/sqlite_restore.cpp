#include "store/sqlite_restore.hpp"

#include "store/sqlite_schema.hpp"

#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

namespace outpost::store::detail {
namespace {

// Marks a count whose message row exists, while restore pairs entries with messages.
// Counts never come near 2^31 (that many entries would not fit the store anyway).
constexpr std::uint32_t kPresent = 0x80000000u;

class Reader {
 public:
  Reader(Connection& db, const std::string& path) : db_(db), path_(path) {}

  Statement prepare(const char* sql) { return Statement(db_.get(), sql); }

  // Steps `s`: true on a row, false when done; throws on an error.
  bool next(Statement& s, const char* doing) {
    const int rc = s.step();
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) throw_store_error(path_, db_.get(), rc, doing);
    return false;
  }

  void exec(const char* sql, const char* doing) {
    if (const int rc = db_.exec(sql); rc != SQLITE_OK) throw_store_error(path_, db_.get(), rc, doing);
  }

  [[noreturn]] void bad_row(const std::string& what) {
    throw StoreError("store database " + path_ + " is damaged: " + what);
  }

 private:
  Connection& db_;
  const std::string& path_;
};

std::uint8_t small(Reader& r, std::int64_t v, std::int64_t max, const char* what) {
  if (v < 0 || v > max) r.bad_row(std::string(what) + " " + std::to_string(v) + " is out of range");
  return static_cast<std::uint8_t>(v);
}

StoredMessage read_message(Reader& r, Statement& s, int first) {
  // columns from `first`: topic, payload, qos, retain, expiry, properties
  StoredMessage m;
  m.topic = std::string(s.text(first));
  const auto payload = s.blob(first + 1);
  m.payload.assign(payload.begin(), payload.end());
  m.qos = small(r, s.int64(first + 2), 2, "message QoS");
  m.retain = s.int64(first + 3) != 0;
  m.expiry_unix_ms = s.int64(first + 4);
  const auto props = s.blob(first + 5);
  m.properties.assign(reinterpret_cast<const char*>(props.data()), props.size());
  return m;
}

}  // namespace

RestoreResult restore_store(Connection& db, const std::string& path, RefCounts& refs, RestoreVisitor& visitor,
                            Orphans keep_or_remove) {
  Reader r(db, path);
  RestoreResult result;
  refs.clear();
  r.exec("BEGIN", "starting the restore");

  // 1. Reference counts: one pass over the entries' message ids (no payloads read).
  {
    Statement s = r.prepare("SELECT message_id FROM entries");
    while (r.next(s, "counting queue entries")) {
      const auto id = s.int64(0);
      if (id > 0) ++refs[static_cast<std::uint64_t>(id)];  // id <= 0 never names a message
    }
  }

  // 2. Messages that some entry names; the rest are orphans.
  std::vector<std::uint64_t> orphans;
  {
    Statement s = r.prepare("SELECT id, topic, payload, qos, retain, expiry, properties FROM messages");
    while (r.next(s, "reading messages")) {
      const auto id = static_cast<std::uint64_t>(s.int64(0));
      if (id > result.max_id) result.max_id = id;
      std::uint32_t* count = refs.find(id);
      if (!count) {
        if (keep_or_remove == Orphans::keep) {
          refs[id] = kPresent;  // stored, named by no entry yet
        } else {
          orphans.push_back(id);
        }
        continue;
      }
      *count |= kPresent;
      StoredMessage m = read_message(r, s, 1);
      m.id = id;
      result.bytes += m.topic.size() + m.payload.size() + m.properties.size();
      visitor.message(std::move(m));
    }
  }
  if (!orphans.empty()) {
    Statement del = r.prepare("DELETE FROM messages WHERE id=?");
    for (std::uint64_t id : orphans) {
      del.bind(1, id);
      r.next(del, "removing orphan messages");
      del.reset();
    }
    result.orphans = orphans.size();
  }

  // 3. Retained messages.
  {
    Statement s = r.prepare("SELECT id, topic, payload, qos, retain, expiry, properties FROM retained");
    while (r.next(s, "reading retained messages")) {
      StoredMessage m = read_message(r, s, 1);
      m.id = static_cast<std::uint64_t>(s.int64(0));
      if (m.id > result.max_id) result.max_id = m.id;
      visitor.retained(std::move(m));
    }
  }

  // 4. Sessions and their subscriptions.
  {
    Statement s = r.prepare("SELECT client_id, protocol_level, expiry_interval, disconnected_ms FROM sessions");
    while (r.next(s, "reading sessions")) {
      SessionRecord rec;
      rec.client_id = std::string(s.text(0));
      rec.protocol_level = small(r, s.int64(1), 255, "session protocol level");
      rec.expiry_interval = static_cast<std::uint32_t>(s.int64(2));
      rec.disconnected_unix_ms = s.int64(3);
      visitor.session(std::move(rec));
    }
  }
  {
    Statement s = r.prepare("SELECT client_id, filter, qos, options, subscription_id FROM subscriptions");
    while (r.next(s, "reading subscriptions")) {
      SubscriptionRecord rec;
      rec.client_id = std::string(s.text(0));
      rec.filter = std::string(s.text(1));
      rec.qos = small(r, s.int64(2), 2, "subscription QoS");
      rec.options = small(r, s.int64(3), 255, "subscription options");
      rec.subscription_id = static_cast<std::uint32_t>(s.int64(4));
      visitor.subscription(std::move(rec));
    }
  }

  // 4b. Definitions (AMQP exchanges, queues, bindings), before the entries of their queues.
  {
    Statement s = r.prepare("SELECT kind, name, body FROM definitions ORDER BY kind, name");
    while (r.next(s, "reading definitions")) {
      DefinitionRecord d;
      d.kind = std::string(s.text(0));
      d.name = std::string(s.text(1));
      const auto body = s.blob(2);
      d.body.assign(reinterpret_cast<const char*>(body.data()), body.size());
      visitor.definition(std::move(d));
    }
  }

  // 5. Entries, by queue then seq: the primary key's order, so no sort.
  std::vector<std::pair<std::string, std::int64_t>> dangling;
  {
    Statement s = r.prepare(
        "SELECT queue, seq, message_id, qos, retain, state, packet_id, subscription_ids FROM entries "
        "ORDER BY queue, seq");
    while (r.next(s, "reading queue entries")) {
      const auto id = s.int64(2);
      const std::uint32_t* count = id > 0 ? refs.find(static_cast<std::uint64_t>(id)) : nullptr;
      if (!count || !(*count & kPresent)) {
        dangling.emplace_back(std::string(s.text(0)), s.int64(1));
        continue;
      }
      EntryRecord e;
      e.queue = std::string(s.text(0));
      e.seq = static_cast<std::uint64_t>(s.int64(1));
      e.message_id = static_cast<std::uint64_t>(id);
      e.qos = small(r, s.int64(3), 2, "entry QoS");
      e.retain = s.int64(4) != 0;
      e.state = static_cast<EntryState>(small(r, s.int64(5), 3, "entry state"));
      e.packet_id = static_cast<std::uint16_t>(s.int64(6));
      const auto ids = s.blob(7);
      if (ids.size() % 4 != 0) r.bad_row("entry subscription ids of " + e.queue + " are not 4-byte values");
      e.subscription_ids.reserve(ids.size() / 4);
      for (std::size_t i = 0; i < ids.size(); i += 4) {
        e.subscription_ids.push_back(std::uint32_t{ids[i]} | std::uint32_t{ids[i + 1]} << 8 |
                                     std::uint32_t{ids[i + 2]} << 16 | std::uint32_t{ids[i + 3]} << 24);
      }
      visitor.entry(std::move(e));
    }
  }

  // 6. Incoming QoS 2 packet ids.
  {
    Statement s = r.prepare("SELECT client_id, packet_id FROM incoming_qos2");
    while (r.next(s, "reading incoming QoS 2 packet ids")) {
      const std::string client(s.text(0));
      visitor.incoming_qos2(client, static_cast<std::uint16_t>(s.int64(1)));
    }
  }

  if (!dangling.empty()) {
    Statement del = r.prepare("DELETE FROM entries WHERE queue=? AND seq=?");
    for (const auto& [queue, seq] : dangling) {
      del.bind_text(1, queue);
      del.bind(2, seq);
      r.next(del, "removing entries without a message");
      del.reset();
    }
    result.dangling = dangling.size();
  }
  // Counts of ids without a message row belonged to the dangling entries just removed.
  std::vector<std::uint64_t> missing;
  refs.for_each([&](std::uint64_t id, std::uint32_t& count) {
    if (count & kPresent) {
      count &= ~kPresent;
    } else {
      missing.push_back(id);
    }
  });
  for (std::uint64_t id : missing) refs.erase(id);

  r.exec("COMMIT", "finishing the restore");
  if (result.orphans) spdlog::info("store: removed {} messages that no queue held", result.orphans);
  if (result.dangling) {
    spdlog::warn("store: removed {} queue entries whose message was missing from {}", result.dangling, path);
  }
  return result;
}

}  // namespace outpost::store::detail
