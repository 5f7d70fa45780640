// HTTP Basic credentials (RFC 7617) and percent-decoding of path segments.
#include "http/credentials.hpp"

#include <gtest/gtest.h>

namespace outpost::http {
namespace {

TEST(BasicAuthorization, DecodesUserAndPassword) {
  auto c = parse_basic_authorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");  // RFC 7617's example
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "Aladdin");
  EXPECT_EQ(c->password, "open sesame");
}

TEST(BasicAuthorization, SchemeIsCaseInsensitiveAndThePasswordMayHoldColons) {
  auto c = parse_basic_authorization("basic YWRtaW46YTpiOmM=");  // admin:a:b:c
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "admin");
  EXPECT_EQ(c->password, "a:b:c");
  auto empty = parse_basic_authorization("Basic dXNlcjo=");  // user:
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->password, "");
}

TEST(BasicAuthorization, RefusesOtherSchemesAndMalformedTokens) {
  EXPECT_FALSE(parse_basic_authorization(""));
  EXPECT_FALSE(parse_basic_authorization("Bearer abc"));
  EXPECT_FALSE(parse_basic_authorization("Basic"));
  EXPECT_FALSE(parse_basic_authorization("Basic !!!!"));
  EXPECT_FALSE(parse_basic_authorization("Basic dXNlcg=="));  // "user": no colon
  EXPECT_FALSE(parse_basic_authorization("Basic a"));         // a lone sextet
}

TEST(PercentDecode, DecodesEscapesAndKeepsPlus) {
  EXPECT_EQ(percent_decode("plain"), "plain");
  EXPECT_EQ(percent_decode("a%2Fb%20c"), "a/b c");
  EXPECT_EQ(percent_decode("%e2%82%ac"), "\xe2\x82\xac");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_FALSE(percent_decode("a%2"));
  EXPECT_FALSE(percent_decode("a%zz"));
  EXPECT_FALSE(percent_decode("%"));
}

}  // namespace
}  // namespace outpost::http
