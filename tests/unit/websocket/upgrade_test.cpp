#include "websocket/upgrade.hpp"

#include <boost/beast/http/field.hpp>
#include <gtest/gtest.h>

namespace outpost::websocket {
namespace {

namespace http = boost::beast::http;

// A request as a browser or paho sends it.
UpgradeRequest good_request(std::string target = "/mqtt") {
  UpgradeRequest r(http::verb::get, target, 11);
  r.set(http::field::host, "127.0.0.1:8080");
  r.set(http::field::upgrade, "websocket");
  r.set(http::field::connection, "Upgrade");
  r.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  r.set(http::field::sec_websocket_version, "13");
  r.set(http::field::sec_websocket_protocol, "mqtt");
  return r;
}

TEST(Upgrade, AcceptsTheMqttSubprotocolOnTheConfiguredPath) {
  const auto d = check_upgrade(good_request(), UpgradePolicy{});
  EXPECT_TRUE(d.accepted) << d.reason;
  EXPECT_EQ(d.subprotocol, "mqtt");
}

TEST(Upgrade, QueryStringIsNotPartOfThePath) {
  EXPECT_TRUE(check_upgrade(good_request("/mqtt?token=1"), UpgradePolicy{}).accepted);
}

TEST(Upgrade, WrongPathIsNotFound) {
  const auto d = check_upgrade(good_request("/other"), UpgradePolicy{});
  EXPECT_FALSE(d.accepted);
  EXPECT_EQ(d.status, http::status::not_found);
  EXPECT_EQ(d.reason, "no WebSocket endpoint at /other");
  UpgradePolicy custom;
  custom.path = "/ws";
  EXPECT_TRUE(check_upgrade(good_request("/ws"), custom).accepted);
  EXPECT_EQ(check_upgrade(good_request("/mqtt"), custom).status, http::status::not_found);
}

TEST(Upgrade, SubprotocolListsAndTheLegacyName) {
  auto r = good_request();
  r.set(http::field::sec_websocket_protocol, "chat, mqttv3.1");
  auto d = check_upgrade(r, UpgradePolicy{});
  EXPECT_TRUE(d.accepted);
  EXPECT_EQ(d.subprotocol, "mqttv3.1");
  // Offered in two headers, and both names: the server prefers "mqtt" [MQTT-6.0.0-4].
  r.set(http::field::sec_websocket_protocol, "mqttv3.1");
  r.insert(http::field::sec_websocket_protocol, " mqtt ");
  d = check_upgrade(r, UpgradePolicy{});
  EXPECT_TRUE(d.accepted);
  EXPECT_EQ(d.subprotocol, "mqtt");
}

TEST(Upgrade, NoAcceptableSubprotocolIsABadRequest) {
  auto r = good_request();
  r.set(http::field::sec_websocket_protocol, "chat, MQTT");
  auto d = check_upgrade(r, UpgradePolicy{});
  EXPECT_FALSE(d.accepted);
  EXPECT_EQ(d.status, http::status::bad_request);
  EXPECT_EQ(d.reason, "no acceptable subprotocol in 'chat, MQTT' (expected mqtt)");
  r.erase(http::field::sec_websocket_protocol);
  d = check_upgrade(r, UpgradePolicy{});
  EXPECT_EQ(d.status, http::status::bad_request);
  EXPECT_EQ(d.reason, "no WebSocket subprotocol offered (expected mqtt)");
}

TEST(Upgrade, OriginIsCheckedOnlyAgainstAConfiguredList) {
  auto r = good_request();
  r.set(http::field::origin, "https://evil.example");
  EXPECT_TRUE(check_upgrade(r, UpgradePolicy{}).accepted);
  UpgradePolicy policy;
  policy.allowed_origins = {"https://dashboard.example", "http://localhost:3000"};
  auto d = check_upgrade(r, policy);
  EXPECT_FALSE(d.accepted);
  EXPECT_EQ(d.status, http::status::forbidden);
  EXPECT_EQ(d.reason, "origin https://evil.example is not allowed");
  r.set(http::field::origin, "HTTPS://Dashboard.example");
  EXPECT_TRUE(check_upgrade(r, policy).accepted);
  // No Origin: not a browser, nothing for the check to protect.
  r.erase(http::field::origin);
  EXPECT_TRUE(check_upgrade(r, policy).accepted);
}

TEST(Upgrade, NotAnUpgradeOrNotAGet) {
  auto r = good_request();
  r.erase(http::field::upgrade);
  EXPECT_EQ(check_upgrade(r, UpgradePolicy{}).status, http::status::upgrade_required);
  r = good_request();
  r.set(http::field::connection, "keep-alive");
  EXPECT_EQ(check_upgrade(r, UpgradePolicy{}).status, http::status::upgrade_required);
  r.set(http::field::connection, "keep-alive, Upgrade");
  EXPECT_TRUE(check_upgrade(r, UpgradePolicy{}).accepted);
  r = good_request();
  r.method(http::verb::post);
  EXPECT_EQ(check_upgrade(r, UpgradePolicy{}).status, http::status::method_not_allowed);
  r = good_request();
  r.version(10);
  EXPECT_EQ(check_upgrade(r, UpgradePolicy{}).status, http::status::bad_request);
}

TEST(Upgrade, VersionAndKeyAreChecked) {
  auto r = good_request();
  r.set(http::field::sec_websocket_version, "8");
  EXPECT_EQ(check_upgrade(r, UpgradePolicy{}).status, http::status::upgrade_required);
  r = good_request();
  r.set(http::field::sec_websocket_key, "short");
  EXPECT_EQ(check_upgrade(r, UpgradePolicy{}).status, http::status::bad_request);
  r.erase(http::field::sec_websocket_key);
  EXPECT_EQ(check_upgrade(r, UpgradePolicy{}).status, http::status::bad_request);
}

TEST(Upgrade, RefusalResponseClosesAndNamesTheReason) {
  UpgradeDecision d;
  d.status = http::status::not_found;
  d.reason = "no WebSocket endpoint at /x";
  auto res = refusal_response(d, 11);
  EXPECT_EQ(res.result(), http::status::not_found);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(res.body(), "no WebSocket endpoint at /x\n");
  EXPECT_EQ(res[http::field::content_length], "28");
  d.status = http::status::upgrade_required;
  res = refusal_response(d, 11);
  EXPECT_EQ(res[http::field::sec_websocket_version], "13");
  EXPECT_EQ(res[http::field::upgrade], "websocket");
}

}  // namespace
}  // namespace outpost::websocket
