// The built-in authenticator: anonymous clients where a listener allows them, users of a
// mosquitto-format password file, and TLS client certificate identities.
//
// Password checks are deliberately slow (PBKDF2), so they run on a small pool of worker
// threads (CheckPool), never on an I/O thread; the answer is posted back to the
// connection's executor. Failed logins are counted per source address (FailedLogins): past
// the configured number per minute an address's logins are refused without a check, and
// its failures stop filling the log, until the minute is over.
#pragma once

#include "auth/realm.hpp"
#include "core/access.hpp"

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace outpost::auth {

// The worker threads that check passwords, shared by every listener.
class CheckPool {
 public:
  explicit CheckPool(unsigned threads, std::uint32_t max_pending);
  ~CheckPool();
  CheckPool(const CheckPool&) = delete;
  CheckPool& operator=(const CheckPool&) = delete;

  // Runs `job` on a worker; false (and `job` dropped) when max_pending checks already wait.
  bool submit(std::function<void()> job);
  void stop();  // waits for the running checks; later submissions are refused

 private:
  boost::asio::thread_pool pool_;
  std::uint32_t max_pending_;
  std::atomic<std::uint32_t> pending_{0};
  std::atomic<bool> stopped_{false};
};

// Failed logins per source address (the host part of "ADDRESS:PORT"), per minute.
class FailedLogins {
 public:
  using Clock = std::chrono::steady_clock;
  explicit FailedLogins(std::uint32_t max_per_minute) : max_per_minute_(max_per_minute) {}

  // True when `address` has used up its failures of the current minute.
  bool blocked(std::string_view address, Clock::time_point now = Clock::now());
  // Counts a failure; returns whether it should be logged (the first max_per_minute of a
  // minute are; the one that reaches the limit says so).
  enum class Log { yes, last, no };
  Log record(std::string_view address, Clock::time_point now = Clock::now());

  static std::string_view host_of(std::string_view remote_address);

 private:
  struct Window {
    Clock::time_point start;
    std::uint32_t failures = 0;
  };
  Window& window(std::string_view address, Clock::time_point now);
  std::uint32_t max_per_minute_;
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;
};

class PasswordAuthenticator final : public core::Authenticator {
 public:
  // `realm` may have no password file: then a user name is only a label (accepted where
  // anonymous clients are, refused elsewhere), as Mosquitto does.
  PasswordAuthenticator(std::shared_ptr<const Realm> realm, bool allow_anonymous, CheckPool& pool,
                        FailedLogins& failures);

  void authenticate(core::AuthRequest request, boost::asio::any_io_executor ex, Done done) const override;
  bool revoked(const core::ClientInfo& client) const override;

  // The check itself, on the calling thread (the pool's, or a test's).
  core::AuthDecision check(const core::AuthRequest& request) const;

 private:
  core::AuthDecision decide_without_password_check(const core::AuthRequest& request, bool& needs_check) const;
  void log_failure(const core::AuthRequest& request, const core::AuthDecision& decision) const;

  std::shared_ptr<const Realm> realm_;
  bool allow_anonymous_;
  CheckPool& pool_;
  FailedLogins& failures_;
};

}  // namespace outpost::auth
