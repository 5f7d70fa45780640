// HttpApi: what an http listener answers.
//   GET  /metrics          the Prometheus text format (observe/prometheus.hpp)
//   GET  /healthz          200 "ok" while the process serves requests (liveness)
//   GET  /readyz           200 when every readiness check passes, else 503 naming the ones that fail
//   GET  /                 the status page, which polls
//   GET  /api/v1/status    its figures as JSON
//   GET  /api/v1/clients   the connected clients (core::ClientDirectory), JSON
//   GET  /api/v1/queues    the AMQP queues, JSON
//   POST /api/v1/clients/{id}/disconnect   disconnects the clients of that (percent-encoded) id
// HEAD wherever GET is answered; another method on a known path gets 405. Who may ask what
// is decided by the Gate (main.cpp builds it from the listener's settings).
//
// Threading: handle() on the connection's thread; the answer comes from the gate's and the
// client directory's threads when they are asynchronous. Owned by a shared_ptr (the
// listener's session factory); late answers keep it alive.
#pragma once

#include "core/client_directory.hpp"
#include "http/http_session.hpp"
#include "observe/observer.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace outpost::observe {

// A readiness condition: returns "" when met, else what is wrong ("store: commits failing").
struct ReadinessCheck {
  std::string name;
  std::function<std::string()> problem;
};

class HttpApi : public http::Handler, public std::enable_shared_from_this<HttpApi> {
 public:
  enum class Verdict {
    allow,
    closed,        // 403: the path is not open on this listener (and there is no login)
    unauthorized,  // 401 with a Basic challenge: no or wrong credentials
    not_admin,     // 403: a valid user who is not one of the listener's admins
  };
  struct GateAnswer {
    Verdict verdict = Verdict::closed;
    std::string who;  // for the log: "admin 'alice' from 1.2.3.4:5678" or the address
  };
  // Decides whether `request` may have its path; answers exactly once, from any thread.
  using Gate = std::function<void(const http::Request& request, std::function<void(GateAnswer)> answer)>;
  // The AMQP queues now (any thread).
  using QueueList = std::function<std::vector<QueueSample>()>;

  HttpApi(Observer& observer, core::ClientDirectory& clients, QueueList queues, std::vector<ReadinessCheck> checks,
          Gate gate);
  void handle(http::Request request, http::Responder done) override;

  // The readiness verdict: every failing check's problem, one per line; empty when ready.
  std::string readiness_problems() const;

  static constexpr const char* kChallenge = "Basic realm=\"outpost\", charset=\"UTF-8\"";

 private:
  void serve(const http::Request& request, const std::string& who, http::Responder done);

  Observer& observer_;
  core::ClientDirectory& clients_;
  QueueList queues_;
  std::vector<ReadinessCheck> checks_;
  Gate gate_;
};

}  // namespace outpost::observe
