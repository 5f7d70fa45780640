// TLS settings -> context: what a configuration error says (the setting and the file),
// and what a good configuration allows. Keys and certificates are made here with OpenSSL.
#include "server/server.hpp"
#include "server/tls_context.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace outpost::server {
namespace {

namespace fs = std::filesystem;

// A P-256 key and a self-signed certificate for it, as PEM files.
void write_key_and_cert(const fs::path& key_file, const fs::path& cert_file, const char* cn) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  std::FILE* f = std::fopen(key_file.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(cert_file.c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("outpost-tls-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    write_key_and_cert(dir_ / "server.key", dir_ / "server.crt", "localhost");
    write_key_and_cert(dir_ / "other.key", dir_ / "other.crt", "other");
    settings_.cert_file = (dir_ / "server.crt").string();
    settings_.key_file = (dir_ / "server.key").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string error_of(const TlsSettings& s) {
    try {
      make_tls_context(s);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "no error";
  }
  std::string file(const char* name) { return (dir_ / name).string(); }

  fs::path dir_;
  TlsSettings settings_;
};

TEST_F(TlsContextTest, GoodFilesMakeAContextWithTls12AsTheMinimum) {
  auto ctx = make_tls_context(settings_);
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx->native_handle()), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx->native_handle()), SSL_VERIFY_NONE);
  settings_.min_version = "1.3";
  EXPECT_EQ(SSL_CTX_get_min_proto_version(make_tls_context(settings_)->native_handle()), TLS1_3_VERSION);
}

TEST_F(TlsContextTest, ClientCertificatesAreAskedForWithACaAndRequiredWhenConfigured) {
  settings_.ca_file = file("other.crt");
  EXPECT_EQ(SSL_CTX_get_verify_mode(make_tls_context(settings_)->native_handle()), SSL_VERIFY_PEER);
  settings_.require_client_cert = true;
  EXPECT_EQ(SSL_CTX_get_verify_mode(make_tls_context(settings_)->native_handle()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
}

TEST_F(TlsContextTest, MissingFilesAreNamedWithTheSetting) {
  settings_.cert_file = file("nope.crt");
  EXPECT_EQ(error_of(settings_), "tls.cert_file " + file("nope.crt") + ": cannot read: No such file or directory");
  settings_.cert_file = file("server.crt");
  settings_.key_file = file("nope.key");
  EXPECT_EQ(error_of(settings_), "tls.key_file " + file("nope.key") + ": cannot read: No such file or directory");
  settings_.key_file = file("server.key");
  settings_.ca_file = file("nope-ca.crt");
  EXPECT_EQ(error_of(settings_), "tls.ca_file " + file("nope-ca.crt") + ": cannot read: No such file or directory");
  settings_.ca_file = file("other.crt");
  settings_.crl_file = file("nope.crl");
  EXPECT_EQ(error_of(settings_), "tls.crl_file " + file("nope.crl") + ": cannot read: No such file or directory");
}

TEST_F(TlsContextTest, UnusableContentIsNamedWithTheSetting) {
  std::ofstream(file("garbage.pem")) << "not a certificate\n";
  settings_.cert_file = file("garbage.pem");
  EXPECT_EQ(error_of(settings_).rfind("tls.cert_file " + file("garbage.pem") + ": not a PEM certificate chain", 0), 0u)
      << error_of(settings_);
  settings_.cert_file = file("server.crt");
  settings_.key_file = file("garbage.pem");
  EXPECT_EQ(error_of(settings_).rfind("tls.key_file " + file("garbage.pem") + ": not a PEM private key", 0), 0u)
      << error_of(settings_);
  settings_.key_file = file("other.key");
  EXPECT_EQ(error_of(settings_),
            "tls.key_file " + file("other.key") + ": does not belong to the certificate in " + file("server.crt"));
  settings_.key_file = file("server.key");
  settings_.ca_file = file("other.crt");
  settings_.crl_file = file("other.crt");
  EXPECT_EQ(error_of(settings_), "tls.crl_file " + file("other.crt") + ": no PEM certificate revocation list found");
}

TEST_F(TlsContextTest, UnknownCipherListsAreNamed) {
  settings_.ciphers = "NO-SUCH-CIPHER";
  EXPECT_EQ(error_of(settings_), "tls.ciphers 'NO-SUCH-CIPHER': no cipher in this list is known to OpenSSL");
  settings_.ciphers = "ECDHE+AESGCM";
  settings_.ciphersuites = "TLS_NOPE";
  EXPECT_EQ(error_of(settings_).rfind("tls.ciphersuites 'TLS_NOPE': not a list of TLS 1.3 suites", 0), 0u);
  settings_.ciphersuites = "TLS_AES_128_GCM_SHA256";
  EXPECT_NO_THROW(make_tls_context(settings_));
}

TEST_F(TlsContextTest, ReloadKeepsTheOldContextWhenTheNewFilesAreBad) {
  TlsContextHolder holder(settings_);
  auto first = holder.current();
  holder.reload();
  EXPECT_NE(holder.current(), first);
  auto second = holder.current();
  fs::remove(dir_ / "server.key");
  EXPECT_THROW(holder.reload(), std::runtime_error);
  EXPECT_EQ(holder.current(), second);
}

TEST_F(TlsContextTest, ATlsListenerWithAnUnreadableKeyStopsTheStart) {
  Server server(1);
  ListenerSettings l;
  l.protocol = ListenerProtocol::mqtts;
  l.port = 0;
  l.tls = settings_;
  l.tls->key_file = file("missing.key");
  try {
    server.add_listener(l, [](proto::Link&) -> std::unique_ptr<proto::Session> { return nullptr; });
    FAIL() << "a listener without its key started";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot listen for mqtts on 127.0.0.1:0: tls.key_file " + file("missing.key") +
                                         ": cannot read: No such file or directory");
  }
}

}  // namespace
}  // namespace outpost::server
