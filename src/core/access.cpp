#include "core/access.hpp"

#include <boost/asio/post.hpp>

namespace outpost::core {

const char* to_string(Protocol p) noexcept {
  switch (p) {
    case Protocol::broker: return "broker";
    case Protocol::mqtt: return "mqtt";
    case Protocol::amqp: return "amqp";
    case Protocol::plugin: return "plugin";
  }
  return "?";
}

const char* to_string(AccessControl::Permission p) noexcept {
  switch (p) {
    case AccessControl::Permission::configure: return "configure";
    case AccessControl::Permission::write: return "write";
    case AccessControl::Permission::read: return "read";
  }
  return "?";
}

const char* to_string(AccessControl::Resource r) noexcept {
  return r == AccessControl::Resource::exchange ? "exchange" : "queue";
}

AuthDecision AnonymousAuthenticator::decide(const AuthRequest& request, bool allow_anonymous) {
  if (!request.certificate_identity.empty()) {
    // The TLS handshake verified the certificate; its identity is the user.
    return AuthDecision{AuthStatus::accepted, request.certificate_identity, {}};
  }
  if (allow_anonymous) return AuthDecision{AuthStatus::accepted, request.user.value_or(std::string()), {}};
  if (!request.user) return AuthDecision{AuthStatus::not_authorized, {}, "anonymous access is not allowed on this listener"};
  return AuthDecision{AuthStatus::bad_credentials, {}, "no authentication backend accepts this user"};
}

void AnonymousAuthenticator::authenticate(AuthRequest request, boost::asio::any_io_executor ex, Done done) const {
  boost::asio::post(ex, [decision = decide(request, allow_anonymous_), done = std::move(done)]() mutable {
    done(std::move(decision));
  });
}

}  // namespace outpost::core
