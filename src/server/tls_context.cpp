#include "server/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace outpost::server {

namespace {

// OpenSSL's queued errors as one line (and the queue emptied), for messages.
std::string openssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    // "error:0A000086:SSL routines::certificate verify failed" -> keep the reason part.
    std::string text(buf);
    if (const auto colon = text.rfind(':'); colon != std::string::npos && colon + 1 < text.size()) {
      text = text.substr(colon + 1);
    }
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

[[noreturn]] void fail(const std::string& key, const std::string& file, const std::string& why) {
  ERR_clear_error();
  throw std::runtime_error("tls." + key + " " + file + ": " + why);
}

// The OS's reason first: "No such file or directory" says more than OpenSSL's "system lib".
void check_readable(const std::string& key, const std::string& file) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) fail(key, file, std::string("cannot read: ") + std::strerror(errno));
  std::fclose(f);
}

// Every CRL in a PEM file, added to the store that checks client certificates.
void load_crls(SSL_CTX* ctx, const std::string& file) {
  check_readable("crl_file", file);
  BIO* bio = BIO_new_file(file.c_str(), "r");
  if (bio == nullptr) fail("crl_file", file, "cannot read: " + openssl_errors());
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr)) {
    const int ok = X509_STORE_add_crl(store, crl);
    X509_CRL_free(crl);
    if (ok != 1) {
      BIO_free(bio);
      fail("crl_file", file, "cannot use a revocation list: " + openssl_errors());
    }
    ++count;
  }
  BIO_free(bio);
  ERR_clear_error();  // the end of the file reads as "no start line"
  if (count == 0) fail("crl_file", file, "no PEM certificate revocation list found");
  // Only the client's own certificate is checked: a CRL per intermediate CA is not required.
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsSettings& tls) {
  namespace ssl = boost::asio::ssl;
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                   ssl::context::single_dh_use);
  // TLS 1.0 and 1.1 are never offered, whatever the configuration says.
  const int min_version = tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(native, min_version) != 1) {
    throw std::runtime_error("tls.min_version " + tls.min_version + ": " + openssl_errors());
  }
  if (!tls.ciphers.empty() && SSL_CTX_set_cipher_list(native, tls.ciphers.c_str()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("tls.ciphers '" + tls.ciphers + "': no cipher in this list is known to OpenSSL");
  }
  if (!tls.ciphersuites.empty() && SSL_CTX_set_ciphersuites(native, tls.ciphersuites.c_str()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("tls.ciphersuites '" + tls.ciphersuites +
                             "': not a list of TLS 1.3 suites known to OpenSSL (e.g. TLS_AES_128_GCM_SHA256)");
  }

  check_readable("cert_file", tls.cert_file);
  if (SSL_CTX_use_certificate_chain_file(native, tls.cert_file.c_str()) != 1) {
    fail("cert_file", tls.cert_file, "not a PEM certificate chain: " + openssl_errors());
  }
  check_readable("key_file", tls.key_file);
  // Read apart from using it, so a key that does not match the certificate is told from
  // one that cannot be read.
  EVP_PKEY* key = nullptr;
  if (BIO* bio = BIO_new_file(tls.key_file.c_str(), "r")) {
    key = PEM_read_bio_PrivateKey(bio, nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
    BIO_free(bio);
  }
  if (key == nullptr) {
    fail("key_file", tls.key_file, "not a PEM private key (or one protected by a passphrase): " + openssl_errors());
  }
  const int used = SSL_CTX_use_PrivateKey(native, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(native) != 1) {
    fail("key_file", tls.key_file, "does not belong to the certificate in " + tls.cert_file);
  }

  if (!tls.ca_file.empty()) {
    check_readable("ca_file", tls.ca_file);
    if (SSL_CTX_load_verify_locations(native, tls.ca_file.c_str(), nullptr) != 1) {
      fail("ca_file", tls.ca_file, "not a PEM CA certificate: " + openssl_errors());
    }
    // Tells clients which CAs their certificate must come from.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
    if (!tls.crl_file.empty()) load_crls(native, tls.crl_file);
    int mode = SSL_VERIFY_PEER;
    if (tls.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(native, mode, nullptr);
    // Session resumption with client certificates needs a context id, or OpenSSL refuses
    // every resumed session.
    static const unsigned char kSessionContext[] = "outpost";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  } else {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  ERR_clear_error();
  return ctx;
}

std::string peer_common_name(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return {};
  std::string out;
  X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, data);
    if (n > 0) out.assign(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
    OPENSSL_free(utf8);
  }
  X509_free(cert);
  return out;
}

}  // namespace outpost::server
