#include "codec_test_util.hpp"

namespace outpost::mqtt {
namespace {

using test::body_of;
using test::bytes;
using test::reason_of;

TEST(Ping, GoldenBytesAndDecode) {
  Bytes out;
  encode_pingreq(out);
  encode_pingresp(out);
  EXPECT_EQ(out, bytes({0xC0, 0x00, 0xD0, 0x00}));
  auto req = decode_ping(PacketType::pingreq, {});
  ASSERT_TRUE(req);
  EXPECT_EQ(req->type, PacketType::pingreq);
  EXPECT_TRUE(decode_ping(PacketType::pingresp, {}));
  EXPECT_EQ(reason_of(decode_ping(PacketType::pingreq, bytes({0}))), ReasonCode::malformed_packet);
  EXPECT_EQ(reason_of(decode_ping(PacketType::connect, {})), ReasonCode::protocol_error);
}

TEST(Disconnect, OlderVersions) {
  for (auto v : {ProtocolVersion::v31, ProtocolVersion::v311}) {
    Bytes out;
    encode_disconnect(out, v, ReasonCode::server_shutting_down);  // no reason before 5.0
    EXPECT_EQ(out, bytes({0xE0, 0x00}));
    auto d = decode_disconnect(v, {});
    ASSERT_TRUE(d);
    EXPECT_EQ(d->reason, ReasonCode::success);
    EXPECT_EQ(reason_of(decode_disconnect(v, bytes({0}))), ReasonCode::malformed_packet);
  }
}

TEST(Disconnect, FiveForms) {
  using enum ReasonCode;
  const auto v5 = ProtocolVersion::v5;
  Bytes normal;
  encode_disconnect(normal, v5, success);
  EXPECT_EQ(normal, bytes({0xE0, 0x00}));  // remaining length 0 = normal disconnection
  Bytes reason;
  encode_disconnect(reason, v5, session_taken_over);
  EXPECT_EQ(reason, bytes({0xE0, 0x01, 0x8E}));
  Properties props;
  props.session_expiry_interval = 0;
  props.reason_string = "bye";
  props.server_reference = "elsewhere";
  Bytes full;
  encode_disconnect(full, v5, server_moved, &props);
  for (const Bytes* packet : {&normal, &reason, &full}) {
    auto d = decode_disconnect(v5, body_of(*packet));
    ASSERT_TRUE(d) << d.error().message;
  }
  auto d = decode_disconnect(v5, body_of(full));
  EXPECT_EQ(d->reason, server_moved);
  EXPECT_EQ(d->properties.session_expiry_interval.value_or(9), 0u);
  EXPECT_EQ(d->properties.reason_string.value_or(""), "bye");
  EXPECT_EQ(d->properties.server_reference.value_or(""), "elsewhere");
  Bytes again;
  encode_disconnect(again, v5, d->reason, &d->properties);
  EXPECT_EQ(again, full);
  // Success with properties keeps the reason byte.
  Properties only;
  only.session_expiry_interval = 10;
  Bytes with_props;
  encode_disconnect(with_props, v5, success, &only);
  EXPECT_EQ(with_props, bytes({0xE0, 0x07, 0x00, 0x05, 0x11, 0, 0, 0, 10}));
  auto w = decode_disconnect(v5, bytes({0x04}));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->reason, disconnect_with_will_message);
}

TEST(Disconnect, FiveViolations) {
  using enum ReasonCode;
  const auto v5 = ProtocolVersion::v5;
  EXPECT_EQ(reason_of(decode_disconnect(v5, bytes({0x01}))), malformed_packet);  // not a DISCONNECT code
  EXPECT_EQ(reason_of(decode_disconnect(v5, bytes({0x85}))), malformed_packet);  // CONNACK only
  EXPECT_EQ(reason_of(decode_disconnect(v5, bytes({0x00, 0x05, 0x11, 0, 0}))), malformed_packet);  // truncated
  EXPECT_EQ(reason_of(decode_disconnect(v5, bytes({0x00, 0x03, 0x21, 0, 1}))), malformed_packet);  // receive max
  EXPECT_EQ(reason_of(decode_disconnect(v5, bytes({0x00, 0x00, 0x00}))), malformed_packet);  // trailing
}

TEST(Auth, Forms) {
  using enum ReasonCode;
  Bytes ok;
  encode_auth(ok, success, nullptr);
  EXPECT_EQ(ok, bytes({0xF0, 0x00}));
  auto d0 = decode_auth({});
  ASSERT_TRUE(d0);
  EXPECT_EQ(d0->reason, success);
  Properties props;
  props.authentication_method = "SCRAM-SHA-1";
  props.authentication_data = std::string("\x00\xFF", 2);
  props.reason_string = "more";
  Bytes cont;
  encode_auth(cont, continue_authentication, &props);
  EXPECT_EQ(cont[2], 0x18);
  auto d = decode_auth(body_of(cont));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->reason, continue_authentication);
  EXPECT_EQ(d->properties.authentication_method.value_or(""), "SCRAM-SHA-1");
  EXPECT_EQ(d->properties.authentication_data.value_or(""), std::string("\x00\xFF", 2));
  Bytes again;
  encode_auth(again, d->reason, &d->properties);
  EXPECT_EQ(again, cont);
  auto re = decode_auth(bytes({0x19}));
  ASSERT_TRUE(re);
  EXPECT_EQ(re->reason, re_authenticate);
}

TEST(Auth, Violations) {
  using enum ReasonCode;
  EXPECT_EQ(reason_of(decode_auth(bytes({0x80}))), malformed_packet);  // not an AUTH code
  EXPECT_EQ(reason_of(decode_auth(bytes({0x18, 0x04, 0x16, 0, 1, 'x'}))), protocol_error);  // data without method
  EXPECT_EQ(reason_of(decode_auth(bytes({0x18, 0x03, 0x11, 0, 1}))), malformed_packet);  // session expiry
  EXPECT_EQ(reason_of(decode_auth(bytes({0x18, 0x09, 0x15, 0, 1, 'm'}))), malformed_packet);  // runs past
}

}  // namespace
}  // namespace outpost::mqtt
