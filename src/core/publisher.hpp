// Publisher: the one door through which every message enters the routing core, whatever
// brought it: an MQTT PUBLISH, an AMQP basic.publish (the default exchange included), a
// will, a dead letter, and later the plugins and the bridge. Inside it, in this order and
// nowhere else:
//   1. write authorization (AccessControl::may_publish),
//      then, with tracing.inject, a fresh traceparent for a message without one
//      (core/trace_context.hpp),
//   2. the plugin message hook (Broker::message_hook: a client's messages and wills; not
//      the messages plugins publish themselves),
//   3. the store-full check for durable messages,
//   4. routing (Broker::route),
//   5. counters (per I/O thread, see core/counters.hpp),
// and, after the protocol has decided what to answer,
//   6. the acknowledgement held until the store has committed what it acknowledges
//      (acknowledge(), flush()): PUBACK / PUBREC / confirms go out in publish order,
//   7. the pause of a publisher whose target queues are congested (flush() returns
//      whether reading must stop; on_space_available() whether it may go on).
// A protocol session decodes, asks its publisher, and encodes the answer; it never calls
// the store itself.
//
// A publisher holds its client's identity (ClientInfo): the one copy a connection has.
//
// Threading: one per connection (or per internal source), used only on its owner's
// thread. Held acknowledgements and space notices come back through the owner's
// PublisherOwner on the owner's executor, after the session may have gone: the owner is
// held weakly.
#pragma once

#include "core/access.hpp"
#include "core/broker.hpp"
#include "core/client_info.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace outpost::core {

// An acknowledgement held for a commit, opaque to the core: the protocol puts in what it
// needs to send it later (MQTT: packet type, id and reason; AMQP: channel, tag, ack/nack
// and which opening of the channel).
struct HeldAck {
  std::uint64_t id = 0;
  std::uint16_t a = 0;
  std::uint8_t b = 0;
  std::uint8_t c = 0;
  std::uint32_t d = 0;
};

// Implemented by the face a session shows to other threads (its Handle).
class PublisherOwner : public SpaceWaiter {
 public:
  // On the owner's executor: acknowledgements held by acknowledge() whose messages are
  // now durable, in the order they were held.
  virtual void on_durable(std::span<const HeldAck> acks) = 0;
};

// Where a message comes from decides which checks apply.
enum class Source : std::uint8_t {
  client,       // a client's publish: every check
  will,         // a client's will: authorized as the client, never refused for a full store
                // (it replaces a connection the broker already held)
  broker,       // the broker's own (dead letters, wills due in the sweep): routed and counted
};

enum class Refusal : std::uint8_t {
  none,
  not_authorized,  // the access control refused the topic (MQTT 5 0x87, AMQP 403)
  store_full,      // durable and the store is at persistence.max_bytes (MQTT 5 0x97)
};

struct PublishOutcome {
  Refusal refused = Refusal::none;
  PublishResult routed;  // what routing did (all zero when refused)
  bool discarded = false;  // the message hook dropped it: accepted, routed nowhere
  // The message as routed when the publisher replaced the one it was given (a traceparent
  // injected, the plugin hook's edit); null: the one given. For the caller's log lines.
  MessagePtr message;
  const Message& routed_message(const MessagePtr& given) const noexcept { return message ? *message : *given; }
};

class Publisher {
 public:
  // `access` null: everything allowed. A connection's publisher (`holds` true) holds
  // acknowledgements and pauses on congestion, handing them back to the owner it is
  // flushed with; an internal source's does neither (acknowledge() always answers
  // "send now", congestion is ignored).
  Publisher(Broker& broker, ClientInfo client, const AccessControl* access, bool holds = false);
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;
  ~Publisher();

  // Who publishes. The owner completes it as it learns more (the user once authenticated,
  // an MQTT session's origin once the session is claimed).
  const ClientInfo& client() const noexcept { return client_; }
  ClientInfo& client() noexcept { return client_; }
  Broker& broker() noexcept { return broker_; }
  // Consumer wake-ups gathered on this thread; flush() posts them.
  WakeupBatch& wakeups() noexcept { return wakeups_; }

  // Steps 1-5 for one message on `exchange`. The message's routing key is its topic.
  // A message the hook drops is reported as routed nowhere (the publisher is not told).
  PublishOutcome publish(const Exchange& exchange, const MessagePtr& message, Source source = Source::client);

  // Step 6. True: nothing is ahead of it and it needs no commit, send it now. False: it
  // is held and comes back through PublisherOwner::on_durable once `needs_commit` is
  // met and every acknowledgement held before it has gone (publish order).
  bool acknowledge(const HeldAck& ack, bool needs_commit);
  // Acknowledgements held and not yet handed back.
  std::size_t held() const noexcept;

  // End of one read: one store barrier for the acknowledgements held during it, the
  // wake-ups posted, and the congested queues registered for a space notice (except
  // `own`, the publisher's own queue: it would wait for itself). What was held comes back
  // to `owner` on `ex`. Returns true when reading must pause (step 7).
  template <class Owner>
  bool flush(const boost::asio::any_io_executor& ex, const std::shared_ptr<Owner>& owner, const Queue* own = nullptr) {
    // Most reads hold nothing and congest nothing: no reference to the owner is made then.
    if (!pending_ || (pending_->unsent.empty() && pending_->congested.empty())) {
      wakeups_.flush();
      return false;
    }
    return flush_pending(ex, std::weak_ptr<PublisherOwner>(owner), own);
  }
  // From PublisherOwner::on_space_available: true when the last wait is over and reading
  // may resume.
  bool on_space_available() noexcept;
  bool paused() const noexcept;

  // Whether the store can take `bytes` more (AMQP connection.unblocked).
  bool store_has_room(std::size_t bytes) const;

 private:
  // Held acknowledgements and congestion: made on first use.
  struct Pending {
    std::weak_ptr<PublisherOwner> owner;
    std::vector<HeldAck> unsent;      // held during the current read, before its barrier
    std::size_t held = 0;             // held in all: unsent and behind barriers
    unsigned barriers = 0;            // barriers registered and not yet come back
    std::vector<QueuePtr> congested;  // queues this read's publishes found congested
    unsigned flow_waits = 0;          // congested queues reading waits for
  };
  Pending& pending();
  bool flush_pending(const boost::asio::any_io_executor& ex, std::weak_ptr<PublisherOwner> owner, const Queue* own);

  Broker& broker_;
  const AccessControl* access_;
  ClientInfo client_;
  WakeupBatch wakeups_;
  // Shared so that a commit's callback, posted back to this thread, finds it (weakly) only
  // while the publisher lives.
  std::shared_ptr<Pending> pending_;
  bool holds_;
};

}  // namespace outpost::core
