// TLS for listeners: an OpenSSL context built from a listener's `tls:` settings, and the
// holder that lets SIGHUP swap in a new certificate and key while connected clients keep
// the context their handshake used.
//
// Threading: build_tls_context runs on the main thread (start-up, SIGHUP) and throws
// std::runtime_error naming the file at fault. TlsContextHolder::get() may be called
// from any thread.
#pragma once

#include "settings.hpp"

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <string>

namespace outpost::server {

using TlsContextPtr = std::shared_ptr<boost::asio::ssl::context>;

// TLS 1.2 or 1.3 only (min_version), the certificate chain and key, optional cipher
// lists, and for client certificates the CA file, the CRL and whether one is required.
TlsContextPtr build_tls_context(const TlsSettings& tls);

class TlsContextHolder {
 public:
  explicit TlsContextHolder(TlsContextPtr ctx) : ctx_(std::move(ctx)) {}
  TlsContextPtr get() const {
    std::lock_guard lock(mutex_);
    return ctx_;
  }
  void set(TlsContextPtr ctx) {
    std::lock_guard lock(mutex_);
    ctx_ = std::move(ctx);
  }

 private:
  mutable std::mutex mutex_;
  TlsContextPtr ctx_;
};

// The common name of the peer's verified certificate; empty if it sent none.
std::string peer_common_name(SSL* ssl);

}  // namespace outpost::server
