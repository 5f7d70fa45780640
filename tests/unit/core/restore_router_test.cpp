// The restore router: queue entries by the longest registered prefix of their queue name,
// definitions by kind, the session tables and retained messages to their owners, each
// message rebuilt once, entries of damaged messages skipped, unowned records counted and
// left alone. Driven in the store's order by hand, and once through the real SqliteStore.
#include "core/restore_router.hpp"

#include "../store/store_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace outpost::core {
namespace {

// Records what it was handed, in order, as short strings.
struct FakeOwner final : RestoreOwner {
  std::vector<std::string> events;
  std::vector<std::pair<store::EntryRecord, MessagePtr>> entries;
  std::vector<MessagePtr> retained_messages;
  int done = 0;

  void retained(MessagePtr m) override {
    events.push_back("retained " + m->topic());
    retained_messages.push_back(std::move(m));
  }
  void session(store::SessionRecord&& s) override { events.push_back("session " + s.client_id); }
  void subscription(store::SubscriptionRecord&& s) override {
    events.push_back("subscription " + s.client_id + " " + s.filter);
  }
  void incoming_qos2(const std::string& client_id, std::uint16_t packet_id) override {
    events.push_back("qos2 " + client_id + " " + std::to_string(packet_id));
  }
  void definition(store::DefinitionRecord&& d) override { events.push_back("definition " + d.kind + " " + d.name); }
  void definitions_done() override {
    ++done;
    events.push_back("done");
  }
  void entry(store::EntryRecord&& e, const MessagePtr& m) override {
    events.push_back("entry " + e.queue + " " + std::to_string(e.seq) + " " + m->topic());
    entries.emplace_back(std::move(e), m);
  }
};

store::StoredMessage stored(std::uint64_t id, std::string topic, std::string properties = {}) {
  store::StoredMessage m;
  m.id = id;
  m.topic = std::move(topic);
  m.payload = {'x'};
  m.qos = 1;
  m.properties = std::move(properties);
  return m;
}

store::EntryRecord entry(std::string queue, std::uint64_t seq, std::uint64_t message_id) {
  store::EntryRecord e;
  e.queue = std::move(queue);
  e.seq = seq;
  e.message_id = message_id;
  e.qos = 1;
  return e;
}

store::DefinitionRecord definition(std::string kind, std::string name) {
  store::DefinitionRecord d;
  d.kind = std::move(kind);
  d.name = std::move(name);
  d.body = "body";
  return d;
}

const std::string kDamaged("\x63\0\0\0\0", 5);  // an unknown property tag

TEST(RestoreRouter, EntriesGoToTheOwnerOfTheirQueuePrefix) {
  FakeOwner mqtt, amqp;
  RestoreRouter router;
  router.add_queue_owner("mqtt:", mqtt);
  router.add_queue_owner("amqp:", amqp);
  router.message(stored(1, "a"));
  router.message(stored(2, "b"));
  router.entry(entry("mqtt:c1", 1, 1));
  router.entry(entry("amqp:q", 1, 2));
  router.entry(entry("mqtt:c2", 1, 2));
  const auto counts = router.finish();

  EXPECT_EQ(mqtt.events, (std::vector<std::string>{"done", "entry mqtt:c1 1 a", "entry mqtt:c2 1 b"}));
  EXPECT_EQ(amqp.events, (std::vector<std::string>{"done", "entry amqp:q 1 b"}));
  EXPECT_EQ(counts.messages, 2u);
  EXPECT_EQ(counts.entries, 3u);
  EXPECT_EQ(counts.skipped, 0u);
  EXPECT_EQ(counts.unowned, 0u);
}

TEST(RestoreRouter, LongestPrefixWinsWhateverTheRegistrationOrder) {
  for (bool longer_first : {false, true}) {
    FakeOwner plugins, cloud;
    RestoreRouter router;
    if (longer_first) router.add_queue_owner("plugin:cloud:", cloud);
    router.add_queue_owner("plugin:", plugins);
    if (!longer_first) router.add_queue_owner("plugin:cloud:", cloud);
    router.message(stored(1, "t"));
    router.entry(entry("plugin:cloud:outbox", 1, 1));
    router.entry(entry("plugin:other:outbox", 1, 1));
    router.entry(entry("plugin:cloud", 1, 1));  // not the longer prefix: "plugin:"
    router.finish();

    EXPECT_EQ(cloud.events, (std::vector<std::string>{"done", "entry plugin:cloud:outbox 1 t"}));
    EXPECT_EQ(plugins.events,
              (std::vector<std::string>{"done", "entry plugin:other:outbox 1 t", "entry plugin:cloud 1 t"}));
  }
}

TEST(RestoreRouter, UnownedRecordsAreCountedAndNotHandedToAnyone) {
  FakeOwner mqtt;
  RestoreRouter router;
  router.add_queue_owner("mqtt:", mqtt);
  router.message(stored(1, "t"));
  router.retained(stored(2, "r"));            // no retained owner
  router.session(store::SessionRecord{});     // no session owner
  router.definition(definition("amqp.queue", "q"));
  router.entry(entry("amqp:q", 1, 1));
  router.entry(entry("plugin:cloud:outbox", 1, 1));
  router.entry(entry("plugin:cloud:outbox", 2, 1));
  router.entry(entry("nameless", 1, 1));
  router.entry(entry("mqtt:c", 1, 1));
  router.incoming_qos2("c", 7);
  const auto counts = router.finish();

  EXPECT_EQ(mqtt.events, (std::vector<std::string>{"done", "entry mqtt:c 1 t"}));
  EXPECT_EQ(counts.unowned, 8u);
  EXPECT_EQ(counts.entries, 1u);
  EXPECT_EQ(counts.skipped, 0u);
}

TEST(RestoreRouter, UnownedQueuesAreGroupedByPrefix) {
  EXPECT_EQ(RestoreRouter::unowned_prefix("amqp:q"), "amqp:");
  EXPECT_EQ(RestoreRouter::unowned_prefix("plugin:cloud:outbox"), "plugin:cloud:");
  EXPECT_EQ(RestoreRouter::unowned_prefix("plugin:cloud"), "plugin:");
  EXPECT_EQ(RestoreRouter::unowned_prefix("nameless"), "");
}

TEST(RestoreRouter, AMessageIsRebuiltOnceForTheEntriesOfTwoOwners) {
  FakeOwner mqtt, amqp;
  RestoreRouter router;
  router.add_queue_owner("mqtt:", mqtt);
  router.add_queue_owner("amqp:", amqp);
  router.message(stored(7, "shared"));
  router.entry(entry("amqp:q", 3, 7));
  router.entry(entry("mqtt:c", 5, 7));
  router.finish();

  ASSERT_EQ(mqtt.entries.size(), 1u);
  ASSERT_EQ(amqp.entries.size(), 1u);
  EXPECT_EQ(mqtt.entries[0].second.get(), amqp.entries[0].second.get());
  EXPECT_EQ(mqtt.entries[0].second->store_id(), 7u);
}

TEST(RestoreRouter, AnEntryWhoseMessageIsDamagedIsSkipped) {
  FakeOwner mqtt;
  RestoreRouter router;
  router.add_queue_owner("mqtt:", mqtt);
  router.message(stored(1, "bad", kDamaged));
  router.message(stored(2, "good"));
  router.entry(entry("mqtt:c", 1, 1));
  router.entry(entry("mqtt:c", 2, 2));
  router.entry(entry("mqtt:c", 3, 99));  // never stored
  const auto counts = router.finish();

  EXPECT_EQ(mqtt.events, (std::vector<std::string>{"done", "entry mqtt:c 2 good"}));
  EXPECT_EQ(counts.messages, 1u);
  EXPECT_EQ(counts.entries, 1u);
  EXPECT_EQ(counts.skipped, 3u);  // the damaged message and the two entries without one
  EXPECT_EQ(counts.unowned, 0u);
}

TEST(RestoreRouter, DefinitionsGoByKindAndEndBeforeTheFirstEntry) {
  FakeOwner mqtt, amqp;
  RestoreRouter router;
  router.add_queue_owner("mqtt:", mqtt);
  router.add_queue_owner("amqp:", amqp);
  router.add_definition_owner("amqp.", amqp);
  router.message(stored(1, "t"));
  router.definition(definition("amqp.binding", "b"));
  router.definition(definition("amqp.queue", "q"));
  router.entry(entry("mqtt:c", 1, 1));  // another owner's entry ends them too
  router.entry(entry("amqp:q", 1, 1));
  router.finish();

  EXPECT_EQ(amqp.events, (std::vector<std::string>{"definition amqp.binding b", "definition amqp.queue q", "done",
                                                   "entry amqp:q 1 t"}));
  EXPECT_EQ(amqp.done, 1);  // registered twice, told once
  EXPECT_EQ(mqtt.done, 1);
}

TEST(RestoreRouter, FinishEndsTheDefinitionsWhenNoEntryCame) {
  FakeOwner amqp;
  RestoreRouter router;
  router.add_definition_owner("amqp.", amqp);
  router.definition(definition("amqp.queue", "q"));
  router.finish();
  EXPECT_EQ(amqp.events, (std::vector<std::string>{"definition amqp.queue q", "done"}));
}

TEST(RestoreRouter, SessionTablesAndRetainedGoToTheirOwners) {
  FakeOwner sessions, retained;
  RestoreRouter router;
  router.set_session_owner(sessions);
  router.set_retained_owner(retained);
  store::SessionRecord s;
  s.client_id = "c";
  store::SubscriptionRecord sub;
  sub.client_id = "c";
  sub.filter = "a/#";
  router.retained(stored(5, "r/1"));
  router.retained(stored(6, "r/2", kDamaged));
  router.session(std::move(s));
  router.subscription(std::move(sub));
  router.incoming_qos2("c", 9);
  const auto counts = router.finish();

  EXPECT_EQ(sessions.events, (std::vector<std::string>{"session c", "subscription c a/#", "done", "qos2 c 9"}));
  EXPECT_EQ(retained.events, (std::vector<std::string>{"retained r/1", "done"}));
  ASSERT_EQ(retained.retained_messages.size(), 1u);
  EXPECT_EQ(retained.retained_messages[0]->store_id(), 0u);  // not a message entries may name
  EXPECT_EQ(counts.skipped, 1u);
}

TEST(RestoreRouter, APrefixIsRegisteredOnce) {
  FakeOwner a, b;
  RestoreRouter router;
  router.add_queue_owner("mqtt:", a);
  EXPECT_THROW(router.add_queue_owner("mqtt:", b), std::invalid_argument);
  EXPECT_THROW(router.add_queue_owner("", b), std::invalid_argument);
  router.add_definition_owner("amqp.", a);
  EXPECT_THROW(router.add_definition_owner("amqp.", b), std::invalid_argument);
}

// Through the real store: its order, one message shared by two owners' queues, a damaged
// message, a plugin's queue with no owner left in the store for the next start.
TEST(RestoreRouter, RestoresFromTheSqliteStore) {
  using namespace store::test;
  TempDir dir;
  {
    store::SqliteStore s(options(dir));
    Recorder none;
    s.restore(none);
    s.put_message(store::test::message(1, "shared", "p"));
    s.put_message(store::test::message(2, "bad", "p", 1, kDamaged));
    s.put_entry(store::test::entry("mqtt:c", 1, 1));
    s.put_entry(store::test::entry("amqp:q", 1, 1));
    s.put_entry(store::test::entry("amqp:q", 2, 2));
    s.put_entry(store::test::entry("plugin:cloud:outbox", 1, 1));
    s.put_definition(definition("amqp.queue", "q"));
    s.close();
  }
  FakeOwner mqtt, amqp;
  {
    store::SqliteStore s(options(dir));
    RestoreRouter router;
    router.add_queue_owner("mqtt:", mqtt);
    router.add_queue_owner("amqp:", amqp);
    router.add_definition_owner("amqp.", amqp);
    s.restore(router);
    const auto counts = router.finish();
    s.close();
    EXPECT_EQ(counts.messages, 1u);
    EXPECT_EQ(counts.entries, 2u);
    EXPECT_EQ(counts.skipped, 2u);  // message 2 and its entry
    EXPECT_EQ(counts.unowned, 1u);
  }
  EXPECT_EQ(amqp.events, (std::vector<std::string>{"definition amqp.queue q", "done", "entry amqp:q 1 shared"}));
  EXPECT_EQ(mqtt.events, (std::vector<std::string>{"done", "entry mqtt:c 1 shared"}));
  ASSERT_EQ(amqp.entries.size(), 1u);
  ASSERT_EQ(mqtt.entries.size(), 1u);
  EXPECT_EQ(amqp.entries[0].second.get(), mqtt.entries[0].second.get());

  // Nothing was deleted: the plugin's entry is still there for an owner to come.
  auto again = reopen(dir);
  const auto kept = std::count_if(again.entries.begin(), again.entries.end(),
                                  [](const store::EntryRecord& e) { return e.queue == "plugin:cloud:outbox"; });
  EXPECT_EQ(kept, 1);
}

}  // namespace
}  // namespace outpost::core
