#include "auth/password_authenticator.hpp"
#include "auth/realm.hpp"
#include "auth/realm_access.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace outpost::auth {
namespace {

namespace fs = std::filesystem;

class TempFiles {
 public:
  TempFiles() : dir_(fs::temp_directory_path() / ("outpost-auth-test-" + std::to_string(::getpid()) + "-" +
                                                  std::to_string(counter_++))) {
    fs::create_directories(dir_);
  }
  ~TempFiles() { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
};

core::AuthRequest request(std::optional<std::string> user, std::optional<std::string> password,
                          std::string address = "10.0.0.1:40000") {
  core::AuthRequest r;
  r.listener = "mqtt 0.0.0.0:1883";
  r.remote_address = std::move(address);
  r.client_id = "c1";
  r.user = std::move(user);
  r.password = std::move(password);
  return r;
}

// Runs authenticate() and the executor until the answer arrives.
core::AuthDecision ask(const PasswordAuthenticator& a, core::AuthRequest r) {
  boost::asio::io_context io;
  std::optional<core::AuthDecision> got;
  a.authenticate(std::move(r), io.get_executor(), [&](core::AuthDecision d) { got = std::move(d); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!got && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(10));
    io.restart();
  }
  EXPECT_TRUE(got.has_value());
  return got.value_or(core::AuthDecision{});
}

class PasswordAuthenticatorTest : public testing::Test {
 protected:
  void SetUp() override {
    passwd_ = files_.write("passwd", "alice:" + hash_password("wonderland") + "\nbob:" + hash_password("builder") + "\n");
    realm_ = std::make_shared<Realm>(passwd_, "", std::vector<ConfiguredRule>{});
    realm_->load(true);
  }

  TempFiles files_;
  std::string passwd_;
  std::shared_ptr<Realm> realm_;
  CheckPool pool_{2, 100};
  FailedLogins failures_{5};
};

TEST_F(PasswordAuthenticatorTest, UsersOfThePasswordFile) {
  PasswordAuthenticator a(realm_, false, pool_, failures_);
  auto d = ask(a, request("alice", "wonderland"));
  EXPECT_EQ(d.status, core::AuthStatus::accepted);
  EXPECT_EQ(d.user, "alice");
  EXPECT_EQ(ask(a, request("alice", "builder")).status, core::AuthStatus::bad_credentials);
  EXPECT_EQ(ask(a, request("carol", "x")).status, core::AuthStatus::bad_credentials);
  EXPECT_EQ(ask(a, request("bob", std::nullopt)).status, core::AuthStatus::bad_credentials);
  EXPECT_EQ(ask(a, request(std::nullopt, std::nullopt)).status, core::AuthStatus::not_authorized);
}

TEST_F(PasswordAuthenticatorTest, AnonymousListenerStillChecksUserNames) {
  PasswordAuthenticator a(realm_, true, pool_, failures_);
  auto anonymous = ask(a, request(std::nullopt, std::nullopt));
  EXPECT_EQ(anonymous.status, core::AuthStatus::accepted);
  EXPECT_EQ(anonymous.user, "");
  // A user name given must be a valid one, as Mosquitto does.
  EXPECT_EQ(ask(a, request("alice", "nope")).status, core::AuthStatus::bad_credentials);
}

TEST_F(PasswordAuthenticatorTest, WithoutPasswordFileAUserNameIsALabelWhereAnonymousIsAllowed) {
  auto none = std::make_shared<Realm>("", "", std::vector<ConfiguredRule>{});
  none->load(true);
  PasswordAuthenticator open(none, true, pool_, failures_);
  auto d = ask(open, request("anyone", "anything"));
  EXPECT_EQ(d.status, core::AuthStatus::accepted);
  EXPECT_EQ(d.user, "anyone");
  PasswordAuthenticator closed(none, false, pool_, failures_);
  EXPECT_EQ(ask(closed, request("anyone", "anything")).status, core::AuthStatus::bad_credentials);
}

TEST_F(PasswordAuthenticatorTest, CertificateIdentityIsTheUser) {
  PasswordAuthenticator a(realm_, false, pool_, failures_);
  auto r = request(std::nullopt, std::nullopt);
  r.certificate_identity = "device-42";
  auto d = ask(a, r);
  EXPECT_EQ(d.status, core::AuthStatus::accepted);
  EXPECT_EQ(d.user, "device-42");
}

TEST_F(PasswordAuthenticatorTest, FailuresPerAddressAreLimited) {
  PasswordAuthenticator a(realm_, false, pool_, failures_);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ask(a, request("alice", "wrong", "10.0.0.9:1000")).status, core::AuthStatus::bad_credentials);
  // The sixth attempt from that address is refused without a check, even with the right password.
  auto d = ask(a, request("alice", "wonderland", "10.0.0.9:1001"));
  EXPECT_EQ(d.status, core::AuthStatus::bad_credentials);
  EXPECT_EQ(d.reason, "too many failed logins from this address");
  // Other addresses are not affected.
  EXPECT_EQ(ask(a, request("alice", "wonderland", "10.0.0.10:1000")).status, core::AuthStatus::accepted);
}

TEST(FailedLogins, WindowOfAMinute) {
  FailedLogins f(3);
  const auto t0 = FailedLogins::Clock::now();
  EXPECT_EQ(f.record("a", t0), FailedLogins::Log::yes);
  EXPECT_EQ(f.record("a", t0), FailedLogins::Log::yes);
  EXPECT_FALSE(f.blocked("a", t0));
  EXPECT_EQ(f.record("a", t0), FailedLogins::Log::last);
  EXPECT_TRUE(f.blocked("a", t0));
  EXPECT_EQ(f.record("a", t0), FailedLogins::Log::no);
  EXPECT_FALSE(f.blocked("b", t0));
  EXPECT_FALSE(f.blocked("a", t0 + std::chrono::seconds(61)));
  EXPECT_EQ(f.record("a", t0 + std::chrono::seconds(61)), FailedLogins::Log::yes);
}

TEST(FailedLogins, HostOfAnAddress) {
  EXPECT_EQ(FailedLogins::host_of("1.2.3.4:5678"), "1.2.3.4");
  EXPECT_EQ(FailedLogins::host_of("[::1]:5678"), "::1");
  EXPECT_EQ(FailedLogins::host_of("::1"), "::1");
  EXPECT_EQ(FailedLogins::host_of("host"), "host");
}

TEST(CheckPool, RefusesBeyondItsBound) {
  CheckPool pool(1, 1);
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.submit([&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ++ran;
  }));
  EXPECT_FALSE(pool.submit([&] { ++ran; }));
  release = true;
  pool.stop();
  EXPECT_EQ(ran, 1);
  EXPECT_FALSE(pool.submit([] {}));
}

TEST_F(PasswordAuthenticatorTest, RemovedUserIsRevokedAfterReload) {
  PasswordAuthenticator a(realm_, false, pool_, failures_);
  core::ClientInfo alice;
  alice.user = core::ClientId("alice");
  core::ClientInfo anonymous;
  EXPECT_FALSE(a.revoked(alice));
  std::ofstream(passwd_) << "bob:" << hash_password("builder") << "\n";
  ASSERT_TRUE(realm_->load(false));
  EXPECT_TRUE(a.revoked(alice));
  EXPECT_FALSE(a.revoked(anonymous));
  // A user a plugin accepted is not the password file's to revoke.
  core::ClientInfo carol;
  carol.user = core::ClientId("carol");
  carol.plugin_authenticated = true;
  EXPECT_FALSE(a.revoked(carol));
  EXPECT_EQ(ask(a, request("alice", "wonderland")).status, core::AuthStatus::bad_credentials);
}

TEST_F(PasswordAuthenticatorTest, ReloadWithAProblemKeepsTheRulesInForce) {
  std::ofstream(passwd_) << "this is not a password line\n";
  EXPECT_FALSE(realm_->load(false));
  PasswordAuthenticator a(realm_, false, pool_, failures_);
  EXPECT_EQ(ask(a, request("alice", "wonderland")).status, core::AuthStatus::accepted);
  std::filesystem::remove(passwd_);
  EXPECT_FALSE(realm_->load(false));
  EXPECT_EQ(ask(a, request("alice", "wonderland")).status, core::AuthStatus::accepted);
  // At start, a missing file is an error.
  Realm fresh(passwd_, "", {});
  EXPECT_THROW(fresh.load(true), std::runtime_error);
}

TEST(PermissionTable, RabbitMqStyleExpressions) {
  using P = core::AccessControl::Permission;
  PermissionTable none;
  EXPECT_TRUE(none.allows("anyone", P::configure, "q"));
  PermissionTable t({{"alice", ResourcePermissions{"^alice\\..*", ".*", "^(alice\\..*|amq\\.topic)$"}},
                     {"", ResourcePermissions{"^$", "^amq\\.topic$", "^$"}}});
  EXPECT_TRUE(t.allows("alice", P::configure, "alice.jobs"));
  EXPECT_FALSE(t.allows("alice", P::configure, "bob.jobs"));
  EXPECT_FALSE(t.allows("alice", P::configure, "xalice.jobs"));  // the whole name must match
  EXPECT_TRUE(t.allows("alice", P::read, "amq.topic"));
  EXPECT_TRUE(t.allows("", P::write, "amq.topic"));
  EXPECT_FALSE(t.allows("", P::configure, "q"));
  EXPECT_FALSE(t.allows("bob", P::read, "amq.topic"));  // no entry: nothing, once entries exist
}

TEST(RealmAccess, DefaultExchangeIsCheckedAsAmqDefault) {
  using P = core::AccessControl::Permission;
  using R = core::AccessControl::Resource;
  auto table = std::make_shared<const PermissionTable>(
      std::vector<std::pair<std::string, ResourcePermissions>>{{"", ResourcePermissions{".*", "^amq\\.default$", ".*"}}});
  RealmAccess access(nullptr, table);
  core::ClientInfo client;
  client.protocol = core::Protocol::amqp;
  EXPECT_TRUE(access.may_use(client, P::write, R::exchange, ""));
  EXPECT_FALSE(access.may_use(client, P::write, R::exchange, "amq.topic"));
  EXPECT_FALSE(access.may_publish(client, "amq.topic", "a/b"));
  // MQTT clients are governed by the topic rules only.
  client.protocol = core::Protocol::mqtt;
  EXPECT_TRUE(access.may_publish(client, "amq.topic", "a/b"));
}

}  // namespace
}  // namespace outpost::auth
