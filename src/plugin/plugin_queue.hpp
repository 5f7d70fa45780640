// PluginQueue: a durable queue a plugin consumes (api->queue_open), e.g. the bridge's
// outbox. The core queue holds what waits; this consumer hands messages to the plugin, at
// most `window` unacknowledged at once, in queue order, and keeps each one (in memory
// and, for QoS 1/2, in the store) until the plugin acknowledges it. queue_recover puts the
// unacknowledged ones back at the head, in order.
//
// Threading: the consumer side runs on the plugin thread; ack, recover, set_window and
// stats may be called from any thread (they post to it, or read atomics).
#pragma once

#include "core/queue.hpp"

#include <outpost/plugin.h>

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

namespace outpost::plugin {

class PluginQueue final : public core::Consumer, public std::enable_shared_from_this<PluginQueue> {
 public:
  PluginQueue(core::QueuePtr queue, boost::asio::any_io_executor ex, outpost_delivery_fn fn, void* userdata,
              std::uint32_t window, std::string instance);

  outpost_queue* handle() noexcept { return reinterpret_cast<outpost_queue*>(this); }
  static PluginQueue* from(outpost_queue* q) noexcept { return reinterpret_cast<PluginQueue*>(q); }
  core::Queue& queue() noexcept { return *queue_; }

  // Plugin thread: deliveries begin / end (what is unacknowledged stays in the store).
  void start();
  void stop();

  // Any thread.
  void ack(std::uint64_t id);
  void recover();
  void set_window(std::uint32_t window);
  void stats(outpost_queue_stats& out) const;

  void on_messages_available() override;

 private:
  void pump();

  core::QueuePtr queue_;
  boost::asio::any_io_executor ex_;
  outpost_delivery_fn fn_;
  void* userdata_;
  std::string instance_;
  // Plugin thread.
  std::uint32_t window_;
  bool started_ = false;
  bool in_pump_ = false;
  std::uint64_t next_id_ = 1;
  std::deque<std::pair<std::uint64_t, core::Delivery>> in_flight_;
  core::WakeupBatch wakeups_;
  // Any thread.
  std::atomic<std::uint64_t> in_flight_count_{0};
  std::atomic<std::uint64_t> acked_{0};
};

}  // namespace outpost::plugin
