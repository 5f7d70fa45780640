// AMQP 0-9-1 codec: round trips of frames, methods, field tables and content headers,
// and the errors malformed input must give.
#include "amqp/codec/content.hpp"
#include "amqp/codec/field_table.hpp"
#include "amqp/codec/frame.hpp"
#include "amqp/codec/method.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace outpost::amqp {
namespace {

std::vector<std::uint8_t> bytes(std::initializer_list<int> v) {
  std::vector<std::uint8_t> out;
  for (int b : v) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

TEST(ProtocolHeader, AcceptsOnly091) {
  std::vector<std::uint8_t> good(kProtocolHeader.begin(), kProtocolHeader.end());
  EXPECT_EQ(check_protocol_header(good), HeaderCheck::ok);
  EXPECT_EQ(check_protocol_header(std::span(good).first(3)), HeaderCheck::need_more);
  auto v10 = bytes({'A', 'M', 'Q', 'P', 1, 1, 0, 10});
  EXPECT_EQ(check_protocol_header(v10), HeaderCheck::bad);
  auto http = bytes({'G', 'E', 'T'});
  EXPECT_EQ(check_protocol_header(http), HeaderCheck::bad);
}

TEST(Frame, HeartbeatRoundTrip) {
  std::vector<std::uint8_t> out;
  write_heartbeat(out);
  auto f = read_frame(out, 4096);
  ASSERT_EQ(f.status, FrameStatus::ok);
  EXPECT_EQ(f.type, FrameType::heartbeat);
  EXPECT_EQ(f.channel, 0);
  EXPECT_EQ(f.consumed, 8u);
  EXPECT_TRUE(f.payload.empty());
}

TEST(Frame, PartialFramesNeedMore) {
  std::vector<std::uint8_t> out;
  encode_method(out, 3, cls::channel, m::ch_open, {""});
  for (std::size_t n = 0; n < out.size(); ++n) {
    EXPECT_EQ(read_frame(std::span(out).first(n), 4096).status, FrameStatus::need_more) << n;
  }
  auto f = read_frame(out, 4096);
  ASSERT_EQ(f.status, FrameStatus::ok);
  EXPECT_EQ(f.channel, 3);
}

TEST(Frame, BadFrameEndIsFrameError) {
  std::vector<std::uint8_t> out;
  write_heartbeat(out);
  out.back() = 0xCD;
  auto f = read_frame(out, 4096);
  ASSERT_EQ(f.status, FrameStatus::error);
  EXPECT_EQ(f.error.code, frame_error);
}

TEST(Frame, OversizeFrameIsRejectedFromItsHeader) {
  std::vector<std::uint8_t> out;
  write_frame_header(out, FrameType::body, 1, 5000);  // no payload present yet
  auto f = read_frame(out, 4096);
  ASSERT_EQ(f.status, FrameStatus::error);
  EXPECT_EQ(f.error.code, frame_error);
  EXPECT_EQ(read_frame(out, 0).status, FrameStatus::need_more);  // unbounded
}

TEST(Frame, UnknownTypeIsFrameError) {
  auto raw = bytes({9, 0, 0, 0, 0, 0, 0, 0xCE});
  auto f = read_frame(raw, 4096);
  ASSERT_EQ(f.status, FrameStatus::error);
  EXPECT_EQ(f.error.code, frame_error);
}

TEST(Method, TuneRoundTrip) {
  std::vector<std::uint8_t> out;
  encode_method(out, 0, cls::connection, m::tune, {std::uint16_t{2047}, std::uint32_t{131072}, std::uint16_t{60}});
  auto f = read_frame(out, 4096);
  ASSERT_EQ(f.status, FrameStatus::ok);
  auto d = decode_method(f.payload);
  ASSERT_FALSE(d.error) << d.error.text;
  EXPECT_STREQ(d.method.spec->name, "connection.tune");
  EXPECT_EQ(d.method.num(0), 2047u);
  EXPECT_EQ(d.method.num(1), 131072u);
  EXPECT_EQ(d.method.num(2), 60u);
}

TEST(Method, BitsPackIntoOctets) {
  std::vector<std::uint8_t> out;
  FieldTable args{{"x-message-ttl", FieldValue::integer('I', 1000)}};
  encode_method(out, 1, cls::queue, m::q_declare, {0, "q1", false, true, false, true, false, args});
  auto f = read_frame(out, 4096);
  ASSERT_EQ(f.status, FrameStatus::ok);
  // class(2) method(2) ticket(2) "q1"(3) bits(1) table(4 + ...)
  EXPECT_EQ(f.payload[9], 0b01010);
  auto d = decode_method(f.payload);
  ASSERT_FALSE(d.error);
  EXPECT_EQ(d.method.str(1), "q1");
  EXPECT_FALSE(d.method.flag(2));
  EXPECT_TRUE(d.method.flag(3));
  EXPECT_FALSE(d.method.flag(4));
  EXPECT_TRUE(d.method.flag(5));
  EXPECT_FALSE(d.method.flag(6));
  EXPECT_EQ(d.method.table(7), args);
}

TEST(Method, EveryClientMethodRoundTrips) {
  const std::pair<int, int> ids[] = {{10, 11}, {10, 31}, {10, 40}, {10, 50}, {10, 51}, {20, 10}, {20, 20},
                                     {20, 40}, {20, 41}, {40, 10}, {40, 20}, {40, 30}, {40, 40}, {50, 10},
                                     {50, 20}, {50, 30}, {50, 40}, {50, 50}, {60, 10}, {60, 20}, {60, 30},
                                     {60, 40}, {60, 70}, {60, 80}, {60, 90}, {60, 100}, {60, 110}, {60, 120},
                                     {85, 10}, {10, 60}, {10, 61}, {60, 50}, {60, 60}, {60, 71}, {60, 72}};
  for (auto [c, mid] : ids) {
    const auto* spec = find_method(static_cast<std::uint16_t>(c), static_cast<std::uint16_t>(mid));
    ASSERT_NE(spec, nullptr) << c << "." << mid;
    std::vector<std::uint8_t> out;
    encode_method(out, 7, spec->class_id, spec->method_id, {});
    auto f = read_frame(out, 0);
    ASSERT_EQ(f.status, FrameStatus::ok) << spec->name;
    auto d = decode_method(f.payload);
    ASSERT_FALSE(d.error) << spec->name << ": " << d.error.text;
    EXPECT_EQ(d.method.args.size(), std::string(spec->args).size()) << spec->name;
  }
}

TEST(Method, PublishAndAckArguments) {
  std::vector<std::uint8_t> out;
  encode_method(out, 1, cls::basic, m::deliver, {"ctag", std::uint64_t{1} << 40, true, "amq.topic", "a.b"});
  auto d = decode_method(read_frame(out, 0).payload);
  ASSERT_FALSE(d.error);
  EXPECT_TRUE(d.method.spec->content);
  EXPECT_EQ(d.method.str(0), "ctag");
  EXPECT_EQ(d.method.num(1), std::uint64_t{1} << 40);
  EXPECT_TRUE(d.method.flag(2));
  EXPECT_EQ(d.method.str(4), "a.b");
}

TEST(Method, UnknownClassOrMethodIsNotImplemented) {
  auto unknown_class = bytes({0, 99, 0, 10});
  EXPECT_EQ(decode_method(unknown_class).error.code, not_implemented);
  auto unknown_method = bytes({0, 60, 0, 99});
  EXPECT_EQ(decode_method(unknown_method).error.code, not_implemented);
  auto too_short = bytes({0, 60});
  EXPECT_EQ(decode_method(too_short).error.code, frame_error);
}

TEST(Method, TruncatedArgumentsAreFrameErrors) {
  std::vector<std::uint8_t> out;
  encode_method(out, 1, cls::basic, m::publish, {0, "exchange", "key", true, false});
  auto payload = read_frame(out, 0).payload;
  for (std::size_t n = 4; n < payload.size(); ++n) {
    EXPECT_EQ(decode_method(payload.first(n)).error.code, frame_error) << n;
  }
}

FieldTable every_type() {
  FieldTable nested{{"inner", FieldValue::string("x")}};
  FieldValue f;
  f.type = 'f';
  f.d = 1.5;
  FieldValue d;
  d.type = 'd';
  d.d = -2.25;
  FieldValue dec;
  dec.type = 'D';
  dec.scale = 2;
  dec.i = 12345;
  return {
      {"t", FieldValue::boolean(true)},
      {"b", FieldValue::integer('b', -5)},
      {"B", FieldValue::integer('B', 250)},
      {"s", FieldValue::integer('s', -30000)},
      {"u", FieldValue::integer('u', 60000)},
      {"I", FieldValue::integer('I', -2000000000)},
      {"i", FieldValue::integer('i', 4000000000)},
      {"l", FieldValue::integer('l', std::numeric_limits<std::int64_t>::min())},
      {"L", FieldValue::integer('L', -1)},
      {"f", f},
      {"d", d},
      {"D", dec},
      {"S", FieldValue::string("long string")},
      {"x", FieldValue::string(std::string("\0\1\2", 3), 'x')},
      {"A", FieldValue::of_array({FieldValue::integer('I', 1), FieldValue::string("two"), FieldValue{}})},
      {"T", FieldValue::integer('T', 1700000000)},
      {"F", FieldValue::of_table(nested)},
      {"V", FieldValue{}},
  };
}

TEST(FieldTable, EveryTypeRoundTrips) {
  const auto table = every_type();
  std::vector<std::uint8_t> out;
  Writer w(out);
  write_table(w, table);
  Reader r(out);
  FieldTable back;
  ASSERT_TRUE(read_table(r, back));
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(back, table);
}

TEST(FieldTable, TruncatedTablesFail) {
  std::vector<std::uint8_t> out;
  Writer w(out);
  write_table(w, every_type());
  // Shorten the content while keeping the length prefix consistent: every cut point that
  // splits a field must fail (cutting between fields is a valid shorter table).
  for (std::size_t n = 4; n < out.size(); ++n) {
    std::vector<std::uint8_t> cut(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    Reader r(cut);
    FieldTable back;
    EXPECT_FALSE(read_table(r, back)) << n;  // the length prefix promises more
  }
}

TEST(FieldTable, UnknownTypeAndDeepNestingFail) {
  auto unknown = bytes({1, 'k', 'Z', 0});
  FieldTable t;
  EXPECT_FALSE(decode_table_body(unknown, t));
  // 40 nested tables: past the depth bound.
  FieldValue v = FieldValue::integer('I', 1);
  for (int i = 0; i < 40; ++i) v = FieldValue::of_table({{"n", v}});
  std::vector<std::uint8_t> out;
  Writer w(out);
  write_table(w, {{"deep", v}});
  Reader r(out);
  FieldTable back;
  EXPECT_FALSE(read_table(r, back));
}

TEST(Content, AllFourteenPropertiesRoundTrip) {
  BasicProperties p;
  p.flags = prop::content_type | prop::content_encoding | prop::headers | prop::delivery_mode | prop::priority |
            prop::correlation_id | prop::reply_to | prop::expiration | prop::message_id | prop::timestamp |
            prop::type | prop::user_id | prop::app_id | prop::cluster_id;
  p.content_type = "application/json";
  p.content_encoding = "gzip";
  p.headers = every_type();
  p.delivery_mode = 2;
  p.priority = 7;
  p.correlation_id = "corr";
  p.reply_to = "replies";
  p.expiration = "60000";
  p.message_id = "m-1";
  p.timestamp = 1700000000;
  p.type = "order.created";
  p.user_id = "guest";
  p.app_id = "shop";
  p.cluster_id = "c1";
  std::vector<std::uint8_t> out;
  encode_content_header(out, 5, cls::basic, 123456, p);
  auto f = read_frame(out, 0);
  ASSERT_EQ(f.status, FrameStatus::ok);
  EXPECT_EQ(f.type, FrameType::header);
  ContentHeader h;
  ASSERT_FALSE(decode_content_header(f.payload, h));
  EXPECT_EQ(h.class_id, cls::basic);
  EXPECT_EQ(h.body_size, 123456u);
  EXPECT_EQ(h.properties, p);
  // The raw headers pass through unchanged.
  std::vector<std::uint8_t> again;
  encode_content_header(again, 5, cls::basic, 123456, h.properties, h.headers_raw);
  EXPECT_EQ(again, out);
}

TEST(Content, SomePropertiesAndMalformedHeaders) {
  BasicProperties p;
  p.flags = prop::delivery_mode | prop::app_id;
  p.delivery_mode = 1;
  p.app_id = "a";
  std::vector<std::uint8_t> out;
  encode_content_header(out, 1, cls::basic, 0, p);
  auto payload = read_frame(out, 0).payload;
  ContentHeader h;
  ASSERT_FALSE(decode_content_header(payload, h));
  EXPECT_EQ(h.properties, p);
  for (std::size_t n = 0; n < payload.size(); ++n) {
    ContentHeader t;
    EXPECT_EQ(decode_content_header(payload.first(n), t).code, frame_error) << n;
  }
  std::vector<std::uint8_t> continued(payload.begin(), payload.end());
  continued[13] |= 1;  // a second flags word announced
  ContentHeader c;
  EXPECT_EQ(decode_content_header(continued, c).code, frame_error);
}

TEST(Content, BodySplitsByFrameMax) {
  std::vector<std::uint8_t> body(10000);
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<std::uint8_t>(i);
  std::vector<std::uint8_t> out;
  write_body_frames(out, 2, body, 4096);
  std::vector<std::uint8_t> back;
  std::span<const std::uint8_t> rest(out);
  int frames = 0;
  while (!rest.empty()) {
    auto f = read_frame(rest, 4096);
    ASSERT_EQ(f.status, FrameStatus::ok);
    EXPECT_EQ(f.type, FrameType::body);
    EXPECT_LE(f.consumed, 4096u);
    back.insert(back.end(), f.payload.begin(), f.payload.end());
    rest = rest.subspan(f.consumed);
    ++frames;
  }
  EXPECT_EQ(frames, 3);
  EXPECT_EQ(back, body);
  std::vector<std::uint8_t> none;
  write_body_frames(none, 2, {}, 4096);
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace outpost::amqp
