// HTTP/1.1 over a protocol link: requests are parsed as their bytes arrive (Boost.Beast's
// request parser), handed one at a time to a Handler, and answered in order, with
// keep-alive. Used by the http and https listeners (metrics, health, admin API, status page).
//
// Limits: headers up to 8 KiB, a body up to 64 KiB; a request must arrive whole within 10
// s of its first byte, and an idle keep-alive connection is closed after 30 s. Anything
// malformed gets 400 (or 413/431) and the connection is closed.
//
// Threading: the session lives on its connection's thread. A handler may answer later and
// from any thread (the answer is posted back); a connection gone meanwhile drops it.
#pragma once

#include "common/link.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::http {

struct Request {
  std::string method;         // "GET", "HEAD", "POST", ...
  std::string target;         // as sent: "/api/v1/clients?x=1"
  std::string path;           // the target before '?'
  std::string query;          // after '?', without it
  std::string authorization;  // the Authorization header, if any
  std::string body;
  std::string remote_address;  // "1.2.3.4:5678"
  std::string transport;       // "tcp", "tls"
  boost::asio::any_io_executor executor;  // the connection's thread (for asynchronous checks)
};

struct Response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones

  static Response text(unsigned status, std::string body);
  static Response json(unsigned status, std::string body);
};

// Called exactly once per request, from any thread.
using Responder = std::function<void(Response)>;

class Handler {
 public:
  virtual ~Handler() = default;
  // On the connection's thread. Answer through `done` now or later.
  virtual void handle(Request request, Responder done) = 0;
};

// The reason phrase of a status code ("OK", "Not Found", ...).
std::string_view reason_phrase(unsigned status) noexcept;

// A listener's sessions; `handler` is shared by all of them.
proto::SessionFactory make_session_factory(std::shared_ptr<Handler> handler);

}  // namespace outpost::http
