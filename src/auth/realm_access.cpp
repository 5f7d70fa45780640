#include "auth/realm_access.hpp"

namespace outpost::auth {

PermissionTable::PermissionTable(const std::vector<std::pair<std::string, ResourcePermissions>>& entries) {
  users_.reserve(entries.size());
  for (const auto& [user, p] : entries) {
    users_.push_back(Compiled{user, std::regex(p.configure, std::regex::ECMAScript | std::regex::optimize),
                              std::regex(p.write, std::regex::ECMAScript | std::regex::optimize),
                              std::regex(p.read, std::regex::ECMAScript | std::regex::optimize)});
  }
}

bool PermissionTable::allows(std::string_view user, core::AccessControl::Permission p, std::string_view name) const {
  if (users_.empty()) return true;
  for (const auto& u : users_) {
    if (u.user != user) continue;
    const std::regex& re = p == core::AccessControl::Permission::configure ? u.configure
                           : p == core::AccessControl::Permission::write   ? u.write
                                                                           : u.read;
    return std::regex_match(name.begin(), name.end(), re);
  }
  return false;
}

RealmAccess::RealmAccess(std::shared_ptr<const Realm> realm, std::shared_ptr<const PermissionTable> permissions)
    : realm_(std::move(realm)), permissions_(std::move(permissions)) {}

bool RealmAccess::may_publish(const core::ClientInfo& client, std::string_view exchange, std::string_view topic) const {
  if (client.protocol == core::Protocol::amqp && !may_use(client, Permission::write, Resource::exchange, exchange)) {
    return false;
  }
  const AclRules* acl = realm_ ? realm_->acl() : nullptr;
  return acl == nullptr || acl->may_publish(client, exchange, topic);
}

bool RealmAccess::may_subscribe(const core::ClientInfo& client, std::string_view exchange,
                                std::string_view filter) const {
  const AclRules* acl = realm_ ? realm_->acl() : nullptr;
  return acl == nullptr || acl->may_subscribe(client, exchange, filter);
}

bool RealmAccess::may_consume(const core::ClientInfo& client, std::string_view queue, std::string_view topic) const {
  if (!queue.empty()) {
    return client.protocol != core::Protocol::amqp || may_use(client, Permission::read, Resource::queue, queue);
  }
  const AclRules* acl = realm_ ? realm_->acl() : nullptr;
  return acl == nullptr || acl->may_consume(client, queue, topic);
}

bool RealmAccess::may_use(const core::ClientInfo& client, Permission permission, Resource resource,
                          std::string_view name) const {
  if (!permissions_) return true;
  // RabbitMQ's expressions cover exchanges and queues alike; the default exchange is
  // checked by its RabbitMQ name.
  if (resource == Resource::exchange && name.empty()) name = "amq.default";
  return permissions_->allows(client.user.view(), permission, name);
}

}  // namespace outpost::auth
