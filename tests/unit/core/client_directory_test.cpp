// The directory of connected clients: figures asked on each client's own executor, clients
// gone meanwhile left out, kicks reaching every connection of an id.
#include "core/client_directory.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace outpost::core {
namespace {

struct FakeClient final : LiveClient {
  bool alive = true;
  ClientFigures f;
  std::vector<std::string> kicked_by;
  std::optional<ClientFigures> figures() override {
    if (!alive) return std::nullopt;
    return f;
  }
  void kick(const std::string& by) override { kicked_by.push_back(by); }
};

ClientRecord record(std::string id, Protocol p = Protocol::mqtt) {
  ClientRecord r;
  r.protocol = p;
  r.id = std::move(id);
  r.protocol_version = p == Protocol::mqtt ? "5.0" : "0-9-1";
  r.remote_address = "127.0.0.1:1000";
  return r;
}

TEST(ClientDirectory, ListsEveryClientWithItsFiguresInConnectionOrder) {
  boost::asio::io_context io1, io2;
  ClientDirectory d;
  auto a = std::make_shared<FakeClient>();
  a->f = {2, 5, 1};
  auto b = std::make_shared<FakeClient>();
  b->f = {1, 0, 3};
  DirectoryEntry ea(d, d.add(record("a"), io1.get_executor(), a));
  DirectoryEntry eb(d, d.add(record("b", Protocol::amqp), io2.get_executor(), b));
  EXPECT_EQ(d.size(), 2u);
  std::optional<std::vector<ClientRow>> rows;
  d.list([&](std::vector<ClientRow> r) { rows = std::move(r); });
  EXPECT_FALSE(rows);  // nothing answers before the clients' threads ran
  io1.run();
  EXPECT_FALSE(rows);
  io2.run();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].record.id, "a");
  EXPECT_EQ((*rows)[0].figures.subscriptions, 2u);
  EXPECT_EQ((*rows)[0].figures.queued, 5u);
  EXPECT_EQ((*rows)[0].figures.in_flight, 1u);
  EXPECT_EQ((*rows)[1].record.id, "b");
  EXPECT_EQ((*rows)[1].record.protocol, Protocol::amqp);
  EXPECT_EQ((*rows)[1].figures.in_flight, 3u);
}

TEST(ClientDirectory, AnswersAtOnceWhenNobodyIsConnected) {
  ClientDirectory d;
  bool called = false;
  d.list([&](std::vector<ClientRow> r) {
    called = true;
    EXPECT_TRUE(r.empty());
  });
  EXPECT_TRUE(called);
}

TEST(ClientDirectory, LeavesOutClientsThatEndedBeforeAnswering) {
  boost::asio::io_context io;
  ClientDirectory d;
  auto a = std::make_shared<FakeClient>();
  auto b = std::make_shared<FakeClient>();
  auto c = std::make_shared<FakeClient>();
  DirectoryEntry ea(d, d.add(record("a"), io.get_executor(), a));
  DirectoryEntry eb(d, d.add(record("b"), io.get_executor(), b));
  DirectoryEntry ec(d, d.add(record("c"), io.get_executor(), c));
  std::optional<std::vector<ClientRow>> rows;
  d.list([&](std::vector<ClientRow> r) { rows = std::move(r); });
  b->alive = false;  // its session ended (the handle stays, its session pointer is cleared)
  c.reset();         // its handle is gone altogether
  io.run();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].record.id, "a");
}

TEST(ClientDirectory, RemovedWhenTheEntryGoes) {
  boost::asio::io_context io;
  ClientDirectory d;
  auto a = std::make_shared<FakeClient>();
  {
    DirectoryEntry e(d, d.add(record("a"), io.get_executor(), a));
    EXPECT_EQ(d.size(), 1u);
    DirectoryEntry moved = std::move(e);
    EXPECT_EQ(d.size(), 1u);
  }
  EXPECT_EQ(d.size(), 0u);
  EXPECT_EQ(d.kick("a", "test"), 0u);
}

TEST(ClientDirectory, KickReachesEveryConnectionOfTheIdOnItsThread) {
  boost::asio::io_context io;
  ClientDirectory d;
  auto a1 = std::make_shared<FakeClient>();
  auto a2 = std::make_shared<FakeClient>();
  auto b = std::make_shared<FakeClient>();
  DirectoryEntry e1(d, d.add(record("orders", Protocol::amqp), io.get_executor(), a1));
  DirectoryEntry e2(d, d.add(record("orders", Protocol::amqp), io.get_executor(), a2));
  DirectoryEntry e3(d, d.add(record("sensor"), io.get_executor(), b));
  EXPECT_EQ(d.kick("orders", "admin 'root'"), 2u);
  EXPECT_TRUE(a1->kicked_by.empty());  // not before the client's thread runs it
  io.run();
  ASSERT_EQ(a1->kicked_by.size(), 1u);
  EXPECT_EQ(a1->kicked_by[0], "admin 'root'");
  EXPECT_EQ(a2->kicked_by.size(), 1u);
  EXPECT_TRUE(b->kicked_by.empty());
  EXPECT_EQ(d.kick("nobody", "x"), 0u);
}

}  // namespace
}  // namespace outpost::core
