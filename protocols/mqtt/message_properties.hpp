// Between MQTT 5 packet properties and the core's message properties: what a PUBLISH (or
// a will) carries that must reach its subscribers, and what each delivery sends back
// out. MQTT 3.1.1 packets have no properties, so a 3.1.1 subscriber gets the message
// without them and a 3.1.1 publisher's message has none.
//
// Pure functions: any thread, nothing blocks.
#pragma once

#include "core/message.hpp"
#include "core/queue.hpp"
#include "mqtt/codec/properties.hpp"

#include <cstdint>
#include <memory>

namespace outpost::mqtt {

// Moves the forwarded properties out of `p` (payload format, content type, response
// topic, correlation data, user properties in order [MQTT-3.3.2-17/18]); null when the
// packet has none, so plain traffic allocates nothing.
std::shared_ptr<const core::MessageProperties> take_message_properties(Properties& p);

// The absolute expiry for a message expiry interval received at `now_unix_ms`; 0 = never.
std::int64_t expiry_deadline(const Properties& p, std::int64_t now_unix_ms) noexcept;

// Fills `out` (expected empty) with what a PUBLISH to a 5.0 subscriber carries: the
// message's properties, the expiry interval left [MQTT-3.3.2-6] and the subscription
// identifiers that matched [MQTT-3.3.4-3]. False when there is nothing to send. The user
// properties are views into the delivery's message (Properties::user_property_views):
// encode before the message may go.
bool delivery_properties(const core::Delivery& d, std::int64_t now_unix_ms, Properties& out);

// Whether a delivery has anything delivery_properties would write (cheap check first).
inline bool has_delivery_properties(const core::Delivery& d) noexcept {
  return d.message->properties() != nullptr || d.message->expiry_unix_ms() != 0 || !d.subscription_ids.empty();
}

}  // namespace outpost::mqtt
