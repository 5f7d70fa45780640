// HttpApi: what an http listener answers.
//   /metrics  the Prometheus text format (observe/prometheus.hpp)
//   /healthz  200 "ok" while the process serves requests (liveness)
//   /readyz   200 when every readiness check passes, else 503 naming the ones that fail
//   /         the status page, which polls
//   /api/v1/status  its figures as JSON
// GET and HEAD only. Who may ask what is decided by `may` (main.cpp builds it from the
// listener's settings).
//
// Threading: handle() on the connection's thread; it answers at once.
#pragma once

#include "http/http_session.hpp"
#include "observe/observer.hpp"

#include <functional>
#include <string>
#include <vector>

namespace outpost::observe {

// A readiness condition: returns "" when met, else what is wrong ("store: commits failing").
struct ReadinessCheck {
  std::string name;
  std::function<std::string()> problem;
};

class HttpApi : public http::Handler {
 public:
  // Whether `request` may have `path`; false answers 401 with `challenge` (a
  // WWW-Authenticate value; empty: 403).
  using Gate = std::function<bool(const http::Request& request)>;

  HttpApi(Observer& observer, std::vector<ReadinessCheck> checks, Gate gate, std::string challenge);
  void handle(http::Request request, http::Responder done) override;

  // The readiness verdict: every failing check's problem, one per line; empty when ready.
  std::string readiness_problems() const;

 private:
  Observer& observer_;
  std::vector<ReadinessCheck> checks_;
  Gate gate_;
  std::string challenge_;
};

}  // namespace outpost::observe
