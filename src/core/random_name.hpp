// Names the broker makes up: assigned MQTT client ids, server-named AMQP queues, consumer
// tags. `prefix` followed by `length` random characters of the alphabet (a per-thread
// generator seeded from std::random_device: unique in practice, not a secret).
#pragma once

#include <string>
#include <string_view>

namespace outpost::core {

enum class NameAlphabet {
  hex,       // 0-9 a-f
  url_safe,  // A-Z a-z 0-9 _ - (the characters of RabbitMQ's generated names)
};

std::string random_name(std::string_view prefix, int length, NameAlphabet alphabet);

}  // namespace outpost::core
