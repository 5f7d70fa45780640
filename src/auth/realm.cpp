#include "auth/realm.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace outpost::auth {

Realm::Realm(std::string password_file, std::string acl_file, std::vector<ConfiguredRule> rules)
    : password_file_(std::move(password_file)), acl_file_(std::move(acl_file)), rules_(std::move(rules)) {}

std::string Realm::describe() const {
  std::string out;
  if (!password_file_.empty()) out = "password file " + password_file_;
  if (!acl_file_.empty()) out += (out.empty() ? "" : ", ") + std::string("ACL file ") + acl_file_;
  if (!rules_.empty()) out += (out.empty() ? "" : ", ") + std::to_string(rules_.size()) + " ACL rule(s) in the config";
  return out.empty() ? std::string("no password file, no ACL") : out;
}

bool Realm::load(bool initial) {
  std::lock_guard lock(load_mutex_);
  FileProblems problems;
  std::shared_ptr<const PasswordFile> passwords;
  std::shared_ptr<const AclRules> acl;
  try {
    if (!password_file_.empty()) passwords = std::make_shared<const PasswordFile>(PasswordFile::load(password_file_, problems));
    if (!acl_file_.empty() || !rules_.empty()) {
      auto rules = std::make_shared<AclRules>();
      if (!acl_file_.empty()) *rules = *AclRules::load(acl_file_, problems);
      for (const auto& r : rules_) {
        switch (r.scope) {
          case ConfiguredRule::Scope::anonymous: rules->add_anonymous(r.rule); break;
          case ConfiguredRule::Scope::user: rules->add_user(r.user, r.rule); break;
          case ConfiguredRule::Scope::pattern: rules->add_pattern(r.rule); break;
        }
      }
      acl = std::move(rules);
    }
  } catch (const std::exception& e) {
    if (initial) throw;
    spdlog::error("SIGHUP: {} not reloaded, the rules in force stay: {}", describe(), e.what());
    return false;
  }
  for (const auto& p : problems) {
    if (initial) {
      spdlog::warn("{} (line skipped)", p.describe());
    } else {
      spdlog::error("SIGHUP: {}", p.describe());
    }
  }
  if (!initial && !problems.empty()) {
    spdlog::error("SIGHUP: {} not reloaded ({} problem(s) above), the rules in force stay", describe(), problems.size());
    return false;
  }
  if (passwords) {
    password_sets_.push_back(passwords);
    passwords_.store(passwords.get(), std::memory_order_release);
  }
  if (acl) {
    acl_sets_.push_back(acl);
    acl_.store(acl.get(), std::memory_order_release);
  }
  if (initial) {
    spdlog::info("{}: {} user(s) with a password, {} ACL rule(s)", describe(), passwords ? passwords->size() : 0,
                 acl ? acl->rule_count() : 0);
  } else {
    spdlog::info("reload: {} re-read ({} user(s) with a password, {} ACL rule(s))", describe(),
                 passwords ? passwords->size() : 0, acl ? acl->rule_count() : 0);
  }
  return true;
}

}  // namespace outpost::auth
