// ManualStore: a persistent store that keeps nothing and commits when the test says. A
// publish it must hold (a persistent message to a durable queue) holds its acknowledgement
// until commit_all(), so tests see acknowledgements wait for the commit and what happens
// in between; `full` makes it refuse new messages as a store at its bound does.
//
// Threading: the test's thread; commit_all() runs the barriers inline (each posts to its
// publisher's executor, so the driver's run() delivers them, unless it runs inside that
// run() with nothing of its publisher ahead: then it is handed back at once).
#pragma once

#include "store/store.hpp"

#include <deque>
#include <functional>
#include <string>

namespace outpost::test {

class ManualStore final : public store::Store {
 public:
  bool full = false;  // would_exceed(): the store is at its bound

  void commit_all() {
    while (!barriers_.empty()) {
      auto f = std::move(barriers_.front());
      barriers_.pop_front();
      f();
    }
  }
  // Commits up to the first barrier waiting, and runs it.
  void commit_one() {
    if (barriers_.empty()) return;
    auto f = std::move(barriers_.front());
    barriers_.pop_front();
    f();
  }
  std::size_t waiting() const noexcept { return barriers_.size(); }

  bool persistent() const override { return true; }
  std::string describe() const override { return "manual commits (nothing kept)"; }
  void restore(store::RestoreVisitor&) override {}
  std::uint64_t next_message_id() override { return ++ids_; }
  bool would_exceed(std::size_t) const override { return full; }
  void put_message(store::MessageWrite) override {}
  void put_entry(store::EntryRecord) override {}
  void update_entry(const std::string&, std::uint64_t, store::EntryState, std::uint16_t) override {}
  void delete_entry(const std::string&, std::uint64_t) override {}
  void delete_queue(const std::string&) override {}
  void put_retained(store::MessageWrite) override {}
  void delete_retained(const std::string&) override {}
  void put_session(store::SessionRecord) override {}
  void delete_session(const std::string&) override {}
  void put_subscription(store::SubscriptionRecord) override {}
  void delete_subscription(const std::string&, const std::string&) override {}
  void put_incoming_qos2(const std::string&, std::uint16_t) override {}
  void delete_incoming_qos2(const std::string&, std::uint16_t) override {}
  void put_definition(store::DefinitionRecord) override {}
  void delete_definition(const std::string&, const std::string&) override {}
  void after_commit(std::function<void()> on_durable) override { barriers_.push_back(std::move(on_durable)); }
  void close() override {}
  store::StoreStats stats() const override { return {}; }

 private:
  std::deque<std::function<void()>> barriers_;
  std::uint64_t ids_ = 0;
};

}  // namespace outpost::test
