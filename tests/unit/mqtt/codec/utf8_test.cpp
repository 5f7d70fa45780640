#include "codec_test_util.hpp"

namespace outpost::mqtt {
namespace {

TEST(Utf8, Valid) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii/with+#"));
  EXPECT_TRUE(valid_utf8("\xC3\xA9t\xC3\xA9"));        // été
  EXPECT_TRUE(valid_utf8("\xEF\xBB\xBF"));              // U+FEFF is allowed [MQTT-1.5.3-3]
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80"));          // U+1F600
  EXPECT_TRUE(valid_utf8("A\xF0\xAA\x9B\x94"));         // 3.1.1 figure 1.3: "A" U+2A6D4
  EXPECT_TRUE(valid_utf8("\xC2\x80"));                  // smallest 2-byte
  EXPECT_TRUE(valid_utf8("\xE0\xA0\x80"));              // smallest 3-byte
  EXPECT_TRUE(valid_utf8("\xED\x9F\xBF"));              // U+D7FF, just below the surrogates
  EXPECT_TRUE(valid_utf8("\xEE\x80\x80"));              // U+E000, just above
  EXPECT_TRUE(valid_utf8("\xF4\x8F\xBF\xBF"));          // U+10FFFF
  EXPECT_TRUE(valid_utf8("\x7F"));                      // control characters are allowed (a SHOULD NOT)
}

TEST(Utf8, EveryPositionOfALongString) {
  // Long strings take the eight-bytes-at-a-time path: what it skips must be plain ASCII.
  const std::string ascii(24, 'a');
  for (std::size_t at = 0; at <= ascii.size(); ++at) {
    std::string nul = ascii;
    nul.insert(at, 1, '\0');
    EXPECT_FALSE(valid_utf8(nul)) << "NUL at " << at;
    for (std::string_view bad : {"\xC0\x80", "\xED\xA0\x80", "\x80", "\xFF", "\xC3"}) {
      std::string s = ascii;
      s.insert(at, bad);
      EXPECT_FALSE(valid_utf8(s)) << "invalid sequence at " << at;
    }
    for (std::string_view good : {"\xC3\xA9", "\xEF\xBB\xBF", "\xF0\x9F\x98\x80", "\x7F"}) {
      std::string s = ascii;
      s.insert(at, good);
      EXPECT_TRUE(valid_utf8(s)) << "valid sequence at " << at;
    }
  }
}

TEST(Utf8, Invalid) {
  EXPECT_FALSE(valid_utf8(std::string_view("a\0b", 3)));  // U+0000 [MQTT-1.5.3-2]
  EXPECT_FALSE(valid_utf8("\xC0\x80"));                   // overlong U+0000
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));                   // overlong '/'
  EXPECT_FALSE(valid_utf8("\xC1\xBF"));                   // overlong
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));               // overlong 3-byte
  EXPECT_FALSE(valid_utf8("\xE0\x9F\xBF"));               // overlong 3-byte, largest
  EXPECT_FALSE(valid_utf8("\xF0\x80\x80\xAF"));           // overlong 4-byte
  EXPECT_FALSE(valid_utf8("\xF0\x8F\xBF\xBF"));           // overlong 4-byte, largest
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));               // U+D800 [MQTT-1.5.3-1]
  EXPECT_FALSE(valid_utf8("\xED\xBF\xBF"));               // U+DFFF
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));           // U+110000
  EXPECT_FALSE(valid_utf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xF8\x88\x80\x80\x80"));       // 5-byte form
  EXPECT_FALSE(valid_utf8("\xFE"));
  EXPECT_FALSE(valid_utf8("\xFF"));
  EXPECT_FALSE(valid_utf8("\xC3"));                       // truncated
  EXPECT_FALSE(valid_utf8("\xE2\x82"));                   // truncated
  EXPECT_FALSE(valid_utf8("\xF0\x9F\x98"));               // truncated
  EXPECT_FALSE(valid_utf8("\x80"));                       // stray continuation
  EXPECT_FALSE(valid_utf8("\xC3\x28"));                   // bad continuation
  EXPECT_FALSE(valid_utf8("\xE2\x28\xA1"));
}

}  // namespace
}  // namespace outpost::mqtt
