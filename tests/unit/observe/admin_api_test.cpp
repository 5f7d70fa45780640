// The admin part of the http listener: the JSON of clients and queues, and what HttpApi
// answers to which method, path and gate verdict.
#include "core/broker.hpp"
#include "observe/admin_json.hpp"
#include "observe/http_api.hpp"
#include "store/store.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace outpost::observe {
namespace {

TEST(AdminJson, Iso8601InUtc) {
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(iso8601_utc(1700000000123), "2023-11-14T22:13:20Z");
}

TEST(AdminJson, Clients) {
  core::ClientRow mqtt;
  mqtt.record.protocol = core::Protocol::mqtt;
  mqtt.record.id = "sensor \"1\"";
  mqtt.record.protocol_version = "5.0";
  mqtt.record.listener = "mqtt 127.0.0.1:1883";
  mqtt.record.remote_address = "127.0.0.1:40000";
  mqtt.record.connected_unix_ms = 1700000000999;
  mqtt.figures = {3, 7, 2};
  core::ClientRow amqp;
  amqp.record.protocol = core::Protocol::amqp;
  amqp.record.id = "orders";
  amqp.record.protocol_version = "0-9-1";
  amqp.record.user = "svc";
  amqp.record.connected_unix_ms = 1700000001000;
  EXPECT_EQ(clients_json({}), "[]");
  EXPECT_EQ(clients_json({mqtt, amqp}),
            "[{\"id\":\"sensor \\\"1\\\"\",\"protocol\":\"mqtt\",\"protocol_version\":\"5.0\","
            "\"listener\":\"mqtt 127.0.0.1:1883\",\"remote_address\":\"127.0.0.1:40000\",\"user\":null,"
            "\"connected_since\":\"2023-11-14T22:13:20Z\",\"connected_since_unix\":1700000000,\"subscriptions\":3,"
            "\"queued\":7,\"in_flight\":2},"
            "{\"id\":\"orders\",\"protocol\":\"amqp\",\"protocol_version\":\"0-9-1\",\"listener\":\"\","
            "\"remote_address\":\"\",\"user\":\"svc\",\"connected_since\":\"2023-11-14T22:13:21Z\","
            "\"connected_since_unix\":1700000001,\"subscriptions\":0,\"queued\":0,\"in_flight\":0}]");
}

TEST(AdminJson, Queues) {
  EXPECT_EQ(queues_json({{"jobs", true, 4, 400, 1, 2}}),
            "[{\"name\":\"jobs\",\"protocol\":\"amqp\",\"durable\":true,\"messages\":4,\"bytes\":400,"
            "\"consumers\":1,\"dropped\":2}]");
}

struct KickMe final : core::LiveClient {
  std::string by;
  std::optional<core::ClientFigures> figures() override { return core::ClientFigures{1, 2, 3}; }
  void kick(const std::string& who) override { by = who; }
};

class HttpApiTest : public ::testing::Test {
 protected:
  store::MemoryStore store;
  core::Broker broker{store};
  Observer observer{broker, "test", 0};
  HttpApi::Verdict verdict = HttpApi::Verdict::allow;
  std::shared_ptr<HttpApi> api = std::make_shared<HttpApi>(
      observer, broker.clients(), [] { return std::vector<QueueSample>{{"q", false, 1, 10, 0, 0}}; },
      std::vector<ReadinessCheck>{},
      [this](const http::Request& r, std::function<void(HttpApi::GateAnswer)> answer) {
        answer({verdict, "admin 'root' from " + r.remote_address});
      });
  boost::asio::io_context io;

  http::Response ask(std::string method, std::string path) {
    http::Request r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.target = r.path;
    r.remote_address = "127.0.0.1:9";
    std::optional<http::Response> out;
    api->handle(std::move(r), [&](http::Response response) { out = std::move(response); });
    io.run();
    io.restart();
    EXPECT_TRUE(out);
    return out ? *out : http::Response{};
  }
  static std::string header(const http::Response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return {};
  }
};

TEST_F(HttpApiTest, MethodsPerPath) {
  EXPECT_EQ(ask("GET", "/api/v1/clients").status, 200u);
  EXPECT_EQ(ask("HEAD", "/api/v1/queues").status, 200u);
  auto r = ask("POST", "/api/v1/clients");
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(header(r, "Allow"), "GET, HEAD");
  r = ask("GET", "/api/v1/clients/x/disconnect");
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(header(r, "Allow"), "POST");
  EXPECT_EQ(ask("DELETE", "/metrics").status, 405u);
  EXPECT_EQ(ask("GET", "/nothing").status, 404u);
  EXPECT_EQ(ask("POST", "/api/v1/clients//disconnect").status, 404u);
  EXPECT_EQ(ask("POST", "/api/v1/clients/a/b/disconnect").status, 404u);
}

TEST_F(HttpApiTest, ListsClientsAndQueues) {
  auto client = std::make_shared<KickMe>();
  core::ClientRecord rec;
  rec.id = "dev";
  core::DirectoryEntry e(broker.clients(), broker.clients().add(rec, io.get_executor(), client));
  auto r = ask("GET", "/api/v1/clients");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_NE(r.body.find("\"id\":\"dev\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"in_flight\":3"), std::string::npos) << r.body;
  EXPECT_NE(ask("GET", "/api/v1/queues").body.find("\"name\":\"q\""), std::string::npos);
}

TEST_F(HttpApiTest, DisconnectDecodesTheIdAndSaysWhoAsked) {
  auto client = std::make_shared<KickMe>();
  core::ClientRecord rec;
  rec.id = "room 1/temp";
  core::DirectoryEntry e(broker.clients(), broker.clients().add(rec, io.get_executor(), client));
  EXPECT_EQ(ask("POST", "/api/v1/clients/room%201%2Ftemp/disconnect").status, 202u);
  EXPECT_EQ(client->by, "admin 'root' from 127.0.0.1:9");
  EXPECT_EQ(ask("POST", "/api/v1/clients/room%202/disconnect").status, 404u);
  EXPECT_EQ(ask("POST", "/api/v1/clients/bad%zz/disconnect").status, 400u);
}

TEST_F(HttpApiTest, GateVerdicts) {
  verdict = HttpApi::Verdict::unauthorized;
  auto r = ask("GET", "/api/v1/clients");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(header(r, "WWW-Authenticate").rfind("Basic realm=\"outpost\"", 0), 0u);
  verdict = HttpApi::Verdict::not_admin;
  EXPECT_EQ(ask("GET", "/api/v1/clients").status, 403u);
  verdict = HttpApi::Verdict::closed;
  EXPECT_EQ(ask("POST", "/api/v1/clients/x/disconnect").status, 403u);
  // Unknown paths and wrong methods are told before any login.
  EXPECT_EQ(ask("GET", "/nothing").status, 404u);
}

}  // namespace
}  // namespace outpost::observe
