// Realm: the password file and the ACL rules one or more listeners check clients with,
// read at start and again on SIGHUP. Readers on any thread see one complete rule set or the
// next one, never a mix: each set is immutable and published through an atomic pointer.
// The sets a reload replaces stay in memory until the broker stops (a reader may still
// hold one; a set is a few kilobytes and reloads are rare), so readers take no lock and no
// reference count on the hot path.
#pragma once

#include "auth/acl.hpp"
#include "auth/file_problem.hpp"
#include "auth/password_file.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace outpost::auth {

// An ACL rule written in the configuration rather than in the acl_file.
struct ConfiguredRule {
  enum class Scope { anonymous, user, pattern };
  Scope scope = Scope::anonymous;
  std::string user;
  AclRule rule;
};

class Realm {
 public:
  // Empty paths: no password file (no password logins) / no ACL file. With no ACL file
  // and no configured rules, acl() is null: everything is allowed.
  Realm(std::string password_file, std::string acl_file, std::vector<ConfiguredRule> rules);

  // Reads the files. At start (`initial`), a file that cannot be read is an error
  // (std::runtime_error) and malformed lines are logged and skipped. On a reload, any
  // problem keeps the rules in force and is logged; returns whether new rules took over.
  bool load(bool initial);

  const std::string& password_file() const noexcept { return password_file_; }
  const std::string& acl_file() const noexcept { return acl_file_; }
  bool has_password_file() const noexcept { return !password_file_.empty(); }

  // The rules in force; valid until the broker stops. passwords() is never null when a
  // password file is configured; acl() is null when no rule is configured at all.
  const PasswordFile* passwords() const noexcept { return passwords_.load(std::memory_order_acquire); }
  const AclRules* acl() const noexcept { return acl_.load(std::memory_order_acquire); }

  // "passwd /etc/outpost/passwd, acl /etc/outpost/acl" for messages.
  std::string describe() const;

 private:
  std::string password_file_;
  std::string acl_file_;
  std::vector<ConfiguredRule> rules_;
  std::mutex load_mutex_;  // one load at a time
  std::vector<std::shared_ptr<const PasswordFile>> password_sets_;  // every set ever in force
  std::vector<std::shared_ptr<const AclRules>> acl_sets_;
  std::atomic<const PasswordFile*> passwords_{nullptr};
  std::atomic<const AclRules*> acl_{nullptr};
};

}  // namespace outpost::auth
