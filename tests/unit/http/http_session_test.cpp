// The HTTP session over the in-memory link: parsing as bytes arrive, keep-alive, late
// answers, HEAD, limits and timeouts.
#include "http/http_session.hpp"
#include "memory_link.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace outpost::http {
namespace {

using test::SessionDriver;
using test::to_bytes;
using test::to_string;

// Answers every request with its method and path, at once or when told.
class EchoHandler : public Handler {
 public:
  std::vector<Request> requests;
  void handle(Request request, Responder done) override {
    requests.push_back(request);
    done(Response::text(200, request.method + " " + request.path + " q=" + request.query + "\n"));
  }
};

std::string take(SessionDriver& d) { return to_string(d.take_written()); }

TEST(HttpSession, AnswersARequestAndKeepsTheConnection) {
  auto handler = std::make_shared<EchoHandler>();
  SessionDriver d(make_session_factory(handler));
  d.feed(to_bytes("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"));
  const std::string out = take(d);
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Content-Length: 19\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\n\r\nGET /metrics q=x=1\n"), std::string::npos) << out;
  EXPECT_FALSE(d.link().closed());
  // A second request on the same connection, split across reads.
  d.feed(to_bytes("GET /healthz HTT"));
  EXPECT_TRUE(take(d).empty());
  d.feed(to_bytes("P/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_NE(take(d).find("GET /healthz"), std::string::npos);
  ASSERT_EQ(handler->requests.size(), 2u);
  EXPECT_EQ(handler->requests[0].remote_address, "192.0.2.1:50000");
}

TEST(HttpSession, PipelinedRequestsAreAnsweredInOrder) {
  auto handler = std::make_shared<EchoHandler>();
  SessionDriver d(make_session_factory(handler));
  d.feed(to_bytes("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"));
  const std::string out = take(d);
  const auto a = out.find("GET /a");
  const auto b = out.find("GET /b");
  ASSERT_NE(a, std::string::npos) << out;
  ASSERT_NE(b, std::string::npos) << out;
  EXPECT_LT(a, b);
}

TEST(HttpSession, ConnectionCloseAndHttp10CloseAfterTheAnswer) {
  auto handler = std::make_shared<EchoHandler>();
  SessionDriver d(make_session_factory(handler));
  d.feed(to_bytes("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  EXPECT_NE(take(d).find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(d.link().closed());
  SessionDriver d10(make_session_factory(handler));
  d10.feed(to_bytes("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_NE(take(d10).find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(d10.link().closed());
}

TEST(HttpSession, HeadHasTheHeadersWithoutTheBody) {
  auto handler = std::make_shared<EchoHandler>();
  SessionDriver d(make_session_factory(handler));
  d.feed(to_bytes("HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n"));
  const std::string out = take(d);
  EXPECT_NE(out.find("Content-Length: 17\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n") << out;
}

class LaterHandler : public Handler {
 public:
  std::vector<Responder> waiting;
  void handle(Request, Responder done) override { waiting.push_back(std::move(done)); }
};

TEST(HttpSession, ALateAnswerIsSentAndReadingWaitsForIt) {
  auto handler = std::make_shared<LaterHandler>();
  SessionDriver d(make_session_factory(handler));
  d.feed(to_bytes("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_EQ(handler->waiting.size(), 1u);  // the second waits for the first's answer
  EXPECT_TRUE(take(d).empty());
  handler->waiting[0](Response::text(200, "first\n"));
  d.run();
  EXPECT_NE(take(d).find("first\n"), std::string::npos);
  ASSERT_EQ(handler->waiting.size(), 2u);
  handler->waiting[1](Response::json(503, "{}"));
  d.run();
  const std::string out = take(d);
  EXPECT_EQ(out.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Content-Type: application/json\r\n"), std::string::npos);
}

TEST(HttpSession, AnAnswerAfterTheConnectionEndedIsDropped) {
  auto handler = std::make_shared<LaterHandler>();
  SessionDriver d(make_session_factory(handler));
  d.feed(to_bytes("GET /a HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_EQ(handler->waiting.size(), 1u);
  d.close();
  handler->waiting[0](Response::text(200, "too late\n"));
  d.run();  // posted to the session's thread, which finds it gone
  EXPECT_TRUE(take(d).empty());
}

TEST(HttpSession, MalformedRequestsGet400AndTheConnectionCloses) {
  auto handler = std::make_shared<EchoHandler>();
  SessionDriver d(make_session_factory(handler));
  d.feed(to_bytes("NOT HTTP AT ALL\r\n\r\n"));
  const std::string out = take(d);
  EXPECT_EQ(out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << out;
  EXPECT_TRUE(d.link().closed());
  EXPECT_TRUE(handler->requests.empty());
}

TEST(HttpSession, OversizedHeadersGet431) {
  auto handler = std::make_shared<EchoHandler>();
  SessionDriver d(make_session_factory(handler));
  d.feed(to_bytes("GET / HTTP/1.1\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n"));
  EXPECT_EQ(take(d).rfind("HTTP/1.1 431 ", 0), 0u);
  EXPECT_TRUE(d.link().closed());
}

TEST(HttpSession, AnIncompleteRequestTimesOutWith408AndAnIdleOneCloses) {
  auto handler = std::make_shared<EchoHandler>();
  SessionDriver d(make_session_factory(handler));
  d.feed(to_bytes("GET / HTTP/1.1\r\nHost"));
  d.expire_deadline();
  EXPECT_EQ(take(d).rfind("HTTP/1.1 408 ", 0), 0u);
  EXPECT_TRUE(d.link().closed());
  SessionDriver idle(make_session_factory(handler));
  idle.expire_deadline();
  EXPECT_TRUE(take(idle).empty());
  EXPECT_TRUE(idle.link().closed());
}

}  // namespace
}  // namespace outpost::http
