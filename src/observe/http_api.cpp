#include "observe/http_api.hpp"

#include "http/credentials.hpp"
#include "observe/admin_json.hpp"
#include "observe/prometheus.hpp"
#include "observe/status_json.hpp"

#include <spdlog/spdlog.h>

#include <string_view>

namespace outpost::observe {

namespace {

constexpr std::string_view kClientsPrefix = "/api/v1/clients/";
constexpr std::string_view kDisconnectSuffix = "/disconnect";

bool is_read_path(std::string_view p) {
  return p == "/metrics" || p == "/healthz" || p == "/readyz" || p == "/" || p == "/api/v1/status" ||
         p == "/api/v1/clients" || p == "/api/v1/queues";
}

// "/api/v1/clients/{id}/disconnect" -> the id as sent (still percent-encoded); "" otherwise.
std::string_view disconnect_target(std::string_view p) {
  if (p.size() <= kClientsPrefix.size() + kDisconnectSuffix.size() || !p.starts_with(kClientsPrefix) ||
      !p.ends_with(kDisconnectSuffix)) {
    return {};
  }
  p.remove_prefix(kClientsPrefix.size());
  p.remove_suffix(kDisconnectSuffix.size());
  return p.find('/') == std::string_view::npos ? p : std::string_view();
}

http::Response method_not_allowed(std::string_view allow) {
  auto r = http::Response::text(405, "method not allowed here; allowed: " + std::string(allow) + "\n");
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

}  // namespace

HttpApi::HttpApi(Observer& observer, core::ClientDirectory& clients, QueueList queues,
                 std::vector<ReadinessCheck> checks, Gate gate)
    : observer_(observer),
      clients_(clients),
      queues_(std::move(queues)),
      checks_(std::move(checks)),
      gate_(std::move(gate)) {}

std::string HttpApi::readiness_problems() const {
  std::string out;
  for (const auto& c : checks_) {
    if (std::string p = c.problem(); !p.empty()) {
      out += c.name;
      out += ": ";
      out += p;
      out += '\n';
    }
  }
  return out;
}

void HttpApi::handle(http::Request request, http::Responder done) {
  const std::string& path = request.path;
  const bool read = is_read_path(path);
  const bool command = !read && !disconnect_target(path).empty();
  if (!read && !command) {
    done(http::Response::text(404, "not found: " + path + " (try /, /metrics, /healthz, /readyz or /api/v1/clients)\n"));
    return;
  }
  const bool is_get = request.method == "GET" || request.method == "HEAD";
  if (read && !is_get) {
    done(method_not_allowed("GET, HEAD"));
    return;
  }
  if (command && request.method != "POST") {
    done(method_not_allowed("POST"));
    return;
  }
  if (!gate_) {
    serve(request, request.remote_address, std::move(done));
    return;
  }
  // The request outlives this call: the gate may answer from another thread.
  auto req = std::make_shared<http::Request>(std::move(request));
  gate_(*req, [self = shared_from_this(), req, done = std::move(done)](GateAnswer answer) mutable {
    switch (answer.verdict) {
      case Verdict::allow: self->serve(*req, answer.who, std::move(done)); return;
      case Verdict::closed:
        done(http::Response::text(403, "forbidden: " + req->path + " is not open on this listener\n"));
        return;
      case Verdict::not_admin:
        done(http::Response::text(403, "forbidden: " + answer.who + " is not an administrator of this listener\n"));
        return;
      case Verdict::unauthorized: {
        auto r = http::Response::text(401, "unauthorized: log in as an administrator of this listener\n");
        r.headers.emplace_back("WWW-Authenticate", kChallenge);
        done(std::move(r));
        return;
      }
    }
  });
}

void HttpApi::serve(const http::Request& request, const std::string& who, http::Responder done) {
  const std::string& path = request.path;
  if (path == "/healthz") {
    done(http::Response::text(200, "ok\n"));
    return;
  }
  if (path == "/readyz") {
    const std::string problems = readiness_problems();
    done(problems.empty() ? http::Response::text(200, "ready\n") : http::Response::text(503, problems));
    return;
  }
  if (path == "/") {
    auto r = http::Response::text(200, std::string(status_page_html()));
    r.content_type = "text/html; charset=utf-8";
    // Everything the page needs comes from here: no other origin, no inline frames.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                           "frame-ancestors 'none'");
    done(std::move(r));
    return;
  }
  if (path == "/api/v1/status") {
    const Snapshot s = observer_.collect();
    done(http::Response::json(200, status_json(s, observer_.history())));
    return;
  }
  if (path == "/api/v1/clients") {
    clients_.list([done = std::move(done)](std::vector<core::ClientRow> rows) mutable {
      done(http::Response::json(200, clients_json(rows)));
    });
    return;
  }
  if (path == "/api/v1/queues") {
    done(http::Response::json(200, queues_json(queues_ ? queues_() : std::vector<QueueSample>())));
    return;
  }
  if (auto encoded = disconnect_target(path); !encoded.empty()) {
    const auto id = http::percent_decode(encoded);
    if (!id) {
      done(http::Response::text(400, "bad client id: malformed percent-encoding\n"));
      return;
    }
    const std::size_t n = clients_.kick(*id, who);
    if (n == 0) {
      done(http::Response::text(404, "no connected client has the id '" + *id + "'\n"));
      return;
    }
    spdlog::info("http: {} disconnected client '{}' ({} connection(s))", who, *id, n);
    done(http::Response::json(202, "{\"disconnecting\":" + std::to_string(n) + "}"));
    return;
  }
  auto r = http::Response::text(200, prometheus_text(observer_.collect()));
  r.content_type = std::string(kPrometheusContentType);
  done(std::move(r));
}

}  // namespace outpost::observe
