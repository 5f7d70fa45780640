// Helpers for the store tests: a temporary data directory, messages that own their bytes,
// a visitor that records what restore hands out, and ways to wait for (or hold) the writer.
#pragma once

#include "store/sqlite_store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace outpost::store::test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/outpost-store-test-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string data() const { return path_ + "/data"; }  // the store's directory
  std::string db() const { return data() + "/outpost.db"; }

 private:
  std::string path_;
};

inline SqliteStore::Options options(const TempDir& dir, SqliteStore::Options::Sync sync = SqliteStore::Options::Sync::off) {
  SqliteStore::Options o;
  o.dir = dir.data();
  o.sync = sync;
  return o;
}

// A message whose topic and payload live in its keep_alive, as the core's Message does.
inline MessageWrite message(std::uint64_t id, std::string topic, std::string payload, std::uint8_t qos = 1,
                            std::string properties = {}) {
  auto owner = std::make_shared<std::pair<std::string, std::string>>(std::move(topic), std::move(payload));
  MessageWrite m;
  m.id = id;
  m.topic = owner->first;
  m.payload = {reinterpret_cast<const std::uint8_t*>(owner->second.data()), owner->second.size()};
  m.qos = qos;
  m.properties = std::move(properties);
  m.keep_alive = owner;
  return m;
}

inline EntryRecord entry(std::string queue, std::uint64_t seq, std::uint64_t message_id, std::uint8_t qos = 1) {
  EntryRecord e;
  e.queue = std::move(queue);
  e.seq = seq;
  e.message_id = message_id;
  e.qos = qos;
  return e;
}

inline std::string text(const std::vector<std::uint8_t>& v) { return std::string(v.begin(), v.end()); }

struct Recorder final : RestoreVisitor {
  std::vector<std::string> order;  // kinds in the order they arrived
  std::vector<StoredMessage> messages;
  std::vector<StoredMessage> retained_messages;
  std::vector<SessionRecord> sessions;
  std::vector<SubscriptionRecord> subscriptions;
  std::vector<EntryRecord> entries;
  std::vector<std::pair<std::string, std::uint16_t>> qos2;
  std::vector<DefinitionRecord> definitions;

  void note(const char* kind) {
    if (order.empty() || order.back() != kind) order.emplace_back(kind);
  }
  void message(StoredMessage&& m) override {
    note("message");
    messages.push_back(std::move(m));
  }
  void retained(StoredMessage&& m) override {
    note("retained");
    retained_messages.push_back(std::move(m));
  }
  void session(SessionRecord&& s) override {
    note("session");
    sessions.push_back(std::move(s));
  }
  void subscription(SubscriptionRecord&& s) override {
    note("subscription");
    subscriptions.push_back(std::move(s));
  }
  void definition(DefinitionRecord&& d) override {
    note("definition");
    definitions.push_back(std::move(d));
  }
  void entry(EntryRecord&& e) override {
    note("entry");
    entries.push_back(std::move(e));
  }
  void incoming_qos2(const std::string& client_id, std::uint16_t packet_id) override {
    note("qos2");
    qos2.emplace_back(client_id, packet_id);
  }
};

// Waits until everything queued so far is committed, and in the database itself (the
// operation log of sync normal and off folded), where stats() counts it.
inline void flush(Store& store) {
  auto done = std::make_shared<std::promise<void>>();
  auto f = done->get_future();
  store.after_commit([done] { done->set_value(); });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  if (auto* sqlite = dynamic_cast<SqliteStore*>(&store)) sqlite->fold_log();
}

// Holds the writer thread inside an after_commit callback, so that every write queued
// meanwhile lands in one batch when release() is called.
class WriterHold {
 public:
  explicit WriterHold(Store& store) {
    auto entered = std::make_shared<std::promise<void>>();
    auto f = entered->get_future();
    auto released = release_.get_future().share();
    store.after_commit([entered, released] {
      entered->set_value();
      released.wait();
    });
    f.wait();
  }
  ~WriterHold() { release(); }
  void release() {
    if (!released_) {
      released_ = true;
      release_.set_value();
    }
  }

 private:
  std::promise<void> release_;
  bool released_ = false;
};

// The page size of an SQLite database file, from its header (bytes 16-17; 1 means 65536).
inline std::uint64_t page_size_of(const std::string& db) {
  std::ifstream f(db, std::ios::binary);
  unsigned char b[2] = {0, 0};
  f.seekg(16);
  f.read(reinterpret_cast<char*>(b), 2);
  const std::uint64_t n = (static_cast<std::uint64_t>(b[0]) << 8) | b[1];
  return n == 1 ? 65536 : n;
}

// Opens the store in `dir`, restores into a fresh Recorder and closes it again.
inline Recorder reopen(const TempDir& dir) {
  Recorder r;
  SqliteStore s(options(dir));
  s.restore(r);
  s.close();
  return r;
}

}  // namespace outpost::store::test
