// AMQP basic properties <-> the core's message properties, the one place where the
// MQTT <-> AMQP mapping is decided (docs/amqp.md describes it):
//   headers         <-> MQTT 5 user properties (string values; other field types are
//                       shown to MQTT as text, and kept whole for AMQP consumers)
//   content-type    <-> content type
//   correlation-id  <-> correlation data (longer than 255 bytes: header x-correlation-id)
//   reply-to        <-> response topic, as a key on amq.topic: "replies.c1" <-> "replies/c1"
//                       (longer than 255 bytes: header x-reply-to)
//   expiration (ms) <-> message expiry (absolute; MQTT shows the remaining interval)
//   delivery-mode 2 <-> QoS 1 (persistent), 1 / absent <-> QoS 0
// content-encoding, message-id, timestamp, type, user-id, app-id, priority and
// cluster-id travel with the message for AMQP consumers.
#pragma once

#include "amqp/codec/content.hpp"
#include "core/message.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace outpost::amqp {

// The core properties of an AMQP publish. `expiry_unix_ms` gets the absolute expiry
// from the expiration property (0 = none); false if expiration is not a number of ms.
bool to_core_properties(const ContentHeader& header, std::string exchange, bool key_verbatim, std::int64_t now_ms,
                        core::MessageProperties& out, std::int64_t& expiry_unix_ms);

// The AMQP properties a consumer sees for `message`. `headers_raw` is set when the
// headers go out encoded: kept so from an AMQP publish (it then points into the message's
// properties), or MQTT user properties encoded into a per-thread buffer (valid until the
// next call on this thread): encode the content header before calling again.
BasicProperties to_amqp_properties(const core::Message& message, std::int64_t now_ms,
                                   std::span<const std::uint8_t>& headers_raw);

// The exchange a consumer is told the message came through, and its routing key.
std::string delivery_exchange(const core::Message& message);
std::string delivery_routing_key(const core::Message& message);

}  // namespace outpost::amqp
