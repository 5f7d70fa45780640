// RestoreRouter: at start-up, hands every stored record back to the component that owns
// it. Owners register by a prefix of the queue name ("mqtt:", "amqp:", "plugin:<name>:")
// or of the definition kind ("amqp."), and for the tables of their own (sessions with
// their subscriptions and incoming QoS 2 ids, retained messages), so a new owner of
// stored state is one registration, not another link in a chain of visitors. The core
// knows no protocol: the prefixes and owners come from main.cpp's explicit list.
//
// The router rebuilds each stored message once and hands queue entries over with their
// message resolved, however many owners' queues share it. It keeps the store's restore
// order (messages, retained, sessions, subscriptions, definitions, entries, incoming QoS 2)
// and tells every owner when the definitions are over, before the first entry, so an
// owner can finish what its definitions build (AMQP binds its bindings) before it takes
// messages into its queues.
//
// Nothing is dropped silently: a record no owner is registered for, and an entry whose
// message could not be rebuilt, are counted and logged once per prefix or kind at finish
// (warn). The router deletes nothing; unowned records stay in the store.
//
// Threading: start-up only, one thread, before any listener opens.
#pragma once

#include "core/message.hpp"
#include "store/store.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace outpost::core {

// What takes back one part of the stored state. Every method does nothing unless
// overridden: an owner overrides what it registers for.
class RestoreOwner {
 public:
  virtual ~RestoreOwner() = default;

  // A retained message (RestoreRouter::set_retained_owner), never null.
  virtual void retained(MessagePtr /*message*/) {}
  // Sessions, their subscriptions and incoming QoS 2 ids (RestoreRouter::set_session_owner).
  virtual void session(store::SessionRecord&& /*s*/) {}
  virtual void subscription(store::SubscriptionRecord&& /*s*/) {}
  virtual void incoming_qos2(const std::string& /*client_id*/, std::uint16_t /*packet_id*/) {}
  // A definition whose kind starts with a prefix registered by this owner (by kind, then
  // name).
  virtual void definition(store::DefinitionRecord&& /*d*/) {}
  // Called once on every registered owner after the last definition, before the first
  // entry of any queue (or at finish when there are none).
  virtual void definitions_done() {}
  // An entry of a queue whose name starts with a prefix registered by this owner
  // (ascending seq within each queue), with its message (never null).
  virtual void entry(store::EntryRecord&& /*e*/, const MessagePtr& /*message*/) {}
};

class RestoreRouter final : public store::RestoreVisitor {
 public:
  // Registration, before store.restore(router). A queue entry goes to the owner of the
  // longest registered prefix of its queue name, a definition to the owner of the
  // longest registered prefix of its kind. Registering a prefix twice, or an empty
  // prefix, throws std::invalid_argument. An owner may register several prefixes.
  void add_queue_owner(std::string_view prefix, RestoreOwner& owner);
  void add_definition_owner(std::string_view kind_prefix, RestoreOwner& owner);
  void set_session_owner(RestoreOwner& owner);   // sessions, subscriptions, incoming QoS 2
  void set_retained_owner(RestoreOwner& owner);  // retained messages

  // store::RestoreVisitor
  void message(store::StoredMessage&& m) override;
  void retained(store::StoredMessage&& m) override;
  void session(store::SessionRecord&& s) override;
  void subscription(store::SubscriptionRecord&& s) override;
  void definition(store::DefinitionRecord&& d) override;
  void entry(store::EntryRecord&& e) override;
  void incoming_qos2(const std::string& client_id, std::uint16_t packet_id) override;

  struct Counts {
    std::size_t messages = 0;  // stored messages rebuilt
    std::size_t entries = 0;   // entries handed to an owner
    std::size_t skipped = 0;   // damaged messages and retained messages, entries naming them
    std::size_t unowned = 0;   // records no owner was registered for (left in the store)
  };
  // After store.restore(router): ends the definitions if no entry did, logs what was
  // skipped or unowned, releases the messages. Returns the counts.
  Counts finish();

  // The name under which an unowned queue is counted and logged: its name up to and
  // including the first ':' ("plugin:<name>:" for a plugin's queue); "" without one.
  static std::string_view unowned_prefix(std::string_view queue);

 private:
  struct Owned {
    std::string prefix;
    RestoreOwner* owner;
  };
  static void add(std::vector<Owned>& table, std::string_view prefix, RestoreOwner& owner, const char* what);
  static const Owned* find(const std::vector<Owned>& table, std::string_view name);
  void note_owner(RestoreOwner& owner);
  void end_definitions();
  void count_unowned(std::map<std::string, std::size_t, std::less<>>& counts, std::string_view key);

  std::vector<Owned> queue_owners_;       // longest prefix first
  std::vector<Owned> definition_owners_;  // longest prefix first
  RestoreOwner* session_owner_ = nullptr;
  RestoreOwner* retained_owner_ = nullptr;
  std::vector<RestoreOwner*> owners_;     // each once, in registration order
  bool definitions_done_ = false;

  std::unordered_map<std::uint64_t, MessagePtr> messages_;
  Counts counts_;
  // By queue prefix: entries whose message could not be rebuilt.
  std::map<std::string, std::size_t, std::less<>> missing_;
  // By queue prefix, definition kind or record kind: records with no owner.
  std::map<std::string, std::size_t, std::less<>> unowned_queues_;
  std::map<std::string, std::size_t, std::less<>> unowned_kinds_;
  std::map<std::string, std::size_t, std::less<>> unowned_records_;
};

}  // namespace outpost::core
