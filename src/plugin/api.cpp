// The api table: C entry points that find the instance (or queue, ticket, counter) behind
// the opaque handle and never let an exception out.
#include "plugin/api.hpp"

#include "plugin/config_node.hpp"
#include "plugin/instance.hpp"
#include "plugin/message_view.hpp"
#include "plugin/plugin_queue.hpp"
#include "plugin/security_chain.hpp"

#include <spdlog/spdlog.h>

namespace outpost::plugin {

namespace {

template <class F>
outpost_result guarded(const char* what, F&& f) noexcept {
  try {
    return f();
  } catch (const std::exception& e) {
    spdlog::error("plugin api {}: {}", what, e.what());
  } catch (...) {
    spdlog::error("plugin api {}: failed", what);
  }
  return OUTPOST_ERROR;
}

outpost_result set_callbacks(outpost_plugin* self, const outpost_callbacks* callbacks) {
  if (self == nullptr || callbacks == nullptr) return OUTPOST_ERROR;
  auto* i = Instance::from(self);
  if (!i->initializing()) {
    i->log(OUTPOST_LOG_ERROR, "set_callbacks is only possible during init");
    return OUTPOST_ERROR;
  }
  i->set_callbacks(*callbacks);
  return OUTPOST_OK;
}

void set_error(outpost_plugin* self, const outpost_node* n, const char* message) {
  if (self == nullptr) return;
  guarded("set_error", [&] {
    std::string m = message ? message : "";
    if (n != nullptr && *node::position(n) != '\0') m = fmt::format("{}: {}", node::position(n), m);
    Instance::from(self)->set_error(std::move(m));
    return OUTPOST_OK;
  });
}

void log(outpost_plugin* self, outpost_log_level level, const char* message) {
  if (self == nullptr || message == nullptr) return;
  guarded("log", [&] {
    Instance::from(self)->log(level, message);
    return OUTPOST_OK;
  });
}

outpost_result publish(outpost_plugin* self, const outpost_message* m, outpost_publish_done_fn done, void* userdata) {
  if (self == nullptr || m == nullptr) return OUTPOST_ERROR;
  return guarded("publish", [&] { return Instance::from(self)->publish(*m, done, userdata); });
}

outpost_result publish_sys(outpost_plugin* self, outpost_str subtopic, outpost_str value) {
  if (self == nullptr) return OUTPOST_ERROR;
  return guarded("publish_sys", [&] { return Instance::from(self)->publish_sys(view(subtopic), view(value)); });
}

outpost_result queue_open(outpost_plugin* self, const outpost_queue_options* o, outpost_queue** q) {
  if (self == nullptr || o == nullptr || q == nullptr) return OUTPOST_ERROR;
  return guarded("queue_open", [&] { return Instance::from(self)->open_queue(*o, q); });
}

void queue_ack(outpost_queue* q, uint64_t id) {
  if (q == nullptr) return;
  guarded("queue_ack", [&] {
    PluginQueue::from(q)->ack(id);
    return OUTPOST_OK;
  });
}

void queue_recover(outpost_queue* q) {
  if (q == nullptr) return;
  guarded("queue_recover", [&] {
    PluginQueue::from(q)->recover();
    return OUTPOST_OK;
  });
}

void queue_set_window(outpost_queue* q, uint32_t window) {
  if (q == nullptr) return;
  guarded("queue_set_window", [&] {
    PluginQueue::from(q)->set_window(window);
    return OUTPOST_OK;
  });
}

void queue_stats(outpost_queue* q, outpost_queue_stats* out) {
  if (q == nullptr || out == nullptr) return;
  PluginQueue::from(q)->stats(*out);
}

void auth_complete(outpost_auth_ticket* ticket, outpost_result result, const char* user, const char* reason) {
  guarded("auth_complete", [&] {
    ChainAuthenticator::complete(ticket, result, user, reason);
    return OUTPOST_OK;
  });
}

outpost_result kv_put(outpost_plugin* self, outpost_str key, outpost_str value) {
  if (self == nullptr) return OUTPOST_ERROR;
  return guarded("kv_put", [&] {
    return Instance::from(self)->kv_put(std::string(view(key)), std::string(view(value)));
  });
}

outpost_result kv_delete(outpost_plugin* self, outpost_str key) {
  if (self == nullptr) return OUTPOST_ERROR;
  return guarded("kv_delete", [&] { return Instance::from(self)->kv_delete(std::string(view(key))); });
}

outpost_result kv_get(outpost_plugin* self, outpost_str key, void (*found)(void*, outpost_str), void* userdata) {
  if (self == nullptr) return OUTPOST_ERROR;
  return guarded("kv_get", [&] { return Instance::from(self)->kv_get(std::string(view(key)), found, userdata); });
}

outpost_counter* counter(outpost_plugin* self, const char* name, const char* help, outpost_counter_kind kind) {
  if (self == nullptr) return nullptr;
  Counter* c = nullptr;
  guarded("counter", [&] {
    c = Instance::from(self)->counter(name, help, kind);
    return OUTPOST_OK;
  });
  return reinterpret_cast<outpost_counter*>(c);
}

void counter_add(outpost_counter* c, uint64_t delta) {
  if (c == nullptr) return;
  reinterpret_cast<Counter*>(c)->value.fetch_add(static_cast<std::int64_t>(delta), std::memory_order_relaxed);
}

void counter_set(outpost_counter* c, int64_t value) {
  if (c == nullptr) return;
  reinterpret_cast<Counter*>(c)->value.store(value, std::memory_order_relaxed);
}

outpost_api make_api() {
  outpost_api a{};
  a.size = sizeof(a);
  a.abi_version = OUTPOST_PLUGIN_ABI_VERSION;
  a.broker_version = OUTPOST_VERSION;
  a.set_callbacks = set_callbacks;
  a.set_error = set_error;
  a.log = log;
  a.publish = publish;
  a.publish_sys = publish_sys;
  a.queue_open = queue_open;
  a.queue_ack = queue_ack;
  a.queue_recover = queue_recover;
  a.queue_set_window = queue_set_window;
  a.queue_stats = queue_stats;
  a.auth_complete = auth_complete;
  a.kv_put = kv_put;
  a.kv_delete = kv_delete;
  a.kv_get = kv_get;
  a.counter = counter;
  a.counter_add = counter_add;
  a.counter_set = counter_set;
  a.node_kind = node::kind;
  a.node_scalar = node::scalar;
  a.node_size = node::size;
  a.node_at = node::at;
  a.node_key_at = node::key_at;
  a.node_get = node::get;
  a.node_position = node::position;
  return a;
}

}  // namespace

const outpost_api& broker_api() {
  static const outpost_api api = make_api();
  return api;
}

}  // namespace outpost::plugin
