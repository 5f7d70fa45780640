// Fuzz target: an MqttSession on a Broker with an in-memory store, driven through the
// in-memory Link of the unit tests (tests/unit/support/memory_link.hpp) by arbitrary client
// bytes, split at arbitrary points (session_steps.hpp), with the deadline coming due and
// write pressure coming and going between steps. A fresh broker per input: nothing leaks
// from one input into the next.
//
// Invariants, after every step: no crash, leak or use after free (ASan), no UB (UBSan);
// what the session writes is a sequence of whole, well-framed MQTT packets; and every
// QoS 1 / QoS 2 PUBLISH the session acknowledged (PUBACK / PUBREC with a success code)
// was routed and is still held: an observer queue bound to "#" from the start holds at
// least one message per distinct acknowledged packet id (counted only for publishes the
// observer must see: a topic name not starting with '$' and no message expiry).
#include "core/broker.hpp"
#include "fuzz_check.hpp"
#include "mqtt/codec/codec.hpp"
#include "mqtt_driver.hpp"
#include "session_steps.hpp"
#include "settings.hpp"
#include "store/store.hpp"

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <vector>

namespace {

using namespace outpost;
using mqtt::PacketType;
using mqtt::ProtocolVersion;

// What the client sent, as the harness reads it: the protocol level of its CONNECT and,
// per packet id, whether every QoS 1/2 PUBLISH with that id is one the observer must get.
struct ClientStream {
  std::optional<ProtocolVersion> version;
  std::map<std::pair<std::uint8_t, std::uint16_t>, bool> observable;  // (qos, id) -> all observable

  explicit ClientStream(std::span<const std::uint8_t> in) {
    while (!in.empty()) {
      const mqtt::Frame f = mqtt::parse_fixed_header(in, 0);
      if (f.status != mqtt::FrameStatus::complete) break;
      const std::size_t total = f.header.header_length + f.header.remaining_length;
      if (total > in.size()) break;
      const auto body = in.subspan(f.header.header_length, f.header.remaining_length);
      if (f.header.type == PacketType::connect && !version) {
        auto c = mqtt::decode_connect(body);
        version = c ? c->version : mqtt::decoded_version_hint(body);
      } else if (f.header.type == PacketType::publish && version) {
        auto p = mqtt::decode_publish(*version, f.header.flags, body);
        if (p && p->qos > 0) {
          const bool seen = !p->topic.empty() && p->topic.front() != '$' && !p->properties.message_expiry_interval;
          auto [it, fresh] = observable.try_emplace({p->qos, p->packet_id}, seen);
          if (!fresh) it->second = it->second && seen;
        }
      }
      in = in.subspan(total);
    }
  }
};

struct Acks {
  std::set<std::pair<std::uint8_t, std::uint16_t>> ids;  // (qos, id) acknowledged with success

  // Checks the framing of what the session wrote and records its successful acks.
  void read(const ClientStream& client, std::span<const std::uint8_t> out) {
    while (!out.empty()) {
      const mqtt::Frame f = mqtt::parse_fixed_header(out, 0);
      FUZZ_CHECK(f.status == mqtt::FrameStatus::complete, "the session writes well-framed packets");
      const std::size_t total = f.header.header_length + f.header.remaining_length;
      FUZZ_CHECK(total <= out.size(), "the session writes whole packets");
      const auto body = out.subspan(f.header.header_length, f.header.remaining_length);
      const PacketType t = f.header.type;
      if ((t == PacketType::puback || t == PacketType::pubrec) && client.version) {
        auto ack = mqtt::decode_ack(*client.version, t, body);
        FUZZ_CHECK(ack.has_value(), "the session's PUBACK / PUBREC decodes");
        const std::uint8_t qos = t == PacketType::puback ? 1 : 2;
        if (static_cast<std::uint8_t>(ack->reason) < 0x80) {
          auto it = client.observable.find({qos, ack->packet_id});
          FUZZ_CHECK(it != client.observable.end(), "an acknowledged packet id was sent with that QoS");
          if (it->second) ids.insert({qos, ack->packet_id});
        }
      }
      out = out.subspan(total);
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Steps steps(std::span<const std::uint8_t>(data, size));
  const auto stream = steps.stream();
  const ClientStream client(stream);

  store::MemoryStore store;
  core::Broker broker(store);
  MqttSettings settings;
  core::QueueLimits unlimited;
  unlimited.max_messages = 1u << 30;
  unlimited.max_bytes = 1ull << 40;
  auto observer = broker.make_queue("fuzz-observer", unlimited);
  broker.mqtt_exchange().bind("#", observer, core::BindingOptions{.max_qos = 2});

  Acks acks;
  {
    auto driver = test::make_mqtt_driver(broker, settings);
    std::size_t at = 0;
    while (at < stream.size()) {
      const std::size_t n = steps.chunk(stream.size() - at);
      driver->feed(stream.subspan(at, n));
      at += n;
      if (steps.event(16)) driver->link().set_write_pressure(true);
      if (steps.event(16)) driver->writable();
      if (steps.event(32)) driver->expire_deadline();
      acks.read(client, driver->take_written());
      const auto held = observer->stats();
      FUZZ_CHECK(held.dropped == 0, "the observer queue drops nothing");
      FUZZ_CHECK(held.messages >= acks.ids.size(), "every acknowledged QoS 1/2 message is held by its queue");
    }
    driver->close();
    acks.read(client, driver->take_written());
  }
  FUZZ_CHECK(observer->stats().messages >= acks.ids.size(), "acknowledged messages outlive the session");
  // OUTPOST_FUZZ_VERBOSE=1 (replaying a corpus): what each input exercised.
  static const bool verbose = std::getenv("OUTPOST_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "  version %d, %zu QoS 1/2 ids acknowledged, observer holds %llu\n",
                 client.version ? static_cast<int>(*client.version) : 0, acks.ids.size(),
                 static_cast<unsigned long long>(observer->stats().messages));
  }
  broker.mqtt_exchange().unbind("#", *observer);
  return 0;
}
