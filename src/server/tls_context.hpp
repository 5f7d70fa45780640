// TLS server contexts: TlsSettings -> an OpenSSL context, and the per-listener holder that
// swaps in a freshly built one on SIGHUP.
//
// A context is immutable once built and shared: each handshake takes the current one, so a
// reload changes what new connections see and leaves the connected ones alone (an SSL
// object keeps its own reference to the SSL_CTX it was made from).
//
// Threading: make_tls_context may block on file reads (start-up and SIGHUP only, never on
// an I/O thread). TlsContextHolder::current() and reload() may be called from any thread.
#pragma once

#include "settings.hpp"

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <string>

namespace outpost::server {

// Builds a server context: the certificate chain and key, TLS 1.2 or 1.3 as the minimum
// (never older), the cipher lists, and client certificate checking against ca_file (and
// crl_file) when set. Throws std::runtime_error naming the setting and the file, e.g.
// "tls.key_file /etc/outpost/server.key: cannot read: No such file or directory".
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsSettings& tls);

// The common name of the verified client certificate of `ssl`, or "" when the peer sent
// none. Called after a successful handshake.
std::string peer_common_name(SSL* ssl);

class TlsContextHolder {
 public:
  explicit TlsContextHolder(TlsSettings settings)
      : settings_(std::move(settings)), context_(make_tls_context(settings_)) {}

  std::shared_ptr<boost::asio::ssl::context> current() const {
    std::lock_guard lock(mutex_);
    return context_;
  }
  const TlsSettings& settings() const noexcept { return settings_; }

  // Reads the files again and uses the result for new handshakes. On error, throws (as
  // make_tls_context) and keeps the context it had.
  void reload() {
    auto fresh = make_tls_context(settings_);
    std::lock_guard lock(mutex_);
    context_ = std::move(fresh);
  }

 private:
  const TlsSettings settings_;
  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> context_;
};

}  // namespace outpost::server
