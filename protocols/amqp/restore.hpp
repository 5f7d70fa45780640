// AmqpRestorer: at start-up, brings back the durable AMQP exchanges, queues and bindings
// (store definitions) and the persistent messages of durable queues (entries of
// "amqp:<queue>"). Every record is also handed to the next visitor (the MQTT restorer),
// which sees the store as if the AMQP side were not there.
//
// Threading: start-up only, before any listener opens.
#pragma once

#include "amqp/vhost.hpp"
#include "core/message.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <unordered_map>

namespace outpost::amqp {

class AmqpRestorer final : public store::RestoreVisitor {
 public:
  AmqpRestorer(Vhost& vhost, store::RestoreVisitor& next) : vhost_(vhost), next_(next) {}

  void message(store::StoredMessage&& m) override;
  void retained(store::StoredMessage&& m) override { next_.retained(std::move(m)); }
  void session(store::SessionRecord&& s) override { next_.session(std::move(s)); }
  void subscription(store::SubscriptionRecord&& s) override { next_.subscription(std::move(s)); }
  void definition(store::DefinitionRecord&& d) override;
  void entry(store::EntryRecord&& e) override;
  void incoming_qos2(const std::string& client_id, std::uint16_t packet_id) override {
    next_.incoming_qos2(client_id, packet_id);
  }

  struct Counts {
    std::size_t queues = 0;
    std::size_t messages = 0;
  };
  Counts finish();

 private:
  Vhost& vhost_;
  store::RestoreVisitor& next_;
  std::unordered_map<std::uint64_t, core::MessagePtr> messages_;
  bool definitions_done_ = false;
  Counts counts_;
};

}  // namespace outpost::amqp
