// Log lines: JSON escaping, the text and JSON line shapes, readable sizes.
#include "log.hpp"

#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>

#include <cstdio>
#include <fstream>
#include <regex>

namespace outpost::log {
namespace {

TEST(JsonEscape, PlainTextIsKept) {
  EXPECT_EQ(json_escape("client 'a' connected"), "client 'a' connected");
  EXPECT_EQ(json_escape(""), "");
}

TEST(JsonEscape, QuotesBackslashesAndControls) {
  EXPECT_EQ(json_escape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(json_escape("l1\nl2\r\t"), "l1\\nl2\\r\\t");
  EXPECT_EQ(json_escape(std::string("\x01\x1f\b\f", 4)), "\\u0001\\u001f\\b\\f");
  EXPECT_EQ(json_escape(std::string("a\0b", 3)), "a\\u0000b");
  EXPECT_EQ(json_escape("\x7f"), "\x7f");  // DEL needs no escape
}

TEST(JsonEscape, Utf8IsKeptAndInvalidBytesReplaced) {
  EXPECT_EQ(json_escape("température €  𝄞"), "température €  𝄞");
  EXPECT_EQ(json_escape("a\xff" "b"), "a\\ufffdb");
  EXPECT_EQ(json_escape("\xc3"), "\\ufffd");            // truncated sequence
  EXPECT_EQ(json_escape("\xc0\xaf"), "\\ufffd\\ufffd");  // overlong
  EXPECT_EQ(json_escape("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");  // a surrogate
  EXPECT_EQ(json_escape("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");  // above U+10FFFF
}

std::string format(Format f, bool journal, spdlog::level::level_enum level, std::string_view text) {
  auto formatter = make_formatter(f, journal);
  spdlog::details::log_msg msg(spdlog::source_loc{}, "outpost", level, spdlog::string_view_t(text.data(), text.size()));
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(LogFormat, TextLinesCarryAnIsoTimeWithItsOffset) {
  const auto line = format(Format::text, false, spdlog::level::info, "hello");
  EXPECT_TRUE(std::regex_match(line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d info hello\r?\n)")))
      << line;
}

TEST(LogFormat, JsonLinesAreOneObject) {
  const auto line = format(Format::json, false, spdlog::level::warn, "a \"quoted\"\nline");
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d","level":"warning","thread":\d+,)"
                       R"("message":"a \\"quoted\\"\\nline"\}\r?\n)")))
      << line;
}

TEST(LogFormat, JournalLinesStartWithThePriority) {
  EXPECT_EQ(format(Format::text, true, spdlog::level::err, "x").substr(0, 10), "<3>error x");
  EXPECT_EQ(format(Format::json, true, spdlog::level::info, "x").substr(0, 5), "<6>{\"");
}

TEST(ReadableBytes, Units) {
  EXPECT_EQ(readable_bytes(0), "0 B");
  EXPECT_EQ(readable_bytes(1023), "1023 B");
  EXPECT_EQ(readable_bytes(1024), "1 KiB");
  EXPECT_EQ(readable_bytes(1536), "1.5 KiB");
  EXPECT_EQ(readable_bytes(64ull << 20), "64 MiB");
  EXPECT_EQ(readable_bytes(1258291), "1.2 MiB");
  EXPECT_EQ(readable_bytes(3ull << 30), "3 GiB");
  EXPECT_EQ(readable_bytes((1ull << 30) + (1ull << 29)), "1.5 GiB");
  EXPECT_EQ(readable_bytes(UINT64_MAX), "16.0 EiB");
}

TEST(CheckFile, AppendableFilesAndDirectories) {
  EXPECT_EQ(check_file("/"), "it is a directory");
  const std::string file = ::testing::TempDir() + "/outpost-log-test-file";
  std::ofstream(file) << "x";
  EXPECT_EQ(check_file(file), "");
  EXPECT_NE(check_file(file + "/x.log"), "");  // under a file
  EXPECT_EQ(check_file(::testing::TempDir() + "/outpost-log-test-dir/sub/new.log"), "");  // directories are made
  std::remove(file.c_str());
}

}  // namespace
}  // namespace outpost::log
