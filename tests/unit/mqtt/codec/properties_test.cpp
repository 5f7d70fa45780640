#include "codec_test_util.hpp"

#include <functional>
#include <map>

namespace outpost::mqtt {
namespace {

using test::bytes;
using test::concat;
using test::props_block;
using test::reason_of;

// Decodes a packet of the given kind whose (only or first) property block is `block`.
using Decoder = std::function<CodecError(const Bytes& block)>;

template <class T>
CodecError outcome(const Result<T>& r) {
  return r ? CodecError{ReasonCode::success, ""} : r.error();
}

std::map<PropertyContext, Decoder> decoders() {
  const auto v5 = ProtocolVersion::v5;
  const Bytes id = bytes({0, 1, 'x'});
  auto connect_head = [](int flags) {
    Bytes b;
    put_string(b, "MQTT");
    b.push_back(5);
    b.push_back(static_cast<std::uint8_t>(flags));
    put_u16(b, 10);
    return b;
  };
  std::map<PropertyContext, Decoder> d;
  d[PropertyContext::connect] = [=](const Bytes& p) { return outcome(decode_connect(concat(concat(connect_head(2), p), id))); };
  d[PropertyContext::will] = [=](const Bytes& p) {
    Bytes b = concat(concat(connect_head(6), bytes({0})), id);
    return outcome(decode_connect(concat(concat(b, p), bytes({0, 1, 't', 0, 0}))));
  };
  d[PropertyContext::connack] = [=](const Bytes& p) { return outcome(decode_connack(v5, concat(bytes({0, 0}), p))); };
  d[PropertyContext::publish] = [=](const Bytes& p) {
    return outcome(decode_publish(v5, 2, concat(concat(bytes({0, 1, 't', 0, 1}), p), bytes({'x'}))));
  };
  d[PropertyContext::ack] = [=](const Bytes& p) {
    return outcome(decode_ack(v5, PacketType::puback, concat(bytes({0, 1, 0}), p)));
  };
  d[PropertyContext::subscribe] = [=](const Bytes& p) {
    return outcome(decode_subscribe(v5, concat(concat(bytes({0, 1}), p), bytes({0, 1, 'a', 0}))));
  };
  d[PropertyContext::suback] = [=](const Bytes& p) {
    return outcome(decode_suback(v5, PacketType::suback, concat(concat(bytes({0, 1}), p), bytes({0}))));
  };
  d[PropertyContext::unsubscribe] = [=](const Bytes& p) {
    return outcome(decode_unsubscribe(v5, concat(concat(bytes({0, 1}), p), bytes({0, 1, 'a'}))));
  };
  d[PropertyContext::unsuback] = [=](const Bytes& p) {
    return outcome(decode_suback(v5, PacketType::unsuback, concat(concat(bytes({0, 1}), p), bytes({0}))));
  };
  d[PropertyContext::disconnect] = [=](const Bytes& p) { return outcome(decode_disconnect(v5, concat(bytes({0}), p))); };
  d[PropertyContext::auth] = [=](const Bytes& p) { return outcome(decode_auth(concat(bytes({0}), p))); };
  return d;
}

using enum PropertyContext;

struct PropertyCase {
  int id;
  Bytes value;  // a valid encoding of the value
  std::vector<PropertyContext> allowed;
};

// MQTT 5.0 table 2-4: every property, its type, and the packets that may carry it.
const std::vector<PropertyCase>& all_properties() {
  static const std::vector<PropertyCase> cases = {
      {0x01, bytes({1}), {publish, will}},
      {0x02, bytes({0, 0, 0, 9}), {publish, will}},
      {0x03, bytes({0, 1, 'c'}), {publish, will}},
      {0x08, bytes({0, 1, 'r'}), {publish, will}},
      {0x09, bytes({0, 2, 0, 0xFF}), {publish, will}},
      {0x0B, bytes({0x80, 0x01}), {publish, subscribe}},
      {0x11, bytes({0, 0, 0, 9}), {connect, connack, disconnect}},
      {0x12, bytes({0, 1, 'a'}), {connack}},
      {0x13, bytes({0, 9}), {connack}},
      {0x15, bytes({0, 1, 'm'}), {connect, connack, auth}},
      {0x17, bytes({1}), {connect}},
      {0x18, bytes({0, 0, 0, 9}), {will}},
      {0x19, bytes({0}), {connect}},
      {0x1A, bytes({0, 1, 'i'}), {connack}},
      {0x1C, bytes({0, 1, 's'}), {connack, disconnect}},
      {0x1F, bytes({0, 1, 'w'}), {connack, ack, suback, unsuback, disconnect, auth}},
      {0x21, bytes({0, 9}), {connect, connack}},
      {0x22, bytes({0, 0}), {connect, connack}},
      {0x23, bytes({0, 9}), {publish}},
      {0x24, bytes({0}), {connack}},
      {0x25, bytes({1}), {connack}},
      {0x26, bytes({0, 1, 'k', 0, 0}), {connect, connack, publish, will, ack, subscribe, suback, unsubscribe, unsuback,
                                        disconnect, auth}},
      {0x27, bytes({0, 0, 1, 0}), {connect, connack}},
      {0x28, bytes({0}), {connack}},
      {0x29, bytes({1}), {connack}},
      {0x2A, bytes({0}), {connack}},
  };
  return cases;
}

Bytes property(int id, const Bytes& value) { return concat(bytes({id}), value); }

TEST(Properties, AllowedAndRefusedPerPacket) {
  const auto dec = decoders();
  for (const auto& c : all_properties()) {
    for (const auto& [ctx, decode] : dec) {
      const bool allowed = std::find(c.allowed.begin(), c.allowed.end(), ctx) != c.allowed.end();
      const auto e = decode(props_block(property(c.id, c.value)));
      if (allowed) {
        EXPECT_EQ(e.reason, ReasonCode::success) << "property " << c.id << " on context "
                                                 << static_cast<int>(ctx) << ": " << e.message;
      } else {
        // Section 2.2.2.2: an identifier not valid for the packet type is malformed.
        EXPECT_EQ(e.reason, ReasonCode::malformed_packet) << "property " << c.id << " on context " << static_cast<int>(ctx);
      }
    }
  }
  // Authentication data, with its method.
  const Bytes method_and_data = concat(property(0x15, bytes({0, 1, 'm'})), property(0x16, bytes({0, 1, 'd'})));
  for (auto ctx : {connect, connack, auth}) {
    EXPECT_EQ(dec.at(ctx)(props_block(method_and_data)).reason, ReasonCode::success);
    EXPECT_EQ(dec.at(ctx)(props_block(property(0x16, bytes({0, 1, 'd'})))).reason, ReasonCode::protocol_error);
  }
  EXPECT_EQ(dec.at(publish)(props_block(property(0x16, bytes({0, 1, 'd'})))).reason, ReasonCode::malformed_packet);
}

TEST(Properties, DuplicatesAreProtocolErrors) {
  const auto dec = decoders();
  for (const auto& c : all_properties()) {
    const Bytes once = property(c.id, c.value);
    for (auto ctx : c.allowed) {
      const auto e = dec.at(ctx)(props_block(concat(once, once)));
      const bool repeatable = c.id == 0x26 || (c.id == 0x0B && ctx == publish);
      EXPECT_EQ(e.reason, repeatable ? ReasonCode::success : ReasonCode::protocol_error)
          << "property " << c.id << " twice on context " << static_cast<int>(ctx) << ": " << e.message;
    }
  }
}

TEST(Properties, TruncatedValuesAreMalformed) {
  const auto dec = decoders();
  for (const auto& c : all_properties()) {
    const Bytes whole = property(c.id, c.value);
    // The property length covers the cut value, so the value itself runs out.
    for (std::size_t n = 1; n < whole.size(); ++n) {
      const Bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
      const auto e = dec.at(c.allowed.front())(props_block(cut));
      EXPECT_EQ(e.reason, ReasonCode::malformed_packet) << "property " << c.id << " cut to " << n << ": " << e.message;
    }
  }
}

TEST(Properties, LengthRunsPastThePacket) {
  EXPECT_EQ(reason_of(decode_disconnect(ProtocolVersion::v5, bytes({0x00, 0x10, 0x11, 0, 0, 0, 1}))),
            ReasonCode::malformed_packet);
  // A property length of five varint bytes.
  EXPECT_EQ(reason_of(decode_disconnect(ProtocolVersion::v5, bytes({0x00, 0x80, 0x80, 0x80, 0x80, 0x01}))),
            ReasonCode::malformed_packet);
  // A string inside that runs past the property block.
  EXPECT_EQ(reason_of(decode_disconnect(ProtocolVersion::v5, bytes({0x00, 0x04, 0x1F, 0, 5, 'a', 'b', 'c', 'd', 'e'}))),
            ReasonCode::malformed_packet);
}

TEST(Properties, UnknownIdentifierIsMalformed) {
  const auto dec = decoders();
  for (int id : {0x00, 0x04, 0x0A, 0x14, 0x2B, 0x7F}) {
    EXPECT_EQ(dec.at(publish)(props_block(bytes({id, 0}))).reason, ReasonCode::malformed_packet) << id;
  }
}

TEST(Properties, ValueRanges) {
  using enum ReasonCode;
  const auto dec = decoders();
  auto check = [&](PropertyContext ctx, int id, const Bytes& value, ReasonCode want) {
    EXPECT_EQ(dec.at(ctx)(props_block(property(id, value))).reason, want) << "property " << id;
  };
  check(publish, 0x01, bytes({0}), success);
  check(publish, 0x01, bytes({2}), protocol_error);  // payload format indicator 0/1
  check(will, 0x01, bytes({0xFF}), protocol_error);
  check(connect, 0x21, bytes({0, 0}), protocol_error);  // receive maximum 0
  check(connack, 0x21, bytes({0, 0}), protocol_error);
  check(connect, 0x27, bytes({0, 0, 0, 0}), protocol_error);  // maximum packet size 0
  check(connack, 0x27, bytes({0, 0, 0, 0}), protocol_error);
  check(publish, 0x23, bytes({0, 0}), topic_alias_invalid);  // topic alias 0 [MQTT-3.3.2-8]
  check(publish, 0x0B, bytes({0}), protocol_error);     // subscription identifier 0
  check(subscribe, 0x0B, bytes({0}), protocol_error);
  check(publish, 0x0B, bytes({0xFF, 0xFF, 0xFF, 0x7F}), success);  // the largest
  check(publish, 0x0B, bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x01}), malformed_packet);
  check(connack, 0x24, bytes({1}), success);
  check(connack, 0x24, bytes({2}), protocol_error);  // maximum QoS 0/1
  check(connect, 0x17, bytes({2}), protocol_error);  // request problem information 0/1
  check(connect, 0x19, bytes({2}), protocol_error);  // request response information 0/1
  for (int id : {0x25, 0x28, 0x29, 0x2A}) check(connack, id, bytes({2}), protocol_error);
  check(connect, 0x22, bytes({0, 0}), success);  // topic alias maximum 0 means none
  check(publish, 0x08, bytes({0, 3, 'a', '/', '#'}), protocol_error);  // response topic wildcard
  check(publish, 0x03, bytes({0, 2, 0xC0, 0x80}), malformed_packet);  // content type not UTF-8
  check(publish, 0x26, bytes({0, 1, 'k', 0, 1, 0x00}), malformed_packet);  // user property value U+0000
  check(publish, 0x09, bytes({0, 2, 0xC0, 0x80}), success);  // correlation data is binary
}

TEST(Properties, EncodedSizesMatch) {
  Properties p;
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(properties_size(p), 0u);
  p.payload_format_indicator = 1;      // 2
  p.message_expiry_interval = 1;       // 5
  p.subscription_identifiers = {200};  // 1 + 2
  p.user_properties = {{"ab", "c"}};   // 1 + 4 + 3
  p.correlation_data = "xyz";          // 1 + 2 + 3
  EXPECT_FALSE(p.empty());
  EXPECT_EQ(properties_size(p), 2u + 5u + 3u + 8u + 6u);
  Bytes out;
  write_properties(out, p);
  EXPECT_EQ(out.size(), 1 + properties_size(p));
  EXPECT_EQ(out[0], properties_size(p));
}

TEST(Properties, UserPropertiesKeepOrder) {
  Bytes block;
  for (const char* kv : {"b", "a", "b", "c"}) {
    block.push_back(0x26);
    put_string(block, kv);
    put_string(block, "v");
  }
  auto d = decode_disconnect(ProtocolVersion::v5, concat(bytes({0}), props_block(block)));
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->properties.user_properties.size(), 4u);
  EXPECT_EQ(d->properties.user_properties[0].first, "b");
  EXPECT_EQ(d->properties.user_properties[1].first, "a");
  EXPECT_EQ(d->properties.user_properties[2].first, "b");
  EXPECT_EQ(d->properties.user_properties[3].first, "c");
}

TEST(Properties, BorrowedUserPropertiesAreWrittenAfterOwnedOnes) {
  const std::string key = "traceparent";
  const std::string value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  Properties p;
  p.user_properties = {{"a", "1"}};
  p.user_property_views = {{key, value}, {"b", "2"}};
  EXPECT_FALSE(p.empty());
  EXPECT_EQ(properties_size(p), (1u + 4 + 2) + (1u + 4 + key.size() + value.size()) + (1u + 4 + 2));
  Bytes out;
  write_properties(out, p);
  EXPECT_EQ(out.size(), 1 + properties_size(p));
  Bytes block(out.begin() + 1, out.end());
  auto d = decode_disconnect(ProtocolVersion::v5, concat(bytes({0}), props_block(block)));
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->properties.user_properties.size(), 3u);
  EXPECT_EQ(d->properties.user_properties[0], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ(d->properties.user_properties[1], (std::pair<std::string, std::string>{key, value}));
  EXPECT_EQ(d->properties.user_properties[2], (std::pair<std::string, std::string>{"b", "2"}));
  EXPECT_TRUE(d->properties.user_property_views.empty());

  Properties only_views;
  only_views.user_property_views = {{"k", "v"}};
  EXPECT_FALSE(only_views.empty());
}

}  // namespace
}  // namespace outpost::mqtt
