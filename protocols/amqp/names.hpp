// Routing keys between AMQP and the core's canonical topics.
//
// On topic exchanges (amq.topic is the MQTT exchange) the core keeps topics in MQTT form:
// levels separated by '/', wildcards '+' and '#'. An AMQP routing key or binding key is
// converted by swapping '.' and '/' (and, in binding keys, a whole word '*' becomes '+'):
//   AMQP "sensors.*.temp"  <->  canonical "sensors/+/temp"
//   AMQP "a.b"             <->  canonical "a/b"
//   AMQP "p.v1/2"          <->  canonical "p/v1.2"
// The swap is its own inverse, so an MQTT topic whose level holds a '.' ("p/v1.2") keeps
// its exact form for MQTT subscribers and appears to AMQP consumers as "p.v1/2" (the dot
// inside the level shown as '/'); an AMQP publish with key "p.v1/2" reaches MQTT
// subscribers of "p/v1.2". Direct, fanout and the default exchange use keys verbatim.
#pragma once

#include <string>
#include <string_view>

namespace outpost::amqp {

std::string routing_key_to_topic(std::string_view key);   // publish keys: swap only
std::string binding_key_to_filter(std::string_view key);  // binding keys: swap, '*' -> '+'
std::string topic_to_routing_key(std::string_view topic); // swap back

}  // namespace outpost::amqp
