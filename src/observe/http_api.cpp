#include "observe/http_api.hpp"

#include "observe/prometheus.hpp"
#include "observe/status_json.hpp"

namespace outpost::observe {

HttpApi::HttpApi(Observer& observer, std::vector<ReadinessCheck> checks, Gate gate, std::string challenge)
    : observer_(observer), checks_(std::move(checks)), gate_(std::move(gate)), challenge_(std::move(challenge)) {}

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
  if (request.method != "GET" && request.method != "HEAD") {
    auto r = http::Response::text(405, "only GET and HEAD are answered here\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    done(std::move(r));
    return;
  }
  const std::string& path = request.path;
  if (path != "/metrics" && path != "/healthz" && path != "/readyz" && path != "/" && path != "/api/v1/status") {
    done(http::Response::text(404, "not found: " + path + " (try /, /metrics, /healthz or /readyz)\n"));
    return;
  }
  if (gate_ && !gate_(request)) {
    if (challenge_.empty()) {
      done(http::Response::text(403, "forbidden: " + path + " is not open on this listener\n"));
    } else {
      auto r = http::Response::text(401, "unauthorized\n");
      r.headers.emplace_back("WWW-Authenticate", challenge_);
      done(std::move(r));
    }
    return;
  }
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
  auto r = http::Response::text(200, prometheus_text(observer_.collect()));
  r.content_type = std::string(kPrometheusContentType);
  done(std::move(r));
}

}  // namespace outpost::observe
