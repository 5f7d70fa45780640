#include "plugin/plugin_queue.hpp"

#include "core/trace_context.hpp"
#include "plugin/message_view.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace outpost::plugin {

PluginQueue::PluginQueue(core::QueuePtr queue, boost::asio::any_io_executor ex, outpost_delivery_fn fn,
                         void* userdata, std::uint32_t window, std::string instance)
    : queue_(std::move(queue)),
      ex_(std::move(ex)),
      fn_(fn),
      userdata_(userdata),
      instance_(std::move(instance)),
      window_(window) {}

void PluginQueue::start() {
  started_ = true;
  queue_->attach(weak_from_this(), ex_, wakeups_);
  wakeups_.flush();
  pump();
}

void PluginQueue::stop() {
  if (!started_) return;
  started_ = false;
  queue_->detach(this);
}

void PluginQueue::on_messages_available() { pump(); }

void PluginQueue::pump() {
  // A delivery callback that acknowledges at once calls back in here: the loop goes on.
  if (!started_ || in_pump_) return;
  in_pump_ = true;
  MessageView view;
  const auto now = core::now_unix_ms();
  while (started_ && in_flight_.size() < window_) {
    core::Delivery d;
    if (!queue_->pull_one(d)) break;
    if (d.expired(now)) {
      if (spdlog::should_log(spdlog::level::debug)) {
        spdlog::debug("plugin {}: message on '{}' expired before delivery; dropped{}", instance_, d.message->topic(),
                      core::trace_note(*d.message));
      }
      queue_->entry_done(d);
      continue;
    }
    const std::uint64_t id = next_id_++;
    in_flight_.emplace_back(id, std::move(d));
    in_flight_count_.store(in_flight_.size(), std::memory_order_relaxed);
    const core::Delivery& held = in_flight_.back().second;
    make_view(*held.message, view);
    // What the subscriber is given: the QoS and retain flag of this delivery.
    view.message.qos = held.qos;
    view.message.retain = held.retain ? 1 : 0;
    outpost_delivery out{};
    out.size = sizeof(out);
    out.id = id;
    out.message = &view.message;
    out.redelivered = held.redelivered ? 1 : 0;
    fn_(userdata_, handle(), &out);
  }
  in_pump_ = false;
  wakeups_.flush();
}

void PluginQueue::ack(std::uint64_t id) {
  boost::asio::post(ex_, [self = shared_from_this(), id] {
    auto& f = self->in_flight_;
    // Acknowledgements come mostly in order: the front first.
    for (auto it = f.begin(); it != f.end(); ++it) {
      if (it->first != id) continue;
      self->queue_->entry_done(it->second);
      f.erase(it);
      self->in_flight_count_.store(f.size(), std::memory_order_relaxed);
      self->acked_.fetch_add(1, std::memory_order_relaxed);
      self->pump();
      return;
    }
    spdlog::debug("plugin {}: acknowledgement of unknown delivery {} ignored", self->instance_, id);
  });
}

void PluginQueue::recover() {
  boost::asio::post(ex_, [self = shared_from_this()] {
    if (self->in_flight_.empty()) return;
    std::vector<core::Delivery> back;
    back.reserve(self->in_flight_.size());
    for (auto& [id, d] : self->in_flight_) back.push_back(std::move(d));
    self->in_flight_.clear();
    self->in_flight_count_.store(0, std::memory_order_relaxed);
    self->queue_->requeue_front(std::move(back), self->wakeups_);
    self->wakeups_.flush();
    self->pump();
  });
}

void PluginQueue::set_window(std::uint32_t window) {
  boost::asio::post(ex_, [self = shared_from_this(), window] {
    self->window_ = window;
    self->pump();
  });
}

void PluginQueue::stats(outpost_queue_stats& out) const {
  const auto s = queue_->stats();
  const auto in_flight = in_flight_count_.load(std::memory_order_relaxed);
  // Fields are filled as far as the caller's struct reaches (its size, as it was built).
  const std::uint32_t size = out.size;
  outpost_queue_stats full{};
  full.size = size;
  full.messages = s.messages + in_flight;
  full.bytes = s.bytes;
  full.in_flight = in_flight;
  full.acked = acked_.load(std::memory_order_relaxed);
  full.dropped = s.dropped;
  std::memcpy(static_cast<void*>(&out), &full, std::min<std::size_t>(size, sizeof(full)));
}

}  // namespace outpost::plugin
