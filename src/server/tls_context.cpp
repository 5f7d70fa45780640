#include "server/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdio>
#include <stdexcept>

namespace outpost::server {

namespace {

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

[[noreturn]] void fail(const std::string& what, const std::string& file) {
  throw std::runtime_error("TLS: " + what + " '" + file + "': " + openssl_error());
}

}  // namespace

TlsContextPtr build_tls_context(const TlsSettings& tls) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();
  // TLS 1.0 and 1.1 are refused; 1.2 unless the settings ask for 1.3 only.
  const int min = tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(native, min) != 1) fail("cannot set the minimum version", tls.min_version);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(native, tls.cert_file.c_str()) != 1) {
    fail("cannot load the certificate chain", tls.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(native, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    fail("cannot load the private key", tls.key_file);
  }
  if (SSL_CTX_check_private_key(native) != 1) fail("the private key does not match the certificate in", tls.cert_file);
  if (!tls.ciphers.empty() && SSL_CTX_set_cipher_list(native, tls.ciphers.c_str()) != 1) {
    fail("no usable cipher in", tls.ciphers);
  }
  if (!tls.ciphersuites.empty() && SSL_CTX_set_ciphersuites(native, tls.ciphersuites.c_str()) != 1) {
    fail("no usable TLS 1.3 cipher suite in", tls.ciphersuites);
  }
  if (!tls.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(native, tls.ca_file.c_str(), nullptr) != 1) {
      fail("cannot load the CA certificates", tls.ca_file);
    }
    // Ask for a client certificate; verify it when given, require it when configured.
    int mode = SSL_VERIFY_PEER;
    if (tls.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(native, mode, nullptr);
  }
  if (!tls.crl_file.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (lookup == nullptr || X509_load_crl_file(lookup, tls.crl_file.c_str(), X509_FILETYPE_PEM) <= 0) {
      fail("cannot load the certificate revocation list", tls.crl_file);
    }
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  return ctx;
}

std::string peer_common_name(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return {};
  std::string cn;
  X509_NAME* name = X509_get_subject_name(cert);
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx >= 0) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len > 0) cn.assign(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
  }
  X509_free(cert);
  return cn;
}

}  // namespace outpost::server
