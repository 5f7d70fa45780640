#include "config_check.hpp"

#include "auth/acl.hpp"
#include "auth/password_file.hpp"
#include "log.hpp"
#include "plugin/library.hpp"
#include "server/tls_context.hpp"

#include <fmt/format.h>

#include <set>
#include <utility>

namespace outpost {

namespace {

class Checker {
 public:
  explicit Checker(const Settings& s) : s_(s) {}

  void problem(const std::string& key, const std::string& what) {
    out.push_back(fmt::format("{}: {}: {}", position_of(s_, key), key, what));
  }

  void tls(const std::string& prefix, const TlsSettings& t) {
    try {
      server::make_tls_context(t);
    } catch (const std::exception& e) {
      // "tls.key_file FILE: why": point at that setting of this listener.
      std::string what = e.what();
      std::string key = prefix;
      if (what.rfind("tls.", 0) == 0) {
        const auto end = what.find_first_of(" :");
        key = prefix + what.substr(3, end - 3);
        what = what.substr(end == std::string::npos ? what.size() : end + (what[end] == ' ' ? 1 : 2));
      }
      problem(key, what);
    }
  }

  void password_file(const std::string& key, const std::string& file) {
    if (file.empty() || !passwords_.insert(file).second) return;
    auth::FileProblems problems;
    try {
      auth::PasswordFile::load(file, problems);
    } catch (const std::exception& e) {
      problem(key, e.what());
    }
    for (const auto& p : problems) problem(key, p.describe());
  }

  void acl_file(const std::string& key, const std::string& file) {
    if (file.empty() || !acls_.insert(file).second) return;
    auth::FileProblems problems;
    try {
      auth::AclRules::load(file, problems);
    } catch (const std::exception& e) {
      problem(key, e.what());
    }
    for (const auto& p : problems) problem(key, p.describe());
  }

  std::vector<std::string> out;

 private:
  const Settings& s_;
  std::set<std::string> passwords_, acls_;
};

}  // namespace

std::vector<std::string> check_named_files(const Settings& settings) {
  Checker c(settings);
  for (std::size_t i = 0; i < settings.listeners.size(); ++i) {
    const auto& l = settings.listeners[i];
    const std::string prefix = fmt::format("listeners[{}]", i);
    if (l.tls) c.tls(prefix + ".tls", *l.tls);
    if (l.password_file) c.password_file(prefix + ".password_file", *l.password_file);
    if (l.acl_file) c.acl_file(prefix + ".acl_file", *l.acl_file);
  }
  c.password_file("auth.password_file", settings.auth.password_file);
  c.acl_file("auth.acl_file", settings.auth.acl_file);
  if (!settings.logging.file.empty()) {
    if (auto why = log::check_file(settings.logging.file); !why.empty()) {
      c.problem("logging.file", fmt::format("{}: cannot be opened for appending: {}", settings.logging.file, why));
    }
  }
  return std::move(c.out);
}

std::vector<std::string> check_plugin_libraries(const Settings& settings) {
  Checker c(settings);
  const auto dirs = plugin::plugin_dirs(settings.plugin_dir);
  for (std::size_t i = 0; i < settings.plugins.size(); ++i) {
    const auto& p = settings.plugins[i];
    try {
      plugin::Library::open(plugin::resolve_library(p.library, dirs));
    } catch (const std::exception& e) {
      c.problem(fmt::format("plugins[{}].library", i), fmt::format("plugin '{}': {}", p.name, e.what()));
    }
  }
  return std::move(c.out);
}

}  // namespace outpost
