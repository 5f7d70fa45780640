// A small plugin host for driving bridge_mqtt's Bridge without the broker: an outpost_api
// table whose queue is an in-memory deque honouring the window, ack and recover, whose
// publish and publish_sys are recorded, and a "plugin thread" that hands deliveries over
// and ticks. One FakeHost at a time (the api functions are plain C function pointers).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <outpost/plugin.h>

#include "fake_api.hpp"

namespace outpost::test {

struct HostMessage {
  uint64_t id = 0;
  std::string topic, payload;
  uint8_t qos = 1;
  bool redelivered = false;
};

class FakeHost {
 public:
  FakeHost() {
    instance() = this;
    api_ = fake_api();
    api_.set_callbacks = [](outpost_plugin *, const outpost_callbacks *c) {
      instance()->callbacks_ = *c;
      return OUTPOST_OK;
    };
    api_.set_error = [](outpost_plugin *, const outpost_node *, const char *m) { instance()->error = m; };
    api_.log = [](outpost_plugin *, outpost_log_level, const char *m) {
      std::lock_guard lock(instance()->mutex_);
      instance()->logs.push_back(m);
    };
    api_.publish = [](outpost_plugin *, const outpost_message *m, outpost_publish_done_fn done, void *ud) {
      auto *h = instance();
      {
        std::lock_guard lock(h->mutex_);
        h->published.push_back({0, std::string(m->topic.data, m->topic.len),
                                std::string(m->payload.data, m->payload.len), m->qos, false});
        if (done) h->completions_.emplace_back(done, ud);
      }
      h->cv_.notify_all();
      return OUTPOST_OK;
    };
    api_.publish_sys = [](outpost_plugin *, outpost_str sub, outpost_str value) {
      auto *h = instance();
      {
        std::lock_guard lock(h->mutex_);
        h->sys[std::string(sub.data, sub.len)] = std::string(value.data, value.len);
      }
      h->cv_.notify_all();
      return OUTPOST_OK;
    };
    api_.queue_open = [](outpost_plugin *, const outpost_queue_options *o, outpost_queue **q) {
      auto *h = instance();
      h->window_ = o->window;
      h->on_delivery_ = o->on_delivery;
      h->userdata_ = o->userdata;
      for (size_t i = 0; i < o->subscription_count; ++i) {
        h->filters.emplace_back(o->subscriptions[i].filter.data, o->subscriptions[i].filter.len);
        h->no_local.push_back(o->subscriptions[i].no_local);
      }
      *q = reinterpret_cast<outpost_queue *>(h);
      return OUTPOST_OK;
    };
    api_.queue_ack = [](outpost_queue *, uint64_t id) {
      auto *h = instance();
      {
        std::lock_guard lock(h->mutex_);
        if (h->in_flight_.erase(id)) h->acked++;
        else h->unknown_acks++;
      }
      h->cv_.notify_all();
    };
    api_.queue_recover = [](outpost_queue *) {
      auto *h = instance();
      std::lock_guard lock(h->mutex_);
      for (auto it = h->in_flight_.rbegin(); it != h->in_flight_.rend(); ++it) {
        it->second.redelivered = true;
        h->queue_.push_front(it->second);
      }
      h->in_flight_.clear();
      h->recovers++;
    };
    api_.queue_set_window = [](outpost_queue *, uint32_t w) {
      auto *h = instance();
      {
        std::lock_guard lock(h->mutex_);
        h->window_ = w;
      }
      h->cv_.notify_all();
    };
    api_.queue_stats = [](outpost_queue *, outpost_queue_stats *s) {
      auto *h = instance();
      std::lock_guard lock(h->mutex_);
      s->messages = h->queue_.size() + h->in_flight_.size();
      s->in_flight = h->in_flight_.size();
      s->acked = h->acked;
      s->dropped = 0;
    };
    api_.counter = [](outpost_plugin *, const char *, const char *, outpost_counter_kind) {
      return reinterpret_cast<outpost_counter *>(instance());
    };
    api_.counter_add = [](outpost_counter *, uint64_t) {};
    api_.counter_set = [](outpost_counter *, int64_t) {};
    config_.size = sizeof config_;
    config_.self = reinterpret_cast<outpost_plugin *>(this);
    config_.name = "cloud";
    config_.data_dir = "";
  }

  ~FakeHost() {
    stop_thread();
    instance() = nullptr;
  }

  const outpost_api *api() const { return &api_; }
  outpost_plugin *self() const { return config_.self; }

  void enqueue(const std::string &topic, const std::string &payload, uint8_t qos = 1) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({next_id_++, topic, payload, qos, false});
    }
    cv_.notify_all();
  }

  // The plugin thread: ticks every 200 ms, hands deliveries over within the window, runs
  // publish completions.
  void start_thread() {
    running_ = true;
    thread_ = std::thread([this] {
      auto next_tick = std::chrono::steady_clock::now();
      std::unique_lock lock(mutex_);
      while (running_) {
        if (std::chrono::steady_clock::now() >= next_tick) {
          next_tick += std::chrono::milliseconds(200);
          lock.unlock();
          if (callbacks_.tick) callbacks_.tick(userdata_state, 0);
          lock.lock();
          continue;
        }
        if (!completions_.empty()) {
          auto [fn, ud] = completions_.front();
          completions_.pop_front();
          lock.unlock();
          fn(ud, OUTPOST_OK);
          lock.lock();
          continue;
        }
        if (on_delivery_ && !queue_.empty() && in_flight_.size() < window_) {
          HostMessage m = queue_.front();
          queue_.pop_front();
          in_flight_[m.id] = m;
          lock.unlock();
          outpost_message msg{};
          msg.size = sizeof msg;
          msg.topic = {m.topic.data(), m.topic.size()};
          msg.payload = {m.payload.data(), m.payload.size()};
          msg.qos = m.qos;
          msg.payload_format = -1;
          outpost_delivery d{};
          d.size = sizeof d;
          d.id = m.id;
          d.message = &msg;
          d.redelivered = m.redelivered;
          on_delivery_(userdata_, reinterpret_cast<outpost_queue *>(this), &d);
          lock.lock();
          continue;
        }
        cv_.wait_until(lock, next_tick);
      }
    });
  }

  void stop_thread() {
    {
      std::lock_guard lock(mutex_);
      running_ = false;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(*this); });
  }

  std::string sys_value(const std::string &key) {
    std::lock_guard lock(mutex_);
    auto it = sys.find(key);
    return it == sys.end() ? "" : it->second;
  }

  size_t pending() {
    std::lock_guard lock(mutex_);
    return queue_.size() + in_flight_.size();
  }

  outpost_plugin_config config_{};
  void *userdata_state = nullptr;  // the plugin's state, for tick
  std::string error;
  std::vector<std::string> logs;
  std::vector<HostMessage> published;
  std::map<std::string, std::string> sys;
  std::vector<std::string> filters;
  std::vector<uint8_t> no_local;
  uint64_t acked = 0, unknown_acks = 0, recovers = 0;
  std::mutex mutex_;
  std::condition_variable cv_;

 private:
  static FakeHost *&instance() {
    static FakeHost *h = nullptr;
    return h;
  }
  outpost_api api_{};
  outpost_callbacks callbacks_{};
  outpost_delivery_fn on_delivery_ = nullptr;
  void *userdata_ = nullptr;
  std::deque<HostMessage> queue_;
  std::map<uint64_t, HostMessage> in_flight_;
  uint32_t window_ = 0;
  uint64_t next_id_ = 1;
  std::deque<std::pair<outpost_publish_done_fn, void *>> completions_;
  bool running_ = false;
  std::thread thread_;
};

}  // namespace outpost::test
