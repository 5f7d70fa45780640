// RealmAccess: what the clients of a listener may do, as its realm's ACL rules (topics,
// for MQTT and for AMQP's amq.topic) and the AMQP resource permissions of the config
// (RabbitMQ's configure / write / read regular expressions per user) say.
#pragma once

#include "auth/realm.hpp"
#include "core/access.hpp"

#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace outpost::auth {

// RabbitMQ-style permissions of one user; each expression must match the whole name.
struct ResourcePermissions {
  std::string configure = ".*";
  std::string write = ".*";
  std::string read = ".*";
};

class PermissionTable {
 public:
  PermissionTable() = default;
  // user ("" = anonymous) -> permissions. Throws std::regex_error on a bad expression.
  explicit PermissionTable(const std::vector<std::pair<std::string, ResourcePermissions>>& entries);
  bool empty() const noexcept { return users_.empty(); }
  // With no entry at all everything is allowed; once any user has one, a user without an
  // entry may use nothing (as RabbitMQ, where a user has no permissions until given some).
  bool allows(std::string_view user, core::AccessControl::Permission p, std::string_view name) const;

 private:
  struct Compiled {
    std::string user;
    std::regex configure, write, read;
  };
  std::vector<Compiled> users_;
};

class RealmAccess final : public core::AccessControl {
 public:
  // Either may be empty: a realm without ACL rules and no permission entries allow all.
  RealmAccess(std::shared_ptr<const Realm> realm, std::shared_ptr<const PermissionTable> permissions);

  bool may_publish(const core::ClientInfo& client, std::string_view exchange, std::string_view topic) const override;
  bool may_subscribe(const core::ClientInfo& client, std::string_view exchange, std::string_view filter) const override;
  bool may_consume(const core::ClientInfo& client, std::string_view queue, std::string_view topic) const override;
  bool may_use(const core::ClientInfo& client, Permission permission, Resource resource,
               std::string_view name) const override;

 private:
  std::shared_ptr<const Realm> realm_;
  std::shared_ptr<const PermissionTable> permissions_;
};

}  // namespace outpost::auth
