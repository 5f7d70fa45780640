#include "auth/password_authenticator.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace outpost::auth {

// --- CheckPool -----------------------------------------------------------------------

CheckPool::CheckPool(unsigned threads, std::uint32_t max_pending) : pool_(threads), max_pending_(max_pending) {}

CheckPool::~CheckPool() { stop(); }

bool CheckPool::submit(std::function<void()> job) {
  if (stopped_.load(std::memory_order_acquire)) return false;
  if (pending_.fetch_add(1, std::memory_order_acq_rel) >= max_pending_) {
    pending_.fetch_sub(1, std::memory_order_acq_rel);
    return false;
  }
  boost::asio::post(pool_, [this, job = std::move(job)] {
    job();
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  });
  return true;
}

void CheckPool::stop() {
  if (stopped_.exchange(true)) return;
  pool_.join();
}

// --- FailedLogins --------------------------------------------------------------------

std::string_view FailedLogins::host_of(std::string_view remote) {
  if (!remote.empty() && remote.front() == '[') {
    const auto close = remote.find(']');
    return close == std::string_view::npos ? remote : remote.substr(1, close - 1);
  }
  const auto colon = remote.rfind(':');
  // More than one ':' without brackets is an IPv6 address without a port.
  if (colon == std::string_view::npos || remote.find(':') != colon) return remote;
  return remote.substr(0, colon);
}

FailedLogins::Window& FailedLogins::window(std::string_view address, Clock::time_point now) {
  // Old windows are dropped as the table grows, so a scan of many addresses costs memory
  // for one minute only.
  if (windows_.size() > 4096) {
    std::erase_if(windows_, [now](const auto& kv) { return now - kv.second.start >= std::chrono::minutes(1); });
  }
  auto [it, added] = windows_.try_emplace(std::string(address));
  Window& w = it->second;
  if (added || now - w.start >= std::chrono::minutes(1)) w = Window{now, 0};
  return w;
}

bool FailedLogins::blocked(std::string_view address, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = windows_.find(std::string(address));
  if (it == windows_.end() || now - it->second.start >= std::chrono::minutes(1)) return false;
  return it->second.failures >= max_per_minute_;
}

FailedLogins::Log FailedLogins::record(std::string_view address, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Window& w = window(address, now);
  ++w.failures;
  if (w.failures < max_per_minute_) return Log::yes;
  return w.failures == max_per_minute_ ? Log::last : Log::no;
}

// --- PasswordAuthenticator -----------------------------------------------------------

PasswordAuthenticator::PasswordAuthenticator(std::shared_ptr<const Realm> realm, bool allow_anonymous, CheckPool& pool,
                                             FailedLogins& failures)
    : realm_(std::move(realm)), allow_anonymous_(allow_anonymous), pool_(pool), failures_(failures) {}

core::AuthDecision PasswordAuthenticator::decide_without_password_check(const core::AuthRequest& request,
                                                                        bool& needs_check) const {
  needs_check = false;
  if (!request.certificate_identity.empty()) {
    // The TLS handshake verified the certificate; its identity is the user.
    return {core::AuthStatus::accepted, request.certificate_identity, {}};
  }
  if (!request.user) {
    if (allow_anonymous_) return {core::AuthStatus::accepted, {}, {}};
    return {core::AuthStatus::not_authorized, {}, "anonymous access is not allowed on this listener"};
  }
  if (!realm_ || !realm_->has_password_file()) {
    // No password file: a user name is a label where anonymous clients are welcome.
    if (allow_anonymous_) return {core::AuthStatus::accepted, *request.user, {}};
    return {core::AuthStatus::bad_credentials, {}, "no password file is configured for this listener"};
  }
  needs_check = true;
  return {};
}

core::AuthDecision PasswordAuthenticator::check(const core::AuthRequest& request) const {
  bool needs_check = false;
  auto decision = decide_without_password_check(request, needs_check);
  if (!needs_check) return decision;
  const PasswordFile* passwords = realm_->passwords();
  // A user name with no password is checked as an empty password: it matches nothing that
  // mosquitto_passwd writes, so it is refused like a wrong one.
  if (passwords != nullptr && passwords->verify(*request.user, request.password.value_or(std::string()))) {
    return {core::AuthStatus::accepted, *request.user, {}};
  }
  return {core::AuthStatus::bad_credentials, {}, "unknown user name or wrong password"};
}

void PasswordAuthenticator::log_failure(const core::AuthRequest& request, const core::AuthDecision& decision) const {
  const auto host = FailedLogins::host_of(request.remote_address);
  const auto log = failures_.record(host);
  if (log == FailedLogins::Log::no) return;
  spdlog::warn("login failed on {}: {} client '{}' from {}, user '{}': {}{}", request.listener,
               core::to_string(request.protocol), request.client_id, request.remote_address,
               request.user.value_or(std::string()), decision.reason,
               log == FailedLogins::Log::last
                   ? fmt::format("; further logins from {} are refused without a check and not logged for a minute",
                                 host)
                   : std::string());
}

void PasswordAuthenticator::authenticate(core::AuthRequest request, boost::asio::any_io_executor ex, Done done) const {
  bool needs_check = false;
  auto decision = decide_without_password_check(request, needs_check);
  if (needs_check) {
    if (failures_.blocked(FailedLogins::host_of(request.remote_address))) {
      decision = {core::AuthStatus::bad_credentials, {}, "too many failed logins from this address"};
    } else {
      auto job = [this, request, ex, done]() mutable {
        auto d = check(request);
        if (d.status != core::AuthStatus::accepted) log_failure(request, d);
        boost::asio::post(ex, [d = std::move(d), done = std::move(done)]() mutable { done(std::move(d)); });
      };
      if (pool_.submit(std::move(job))) return;
      decision = {core::AuthStatus::bad_credentials, {}, "too many logins waiting for a password check"};
      spdlog::warn("login refused on {}: {} client '{}' from {}, user '{}': {}", request.listener,
                   core::to_string(request.protocol), request.client_id, request.remote_address, *request.user,
                   decision.reason);
    }
  }
  boost::asio::post(ex, [decision = std::move(decision), done = std::move(done)]() mutable { done(std::move(decision)); });
}

bool PasswordAuthenticator::revoked(const core::ClientInfo& client) const {
  if (client.user.view().empty() || !client.certificate_identity().empty() || client.plugin_authenticated) return false;
  if (!realm_ || !realm_->has_password_file()) return false;
  const PasswordFile* passwords = realm_->passwords();
  return passwords == nullptr || !passwords->contains(client.user.view());
}

}  // namespace outpost::auth
