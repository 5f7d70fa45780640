// ClientInfo: who is publishing, subscribing or consuming, whatever the protocol. Every
// connection (and, later, every plugin instance) has one; authentication fills in the
// user, and the access control and the plugin hooks are asked with it.
//
// Threading: owned by its connection's session, read on the connection's thread. The
// string views point into storage that outlives the session (the listener's name, the
// connection's address and certificate identity); whoever keeps a ClientInfo beyond the
// call it was given in copies what it needs (see AuthRequest).
#pragma once

#include "core/client_id.hpp"

#include <cstdint>
#include <string_view>

namespace outpost::core {

enum class Protocol : std::uint8_t {
  broker,  // the broker's own messages: dead letters, delayed wills published by the sweep
  mqtt,
  amqp,
  plugin,
};
const char* to_string(Protocol p) noexcept;

struct ClientInfo {
  Protocol protocol = Protocol::broker;
  std::string_view listener;              // the listener's name ("mqtt 127.0.0.1:1883"); empty for the broker
  std::string_view remote_address;        // "1.2.3.4:5678"
  std::string_view certificate_identity;  // the verified TLS client certificate's identity; empty: none
  ClientId client_id;                     // MQTT client id; AMQP: none
  ClientId user;                          // the authenticated user name; empty: anonymous
  // Issued by the broker (Broker::next_origin) for every protocol, never reused while the
  // broker runs: what MQTT 5 "no local" compares. An MQTT session keeps the origin of its
  // session state, so a resumed session is the same publisher as before.
  std::uint64_t origin = 0;
};

}  // namespace outpost::core
