// ClientInfo: who is publishing, subscribing or consuming, whatever the protocol. Every
// connection (and, later, every plugin instance) has one; authentication fills in the
// user, and the access control and the plugin hooks are asked with it.
//
// Threading: owned by its connection's publisher, read on the connection's thread. Its
// listener name, address and certificate identity refer to storage that outlives the
// session (the listener's, the connection's); whoever keeps a ClientInfo beyond the call
// it was given in copies what it needs (see AuthRequest).
#pragma once

#include "core/client_id.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace outpost::core {

enum class Protocol : std::uint8_t {
  broker,  // the broker's own messages: dead letters, delayed wills published by the sweep
  mqtt,
  amqp,
  plugin,
};
const char* to_string(Protocol p) noexcept;

class ClientInfo {
 public:
  ClientInfo() = default;
  // `listener`, `remote_address` and `certificate_identity` are kept by reference: the
  // listener's name and the connection's strings outlive the connection's session.
  ClientInfo(Protocol protocol_, const std::string& listener, const std::string& remote_address,
             const std::string& certificate_identity, std::uint64_t origin_ = 0)
      : protocol(protocol_),
        origin(origin_),
        listener_(&listener),
        remote_address_(&remote_address),
        certificate_identity_(&certificate_identity) {}

  Protocol protocol = Protocol::broker;
  // The user was accepted by a plugin, not by the listener's password file (a reload of
  // that file does not concern it).
  bool plugin_authenticated = false;
  ClientId client_id;  // MQTT client id; AMQP: none
  ClientId user;       // the authenticated user name; empty: anonymous
  // Issued by the broker (Broker::next_origin) for every protocol, never reused while the
  // broker runs: what MQTT 5 "no local" compares. An MQTT session keeps the origin of its
  // session state, so a resumed session is the same publisher as before.
  std::uint64_t origin = 0;

  // The listener's name ("mqtt 127.0.0.1:1883"); empty for the broker itself.
  std::string_view listener() const noexcept { return view(listener_); }
  std::string_view remote_address() const noexcept { return view(remote_address_); }  // "1.2.3.4:5678"
  // The verified TLS client certificate's identity; empty: none.
  std::string_view certificate_identity() const noexcept { return view(certificate_identity_); }

 private:
  static std::string_view view(const std::string* s) noexcept { return s ? std::string_view(*s) : std::string_view(); }
  // Pointers rather than views: one of these lives in every connection.
  const std::string* listener_ = nullptr;
  const std::string* remote_address_ = nullptr;
  const std::string* certificate_identity_ = nullptr;
};

}  // namespace outpost::core
