// The WebSocket upgrade request of MQTT over WebSocket: what a listener accepts (path,
// subprotocol, origin) and the HTTP answer to a request it refuses. Pure functions of
// their arguments; any thread.
//
// RFC 6455 section 4.2.1 lists what an opening handshake must carry; MQTT section 6
// names the subprotocol: a client offers "mqtt" [MQTT-6.0.0-3] and the server selects it
// [MQTT-6.0.0-4]. "mqttv3.1" is what MQTT 3.1 clients offer.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace outpost::websocket {

using UpgradeRequest = boost::beast::http::request<boost::beast::http::empty_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

struct UpgradePolicy {
  std::string path = "/mqtt";  // compared without the query string
  // Origin headers accepted, compared without regard to case; empty = any. A request
  // without Origin is not from a browser and is accepted: the check protects browsers
  // from pages of other sites, not the broker from devices.
  std::vector<std::string> allowed_origins;
  // In order of preference when a client offers several.
  std::vector<std::string> subprotocols = {"mqtt", "mqttv3.1"};
};

struct UpgradeDecision {
  bool accepted = false;
  std::string subprotocol;  // accepted: the one to select in the 101 response
  boost::beast::http::status status = boost::beast::http::status::bad_request;  // refused
  std::string reason;  // refused: for the log line and the response body
};

UpgradeDecision check_upgrade(const UpgradeRequest& request, const UpgradePolicy& policy);

// The HTTP response that refuses an upgrade, with Connection: close (and, for 426, the
// WebSocket version this server speaks).
HttpResponse refusal_response(const UpgradeDecision& decision, unsigned http_version);

}  // namespace outpost::websocket
