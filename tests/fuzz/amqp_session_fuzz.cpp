// Fuzz target: an AmqpSession on a Vhost of a Broker with a persistent store that keeps
// nothing and commits when told (tests/unit/support/manual_store.hpp), driven through the
// in-memory Link of the unit tests by arbitrary client bytes, split at arbitrary points
// (session_steps.hpp), with the deadline (heartbeats) coming due and write pressure coming
// and going between steps. The store commits after each step whose last byte is odd (not
// drawn from the step generator, so inputs kept in the corpus split as they always did):
// confirms of persistent messages to durable queues wait for it, across later frames. A
// fresh broker per input.
//
// Invariants, after every step: no crash, leak or use after free (ASan), no UB (UBSan);
// what the session writes is the protocol header (refusing the client's) or a sequence of
// whole frames that read back, whose methods and content headers decode; every confirm
// (basic.ack / basic.nack) names a delivery tag given to a publish on its channel since the
// channel was last opened, and no tag is confirmed twice; and every publisher-confirmed
// message (basic.ack) was routed and is still held: an observer queue bound to "#" on
// amq.topic before the session starts holds at least one message per distinct
// acknowledged tag of a publish it must get, after every step and after the session ended.
//
// The observer is a core queue bound on the core exchange directly, not through the vhost:
// no AMQP name reaches it, so the client cannot consume, get, purge, unbind or delete it.
// Its limits are out of reach and it drops nothing (checked). Nothing consumes from it, so
// "held" stands for "held or delivered".
//
// The harness reads the client's whole stream first (ClientStream), as the session reads
// it, and gives each complete basic.publish (method, content header, body frames) on a
// channel in confirm mode the next delivery tag, from 1 after each channel.open. Tags are
// keyed by (channel, how many channel.open it has seen, tag); on the session's side the
// count is of channel.open-ok written on that channel, since the session answers every
// channel.open it reads with open-ok or ends the connection. The harness does not follow
// the connection's phases, frame_max or the session's channel errors: after a frame the
// session refuses with a connection error nothing more is confirmed, and after it closes
// a channel (channel error, 406 over max_message_size, a refused publish) nothing more is
// confirmed on that channel until the next channel.open. So the harness may give tags to
// publishes the session drops (never confirmed), never the other way round. A confirm held
// for a commit goes out on the opening of the channel that published or not at all.
//
// A publish must reach the observer when it went to "amq.topic", its routing key does not
// start with '$' (a first-level '#' does not match such a topic, [MQTT-4.7.2-1]) and its
// content header has no expiration (a per-message TTL may end it in the queue). Left out
// on purpose, not required to be held: publishes to other exchanges (their queues are the
// client's to purge or delete), '$' keys, per-message TTL, and nacked tags.
#include "amqp/codec/content.hpp"
#include "amqp/codec/frame.hpp"
#include "amqp/codec/method.hpp"
#include "amqp/vhost.hpp"
#include "amqp_driver.hpp"
#include "core/broker.hpp"
#include "fuzz_check.hpp"
#include "manual_store.hpp"
#include "session_steps.hpp"
#include "settings.hpp"

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace outpost;
// (channel, how many times it was opened, delivery tag): channel.open starts the tags again.
using Key = std::tuple<std::uint16_t, std::uint32_t, std::uint64_t>;

// What the client sent, as the harness reads it: per (channel, opening, delivery tag) of
// confirm mode, whether the publish that got it is one the observer must hold.
struct ClientStream {
  std::map<Key, bool> observable;
  std::size_t publishes = 0;  // complete publishes in confirm mode (for the verbose line)

  struct Channel {
    std::uint32_t opened = 0;  // channel.open frames read on it
    bool open = false;         // false after channel.close: no tags until the next open
    bool confirm = false;
    std::uint64_t seq = 0;
    bool publishing = false;  // basic.publish read, its content not complete
    bool have_header = false;
    bool observable = false;
    std::uint64_t body_size = 0;
    std::uint64_t received = 0;
  };

  ClientStream(std::span<const std::uint8_t> in, const AmqpSettings& settings) {
    if (amqp::check_protocol_header(in) != amqp::HeaderCheck::ok) return;
    in = in.subspan(amqp::kProtocolHeader.size());
    std::map<std::uint16_t, Channel> channels;
    while (!in.empty()) {
      // Unbounded: a frame over frame_max ends the connection, so the tags read past it
      // are never confirmed.
      const amqp::FrameRead f = amqp::read_frame(in, 0);
      if (f.status != amqp::FrameStatus::ok) break;  // need_more, or a frame error: the session closes
      in = in.subspan(f.consumed);
      if (f.channel == 0) continue;  // channel 0 carries no publishes (content there is an error)
      if (f.type == amqp::FrameType::method) {
        const amqp::MethodDecode d = amqp::decode_method(f.payload);
        if (d.error) continue;  // a connection error
        const amqp::Method& m = d.method;
        if (m.is(amqp::cls::channel, amqp::m::ch_open)) {
          Channel& ch = channels[f.channel];
          ch = Channel{.opened = ch.opened + 1, .open = true};
        } else if (m.is(amqp::cls::channel, amqp::m::ch_close)) {
          // The session forgets the channel (or, not open, ends the connection).
          Channel& ch = channels[f.channel];
          ch = Channel{.opened = ch.opened};
        } else if (m.is(amqp::cls::confirm, amqp::m::select)) {
          channels[f.channel].confirm = true;
        } else if (m.is(amqp::cls::basic, amqp::m::publish)) {
          Channel& ch = channels[f.channel];
          ch.publishing = true;
          ch.have_header = false;
          ch.received = 0;
          const std::string& key = m.str(2);
          ch.observable = m.str(1) == "amq.topic" && !(!key.empty() && key.front() == '$');
        }
      } else if (f.type == amqp::FrameType::header) {
        Channel& ch = channels[f.channel];
        if (!ch.publishing || ch.have_header) continue;  // a connection error
        amqp::ContentHeader h;
        if (amqp::decode_content_header(f.payload, h) || h.class_id != amqp::cls::basic) continue;
        if (h.body_size > settings.max_message_size) {
          ch.publishing = false;  // refused with a channel error: no tag
          continue;
        }
        ch.have_header = true;
        ch.body_size = h.body_size;
        if (h.properties.has(amqp::prop::expiration)) ch.observable = false;
        if (ch.body_size == 0) complete(f.channel, ch);
      } else if (f.type == amqp::FrameType::body) {
        Channel& ch = channels[f.channel];
        if (!ch.publishing || !ch.have_header || f.payload.size() > ch.body_size - ch.received) continue;
        ch.received += f.payload.size();
        if (ch.received == ch.body_size) complete(f.channel, ch);
      }
    }
  }

  void complete(std::uint16_t channel, Channel& ch) {
    ch.publishing = false;
    if (!ch.open || !ch.confirm) return;
    ++publishes;
    observable.emplace(Key{channel, ch.opened, ++ch.seq}, ch.observable);
  }
};

struct Output {
  bool header_seen = false;
  std::map<std::uint16_t, std::uint32_t> opened;  // channel.open-ok written, per channel
  std::set<Key> confirmed;                         // acked or nacked
  std::set<Key> acked;  // acknowledged, of publishes the observer must hold
  std::size_t confirms = 0;

  // Checks the framing of what the session wrote and records its confirms.
  void read(const ClientStream& client, std::span<const std::uint8_t> out) {
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
        const amqp::MethodDecode d = amqp::decode_method(f.payload);
        FUZZ_CHECK(!d.error, "the session's methods decode");
        const amqp::Method& m = d.method;
        if (f.channel != 0 && m.is(amqp::cls::channel, amqp::m::ch_open_ok)) ++opened[f.channel];
        const bool ack = m.is(amqp::cls::basic, amqp::m::ack);
        if (ack || m.is(amqp::cls::basic, amqp::m::nack)) confirm(client, f.channel, m, ack);
      } else if (f.type == amqp::FrameType::header) {
        amqp::ContentHeader h;
        FUZZ_CHECK(!amqp::decode_content_header(f.payload, h), "the session's content headers decode");
      }
      out = out.subspan(f.consumed);
    }
  }

  void confirm(const ClientStream& client, std::uint16_t channel, const amqp::Method& m, bool ack) {
    ++confirms;
    const std::uint64_t tag = m.num(0);
    const bool multiple = m.flag(1);
    // The k-th channel.open-ok on a channel answers the k-th channel.open the client sent
    // on it: the session either answers one or ends the connection.
    const auto it = opened.find(channel);
    const std::uint32_t opening = it == opened.end() ? 0 : it->second;
    const Key key{channel, opening, tag};
    FUZZ_CHECK(tag != 0 && client.observable.contains(key),
               "a confirm names a delivery tag given to a publish on that channel since it was opened");
    if (!multiple) FUZZ_CHECK(confirmed.insert(key).second, "a delivery tag is confirmed once");
    if (!ack) return;
    // With multiple, every tag up to this one.
    for (auto p = client.observable.lower_bound(Key{channel, opening, multiple ? 1 : tag});
         p != client.observable.end() && p->first <= key; ++p) {
      if (p->second) acked.insert(p->first);
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

  test::ManualStore store;
  core::Broker broker(store);
  AmqpSettings settings;
  const ClientStream client(stream, settings);
  amqp::Vhost vhost(broker, settings);
  core::QueueLimits unlimited;
  unlimited.max_messages = 1u << 30;
  unlimited.max_bytes = 1ull << 40;
  auto observer = broker.make_queue("fuzz-observer", unlimited);
  auto topic = broker.find_exchange("amq.topic");
  FUZZ_CHECK(topic != nullptr, "the broker has amq.topic");
  topic->bind("#", observer, core::BindingOptions{.max_qos = 2});

  Output output;
  {
    auto driver = test::make_amqp_driver(vhost, settings);
    std::size_t at = 0;
    while (at < stream.size()) {
      const std::size_t n = steps.chunk(stream.size() - at);
      driver->feed(stream.subspan(at, n));
      at += n;
      if ((stream[at - 1] & 1) != 0) {
        store.commit_all();
        driver->run();
      }
      if (steps.event(16)) driver->link().set_write_pressure(true);
      if (steps.event(16)) driver->writable();
      if (steps.event(32)) driver->expire_deadline();
      output.read(client, driver->take_written());
      const auto held = observer->stats();
      FUZZ_CHECK(held.dropped == 0, "the observer queue drops nothing");
      FUZZ_CHECK(held.messages >= output.acked.size(), "every publisher-confirmed message is held by its queue");
    }
    store.commit_all();
    driver->run();
    driver->close();
    store.commit_all();
    driver->run();
    output.read(client, driver->take_written());
  }
  FUZZ_CHECK(observer->stats().dropped == 0, "the observer queue drops nothing");
  FUZZ_CHECK(observer->stats().messages >= output.acked.size(), "publisher-confirmed messages outlive the session");
  // OUTPOST_FUZZ_VERBOSE=1 (replaying a corpus): what each input exercised.
  static const bool verbose = std::getenv("OUTPOST_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "  %zu publishes in confirm mode, %zu confirms, %zu tags acknowledged, observer holds %llu\n",
                 client.publishes, output.confirms, output.acked.size(),
                 static_cast<unsigned long long>(observer->stats().messages));
  }
  topic->unbind("#", *observer);
  return 0;
}
