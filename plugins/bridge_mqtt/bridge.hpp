// One bridge instance: the outbox queue in the broker's store, the connection to the
// remote broker (Paho MQTT C++ async_client), inbound publishes, and the status.
//
// Threads
// - init/cleanup: the broker's main thread (constructor, open(), stop()).
// - The plugin thread: on_delivery (publishes to the remote), on_tick (status), publish
//   completions of inbound messages.
// - The connector thread (ours): connects with backoff, owns each connection's lifetime,
//   recovers the outbox when a connection ends.
// - Paho's threads: publish acknowledgements (acks the outbox), inbound messages (publish
//   locally), connection loss (wakes the connector). They take no lock the plugin thread
//   holds while calling Paho.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <outpost/plugin.h>

#include "config.hpp"
#include "echo_filter.hpp"
#include "topic_map.hpp"

namespace outpost::bridge {

class Bridge {
 public:
  Bridge(const outpost_api *api, outpost_plugin *self, std::string name, Config config);
  ~Bridge();
  Bridge(const Bridge &) = delete;
  Bridge &operator=(const Bridge &) = delete;

  // Init: opens the outbox (if any topic goes out), creates counters, registers callbacks.
  outpost_result open();
  // Cleanup: disconnects and joins the connector thread.
  void stop();

  void on_delivery(outpost_queue *queue, const outpost_delivery *delivery);
  void on_tick(int64_t now_unix_ms);

 private:
  struct Link;
  friend struct Link;

  void run();  // the connector thread
  std::shared_ptr<Link> make_link();
  bool connect(Link &link, std::string &error, bool &refused, uint32_t &window);
  void subscribe(Link &link);
  void published(Link &link, uint64_t id, bool ok, int reason);
  void arrived(Link &link, const void *message);
  static void inbound_done(void *userdata, outpost_result result);  // plugin thread  // mqtt::const_message_ptr, hidden from this header
  void set_state(bool connected);
  void set_error(const std::string &error);
  void publish_status(bool force);
  void log(outpost_log_level level, const std::string &text) const;
  void wake();

  const outpost_api *api_;
  outpost_plugin *self_;
  std::string name_;
  Config config_;
  TopicMap map_;
  EchoFilter echoes_;
  outpost_queue *queue_ = nullptr;

  outpost_counter *forwarded_counter_ = nullptr;
  outpost_counter *received_counter_ = nullptr;
  outpost_counter *dropped_counter_ = nullptr;
  outpost_counter *connects_counter_ = nullptr;
  outpost_counter *connected_gauge_ = nullptr;
  outpost_counter *queued_gauge_ = nullptr;

  std::mutex mutex_;  // guards current_, stopping_, the status strings and the connector's wake-up
  std::condition_variable cv_;
  std::shared_ptr<Link> current_;  // the connection deliveries go to; null while down
  bool stopping_ = false;
  bool wake_ = false;
  std::thread connector_;
  bool started_ = false;  // plugin thread only

  std::atomic<uint64_t> forwarded_{0};
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> refused_by_remote_{0};  // outbound messages the remote refused (dropped)
  std::atomic<uint64_t> refused_locally_{0};  // inbound messages the broker refused (ACL, store full)
  std::atomic<outpost_result> inbound_refusal_{OUTPOST_OK};
  std::atomic<uint64_t> echoes_dropped_{0};  // 3.1.1 remotes: our own messages sent back

  // Status as last published ($SYS), guarded by mutex_.
  std::string state_;
  std::string last_error_;
  uint64_t shown_queued_ = UINT64_MAX, shown_forwarded_ = UINT64_MAX, shown_dropped_ = UINT64_MAX,
           shown_in_flight_ = UINT64_MAX;
};

}  // namespace outpost::bridge
