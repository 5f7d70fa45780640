// Enhanced authentication (MQTT 5.0 section 4.12): the hook through which an
// authentication method (SCRAM, Kerberos, a token scheme, ...) provided outside the MQTT
// code, by a plugin, takes part in CONNECT and AUTH exchanges. Without an implementation,
// or for a method it does not know, a CONNECT that names a method is refused with 0x8C.
//
// Threading: begin() may be called from any I/O thread at once; an AuthExchange is used
// by one connection, on its thread. Calls must not block for long: they run on the I/O
// thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace outpost::mqtt {

struct AuthOutcome {
  enum class Kind {
    success,   // authenticated: CONNACK (or, re-authenticating, AUTH 0x00) follows
    proceed,   // another round: AUTH 0x18 with `data` goes to the client
    failure,   // refused: CONNACK 0x87 (or DISCONNECT 0x87 when re-authenticating)
  };
  Kind kind = Kind::failure;
  std::string data;  // authentication data for the client; empty = none
};

// One authentication: from CONNECT (or an AUTH 0x19 re-authentication) to its outcome.
class AuthExchange {
 public:
  virtual ~AuthExchange() = default;
  // The client's authentication data of this round (empty if it sent none).
  virtual AuthOutcome step(std::string_view client_data) = 0;
};

class EnhancedAuth {
 public:
  virtual ~EnhancedAuth() = default;
  // A new exchange for `method`, or null if the method is not supported.
  virtual std::unique_ptr<AuthExchange> begin(std::string_view method, std::string_view client_id) const = 0;
};

}  // namespace outpost::mqtt
