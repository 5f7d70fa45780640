// Fuzz target: an AmqpSession on a Vhost of a Broker with an in-memory store, driven
// through the in-memory Link of the unit tests by arbitrary client bytes, split at
// arbitrary points (session_steps.hpp), with the deadline (heartbeats) coming due and
// write pressure coming and going between steps. A fresh broker per input.
//
// Invariants, after every step: no crash, leak or use after free (ASan), no UB (UBSan);
// what the session writes is the protocol header (refusing the client's) or a sequence of
// whole frames that read back, whose methods and content headers decode.
// Not checked yet (docs/robustness.md): that every publisher-confirmed message is still
// held by its queue, as mqtt_session_fuzz checks for PUBACK / PUBREC.
#include "amqp/codec/content.hpp"
#include "amqp/codec/frame.hpp"
#include "amqp/codec/method.hpp"
#include "amqp/vhost.hpp"
#include "amqp_driver.hpp"
#include "core/broker.hpp"
#include "fuzz_check.hpp"
#include "session_steps.hpp"
#include "settings.hpp"
#include "store/store.hpp"

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace {

using namespace outpost;

// Checks the framing of what the session wrote.
void check_output(std::span<const std::uint8_t> out, bool& header_seen) {
  if (out.empty()) return;  // the header may come after a step that wrote nothing
  if (!header_seen && out.size() >= amqp::kProtocolHeader.size() &&
      amqp::check_protocol_header(out) == amqp::HeaderCheck::ok) {
    // The server's own header: it refuses the client's and closes.
    out = out.subspan(amqp::kProtocolHeader.size());
  }
  header_seen = true;
  while (!out.empty()) {
    const amqp::FrameRead f = amqp::read_frame(out, 0);
    FUZZ_CHECK(f.status == amqp::FrameStatus::ok, "the session writes whole, well-formed frames");
    if (f.type == amqp::FrameType::method) {
      const amqp::MethodDecode m = amqp::decode_method(f.payload);
      FUZZ_CHECK(!m.error, "the session's methods decode");
    } else if (f.type == amqp::FrameType::header) {
      amqp::ContentHeader h;
      FUZZ_CHECK(!amqp::decode_content_header(f.payload, h), "the session's content headers decode");
    }
    out = out.subspan(f.consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Steps steps(std::span<const std::uint8_t>(data, size));
  const auto stream = steps.stream();

  store::MemoryStore store;
  core::Broker broker(store);
  AmqpSettings settings;
  amqp::Vhost vhost(broker, settings);
  {
    auto driver = test::make_amqp_driver(vhost, settings);
    bool header_seen = false;
    std::size_t at = 0;
    while (at < stream.size()) {
      const std::size_t n = steps.chunk(stream.size() - at);
      driver->feed(stream.subspan(at, n));
      at += n;
      if (steps.event(16)) driver->link().set_write_pressure(true);
      if (steps.event(16)) driver->writable();
      if (steps.event(32)) driver->expire_deadline();
      check_output(driver->take_written(), header_seen);
    }
    driver->close();
    check_output(driver->take_written(), header_seen);
  }
  return 0;
}
