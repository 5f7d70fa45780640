// Instance: one loaded plugin (an entry of `plugins:`): its library, its state, the
// callbacks it registered, and what the broker keeps for it: a thread of its own (the
// "plugin thread" of plugin.h), a Publisher with its identity, its durable queues, its
// key-value space and its counters. The api table (api.cpp) works on it.
//
// Threading: init and cleanup on the main thread; everything the plugin is called with
// (but authorize and message) on its own thread, through executor(); the api's entry
// points may be called from any thread and post what must run on that thread.
#pragma once

#include "config_tree.hpp"
#include "core/broker.hpp"
#include "core/publisher.hpp"
#include "plugin/library.hpp"

#include <outpost/plugin.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace outpost::plugin {

class Host;
class PluginQueue;

// A metric of a plugin (api->counter); read by the broker's metrics.
struct Counter {
  std::string name;
  std::string help;
  outpost_counter_kind kind = OUTPOST_COUNTER;
  std::atomic<std::int64_t> value{0};
};

// What main.cpp says about an instance.
struct Spec {
  std::string name;
  std::string library;  // resolved path of the .so
  std::string user;     // empty: the instance name
  std::shared_ptr<const ConfigTree> config;
  std::string data_dir;
};

class Instance : public std::enable_shared_from_this<Instance> {
 public:
  Instance(Host& host, core::Broker& broker, Spec spec, Library library, const core::AccessControl* access);
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
  ~Instance();

  const std::string& name() const noexcept { return spec_.name; }
  const Library& library() const noexcept { return library_; }
  const outpost_callbacks& callbacks() const noexcept { return callbacks_; }
  void* state() const noexcept { return state_; }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  Host& host() noexcept { return host_; }
  core::Broker& broker() noexcept { return broker_; }
  outpost_plugin* handle() noexcept { return reinterpret_cast<outpost_plugin*>(this); }
  static Instance* from(outpost_plugin* p) noexcept { return reinterpret_cast<Instance*>(p); }

  // Main thread. Calls the plugin's init; throws std::runtime_error with the plugin's
  // reason on failure (after calling its cleanup).
  void init();
  // Main thread: starts the plugin thread (deliveries, ticks, events).
  void start();
  // Main thread: stops the plugin thread (no callback runs after it), then cleanup.
  void stop();

  // SIGHUP: the plugin's section as read again.
  void reload(std::shared_ptr<const ConfigTree> config);
  // The section it was last given (init or reload).
  std::shared_ptr<const ConfigTree> config() const { return configs_.back(); }

  // Authentications it answered PENDING and has not completed (security_chain.cpp): what
  // is still held when it stops is freed then, as its cleanup ended every thread that
  // could complete them. hold() returns false if the ticket was completed meanwhile.
  bool hold_ticket(void* ticket, bool (*completed)(void*), void (*free)(void*));
  void release_ticket(void* ticket);

  // True while api calls are taken (from init until cleanup starts).
  bool live() const noexcept { return live_.load(std::memory_order_acquire); }
  bool initializing() const noexcept { return initializing_; }

  // api entry points (api.cpp), any thread unless said.
  void set_callbacks(const outpost_callbacks& c);   // init
  void set_error(std::string message) { error_ = std::move(message); }
  void log(outpost_log_level level, std::string_view message) const;
  outpost_result publish(const outpost_message& m, outpost_publish_done_fn done, void* userdata);
  outpost_result publish_sys(std::string_view subtopic, std::string_view value);
  outpost_result open_queue(const outpost_queue_options& o, outpost_queue** out);  // init
  outpost_result kv_put(std::string key, std::string value);
  outpost_result kv_delete(const std::string& key);
  outpost_result kv_get(const std::string& key, void (*found)(void*, outpost_str), void* userdata) const;
  Counter* counter(const char* name, const char* help, outpost_counter_kind kind);  // init

  // Start-up, before init: a stored key-value pair of this instance.
  void restore_kv(std::string key, std::string value);
  const std::deque<Counter>& counters() const noexcept { return counters_; }

 private:
  class Owner;
  void on_durable(std::span<const core::HeldAck> acks);
  void tick();

  Host& host_;
  core::Broker& broker_;
  Spec spec_;
  Library library_;
  outpost_callbacks callbacks_{};
  void* state_ = nullptr;
  std::string error_;
  bool initializing_ = false;
  std::atomic<bool> live_{false};
  std::vector<std::shared_ptr<const ConfigTree>> configs_;  // every section given, alive while the broker runs

  // The identity of what it publishes; the strings outlive the publisher.
  std::string listener_name_;
  std::string no_address_;
  std::string no_identity_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  boost::asio::steady_timer timer_;
  core::Publisher publisher_;       // plugin thread: api->publish
  core::Publisher sys_publisher_;   // plugin thread: api->publish_sys, as the broker
  std::shared_ptr<Owner> owner_;
  std::uint64_t next_publish_ = 1;  // plugin thread
  std::unordered_map<std::uint64_t, std::pair<outpost_publish_done_fn, void*>> waiting_;  // plugin thread

  std::vector<std::shared_ptr<PluginQueue>> queues_;

  std::mutex tickets_mutex_;
  std::unordered_map<void*, void (*)(void*)> tickets_;

  mutable std::mutex kv_mutex_;
  std::map<std::string, std::string, std::less<>> kv_;
  std::deque<Counter> counters_;
};

}  // namespace outpost::plugin
