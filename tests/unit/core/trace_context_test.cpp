// W3C trace context: traceparent parsing and validation, generation, and finding it among
// a message's user properties.
#include "core/trace_context.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

namespace outpost::core {
namespace {

constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

MessagePtr with_props(std::vector<UserProperty> ups, std::string amqp_headers = {}) {
  auto p = std::make_shared<MessageProperties>();
  p->user_properties = std::move(ups);
  p->amqp_headers = std::move(amqp_headers);
  Message::Init init;
  init.topic = "a/b";
  const std::string payload = "payload";
  init.payload = {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()};
  init.qos = 1;
  init.expiry_unix_ms = 1234;
  init.origin = 7;
  init.properties = std::move(p);
  return Message::make(std::move(init));
}

TEST(TraceParent, ParsesTheSpecExample) {
  const auto t = parse_traceparent(kValid);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->version, "00");
  EXPECT_EQ(t->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(t->flags, "01");
  EXPECT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
}

TEST(TraceParent, RefusesMalformedValues) {
  for (std::string_view bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",           // short
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",    // version 00 has 4 fields
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",          // uppercase
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",          // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",          // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          // version ff
           "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          // not hex
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",          // misplaced dash
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",          // flags not hex
           "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",         // later version: no '-' after
       }) {
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
}

TEST(TraceParent, LaterVersionsMayAddFields) {
  EXPECT_TRUE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  const auto t = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(TraceParent, GeneratedValuesAreValidVersion00SampledAndDistinct) {
  std::set<std::string> trace_ids;
  for (int i = 0; i < 200; ++i) {
    const auto v = make_traceparent();
    ASSERT_EQ(v.size(), 55u) << v;
    const auto t = parse_traceparent(v);
    ASSERT_TRUE(t) << v;
    EXPECT_EQ(t->version, "00");
    EXPECT_EQ(t->flags, "01");
    trace_ids.insert(std::string(t->trace_id));
  }
  EXPECT_EQ(trace_ids.size(), 200u);
}

TEST(TraceParent, FoundAmongUserPropertiesAndNotedForLogs) {
  const auto m = with_props({{"a", "1"}, {"traceparent", std::string(kValid)}, {"traceparent", "second"}});
  EXPECT_EQ(find_traceparent(*m), kValid);
  EXPECT_EQ(trace_id_of(*m), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(fmt::format("dropped{}", trace_note(*m)), "dropped trace=4bf92f3577b34da6a3ce929d0e0e4736");

  // Malformed: carried, but not used for logs.
  const auto bad = with_props({{"traceparent", "not-a-trace"}});
  EXPECT_TRUE(has_traceparent(bad->properties()));
  EXPECT_EQ(find_traceparent(*bad), "not-a-trace");
  EXPECT_EQ(trace_id_of(*bad), "");
  EXPECT_EQ(fmt::format("dropped{}", trace_note(*bad)), "dropped");

  Message::Init init;
  init.topic = "plain";
  const auto plain = Message::make(std::move(init));
  EXPECT_FALSE(has_traceparent(plain->properties()));
  EXPECT_EQ(fmt::format("dropped{}", trace_note(*plain)), "dropped");
}

TEST(TraceParent, InjectionKeepsTheMessageAndAddsOneValidTraceparent) {
  const auto m = with_props({{"a", "1"}});
  const auto out = with_new_traceparent(*m);
  EXPECT_EQ(out->topic(), "a/b");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(out->payload().data()), out->payload().size()), "payload");
  EXPECT_EQ(out->qos(), 1);
  EXPECT_EQ(out->expiry_unix_ms(), 1234);
  EXPECT_EQ(out->origin(), 7u);
  ASSERT_EQ(out->properties()->user_properties.size(), 2u);
  EXPECT_EQ(out->properties()->user_properties[0].key, "a");
  EXPECT_TRUE(parse_traceparent(find_traceparent(*out)));
  EXPECT_EQ(m->properties()->user_properties.size(), 1u);  // the original is untouched

  Message::Init init;
  init.topic = "plain";
  const auto plain = with_new_traceparent(*Message::make(std::move(init)));
  ASSERT_NE(plain->properties(), nullptr);
  EXPECT_EQ(trace_id_of(*plain).size(), 32u);
}

TEST(TraceParent, InjectionExtendsAnEncodedAmqpHeadersTable) {
  // "k" = long string "v": name length, name, 'S', 32-bit length, bytes.
  const std::string table = std::string("\x01k" "S", 3) + std::string("\0\0\0\x01v", 5);
  const auto out = with_new_traceparent(*with_props({{"k", "v"}}, table));
  const auto& h = out->properties()->amqp_headers;
  ASSERT_EQ(h.size(), table.size() + 1 + 11 + 1 + 4 + 55);
  EXPECT_EQ(h.substr(0, table.size()), table);
  EXPECT_EQ(h.substr(table.size(), 13), std::string("\x0btraceparentS"));
  EXPECT_EQ(h.substr(table.size() + 13, 4), std::string("\0\0\0\x37", 4));
  EXPECT_EQ(h.substr(table.size() + 17), find_traceparent(*out));

  // Present but empty (the one-byte marker): the table becomes the entry alone.
  const auto empty = with_new_traceparent(*with_props({}, std::string(1, '\0')));
  EXPECT_EQ(empty->properties()->amqp_headers.size(), 1u + 11 + 1 + 4 + 55);
}

}  // namespace
}  // namespace outpost::core
