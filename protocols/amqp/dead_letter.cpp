// Dead-lettering (x-dead-letter-exchange with x-death) and the periodic sweep of expired
// messages, evicted messages and unused queues.
#include "amqp/vhost.hpp"

#include "amqp/vhost_tables.hpp"
#include "core/persist.hpp"
#include "core/topic.hpp"
#include "core/trace_context.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace outpost::amqp {

using namespace detail;

void Vhost::dead_letter(const AmqpQueue& q, const core::Delivery& d, std::string_view reason, core::Publisher& via) {
  const core::Message& m = *d.message;
  if (!q.args.dead_letter_exchange) {
    if (spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("amqp: message on queue '{}' dropped ({}; no dead-letter exchange){}", q.name, reason,
                    core::trace_note(m));
    }
    return;
  }
  const auto target = resolve(*q.args.dead_letter_exchange);
  if (!target.found) {
    spdlog::warn("amqp: dead-letter exchange '{}' of queue '{}' does not exist; message dropped{}",
                 *q.args.dead_letter_exchange, q.name, core::trace_note(m));
    return;
  }
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("amqp: message on queue '{}' dead-lettered ({}) to exchange '{}'{}", q.name, reason,
                  *q.args.dead_letter_exchange, core::trace_note(m));
  }
  const core::MessageProperties* old = m.properties();
  auto props = std::make_shared<core::MessageProperties>(old ? *old : core::MessageProperties{});
  FieldTable headers;
  if (!props->amqp_headers.empty() && !(props->amqp_headers.size() == 1 && props->amqp_headers[0] == '\0')) {
    decode_table_body({reinterpret_cast<const std::uint8_t*>(props->amqp_headers.data()), props->amqp_headers.size()},
                      headers);
  } else {
    for (const auto& up : props->user_properties) headers.push_back(FieldEntry{up.key, FieldValue::string(up.value)});
  }
  const std::string exchange = old && old->amqp_exchange ? *old->amqp_exchange : "amq.topic";
  const std::string key = old && old->amqp_key_verbatim ? m.topic() : core::topic_to_amqp_key(m.topic());
  // x-death: one entry per (queue, reason), most recent first, with a count.
  FieldTable* death_list_owner = nullptr;
  FieldValue* deaths = nullptr;
  for (auto& e : headers) {
    if (e.name == "x-death" && e.value.type == 'A') deaths = &e.value;
  }
  (void)death_list_owner;
  if (!deaths) {
    headers.push_back(FieldEntry{"x-death", FieldValue::of_array({})});
    deaths = &headers.back().value;
  }
  std::int64_t count = 1;
  for (auto it = deaths->array.begin(); it != deaths->array.end(); ++it) {
    if (it->type != 'F') continue;
    if (text_of(it->table, "queue") == q.name && text_of(it->table, "reason") == reason) {
      if (const auto* c = field(it->table, "count"); c && c->as_integer()) count = *c->as_integer() + 1;
      deaths->array.erase(it);
      break;
    }
  }
  FieldTable entry{
      {"count", FieldValue::integer('l', count)},
      {"reason", FieldValue::string(std::string(reason))},
      {"queue", FieldValue::string(q.name)},
      {"time", FieldValue::integer('T', core::now_unix_ms() / 1000)},
      {"exchange", FieldValue::string(exchange)},
      {"routing-keys", FieldValue::of_array({FieldValue::string(key)})},
  };
  if (!props->amqp_expiration.empty()) entry.push_back({"original-expiration", FieldValue::string(props->amqp_expiration)});
  deaths->array.insert(deaths->array.begin(), FieldValue::of_table(std::move(entry)));
  if (!find_field(headers, "x-first-death-reason")) {
    headers.push_back({"x-first-death-reason", FieldValue::string(std::string(reason))});
    headers.push_back({"x-first-death-queue", FieldValue::string(q.name)});
    headers.push_back({"x-first-death-exchange", FieldValue::string(exchange)});
  }
  {
    std::vector<std::uint8_t> out;
    Writer w(out);
    write_table(w, headers);
    props->amqp_headers.assign(out.begin() + 4, out.end());
    if (props->amqp_headers.empty()) props->amqp_headers.push_back('\0');
  }
  props->user_properties.clear();
  for (const auto& e : headers) {
    props->user_properties.push_back(
        core::UserProperty{e.name, e.value.type == 'S' ? e.value.s : describe(e.value)});
  }
  props->amqp_expiration.clear();  // a dead-lettered message does not expire again
  const std::string new_key = q.args.dead_letter_routing_key.value_or(key);
  const bool topic = target.exchange && target.exchange->type() == core::ExchangeType::topic;
  props->amqp_exchange = *q.args.dead_letter_exchange;
  props->amqp_key_verbatim = !topic;
  core::Message::Init init;
  init.topic = topic ? core::amqp_key_to_topic(new_key) : new_key;
  init.payload = m.payload();
  init.qos = m.qos();
  init.properties = std::move(props);
  via.publish(*target.exchange, core::Message::make(std::move(init)), core::Source::broker);
}

void Vhost::drain_evicted(core::Publisher& via) {
  std::vector<AmqpQueuePtr> dlq;
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, q] : queues_) {
      if (q->args.dead_letter_exchange) dlq.push_back(q);
    }
  }
  std::vector<core::Delivery> out;
  for (auto& q : dlq) {
    out.clear();
    q->queue->take_evicted(out);
    for (auto& d : out) dead_letter(*q, d, "maxlen", via);
  }
}

void Vhost::sweep() {
  std::vector<AmqpQueuePtr> all;
  std::vector<AmqpQueuePtr> removed;
  const auto now = core::now_unix_ms();
  {
    std::lock_guard lock(mutex_);
    all.reserve(queues_.size());
    for (auto& [name, q] : queues_) {
      if (q->args.expires_ms > 0 && q->consumers == 0 && now - q->last_used_ms >= q->args.expires_ms) {
        removed.push_back(q);
      } else {
        all.push_back(q);
      }
    }
    std::vector<AmqpQueuePtr> gone;
    for (auto& q : removed) remove_queue_locked(q, gone);
    removed.swap(gone);
  }
  for (auto& q : removed) spdlog::info("amqp: queue '{}' expired (x-expires) and was deleted", q->name);
  finish_removed(removed);
  core::Publisher dead_letters(broker_, self_, nullptr);
  std::vector<core::Delivery> out;
  for (auto& q : all) {
    out.clear();
    q->queue->take_expired(now, out, 10000);
    if (q->args.dead_letter_exchange) q->queue->take_evicted(out);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const bool expired = out[i].expired(now);
      if (expired) broker_.counters().add(core::Protocol::amqp, core::Counter::expired);
      dead_letter(*q, out[i], expired ? "expired" : "maxlen", dead_letters);
      q->queue->entry_done(out[i]);
    }
  }
  dead_letters.wakeups().flush();
}

std::vector<QueueInfo> Vhost::queue_infos() const {
  std::vector<AmqpQueuePtr> all;
  std::vector<std::uint32_t> consumers;
  {
    std::lock_guard lock(mutex_);
    all.reserve(queues_.size());
    for (const auto& [name, q] : queues_) {
      all.push_back(q);
      consumers.push_back(q->consumers);
    }
  }
  std::vector<QueueInfo> out;
  out.reserve(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    out.push_back(QueueInfo{all[i]->name, all[i]->durable, consumers[i], all[i]->queue->stats()});
  }
  std::sort(out.begin(), out.end(), [](const QueueInfo& a, const QueueInfo& b) { return a.name < b.name; });
  return out;
}

void Vhost::start(boost::asio::any_io_executor ex) {
  timer_ = std::make_unique<boost::asio::steady_timer>(ex);
  arm_timer();
}

void Vhost::arm_timer() {
  timer_->expires_after(std::chrono::milliseconds(200));
  timer_->async_wait([this](const boost::system::error_code& ec) {
    // A wait that had already completed when stop() ran still comes here without an error;
    // the timer it would re-arm is gone by then.
    if (ec || !timer_) return;
    sweep();
    if (timer_) arm_timer();
  });
}

void Vhost::stop() {
  // The timer goes with the call: the I/O contexts it belongs to may end before the vhost.
  if (timer_) {
    timer_->cancel();
    timer_.reset();
  }
}

}  // namespace outpost::amqp
