// SessionState: what of an MQTT client's session outlives its network connection
// [MQTT-3.1.2-4]: its subscriptions, its queue of messages waiting to be sent, the QoS 1
// and 2 messages sent but not yet acknowledged (with their packet identifiers), and the
// QoS 2 packet identifiers received but not yet released.
//
// Threading: used only by the connection that holds the session (see
// core::SessionRegistry), or by nobody while it is detached.
#pragma once

#include "core/broker.hpp"
#include "core/queue.hpp"
#include "core/session_registry.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

namespace outpost::mqtt {

// The prefix of a session's queue name in the store ("mqtt:<client id>").
inline constexpr std::string_view kStoreQueuePrefix = "mqtt:";

struct SubscriptionRecord {
  std::uint8_t granted_qos = 0;
  core::BindingOptions options;
  std::uint8_t retain_handling = 0;
};

// A QoS 1 or 2 message sent to the client and not yet fully acknowledged.
struct OutFlight {
  enum class Stage : std::uint8_t { awaiting_puback, awaiting_pubrec, awaiting_pubcomp };
  core::Delivery delivery;
  core::QueuePtr source;  // a shared subscription's queue it came from; null: the session's own
  Stage stage = Stage::awaiting_puback;
  std::uint64_t sequence = 0;  // send order, for resending in order [MQTT-4.6.0-1]
};

// How an in-flight stage is kept in the store, and back.
constexpr store::EntryState to_entry_state(OutFlight::Stage s) noexcept {
  switch (s) {
    case OutFlight::Stage::awaiting_puback: return store::EntryState::awaiting_puback;
    case OutFlight::Stage::awaiting_pubrec: return store::EntryState::awaiting_pubrec;
    case OutFlight::Stage::awaiting_pubcomp: return store::EntryState::awaiting_pubcomp;
  }
  return store::EntryState::queued;
}
constexpr OutFlight::Stage to_stage(store::EntryState s) noexcept {
  return s == store::EntryState::awaiting_pubrec    ? OutFlight::Stage::awaiting_pubrec
         : s == store::EntryState::awaiting_pubcomp ? OutFlight::Stage::awaiting_pubcomp
                                                    : OutFlight::Stage::awaiting_puback;
}

class SessionState final : public core::Session {
 public:
  SessionState(core::Broker& broker, core::ClientId client_id, std::uint64_t origin);
  ~SessionState() override;

  void destroy() override;

  core::Broker& broker() noexcept { return broker_; }
  // The session's queue exists from its first subscription on: a client that subscribes
  // to nothing receives nothing, and an idle connection then costs no queue.
  core::Queue* queue() noexcept { return queue_.get(); }
  const core::QueuePtr& queue_ptr() noexcept { return queue_; }
  // Creates the queue if there is none yet; true if it was created now.
  bool ensure_queue(const core::QueueLimits& limits);

  // The containers below stay empty for an idle client (one that subscribes to nothing and
  // publishes at QoS 0), so they live out of line, allocated by the first accessor call;
  // references stay valid as long as the state. The has_*() checks never allocate.

  // Subscriptions by filter (the exact filter string the client sent, `$share/...` too).
  std::map<std::string, SubscriptionRecord>& subscriptions() { return extras().subscriptions; }
  // Binds a plain filter on the session's queue (creating it), or joins the shared group
  // of a `$share/GROUP/FILTER`; replaces an existing subscription to the same filter.
  // Returns true if the subscription is new [MQTT-3.8.4-3]. Not persisted here.
  bool add_subscription(const std::string& filter, const SubscriptionRecord& record,
                        const core::QueueLimits& limits);
  // Unbinds or leaves; false if there was no such subscription.
  bool remove_subscription(const std::string& filter);

  // The shared subscriptions' queues this session consumes, by filter.
  struct SharedMembership {
    core::QueuePtr queue;
    SubscriptionRecord record;
  };
  std::map<std::string, SharedMembership>& shared() { return extras().shared; }
  bool has_shared() const noexcept { return extras_ && !extras_->shared.empty(); }
  // How many subscriptions (shared ones included) and outgoing QoS 1/2 in flight; never allocate.
  std::size_t subscription_count() const noexcept { return extras_ ? extras_->subscriptions.size() : 0; }
  std::size_t outflight_count() const noexcept { return extras_ ? extras_->outflight.size() : 0; }
  // The queue an in-flight message came from.
  core::Queue* source_of(const OutFlight& f) noexcept { return f.source ? f.source.get() : queue_.get(); }
  // The connection ended: QoS 1 messages of shared subscriptions that are still
  // unacknowledged go back to their group for another member [MQTT-4.8.2-3 allows it at
  // once]; QoS 2 ones stay, to be completed with this client [MQTT-4.8.2-4].
  void return_shared_inflight(core::WakeupBatch& wakeups);

  // Outgoing QoS 1/2 in flight, by packet id.
  std::unordered_map<std::uint16_t, OutFlight>& outflight() { return extras().outflight; }
  bool has_outflight() const noexcept { return extras_ && !extras_->outflight.empty(); }
  // A free packet identifier, or nullopt when all 65535 are in use.
  std::optional<std::uint16_t> allocate_packet_id();
  std::uint64_t next_sequence() { return ++extras().sequence; }

  // Incoming QoS 2 packet ids between PUBREC and PUBREL [MQTT-4.3.3-2].
  std::set<std::uint16_t>& incoming_qos2() { return extras().incoming_qos2; }
  std::size_t incoming_qos2_count() const noexcept { return extras_ ? extras_->incoming_qos2.size() : 0; }

  bool destroyed() const noexcept { return destroyed_; }

  // Persistence. A durable session is written to the store: the session record, its
  // subscriptions, the QoS 1/2 messages in its queue and in flight, and the QoS 2 ids
  // it received; destroy() deletes all of it. Each write below is a no-op otherwise.
  void make_durable();
  bool durable() const noexcept { return durable_; }
  // `disconnected_unix_ms` 0 while a connection holds the session.
  void persist_session(std::uint8_t protocol_level, std::optional<std::uint32_t> expiry,
                       std::int64_t disconnected_unix_ms);
  void persist_subscription(const std::string& filter, const SubscriptionRecord& record);
  void forget_subscription(const std::string& filter);
  void persist_incoming_qos2(std::uint16_t packet_id);
  void forget_incoming_qos2(std::uint16_t packet_id);
  // The name of the session's queue in the store.
  static std::string store_queue_name(std::string_view client_id) {
    return std::string(kStoreQueuePrefix) + std::string(client_id);
  }
  // Subscription options as stored: no local (bit 0), retain as published (bit 1),
  // retain handling (bits 2-3).
  static std::uint8_t encode_options(const SubscriptionRecord& record);
  static void decode_options(std::uint8_t bits, SubscriptionRecord& record);

 private:
  struct Extras {
    std::map<std::string, SubscriptionRecord> subscriptions;
    std::map<std::string, SharedMembership> shared;
    std::unordered_map<std::uint16_t, OutFlight> outflight;
    std::set<std::uint16_t> incoming_qos2;
    std::uint64_t sequence = 0;
    std::uint16_t last_packet_id = 0;
  };
  Extras& extras() {
    if (!extras_) extras_ = std::make_unique<Extras>();
    return *extras_;
  }
  // The client id as a std::string, for the store's interface.
  std::string id() const { return client_id().str(); }

  core::Broker& broker_;
  core::QueuePtr queue_;
  std::unique_ptr<Extras> extras_;
  bool destroyed_ = false;
  bool durable_ = false;
};

}  // namespace outpost::mqtt
