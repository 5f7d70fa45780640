#include "core/broker.hpp"

#include "core/persist.hpp"
#include "core/publisher.hpp"
#include "core/trace_context.hpp"

#include "log.hpp"

#include <boost/container/small_vector.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace outpost::core {

namespace {

struct Match {
  const Binding* binding;
  bool retain_as_published;
  // Built in place: qos holds the granted maximum until prepare(), subscription_ids
  // collects the identifiers of merged subscriptions.
  Delivery delivery;
};

// Collects the matches of one publish, merges those of the same queue and pushes,
// all under the exchange's read lock.
class PublishSink final : public RouteSink {
 public:
  PublishSink(const MessagePtr& message, WakeupBatch& wakeups, std::vector<QueuePtr>* congested,
              const ClientInfo* publisher)
      : message_(message), wakeups_(wakeups), congested_(congested), publisher_(publisher) {}

  void on_match(const Binding& b) override {
    // [MQTT-3.8.3-3] no local: not back to the session that published it.
    if (b.options.no_local && b.options.owner != 0 && b.options.owner == message_->origin()) return;
    Match& m = matches_.emplace_back(Match{&b, b.options.retain_as_published, {}});
    m.delivery.qos = b.options.max_qos;
    if (b.options.subscription_id != 0) m.delivery.subscription_ids.push_back(b.options.subscription_id);
  }

  void on_done() override {
    if (matches_.size() > 1) merge();
    for (auto& m : matches_) prepare(m);
    if (matches_.size() > 1) {
      // Every durable queue's entry is written before any delivery becomes visible.
      for (auto& m : matches_) stored_ += m.binding->queue->store_entry(m.delivery) ? 1 : 0;
    }
    for (auto& m : matches_) push(m);
  }

  PublishResult result;

 private:
  void merge() {
    std::sort(matches_.begin(), matches_.end(),
              [](const Match& a, const Match& b) { return a.binding->queue.get() < b.binding->queue.get(); });
    std::size_t out = 0;
    for (std::size_t i = 0; i < matches_.size(); ++i) {
      if (out > 0 && matches_[out - 1].binding->queue == matches_[i].binding->queue) {
        // Overlapping subscriptions of one session: one delivery, highest QoS, all
        // subscription identifiers [MQTT-3.3.4-2, 3.3.4-3].
        Match& into = matches_[out - 1];
        into.delivery.qos = std::max(into.delivery.qos, matches_[i].delivery.qos);
        into.retain_as_published = into.retain_as_published || matches_[i].retain_as_published;
        for (auto id : matches_[i].delivery.subscription_ids) into.delivery.subscription_ids.push_back(id);
      } else {
        if (out != i) matches_[out] = std::move(matches_[i]);
        ++out;
      }
    }
    matches_.resize(out);
  }

  void prepare(Match& m) {
    Delivery& d = m.delivery;
    d.message = message_;
    d.qos = std::min(message_->qos(), d.qos);
    // A message forwarded to a live subscription carries retain 0 unless the
    // subscription asked for retain-as-published [MQTT-3.3.1-9, MQTT-3.3.1-12/13].
    d.retain = m.retain_as_published && message_->retain();
  }

  void push(Match& m) {
    ++result.matched;
    const PushResult r = m.binding->queue->push(std::move(m.delivery), wakeups_);
    result.evicted += r.evicted;
    result.stored += r.stored;
    switch (r.outcome) {
      case PushOutcome::queued:
        ++result.queued;
        if (r.congested && congested_) congested_->push_back(m.binding->queue);
        break;
      case PushOutcome::dropped_full:
        ++result.dropped;
        warn_full(*m.binding->queue);
        break;
      case PushOutcome::dropped_no_consumer:
        break;
    }
  }

  // Never silent, never a flood: one line a second per full queue, for the whole broker,
  // whoever publishes; the next line says how many refusals it did not describe.
  void warn_full(Queue& q) {
    std::uint64_t suppressed = 0;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now().time_since_epoch());
    if (!q.full_warnings().allow(now.count(), suppressed)) return;
    const auto st = q.stats();
    const auto& limits = q.limits();
    spdlog::warn("delivery refused: subscriber queue '{}' is full ({} messages, {}; limits {} messages, {}): message "
                 "on '{}' (QoS {}, {}) from {}{}{}",
                 q.name(), st.messages, log::readable_bytes(st.bytes), limits.max_messages,
                 log::readable_bytes(limits.max_bytes), message_->topic(), message_->qos(),
                 log::readable_bytes(message_->payload().size()), describe_publisher(),
                 trace_note(*message_),
                 suppressed ? fmt::format("; {} more refused deliveries to this queue not logged", suppressed)
                            : std::string());
  }

  std::string describe_publisher() const {
    if (publisher_ == nullptr || publisher_->protocol == Protocol::broker) return "the broker";
    std::string out = fmt::format("{} client", to_string(publisher_->protocol));
    if (!publisher_->client_id.empty()) out += fmt::format(" '{}'", publisher_->client_id.view());
    if (!publisher_->remote_address().empty()) out += fmt::format(" {}", publisher_->remote_address());
    if (!publisher_->user.empty()) out += fmt::format(" (user '{}')", publisher_->user.view());
    return out;
  }

  const MessagePtr& message_;
  WakeupBatch& wakeups_;
  std::vector<QueuePtr>* congested_;
  const ClientInfo* publisher_;
  boost::container::small_vector<Match, 8> matches_;
  std::uint32_t stored_ = 0;  // entries written ahead of the pushes

 public:
  std::uint32_t stored_ahead() const noexcept { return stored_; }
};

}  // namespace

Broker::Broker(store::Store& store) : store_(store) {
  if (store_.persistent()) retained_.persist_to(store_);
  mqtt_exchange_ = std::make_shared<Exchange>("amq.topic", ExchangeType::topic, true, false);
  exchanges_.emplace("amq.topic", mqtt_exchange_);
  shared_groups_ = std::make_unique<SharedGroups>(
      *mqtt_exchange_, store_, [this](std::string name, const QueueLimits& limits) {
        return make_queue(std::move(name), limits);
      });
  exchanges_.emplace("amq.direct", std::make_shared<Exchange>("amq.direct", ExchangeType::direct, true, false));
  exchanges_.emplace("amq.fanout", std::make_shared<Exchange>("amq.fanout", ExchangeType::fanout, true, false));
}

ExchangePtr Broker::find_exchange(std::string_view name) const {
  std::lock_guard lock(exchanges_mutex_);
  auto it = exchanges_.find(std::string(name));
  return it == exchanges_.end() ? nullptr : it->second;
}

ExchangePtr Broker::declare_exchange(const std::string& name, ExchangeType type, bool durable, bool auto_delete) {
  std::lock_guard lock(exchanges_mutex_);
  auto [it, inserted] = exchanges_.try_emplace(name);
  if (inserted) it->second = std::make_shared<Exchange>(name, type, durable, auto_delete);
  return it->second;
}

bool Broker::delete_exchange(std::string_view name) {
  std::lock_guard lock(exchanges_mutex_);
  auto it = exchanges_.find(std::string(name));
  if (it == exchanges_.end() || it->second == mqtt_exchange_) return false;
  exchanges_.erase(it);
  return true;
}

QueuePtr Broker::make_queue(std::string name, const QueueLimits& limits) {
  return std::make_shared<Queue>(next_queue_id_.fetch_add(1, std::memory_order_relaxed), std::move(name), limits);
}

PublishResult Broker::route(const Exchange& exchange, const MessagePtr& message, WakeupBatch& wakeups,
                            std::vector<QueuePtr>* congested, const ClientInfo* publisher) {
  const bool retained = &exchange == mqtt_exchange_.get() && message->retain();
  if (retained) retained_.update(message);
  PublishSink sink(message, wakeups, congested, publisher);
  exchange.route(message->topic(), sink);
  sink.result.stored += sink.stored_ahead();
  sink.result.needs_commit = sink.result.stored > 0 || (retained && store_.persistent());
  return sink.result;
}

std::size_t Broker::expire_sessions(Clock::time_point now) {
  std::vector<MessagePtr> wills;
  const std::size_t ended = sessions_.expire(now, &wills);
  if (!wills.empty()) {
    Publisher publisher(*this, self_, nullptr);
    for (const auto& w : wills) publisher.publish(*mqtt_exchange_, w, Source::broker);
    publisher.wakeups().flush();
  }
  return ended;
}

}  // namespace outpost::core
