// The security seams of the core, used the same way by every protocol:
// - Authenticator: who is this client? Asynchronous: the answer is posted to the
//   connection's executor, so a deliberately slow check (a password hash, a plugin that
//   asks a server) never blocks an I/O thread.
// - AccessControl: may this client publish to, subscribe to or consume from this name?
//   Synchronous and cheap (rules in memory): it runs on the connection's thread.
//
// The built-in implementations here keep each listener's rule as configured today:
// anonymous clients on listeners that allow them, nobody else (AnonymousAuthenticator),
// and no restriction on what an authenticated client does (no AccessControl at all: a
// null AccessControl pointer means "everything allowed" and costs nothing per message).
#pragma once

#include "core/client_info.hpp"
#include "core/hooks.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::core {

// What a client presented, copied out of its connection: the request may outlive the call.
struct AuthRequest {
  Protocol protocol = Protocol::mqtt;
  std::string listener;
  std::string remote_address;
  std::string client_id;
  std::optional<std::string> user;      // absent: the client sent no user name
  std::optional<std::string> password;  // MQTT password / AMQP PLAIN password (bytes)
  std::string certificate_identity;     // a verified client certificate's identity, if any
  std::string mechanism;                // AMQP SASL mechanism; MQTT: empty
};

enum class AuthStatus : std::uint8_t {
  accepted,
  bad_credentials,  // a user name / password that no backend accepts (MQTT 0x86 / 3.1.1 4)
  not_authorized,   // anonymous refused, or the user may not connect here (MQTT 0x87 / 3.1.1 5)
};

struct AuthDecision {
  AuthStatus status = AuthStatus::not_authorized;
  std::string user;    // accepted: the user name the client is known by from now on (empty: anonymous)
  std::string reason;  // for the log and, where the protocol carries one, the client
  bool by_plugin = false;  // accepted by a plugin (ClientInfo::plugin_authenticated)
};

class Authenticator {
 public:
  using Done = std::function<void(AuthDecision)>;
  virtual ~Authenticator() = default;
  // Any I/O thread. `done` runs later on `ex` (never inline), exactly once.
  virtual void authenticate(AuthRequest request, boost::asio::any_io_executor ex, Done done) const = 0;
  // The connection's thread, after the rules were reloaded: true when the identity this
  // authenticator accepted earlier is no longer valid (its user was removed); the session
  // then disconnects the client. Cheap: no password is checked again.
  virtual bool revoked(const ClientInfo& client) const {
    (void)client;
    return false;
  }
};

// Today's rule of a listener: `allow_anonymous` accepts every client as anonymous (a user
// name it sends is kept as its name, as before) and a verified client certificate
// identifies its user; anything else is refused, since no password backend exists yet.
class AnonymousAuthenticator final : public Authenticator {
 public:
  explicit AnonymousAuthenticator(bool allow_anonymous) : allow_anonymous_(allow_anonymous) {}
  void authenticate(AuthRequest request, boost::asio::any_io_executor ex, Done done) const override;
  static AuthDecision decide(const AuthRequest& request, bool allow_anonymous);

 private:
  bool allow_anonymous_;
};

// What a client may do with a name. `exchange` is the exchange the name belongs to
// ("amq.topic" for MQTT topics, whose names are in canonical '/' form); for the default
// exchange it is "" and the name is a queue's.
class AccessControl {
 public:
  virtual ~AccessControl() = default;
  virtual bool may_publish(const ClientInfo& client, std::string_view exchange, std::string_view topic) const = 0;
  // A subscription filter (MQTT) or a binding key (AMQP, canonical form on amq.topic).
  virtual bool may_subscribe(const ClientInfo& client, std::string_view exchange, std::string_view filter) const = 0;
  // Consuming from a queue by name (AMQP basic.consume / basic.get) or receiving one
  // message on a topic (MQTT, checked per delivery, `queue` empty).
  virtual bool may_consume(const ClientInfo& client, std::string_view queue, std::string_view topic) const = 0;

  // AMQP resources in RabbitMQ's model: configure (declare, delete), write (publish to an
  // exchange; bind a queue: the queue), read (consume, get, purge: the queue; bind: the
  // exchange bound from). Allowed unless an implementation says otherwise.
  enum class Permission : std::uint8_t { configure, write, read };
  enum class Resource : std::uint8_t { exchange, queue };
  virtual bool may_use(const ClientInfo& client, Permission permission, Resource resource,
                       std::string_view name) const {
    (void)client, (void)permission, (void)resource, (void)name;
    return true;
  }
};

const char* to_string(AccessControl::Permission p) noexcept;
const char* to_string(AccessControl::Resource r) noexcept;

// What the sessions of one listener are checked with; made by main.cpp per listener and
// shared by its sessions (it outlives them, as the listener does).
struct ListenerAccess {
  std::string name;  // "mqtt 127.0.0.1:1883": what ClientInfo::listener points to
  std::shared_ptr<const Authenticator> authenticator;
  std::shared_ptr<const AccessControl> access;  // null: everything allowed
  std::shared_ptr<const ClientObserver> observer;  // null: nobody is told of connects
};

}  // namespace outpost::core
