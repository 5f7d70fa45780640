// How plugins take part in a listener's security, in configuration order, before the
// broker's own rules:
// - ChainAuthenticator: each plugin with an authenticate callback is asked on its own
//   thread; the first that does not defer decides; when all defer, the listener's own
//   authenticator (password file, allow_anonymous) does.
// - ChainAccess: each plugin with an authorize callback is asked on the I/O thread; the
//   first that allows or denies decides; when all defer, the ACLs do (none: allowed).
// - ChainObserver: client connected / disconnected, handed to each plugin's thread.
//
// Threading: as core::Authenticator / AccessControl / ClientObserver.
#pragma once

#include "core/access.hpp"
#include "core/hooks.hpp"

#include <outpost/plugin.h>

#include <memory>
#include <vector>

namespace outpost::plugin {

class Instance;

class ChainAuthenticator final : public core::Authenticator, public std::enable_shared_from_this<ChainAuthenticator> {
 public:
  ChainAuthenticator(std::vector<std::shared_ptr<Instance>> plugins, std::shared_ptr<const core::Authenticator> next)
      : plugins_(std::move(plugins)), next_(std::move(next)) {}
  void authenticate(core::AuthRequest request, boost::asio::any_io_executor ex, Done done) const override;
  bool revoked(const core::ClientInfo& client) const override { return next_ && next_->revoked(client); }

  // api->auth_complete.
  static void complete(outpost_auth_ticket* ticket, outpost_result result, const char* user, const char* reason);

 private:
  struct Ticket;
  static void ask(std::unique_ptr<Ticket> ticket);
  static void decide(std::unique_ptr<Ticket> ticket, outpost_result result, const char* user, const char* reason);

  std::vector<std::shared_ptr<Instance>> plugins_;
  std::shared_ptr<const core::Authenticator> next_;
};

class ChainAccess final : public core::AccessControl {
 public:
  ChainAccess(std::vector<std::shared_ptr<Instance>> plugins, std::shared_ptr<const core::AccessControl> next)
      : plugins_(std::move(plugins)), next_(std::move(next)) {}
  bool may_publish(const core::ClientInfo& client, std::string_view exchange, std::string_view topic) const override;
  bool may_subscribe(const core::ClientInfo& client, std::string_view exchange, std::string_view filter) const override;
  bool may_consume(const core::ClientInfo& client, std::string_view queue, std::string_view topic) const override;
  bool may_use(const core::ClientInfo& client, Permission permission, Resource resource,
               std::string_view name) const override {
    return !next_ || next_->may_use(client, permission, resource, name);
  }

 private:
  // The plugins' answer: OK or DENY, or DEFER when none decided.
  outpost_result ask(const core::ClientInfo& client, outpost_access access, std::string_view exchange,
                     std::string_view name) const;
  std::vector<std::shared_ptr<Instance>> plugins_;
  std::shared_ptr<const core::AccessControl> next_;
};

class ChainObserver final : public core::ClientObserver {
 public:
  ChainObserver(std::vector<std::shared_ptr<Instance>> plugins, std::shared_ptr<const core::ClientObserver> next)
      : plugins_(std::move(plugins)), next_(std::move(next)) {}
  void connected(const core::ClientInfo& client) const override;
  void disconnected(const core::ClientInfo& client) const override;

 private:
  std::vector<std::shared_ptr<Instance>> plugins_;
  std::shared_ptr<const core::ClientObserver> next_;
};

}  // namespace outpost::plugin
