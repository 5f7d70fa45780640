// AMQP 0-9-1 on the wire for session tests: the protocol header, methods and content a
// client sends, encoded with the codec (protocols/amqp/codec), and what a session wrote,
// split into frames and decoded methods. Pure functions of bytes; any thread.
#pragma once

#include "amqp/codec/content.hpp"
#include "amqp/codec/frame.hpp"
#include "amqp/codec/method.hpp"
#include "memory_link.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::test {

// One frame a session wrote.
struct AmqpFrame {
  amqp::FrameType type = amqp::FrameType::method;
  std::uint16_t channel = 0;
  Bytes payload;

  bool is_method(std::uint16_t class_id, std::uint16_t method_id) const {
    return type == amqp::FrameType::method && payload.size() >= 4 &&
           static_cast<std::uint16_t>(payload[0] << 8 | payload[1]) == class_id &&
           static_cast<std::uint16_t>(payload[2] << 8 | payload[3]) == method_id;
  }
  // The decoded method; fails the test for another frame type or a decoding error.
  amqp::Method method() const {
    EXPECT_EQ(type, amqp::FrameType::method);
    auto d = amqp::decode_method(payload);
    EXPECT_FALSE(d.error) << d.error.text;
    return d.method;
  }
  // "connection.start", "basic.get-ok", ... or the frame type for other frames.
  std::string name() const {
    switch (type) {
      case amqp::FrameType::method: {
        auto d = amqp::decode_method(payload);
        return d.error ? "<undecodable method>" : d.method.spec->name;
      }
      case amqp::FrameType::header: return "<content header>";
      case amqp::FrameType::body: return "<content body>";
      case amqp::FrameType::heartbeat: return "<heartbeat>";
    }
    return "<?>";
  }
  // The content header's fields; fails the test for another frame.
  amqp::ContentHeader header() const {
    EXPECT_EQ(type, amqp::FrameType::header);
    amqp::ContentHeader h;
    auto e = amqp::decode_content_header(payload, h);
    EXPECT_FALSE(e) << e.text;
    h.headers_raw = {};  // it pointed into `payload`
    return h;
  }
};

// Splits bytes into whole frames (no protocol header); anything else fails the test.
inline std::vector<AmqpFrame> split_amqp(std::span<const std::uint8_t> bytes) {
  std::vector<AmqpFrame> result;
  while (!bytes.empty()) {
    auto f = amqp::read_frame(bytes, 0);
    EXPECT_EQ(f.status, amqp::FrameStatus::ok) << f.error.text;
    if (f.status != amqp::FrameStatus::ok) break;
    result.push_back(AmqpFrame{f.type, f.channel, Bytes(f.payload.begin(), f.payload.end())});
    bytes = bytes.subspan(f.consumed);
  }
  return result;
}

// The frames' names, in order: for compact assertions.
inline std::vector<std::string> names_of(const std::vector<AmqpFrame>& frames) {
  std::vector<std::string> n;
  for (const auto& f : frames) n.push_back(f.name());
  return n;
}

// The bodies of consecutive body frames from `first`, joined.
inline std::string body_of(const std::vector<AmqpFrame>& frames, std::size_t first) {
  std::string body;
  for (std::size_t i = first; i < frames.size() && frames[i].type == amqp::FrameType::body; ++i) {
    body.append(frames[i].payload.begin(), frames[i].payload.end());
  }
  return body;
}

// --- encoding what a client sends ------------------------------------------------------
inline Bytes amqp_protocol_header() { return Bytes(amqp::kProtocolHeader.begin(), amqp::kProtocolHeader.end()); }

inline Bytes amqp_method(std::uint16_t channel, std::uint16_t class_id, std::uint16_t method_id,
                         std::initializer_list<amqp::ArgIn> args) {
  Bytes out;
  amqp::encode_method(out, channel, class_id, method_id, args);
  return out;
}

// A content header and the body frames of `body` (frame_max bounds each frame).
inline Bytes amqp_content(std::uint16_t channel, std::string_view body, const amqp::BasicProperties& props = {},
                          std::uint32_t frame_max = amqp::kFrameMinSize) {
  Bytes out;
  amqp::encode_content_header(out, channel, amqp::cls::basic, body.size(), props);
  amqp::write_body_frames(out, channel, {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}, frame_max);
  return out;
}

// basic.publish with its content.
inline Bytes amqp_publish(std::uint16_t channel, std::string_view exchange, std::string_view routing_key,
                          std::string_view body, const amqp::BasicProperties& props = {}, bool mandatory = false) {
  // ticket, exchange, routing-key, mandatory, immediate
  return concat(amqp_method(channel, amqp::cls::basic, amqp::m::publish, {0, exchange, routing_key, mandatory, false}),
                amqp_content(channel, body, props));
}

// connection.start-ok with PLAIN (RFC 4616: authzid NUL authcid NUL password).
inline Bytes amqp_start_ok_plain(std::string_view user, std::string_view password) {
  std::string response;
  response.push_back('\0');
  response.append(user);
  response.push_back('\0');
  response.append(password);
  const amqp::FieldTable client{{"product", amqp::FieldValue::string("outpost-unit-test")}};
  // client-properties, mechanism, response, locale
  return amqp_method(0, amqp::cls::connection, amqp::m::start_ok, {client, "PLAIN", response, "en_US"});
}

inline Bytes amqp_tune_ok(std::uint16_t channel_max, std::uint32_t frame_max, std::uint16_t heartbeat) {
  return amqp_method(0, amqp::cls::connection, amqp::m::tune_ok, {channel_max, frame_max, heartbeat});
}

inline Bytes amqp_open(std::string_view vhost = "/") {
  // virtual-host, reserved, reserved
  return amqp_method(0, amqp::cls::connection, amqp::m::open, {vhost, "", false});
}

inline Bytes amqp_channel_open(std::uint16_t channel) {
  return amqp_method(channel, amqp::cls::channel, amqp::m::ch_open, {""});
}

inline Bytes amqp_queue_declare(std::uint16_t channel, std::string_view queue, bool durable = false,
                                bool exclusive = false, bool auto_delete = false) {
  // ticket, queue, passive, durable, exclusive, auto-delete, no-wait, arguments
  return amqp_method(channel, amqp::cls::queue, amqp::m::q_declare,
                     {0, queue, false, durable, exclusive, auto_delete, false, amqp::FieldTable{}});
}

inline Bytes amqp_queue_bind(std::uint16_t channel, std::string_view queue, std::string_view exchange,
                             std::string_view routing_key) {
  // ticket, queue, exchange, routing-key, no-wait, arguments
  return amqp_method(channel, amqp::cls::queue, amqp::m::q_bind,
                     {0, queue, exchange, routing_key, false, amqp::FieldTable{}});
}

inline Bytes amqp_basic_get(std::uint16_t channel, std::string_view queue, bool no_ack = true) {
  // ticket, queue, no-ack
  return amqp_method(channel, amqp::cls::basic, amqp::m::get, {0, queue, no_ack});
}

}  // namespace outpost::test
