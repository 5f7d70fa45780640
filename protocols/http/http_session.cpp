#include "http/http_session.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

namespace outpost::http {

namespace beast_http = boost::beast::http;

Response Response::text(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::json(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

std::string_view reason_phrase(unsigned status) noexcept {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

namespace {

constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::size_t kBodyLimit = 64 * 1024;
constexpr std::chrono::seconds kRequestTimeout{10};
constexpr std::chrono::seconds kIdleTimeout{30};

class HttpSession;

// What a late answer finds: the session, or null once it has ended.
struct Anchor {
  HttpSession* session = nullptr;
};

class HttpSession final : public proto::Session {
 public:
  HttpSession(proto::Link& link, std::shared_ptr<Handler> handler)
      : link_(link), handler_(std::move(handler)), anchor_(std::make_shared<Anchor>()) {
    anchor_->session = this;
    link_.set_deadline(std::chrono::steady_clock::now() + kRequestTimeout);
  }
  ~HttpSession() override { anchor_->session = nullptr; }

  std::size_t on_data(std::span<const std::uint8_t> data) override {
    if (waiting_ || closing_) return 0;
    if (!parser_) {
      parser_.emplace();
      parser_->header_limit(kHeaderLimit);
      parser_->body_limit(kBodyLimit);
      parser_->eager(true);
      link_.set_deadline(std::chrono::steady_clock::now() + kRequestTimeout);
    }
    boost::system::error_code ec;
    const std::size_t used = parser_->put(boost::asio::buffer(data.data(), data.size()), ec);
    if (ec == beast_http::error::need_more) return used;
    if (ec) {
      unsigned status = 400;
      if (ec == beast_http::error::header_limit) status = 431;
      if (ec == beast_http::error::body_limit) status = 413;
      spdlog::debug("http {}: bad request: {}", link_.remote_address(), ec.message());
      keep_alive_ = false;
      send(Response::text(status, std::string(reason_phrase(status)) + "\n"), false);
      return data.size();
    }
    if (!parser_->is_done()) return used;
    dispatch();
    return used;
  }

  void on_deadline() override {
    if (closing_) return;
    if (waiting_) {  // the handler is still at work: give it the request timeout again
      link_.set_deadline(std::chrono::steady_clock::now() + kRequestTimeout);
      return;
    }
    if (parser_ && parser_->got_some()) {
      keep_alive_ = false;
      send(Response::text(408, "Request Timeout\n"), false);
      return;
    }
    closing_ = true;
    link_.close("idle");
  }

  void on_closed(proto::CloseCause, std::string_view) override { anchor_->session = nullptr; }

  void on_shutdown() override {
    closing_ = true;
    link_.close("shutdown");
  }

  void answer(Response response) {
    if (!waiting_ || closing_) return;
    waiting_ = false;
    send(std::move(response), head_only_);
    if (closing_) return;
    link_.set_deadline(std::chrono::steady_clock::now() + kIdleTimeout);
    link_.resume_reading();
  }

 private:
  void dispatch() {
    auto message = parser_->release();
    parser_.reset();
    keep_alive_ = message.keep_alive();
    head_only_ = message.method() == beast_http::verb::head;
    Request r;
    r.method = std::string(message.method_string());
    r.target = std::string(message.target());
    const auto q = r.target.find('?');
    r.path = r.target.substr(0, q);
    if (q != std::string::npos) r.query = r.target.substr(q + 1);
    if (auto it = message.find(beast_http::field::authorization); it != message.end()) {
      r.authorization = std::string(it->value());
    }
    r.body = std::move(message.body());
    r.remote_address = link_.remote_address();
    r.transport = std::string(link_.transport_name());
    r.executor = link_.executor();
    waiting_ = true;
    link_.pause_reading();
    auto ex = link_.executor();
    std::weak_ptr<Anchor> anchor = anchor_;
    handler_->handle(std::move(r), [ex, anchor](Response response) mutable {
      boost::asio::post(ex, [anchor, response = std::move(response)]() mutable {
        if (auto a = anchor.lock(); a && a->session) a->session->answer(std::move(response));
      });
    });
  }

  void send(Response response, bool head_only) {
    std::string out;
    out.reserve(256 + (head_only ? 0 : response.body.size()));
    out += "HTTP/1.1 ";
    out += std::to_string(response.status);
    out += ' ';
    out += reason_phrase(response.status);
    out += "\r\nContent-Type: ";
    out += response.content_type;
    out += "\r\nContent-Length: ";
    out += std::to_string(response.body.size());
    out += "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
    for (const auto& [name, value] : response.headers) {
      out += name;
      out += ": ";
      out += value;
      out += "\r\n";
    }
    out += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    if (!head_only) out += response.body;
    link_.write({reinterpret_cast<const std::uint8_t*>(out.data()), out.size()});
    if (!keep_alive_) {
      closing_ = true;
      link_.close("response sent");
    }
  }

  proto::Link& link_;
  std::shared_ptr<Handler> handler_;
  std::shared_ptr<Anchor> anchor_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  bool waiting_ = false;
  bool closing_ = false;
  bool keep_alive_ = true;
  bool head_only_ = false;
};

}  // namespace

proto::SessionFactory make_session_factory(std::shared_ptr<Handler> handler) {
  return [handler = std::move(handler)](proto::Link& link) -> std::unique_ptr<proto::Session> {
    return std::make_unique<HttpSession>(link, handler);
  };
}

}  // namespace outpost::http
