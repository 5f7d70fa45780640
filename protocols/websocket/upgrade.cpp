#include "websocket/upgrade.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <algorithm>
#include <cctype>

namespace outpost::websocket {

namespace http = boost::beast::http;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f on every comma-separated token of every `field` header, trimmed; stops when f
// returns true. True if it did.
template <class F>
bool any_token(const UpgradeRequest& req, http::field field, F&& f) {
  for (auto [it, end] = req.equal_range(field); it != end; ++it) {
    std::string_view rest(it->value().data(), it->value().size());
    while (!rest.empty()) {
      const auto comma = std::min(rest.find(','), rest.size());
      const std::string_view token = trim(rest.substr(0, comma));
      if (!token.empty() && f(token)) return true;
      rest.remove_prefix(std::min(comma + 1, rest.size()));
    }
  }
  return false;
}

bool has_token(const UpgradeRequest& req, http::field field, std::string_view wanted) {
  return any_token(req, field, [wanted](std::string_view t) { return iequals(t, wanted); });
}

UpgradeDecision refuse(http::status status, std::string reason) {
  UpgradeDecision d;
  d.status = status;
  d.reason = std::move(reason);
  return d;
}

}  // namespace

UpgradeDecision check_upgrade(const UpgradeRequest& req, const UpgradePolicy& policy) {
  // RFC 6455 4.2.1: an HTTP/1.1 (or later) GET.
  if (req.method() != http::verb::get) {
    return refuse(http::status::method_not_allowed,
                  "method " + std::string(req.method_string()) + " is not GET");
  }
  if (req.version() < 11) return refuse(http::status::bad_request, "the upgrade needs HTTP/1.1");
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, std::min(target.find('?'), target.size()));
  if (path != policy.path) {
    return refuse(http::status::not_found, "no WebSocket endpoint at " + std::string(path));
  }
  if (!has_token(req, http::field::upgrade, "websocket") || !has_token(req, http::field::connection, "upgrade")) {
    return refuse(http::status::upgrade_required, "not a WebSocket upgrade request");
  }
  if (req[http::field::sec_websocket_version] != "13") {
    return refuse(http::status::upgrade_required, "WebSocket version 13 is required");
  }
  // A base64-encoded 16-byte nonce is 24 characters.
  if (req[http::field::sec_websocket_key].size() != 24) {
    return refuse(http::status::bad_request, "missing or malformed Sec-WebSocket-Key");
  }
  if (!policy.allowed_origins.empty() && req.count(http::field::origin) != 0) {
    const auto origin = req[http::field::origin];
    const std::string_view o(origin.data(), origin.size());
    const bool allowed = std::any_of(policy.allowed_origins.begin(), policy.allowed_origins.end(),
                                     [o](const std::string& a) { return iequals(a, o); });
    if (!allowed) return refuse(http::status::forbidden, "origin " + std::string(o) + " is not allowed");
  }
  // The server's preference decides among the offered subprotocols.
  for (const auto& mine : policy.subprotocols) {
    if (any_token(req, http::field::sec_websocket_protocol, [&mine](std::string_view t) { return t == mine; })) {
      UpgradeDecision d;
      d.accepted = true;
      d.subprotocol = mine;
      return d;
    }
  }
  std::string offered;
  any_token(req, http::field::sec_websocket_protocol, [&offered](std::string_view t) {
    offered += (offered.empty() ? "" : ", ") + std::string(t);
    return false;
  });
  return refuse(http::status::bad_request, offered.empty() ? "no WebSocket subprotocol offered (expected mqtt)"
                                                           : "no acceptable subprotocol in '" + offered +
                                                                 "' (expected mqtt)");
}

HttpResponse refusal_response(const UpgradeDecision& decision, unsigned http_version) {
  HttpResponse res(decision.status, http_version < 10 ? 11 : http_version);
  res.set(http::field::server, "outpost");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::connection, "close");
  if (decision.status == http::status::upgrade_required) {
    res.set(http::field::upgrade, "websocket");
    res.set(http::field::sec_websocket_version, "13");
  }
  res.body() = decision.reason + "\n";
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

}  // namespace outpost::websocket
