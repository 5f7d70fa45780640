#include "core/session_registry.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace outpost::core {
namespace {

struct TestSession : Session {
  using Session::Session;
  bool destroyed = false;
  void destroy() override { destroyed = true; }
};

struct TestOwner : SessionOwner {
  explicit TestOwner(boost::asio::io_context& context) : io(context) {}
  boost::asio::io_context& io;
  int taken_over = 0;
  boost::asio::any_io_executor executor() const override { return io.get_executor(); }
  void on_taken_over() override { ++taken_over; }
};

const ClientId c1_id{"c1"};

struct Claim {
  bool called = false;
  bool superseded = false;
  std::shared_ptr<Session> existing;
  SessionRegistry::ClaimCallback callback() {
    return [this](std::shared_ptr<Session> s, bool sup) {
      called = true;
      superseded = sup;
      existing = std::move(s);
    };
  }
};

struct RegistryTest : ::testing::Test {
  boost::asio::io_context io;
  SessionRegistry registry;
  void run() {
    io.restart();
    io.run();
  }
};

TEST_F(RegistryTest, FreshClaimHasNoSession) {
  auto owner = std::make_shared<TestOwner>(io);
  Claim c;
  registry.claim(c1_id, owner, io.get_executor(), c.callback());
  run();
  EXPECT_TRUE(c.called);
  EXPECT_FALSE(c.superseded);
  EXPECT_FALSE(c.existing);
  EXPECT_EQ(registry.connected(), 1u);
}

TEST_F(RegistryTest, KeptSessionIsResumed) {
  auto owner = std::make_shared<TestOwner>(io);
  Claim c1;
  registry.claim(c1_id, owner, io.get_executor(), c1.callback());
  run();
  auto s = std::make_shared<TestSession>(c1_id, 1);
  registry.release("c1", owner.get(), s, std::nullopt);
  EXPECT_EQ(registry.connected(), 0u);
  EXPECT_EQ(registry.size(), 1u);
  auto owner2 = std::make_shared<TestOwner>(io);
  Claim c2;
  registry.claim(c1_id, owner2, io.get_executor(), c2.callback());
  run();
  EXPECT_EQ(c2.existing, s);
}

TEST_F(RegistryTest, ReleaseWithoutSessionForgetsTheId) {
  auto owner = std::make_shared<TestOwner>(io);
  Claim c1;
  registry.claim(c1_id, owner, io.get_executor(), c1.callback());
  run();
  registry.release("c1", owner.get(), nullptr, std::nullopt);
  EXPECT_EQ(registry.size(), 0u);
}

TEST_F(RegistryTest, TakeoverWaitsForTheHolderToRelease) {
  auto holder = std::make_shared<TestOwner>(io);
  Claim c1;
  registry.claim(c1_id, holder, io.get_executor(), c1.callback());
  run();
  auto newcomer = std::make_shared<TestOwner>(io);
  Claim c2;
  registry.claim(c1_id, newcomer, io.get_executor(), c2.callback());
  run();
  EXPECT_EQ(holder->taken_over, 1);
  EXPECT_FALSE(c2.called);
  auto s = std::make_shared<TestSession>(c1_id, 1);
  registry.release("c1", holder.get(), s, std::nullopt);
  run();
  EXPECT_TRUE(c2.called);
  EXPECT_EQ(c2.existing, s);
}

TEST_F(RegistryTest, NewestClaimWins) {
  auto holder = std::make_shared<TestOwner>(io);
  Claim c1, c2, c3;
  registry.claim(c1_id, holder, io.get_executor(), c1.callback());
  run();
  auto o2 = std::make_shared<TestOwner>(io);
  auto o3 = std::make_shared<TestOwner>(io);
  registry.claim(c1_id, o2, io.get_executor(), c2.callback());
  registry.claim(c1_id, o3, io.get_executor(), c3.callback());
  run();
  EXPECT_TRUE(c2.called);
  EXPECT_TRUE(c2.superseded);
  registry.release("c1", holder.get(), nullptr, std::nullopt);
  run();
  EXPECT_TRUE(c3.called);
  EXPECT_FALSE(c3.superseded);
}

TEST_F(RegistryTest, ReleaseByNonHolderIsIgnored) {
  auto holder = std::make_shared<TestOwner>(io);
  Claim c1;
  registry.claim(c1_id, holder, io.get_executor(), c1.callback());
  run();
  TestOwner stranger(io);
  registry.release("c1", &stranger, nullptr, std::nullopt);
  EXPECT_EQ(registry.connected(), 1u);
}

TEST_F(RegistryTest, DeadHolderDoesNotBlockClaims) {
  auto holder = std::make_shared<TestOwner>(io);
  Claim c1;
  registry.claim(c1_id, holder, io.get_executor(), c1.callback());
  run();
  holder.reset();
  auto o2 = std::make_shared<TestOwner>(io);
  Claim c2;
  registry.claim(c1_id, o2, io.get_executor(), c2.callback());
  run();
  EXPECT_TRUE(c2.called);
}

TEST_F(RegistryTest, DetachedSessionsExpire) {
  auto owner = std::make_shared<TestOwner>(io);
  Claim c1;
  registry.claim(c1_id, owner, io.get_executor(), c1.callback());
  run();
  auto s = std::make_shared<TestSession>(c1_id, 1);
  registry.release("c1", owner.get(), s, std::chrono::seconds(10));
  EXPECT_EQ(registry.expire(Clock::now()), 0u);
  EXPECT_EQ(registry.expire(Clock::now() + std::chrono::seconds(11)), 1u);
  EXPECT_TRUE(s->destroyed);
  EXPECT_EQ(registry.size(), 0u);
}

TEST_F(RegistryTest, ClaimerThatDiedLeavesSessionDetached) {
  auto owner = std::make_shared<TestOwner>(io);
  Claim c1;
  registry.claim(c1_id, owner, io.get_executor(), c1.callback());
  run();
  auto s = std::make_shared<TestSession>(c1_id, 1);
  registry.release("c1", owner.get(), s, std::nullopt);
  auto o2 = std::make_shared<TestOwner>(io);
  Claim c2;
  registry.claim(c1_id, o2, io.get_executor(), c2.callback());
  o2.reset();  // gone before the hand-over ran
  run();
  EXPECT_FALSE(c2.called);
  auto o3 = std::make_shared<TestOwner>(io);
  Claim c3;
  registry.claim(c1_id, o3, io.get_executor(), c3.callback());
  run();
  EXPECT_EQ(c3.existing, s);
}

}  // namespace
}  // namespace outpost::core
