#include "plugin/instance.hpp"

#include "core/topic.hpp"
#include "plugin/api.hpp"
#include "plugin/host.hpp"
#include "plugin/message_view.hpp"
#include "plugin/plugin_queue.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace outpost::plugin {

namespace {

core::ClientInfo identity(core::Broker& broker, const Spec& spec, const std::string& listener,
                          const std::string& address, const std::string& certificate) {
  core::ClientInfo c(core::Protocol::plugin, listener, address, certificate, broker.next_origin());
  c.client_id = core::ClientId("plugin:" + spec.name);
  c.user = core::ClientId(spec.user.empty() ? spec.name : spec.user);
  return c;
}

bool valid_name(std::string_view s, bool dots) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [dots](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || (dots && c == '.');
  });
}

}  // namespace

// Hands held acknowledgements of api->publish back to the instance, on its thread.
class Instance::Owner final : public core::PublisherOwner {
 public:
  explicit Owner(std::weak_ptr<Instance> instance) : instance_(std::move(instance)) {}
  void on_durable(std::span<const core::HeldAck> acks) override {
    if (auto i = instance_.lock()) i->on_durable(acks);
  }
  void on_space_available() override {
    if (auto i = instance_.lock()) i->publisher_.on_space_available();
  }

 private:
  std::weak_ptr<Instance> instance_;
};

Instance::Instance(Host& host, core::Broker& broker, Spec spec, Library library, const core::AccessControl* access)
    : host_(host),
      broker_(broker),
      spec_(std::move(spec)),
      library_(std::move(library)),
      work_(io_.get_executor()),
      timer_(io_),
      publisher_(broker, identity(broker, spec_, listener_name_, no_address_, no_identity_), access, true),
      sys_publisher_(broker, core::ClientInfo(core::Protocol::broker, listener_name_, no_address_, no_identity_),
                     nullptr, false) {
  callbacks_.size = sizeof(callbacks_);
  configs_.push_back(spec_.config);
}

Instance::~Instance() {
  if (thread_.joinable()) {
    io_.stop();
    thread_.join();
  }
}

void Instance::init() {
  owner_ = std::make_shared<Owner>(weak_from_this());
  outpost_plugin_config c{};
  c.size = sizeof(c);
  c.self = handle();
  c.name = spec_.name.c_str();
  c.config = node_of(spec_.config.get());
  c.data_dir = spec_.data_dir.c_str();
  initializing_ = true;
  live_.store(true, std::memory_order_release);
  outpost_result r = OUTPOST_ERROR;
  try {
    r = library_.init(&broker_api(), &c, &state_);
  } catch (...) {
    error_ = "init threw an exception";
  }
  initializing_ = false;
  if (r == OUTPOST_OK) {
    spdlog::info("plugin {} ({}) loaded, interface {}.{}", name(), library_.path, library_.abi_version >> 16,
                 library_.abi_version & 0xffff);
    return;
  }
  live_.store(false, std::memory_order_release);
  const std::string why = error_.empty() ? fmt::format("init failed ({})", static_cast<int>(r)) : error_;
  try {
    library_.cleanup(state_);
  } catch (...) {
  }
  state_ = nullptr;
  throw std::runtime_error(fmt::format("plugin '{}' ({}): {}", name(), library_.path, why));
}

void Instance::start() {
  thread_ = std::thread([this] { io_.run(); });
  boost::asio::post(io_, [self = shared_from_this()] {
    for (auto& q : self->queues_) q->start();
    if (self->callbacks_.tick) self->tick();
  });
}

void Instance::tick() {
  timer_.expires_after(std::chrono::seconds(1));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || !self->live()) return;
    self->callbacks_.tick(self->state_, core::now_unix_ms());
    self->tick();
  });
}

void Instance::stop() {
  if (thread_.joinable()) {
    boost::asio::post(io_, [this] {
      for (auto& q : queues_) q->stop();
      timer_.cancel();
      io_.stop();
    });
    thread_.join();
  }
  const bool was_live = live_.exchange(false, std::memory_order_acq_rel);
  if (was_live) {
    try {
      library_.cleanup(state_);
    } catch (...) {
      spdlog::error("plugin {}: cleanup threw an exception", name());
    }
  }
  {
    std::lock_guard lock(tickets_mutex_);
    if (!tickets_.empty()) {
      spdlog::warn("plugin {}: {} authentication(s) were never completed", name(), tickets_.size());
    }
    for (auto& [ticket, free] : tickets_) free(ticket);
    tickets_.clear();
  }
  // What was posted and never ran (api calls made while stopping) is run now with the
  // plugin gone: every handler finds it not live, so none calls into it.
  io_.restart();
  work_.reset();
  io_.poll();
  queues_.clear();
  waiting_.clear();
  owner_.reset();
}

void Instance::reload(std::shared_ptr<const ConfigTree> config) {
  if (!callbacks_.reload) return;
  configs_.push_back(config);
  boost::asio::post(io_, [self = shared_from_this(), tree = config.get()] {
    if (!self->live()) return;
    const outpost_result r = self->callbacks_.reload(self->state_, node_of(tree));
    if (r != OUTPOST_OK) spdlog::error("plugin {}: reload failed ({})", self->name(), static_cast<int>(r));
  });
}

bool Instance::hold_ticket(void* ticket, bool (*completed)(void*), void (*free)(void*)) {
  std::lock_guard lock(tickets_mutex_);
  if (completed(ticket)) return false;
  tickets_.emplace(ticket, free);
  return true;
}

void Instance::release_ticket(void* ticket) {
  std::lock_guard lock(tickets_mutex_);
  tickets_.erase(ticket);
}

void Instance::set_callbacks(const outpost_callbacks& c) {
  callbacks_ = outpost_callbacks{};
  std::memcpy(static_cast<void*>(&callbacks_), &c, std::min<std::size_t>(c.size, sizeof(callbacks_)));
  callbacks_.size = sizeof(callbacks_);
}

void Instance::log(outpost_log_level level, std::string_view message) const {
  switch (level) {
    case OUTPOST_LOG_DEBUG: spdlog::debug("plugin {}: {}", name(), message); break;
    case OUTPOST_LOG_INFO: spdlog::info("plugin {}: {}", name(), message); break;
    case OUTPOST_LOG_WARN: spdlog::warn("plugin {}: {}", name(), message); break;
    default: spdlog::error("plugin {}: {}", name(), message); break;
  }
}

outpost_result Instance::publish(const outpost_message& m, outpost_publish_done_fn done, void* userdata) {
  if (!live()) return OUTPOST_ERROR;
  const auto topic = view(m.topic);
  if (!core::valid_topic_name(topic) || m.qos > 2) {
    log(OUTPOST_LOG_ERROR, fmt::format("publish refused: '{}' is not a topic name (or QoS {} is not 0, 1, 2)", topic, m.qos));
    return OUTPOST_ERROR;
  }
  auto message = make_message(m, publisher_.client().origin);
  boost::asio::post(io_, [self = shared_from_this(), message = std::move(message), done, userdata] {
    if (!self->live()) return;
    auto& p = self->publisher_;
    const auto out = p.publish(self->broker_.mqtt_exchange(), message, core::Source::client);
    outpost_result r = OUTPOST_OK;
    if (out.refused == core::Refusal::not_authorized) {
      r = OUTPOST_DENY;
    } else if (out.refused == core::Refusal::store_full) {
      r = OUTPOST_FULL;
    } else if (out.routed.matched == 0 && !message->retain()) {
      r = OUTPOST_DEFER;
    } else if (out.routed.matched > 0 && out.routed.queued == 0 && out.routed.dropped > 0) {
      r = OUTPOST_FULL;
    }
    bool held = false;
    if (r == OUTPOST_OK) {
      const std::uint64_t id = self->next_publish_++;
      core::HeldAck ack;
      ack.id = id;
      if (!p.acknowledge(ack, out.routed.needs_commit)) {
        held = true;
        if (done) self->waiting_.emplace(id, std::make_pair(done, userdata));
      }
    }
    p.flush(self->executor(), self->owner_);
    if (!held && done) done(userdata, r);
  });
  return OUTPOST_OK;
}

void Instance::on_durable(std::span<const core::HeldAck> acks) {
  for (const auto& a : acks) {
    auto it = waiting_.find(a.id);
    if (it == waiting_.end()) continue;
    const auto [done, userdata] = it->second;
    waiting_.erase(it);
    if (live()) done(userdata, OUTPOST_OK);
  }
}

outpost_result Instance::publish_sys(std::string_view subtopic, std::string_view value) {
  if (!live()) return OUTPOST_ERROR;
  std::string topic = "$SYS/broker/" + std::string(subtopic);
  if (subtopic.empty() || !core::valid_topic_name(topic)) return OUTPOST_ERROR;
  core::Message::Init init;
  init.topic = std::move(topic);
  init.payload = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(value.data()), value.size());
  init.retain = true;
  auto message = core::Message::make(std::move(init));
  boost::asio::post(io_, [self = shared_from_this(), message = std::move(message)] {
    self->sys_publisher_.publish(self->broker_.mqtt_exchange(), message, core::Source::broker);
    self->sys_publisher_.wakeups().flush();
  });
  return OUTPOST_OK;
}

outpost_result Instance::open_queue(const outpost_queue_options& o, outpost_queue** out) {
  if (!initializing_) {
    log(OUTPOST_LOG_ERROR, "queue_open is only possible during init");
    return OUTPOST_ERROR;
  }
  const std::string qname = o.name ? o.name : "";
  if (!valid_name(qname, true)) {
    set_error(fmt::format("queue_open: '{}' is not a queue name (letters, digits, '_', '-', '.')", qname));
    return OUTPOST_ERROR;
  }
  if (o.on_delivery == nullptr) {
    set_error(fmt::format("queue_open '{}': no on_delivery callback", qname));
    return OUTPOST_ERROR;
  }
  for (std::size_t i = 0; i < o.subscription_count; ++i) {
    const auto& s = o.subscriptions[i];
    if (!core::valid_topic_filter(view(s.filter)) || s.qos > 2) {
      set_error(fmt::format("queue_open '{}': '{}' is not a topic filter (or QoS {} is not 0, 1, 2)", qname,
                            view(s.filter), s.qos));
      return OUTPOST_ERROR;
    }
  }
  const std::string store_name = "plugin:" + name() + ":" + qname;
  for (const auto& q : queues_) {
    if (q->queue().name() == store_name) {
      set_error(fmt::format("queue_open: the queue '{}' is already open", qname));
      return OUTPOST_ERROR;
    }
  }
  core::QueueLimits limits;
  limits.max_bytes = o.max_bytes != 0 ? o.max_bytes : limits.max_bytes;
  limits.max_messages = o.max_messages != 0 ? o.max_messages : std::numeric_limits<std::uint64_t>::max() / 4;
  limits.overflow = o.overflow == OUTPOST_OVERFLOW_DROP_OLDEST ? core::Overflow::drop_head : core::Overflow::reject_new;
  // The queue buffers up to its limits while its consumer is away or slow: its publishers
  // are never paused for it (refused or the oldest dropped, as configured, once full).
  limits.flow_high = std::numeric_limits<std::uint64_t>::max() / 2;
  limits.flow_low = limits.flow_high / 2;
  auto queue = host_.take_restored(store_name);
  if (queue) {
    queue->set_limits(limits);
  } else {
    queue = broker_.make_queue(store_name, limits);
    queue->make_durable(broker_.store(), store_name);
  }
  for (std::size_t i = 0; i < o.subscription_count; ++i) {
    const auto& s = o.subscriptions[i];
    core::BindingOptions b;
    b.max_qos = s.qos;
    b.no_local = s.no_local != 0;
    b.owner = publisher_.client().origin;
    broker_.mqtt_exchange().bind(view(s.filter), queue, b);
  }
  auto pq = std::make_shared<PluginQueue>(queue, executor(), o.on_delivery, o.userdata, o.window, name());
  queues_.push_back(pq);
  *out = pq->handle();
  const auto st = queue->stats();
  spdlog::info("plugin {}: queue '{}' open with {} subscription(s){}", name(), qname, o.subscription_count,
               st.messages ? fmt::format(", {} stored message(s) waiting", st.messages) : std::string());
  return OUTPOST_OK;
}

outpost_result Instance::kv_put(std::string key, std::string value) {
  if (!live() || key.empty()) return OUTPOST_ERROR;
  {
    std::lock_guard lock(kv_mutex_);
    kv_[key] = value;
    // Under the lock: two puts of one key reach the store in the order they took effect.
    broker_.store().put_definition(store::DefinitionRecord{"plugin:" + name(), std::move(key), std::move(value)});
  }
  return OUTPOST_OK;
}

outpost_result Instance::kv_delete(const std::string& key) {
  if (!live()) return OUTPOST_ERROR;
  std::lock_guard lock(kv_mutex_);
  if (kv_.erase(key) == 0) return OUTPOST_NOT_FOUND;
  broker_.store().delete_definition("plugin:" + name(), key);
  return OUTPOST_OK;
}

outpost_result Instance::kv_get(const std::string& key, void (*found)(void*, outpost_str), void* userdata) const {
  std::string value;
  {
    std::lock_guard lock(kv_mutex_);
    auto it = kv_.find(key);
    if (it == kv_.end()) return OUTPOST_NOT_FOUND;
    value = it->second;
  }
  if (found) found(userdata, str(value));
  return OUTPOST_OK;
}

void Instance::restore_kv(std::string key, std::string value) {
  std::lock_guard lock(kv_mutex_);
  kv_[std::move(key)] = std::move(value);
}

Counter* Instance::counter(const char* n, const char* help, outpost_counter_kind kind) {
  if (!initializing_ || n == nullptr) return nullptr;
  const std::string_view s(n);
  if (s.empty() || !(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_') ||
      !std::all_of(s.begin(), s.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
      })) {
    return nullptr;
  }
  for (auto& c : counters_) {
    if (c.name == s) return &c;
  }
  auto& c = counters_.emplace_back();
  c.name = std::string(s);
  c.help = help ? help : "";
  c.kind = kind;
  return &c;
}

}  // namespace outpost::plugin
