// AmqpRestorer: at start-up, brings back the durable AMQP exchanges, queues and bindings
// (store definitions of kinds "amqp.*") and the persistent messages of durable queues
// (entries of "amqp:<queue>"). A core::RestoreOwner: main.cpp registers it with the
// restore router for both prefixes; the router hands entries over with their message and
// says when the definitions are over, so the bindings are in place before any message.
//
// Threading: start-up only, before any listener opens.
#pragma once

#include "amqp/vhost.hpp"
#include "core/restore_router.hpp"
#include "store/store.hpp"

#include <cstddef>

namespace outpost::amqp {

class AmqpRestorer final : public core::RestoreOwner {
 public:
  explicit AmqpRestorer(Vhost& vhost) : vhost_(vhost) {}

  void definition(store::DefinitionRecord&& d) override;
  void definitions_done() override;
  void entry(store::EntryRecord&& e, const core::MessagePtr& message) override;

  struct Counts {
    std::size_t queues = 0;
    std::size_t messages = 0;
    std::size_t skipped = 0;  // entries of a queue that was not restored
  };
  // After the restore: binds the bindings if no entry came to do it. Returns the counts.
  Counts finish();

 private:
  Vhost& vhost_;
  bool definitions_done_ = false;
  Counts counts_;
};

}  // namespace outpost::amqp
