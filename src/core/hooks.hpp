// Hooks of the core that plugins attach to (the plugin host implements them; the core
// knows no plugin):
// - MessageHook: step 2 of core::Publisher, for every message a client publishes (its
//   will included): inspect, replace, drop or refuse it.
// - ClientObserver: told when a client was accepted and when it is gone.
//
// Threading: both are called on the I/O thread of the connection concerned and must not
// block; an implementation hands slow work to a thread of its own.
#pragma once

#include "core/client_info.hpp"
#include "core/message.hpp"

#include <cstdint>

namespace outpost::core {

enum class HookVerdict : std::uint8_t {
  pass,    // goes on (`message` may have been replaced)
  drop,    // accepted from the publisher and discarded
  refuse,  // refused to the publisher as not authorized (MQTT 5 0x87, AMQP 403)
};

class MessageHook {
 public:
  virtual ~MessageHook() = default;
  // `message` may be replaced by another message (same origin, new topic, payload...).
  virtual HookVerdict on_message(const ClientInfo& client, MessagePtr& message) const = 0;
};

class ClientObserver {
 public:
  virtual ~ClientObserver() = default;
  // After the client was accepted (MQTT: CONNACK sent; AMQP: connection.open-ok sent).
  virtual void connected(const ClientInfo& client) const = 0;
  // Once, after connected(), when the connection is gone.
  virtual void disconnected(const ClientInfo& client) const = 0;
};

}  // namespace outpost::core
