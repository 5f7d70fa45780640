// The plugin host with a plugin linked into the test (a Library whose entry points are
// functions of this file, no dlopen): init errors, the authorization and authentication
// chains, the message hook in the Publisher, durable queues with their window, recover
// and acknowledgements, and the key-value space.
#include "plugin/host.hpp"
#include "plugin/security_chain.hpp"

#include "core/publisher.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace outpost::plugin {
namespace {

using namespace std::chrono_literals;

std::string_view sv(outpost_str s) { return {s.data, s.len}; }
bool starts(outpost_str s, std::string_view prefix) { return sv(s).starts_with(prefix); }

// The plugin: what it does is chosen by the test through these.
struct Fake {
  const outpost_api* api = nullptr;
  outpost_plugin* self = nullptr;
  bool fail = false;
  bool open_queue = false;
  std::uint32_t window = 2;
  outpost_queue* queue = nullptr;
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::pair<std::uint64_t, std::string>> deliveries;  // id, topic
  std::vector<int> redelivered;
  std::string rewritten;  // storage for a topic the message hook sets
  bool pending_auth = false;
  std::thread completer;
};
Fake* g = nullptr;

outpost_result authorize(void*, const outpost_client*, outpost_access a, outpost_str, outpost_str name) {
  if (a != OUTPOST_ACCESS_PUBLISH) return OUTPOST_DEFER;
  if (starts(name, "deny/")) return OUTPOST_DENY;
  if (starts(name, "ok/")) return OUTPOST_OK;
  return OUTPOST_DEFER;
}

outpost_result message(void*, const outpost_client*, outpost_message* m) {
  if (starts(m->topic, "drop/")) return OUTPOST_DROP;
  if (starts(m->topic, "refuse/")) return OUTPOST_DENY;
  if (starts(m->topic, "in/")) {
    g->rewritten = "out/" + std::string(sv(m->topic).substr(3));
    m->topic = outpost_str{g->rewritten.data(), g->rewritten.size()};
  }
  return OUTPOST_OK;
}

outpost_result authenticate(void*, const outpost_auth_request* r, outpost_auth_ticket* t) {
  const auto user = sv(r->client->user);
  if (user == "plugin-user") {
    if (!g->pending_auth) return sv(r->password) == "right" ? OUTPOST_OK : OUTPOST_DENY;
    // Answered later, from a thread of the plugin's own, under another name.
    g->completer = std::thread([t, api = g->api] {
      std::this_thread::sleep_for(20ms);
      api->auth_complete(t, OUTPOST_OK, "renamed", "ok");
    });
    return OUTPOST_PENDING;
  }
  return OUTPOST_DEFER;
}

void on_delivery(void*, outpost_queue* q, const outpost_delivery* d) {
  std::lock_guard lock(g->m);
  g->queue = q;
  g->deliveries.emplace_back(d->id, std::string(sv(d->message->topic)));
  g->redelivered.push_back(d->redelivered);
  g->cv.notify_all();
}

std::uint32_t version() { return OUTPOST_PLUGIN_ABI_VERSION; }

outpost_result init(const outpost_api* api, const outpost_plugin_config* c, void** state) {
  g->api = api;
  g->self = c->self;
  *state = g;
  if (g->fail) {
    api->set_error(c->self, c->config, "this plugin was told to fail");
    return OUTPOST_ERROR;
  }
  outpost_callbacks cb{};
  cb.size = sizeof(cb);
  cb.authorize = authorize;
  cb.message = message;
  cb.authenticate = authenticate;
  api->set_callbacks(c->self, &cb);
  if (g->open_queue) {
    outpost_subscription sub{{"q/#", 3}, 1, 0, {}};
    outpost_queue_options o{};
    o.size = sizeof(o);
    o.name = "out";
    o.subscriptions = &sub;
    o.subscription_count = 1;
    o.window = g->window;
    o.on_delivery = on_delivery;
    if (api->queue_open(c->self, &o, &g->queue) != OUTPOST_OK) return OUTPOST_ERROR;
  }
  return OUTPOST_OK;
}

int cleanups = 0;
void cleanup(void*) { ++cleanups; }

Library fake_library() {
  Library lib;
  lib.path = "fake.so";
  lib.abi_version = version();
  lib.init = init;
  lib.cleanup = cleanup;
  return lib;
}

core::MessagePtr msg(std::string topic, std::uint8_t qos = 1) {
  core::Message::Init init;
  init.topic = std::move(topic);
  static const std::uint8_t p[] = {'x'};
  init.payload = p;
  init.qos = qos;
  return core::Message::make(std::move(init));
}

class HostTest : public ::testing::Test {
 protected:
  void SetUp() override { g = &fake; }
  void TearDown() override {
    host.stop();
    if (fake.completer.joinable()) fake.completer.join();
    g = nullptr;
  }

  void load() {
    Spec spec;
    spec.name = "fake";
    auto tree = std::make_shared<ConfigTree>();
    tree->kind = ConfigTree::Kind::map;
    tree->position = "test.yaml:7:9";
    spec.config = tree;
    std::vector<Spec> specs;
    specs.push_back(std::move(spec));
    // Library::open would dlopen; the test hands the entry points over directly.
    host.load_library_for_test(std::move(specs.front()), fake_library());
  }

  bool wait_deliveries(std::size_t n) {
    std::unique_lock lock(fake.m);
    return fake.cv.wait_for(lock, 5s, [&] { return fake.deliveries.size() >= n; });
  }

  Fake fake;
  store::MemoryStore store;
  core::Broker broker{store};
  Host host{broker};
};

TEST_F(HostTest, InitFailureNamesThePluginAndThePositionInTheFile) {
  fake.fail = true;
  load();
  const int before = cleanups;
  try {
    host.init();
    FAIL() << "init should have failed";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("plugin 'fake'"), std::string::npos) << what;
    EXPECT_NE(what.find("test.yaml:7:9: this plugin was told to fail"), std::string::npos) << what;
  }
  EXPECT_EQ(cleanups, before + 1) << "cleanup runs after a failed init";
}

class DenyAll final : public core::AccessControl {
 public:
  bool may_publish(const core::ClientInfo&, std::string_view, std::string_view) const override { return false; }
  bool may_subscribe(const core::ClientInfo&, std::string_view, std::string_view) const override { return false; }
  bool may_consume(const core::ClientInfo&, std::string_view, std::string_view) const override { return false; }
};

TEST_F(HostTest, AuthorizeDecidesFirstAndDefersToTheAcls) {
  load();
  host.init();
  core::ListenerAccess with_acl;
  with_acl.access = std::make_shared<DenyAll>();
  const auto a = host.wrap(with_acl);
  const core::ClientInfo client;
  EXPECT_TRUE(a.access->may_publish(client, "amq.topic", "ok/1"));
  EXPECT_FALSE(a.access->may_publish(client, "amq.topic", "deny/1"));
  EXPECT_FALSE(a.access->may_publish(client, "amq.topic", "other")) << "deferred to the ACL, which denies";
  const auto b = host.wrap(core::ListenerAccess{});
  EXPECT_TRUE(b.access->may_publish(client, "amq.topic", "other")) << "deferred, and no ACL: allowed";
  EXPECT_FALSE(b.access->may_publish(client, "amq.topic", "deny/1"));
}

TEST_F(HostTest, MessageHookRewritesDropsAndRefuses) {
  load();
  host.init();
  auto q = broker.make_queue("sub", core::QueueLimits{});
  broker.mqtt_exchange().bind("#", q, core::BindingOptions{});
  core::Publisher p(broker, core::ClientInfo(), nullptr);
  auto out = p.publish(broker.mqtt_exchange(), msg("in/a"));
  EXPECT_EQ(out.refused, core::Refusal::none);
  core::Delivery d;
  ASSERT_TRUE(q->pull_one(d));
  EXPECT_EQ(d.message->topic(), "out/a");
  out = p.publish(broker.mqtt_exchange(), msg("drop/a"));
  EXPECT_EQ(out.refused, core::Refusal::none);
  EXPECT_EQ(out.routed.matched, 0u);
  out = p.publish(broker.mqtt_exchange(), msg("refuse/a"));
  EXPECT_EQ(out.refused, core::Refusal::not_authorized);
  out = p.publish(broker.mqtt_exchange(), msg("plain"));
  ASSERT_TRUE(q->pull_one(d));
  EXPECT_EQ(d.message->topic(), "plain");
  EXPECT_FALSE(q->pull_one(d));
}

TEST_F(HostTest, QueueDeliversWithinTheWindowAndAgainAfterRecover) {
  fake.open_queue = true;
  fake.window = 2;
  load();
  host.init();
  host.start();
  core::Publisher p(broker, core::ClientInfo(), nullptr);
  for (int i = 0; i < 3; ++i) p.publish(broker.mqtt_exchange(), msg("q/" + std::to_string(i)));
  p.wakeups().flush();
  ASSERT_TRUE(wait_deliveries(2));
  std::this_thread::sleep_for(50ms);
  {
    std::lock_guard lock(fake.m);
    ASSERT_EQ(fake.deliveries.size(), 2u) << "no more than the window unacknowledged";
    EXPECT_EQ(fake.deliveries[0].second, "q/0");
    EXPECT_EQ(fake.deliveries[1].second, "q/1");
  }
  fake.api->queue_ack(fake.queue, fake.deliveries[0].first);
  ASSERT_TRUE(wait_deliveries(3));
  {
    std::lock_guard lock(fake.m);
    EXPECT_EQ(fake.deliveries[2].second, "q/2");
  }
  // The link broke: what was not acknowledged comes again, in order, marked redelivered.
  fake.api->queue_recover(fake.queue);
  ASSERT_TRUE(wait_deliveries(5));
  std::lock_guard lock(fake.m);
  EXPECT_EQ(fake.deliveries[3].second, "q/1");
  EXPECT_EQ(fake.deliveries[4].second, "q/2");
  EXPECT_EQ(fake.redelivered[3], 1);
  EXPECT_EQ(fake.redelivered[0], 0);
  outpost_queue_stats st{};
  st.size = sizeof(st);
  fake.api->queue_stats(fake.queue, &st);
  EXPECT_EQ(st.in_flight, 2u);
  EXPECT_EQ(st.acked, 1u);
}

TEST_F(HostTest, KeyValuesComeBackFromTheStoreAndCanBeChanged) {
  load();
  host.definition(store::DefinitionRecord{"plugin:fake", "starts", "41"});
  host.init();
  std::string got;
  auto found = [](void* ud, outpost_str v) { *static_cast<std::string*>(ud) = std::string(v.data, v.len); };
  ASSERT_EQ(fake.api->kv_get(fake.self, {"starts", 6}, found, &got), OUTPOST_OK);
  EXPECT_EQ(got, "41");
  EXPECT_EQ(fake.api->kv_put(fake.self, {"starts", 6}, {"42", 2}), OUTPOST_OK);
  fake.api->kv_get(fake.self, {"starts", 6}, found, &got);
  EXPECT_EQ(got, "42");
  EXPECT_EQ(fake.api->kv_delete(fake.self, {"starts", 6}), OUTPOST_OK);
  EXPECT_EQ(fake.api->kv_get(fake.self, {"starts", 6}, found, &got), OUTPOST_NOT_FOUND);
}

core::AuthDecision authenticate_with(const core::ListenerAccess& a, std::optional<std::string> user,
                                     std::optional<std::string> password) {
  boost::asio::io_context io;
  core::AuthRequest r;
  r.user = std::move(user);
  r.password = std::move(password);
  std::optional<core::AuthDecision> decision;
  a.authenticator->authenticate(r, io.get_executor(), [&](core::AuthDecision d) { decision = std::move(d); });
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!decision && std::chrono::steady_clock::now() < deadline) {
    io.run_for(10ms);
    io.restart();
  }
  return decision.value_or(core::AuthDecision{core::AuthStatus::not_authorized, "", "no answer"});
}

TEST_F(HostTest, AuthenticateDecidesOrDefersToTheListenersRules) {
  load();
  host.init();
  host.start();
  core::ListenerAccess base;
  base.authenticator = std::make_shared<core::AnonymousAuthenticator>(false);
  const auto a = host.wrap(base);
  EXPECT_EQ(authenticate_with(a, "plugin-user", "right").status, core::AuthStatus::accepted);
  EXPECT_EQ(authenticate_with(a, "plugin-user", "wrong").status, core::AuthStatus::bad_credentials);
  // Not the plugin's user: the listener's own rule (no password backend) refuses it.
  EXPECT_EQ(authenticate_with(a, "someone", "x").status, core::AuthStatus::bad_credentials);
  EXPECT_EQ(authenticate_with(a, std::nullopt, std::nullopt).status, core::AuthStatus::not_authorized);
  fake.pending_auth = true;
  const auto d = authenticate_with(a, "plugin-user", "any");
  EXPECT_EQ(d.status, core::AuthStatus::accepted);
  EXPECT_EQ(d.user, "renamed");
  EXPECT_TRUE(d.by_plugin) << "a reload of the listener's password file does not concern this user";
}

}  // namespace
}  // namespace outpost::plugin
