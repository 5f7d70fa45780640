// The AMQP scenario of outpost-loadgen (--protocol amqp): publishers -> one queue ->
// consumers, through the default exchange. Prints one JSON line of results, in the same
// shape as the MQTT scenarios plus the AMQP settings and confirm counts.
#pragma once

#include <cstdint>
#include <string>

namespace outpost::bench {

struct AmqpRunConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 5672;
  std::size_t publishers = 1;
  std::size_t consumers = 1;
  std::size_t payload = 64;
  double duration = 5;
  double warmup = 1;
  double rate = 0;           // total messages per second over all publishers; 0 = as fast as possible
  std::size_t window = 100;  // unconfirmed messages per publisher (with confirms)
  unsigned threads = 1;
  std::string label;
  std::string queue;         // empty: a name unique to this run
  bool persistent = false;   // durable queue, delivery-mode 2
  bool confirm = false;      // publisher confirms
  bool no_ack = false;       // consumers use automatic acknowledgement
  std::uint16_t prefetch = 100;
  std::string user = "guest";
  std::string password = "guest";
};

// Returns the process exit status: 0 when every client ran without an error.
int run_amqp(const AmqpRunConfig& cfg);

}  // namespace outpost::bench
