// SessionRestorer: rebuilds, at start-up, what the store kept of the MQTT side: retained
// messages, persistent sessions with their subscriptions, the messages queued for them
// and in flight (with packet ids and QoS 2 stage), and the QoS 2 ids they had received.
// Sessions whose expiry passed while the broker was down are deleted, not restored.
//
// A core::RestoreOwner: main.cpp registers it with the restore router for the session
// queues ("mqtt:"), the shared subscriptions' queues ("share:"), the sessions and the
// retained messages. The router rebuilds the messages and hands entries over with theirs.
//
// Threading: start-up only, before any listener opens.
#pragma once

#include "core/broker.hpp"
#include "core/restore_router.hpp"
#include "mqtt/session_state.hpp"
#include "settings.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace outpost::mqtt {

struct RestoreCounts {
  std::size_t retained = 0;
  std::size_t sessions = 0;
  std::size_t expired_sessions = 0;
  std::size_t subscriptions = 0;
  std::size_t queued = 0;
  std::size_t in_flight = 0;
  std::size_t skipped = 0;  // records that referenced something missing
};

class SessionRestorer final : public core::RestoreOwner {
 public:
  SessionRestorer(core::Broker& broker, const MqttSettings& settings);

  void retained(core::MessagePtr message) override;
  void session(store::SessionRecord&& s) override;
  void subscription(store::SubscriptionRecord&& s) override;
  void entry(store::EntryRecord&& e, const core::MessagePtr& message) override;
  void incoming_qos2(const std::string& client_id, std::uint16_t packet_id) override;

  // Hands the restored sessions to the session registry; returns what was restored.
  RestoreCounts finish();

 private:
  void shared_entry(const std::pair<std::string, std::string>& group, store::EntryRecord&& e,
                    const core::MessagePtr& message);
  struct Restored {
    std::shared_ptr<SessionState> state;
    store::SessionRecord record;
  };
  Restored* find(const std::string& client_id);

  core::Broker& broker_;
  const MqttSettings& settings_;
  std::set<std::string> orphan_queues_;  // shared groups' stored entries with no member left
  std::unordered_map<std::string, Restored> sessions_;
  RestoreCounts counts_;
};

// Queue limits of an MQTT session's queue under these settings.
core::QueueLimits session_queue_limits(const MqttSettings& settings);

}  // namespace outpost::mqtt
