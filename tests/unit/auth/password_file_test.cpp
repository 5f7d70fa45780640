#include "auth/password_file.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace outpost::auth {
namespace {

// Written by Debian 12's mosquitto_passwd 2.0.11:
//   mosquitto_passwd -c -b F alice 'correct horse'
//   mosquitto_passwd -H sha512 -b F bob hunter2
//   mosquitto_passwd -b F carol ''
//   mosquitto_passwd -b -I 5 F dave 'five rounds'
//   mosquitto_passwd -b F "$(printf 'b\xc3\xa9atrice')" "$(printf '\xff\xfe\x01\x7f bin')"
//   mosquitto_passwd -H sha512 -b F erin ''
constexpr std::string_view kAlice =
    "alice:$7$101$pB0shTHISMKkcGqj$aWnkOFuut3oiVC4yDkHZidHKyGfqGZRUoGw0VbTpeS0hTuMDiTTRN227vmDwGAzwoNYIHspSkhzeqeOXUjxSQg==";
constexpr std::string_view kBob =
    "bob:$6$UzUP7hRZolHgdArc$mU7PG/k0x8I5igS1PovmLnGGCykYzme37uHDkz/5RM+ttpyoPEh6hfNPmWvfNNZ6MfH2n9TvIziHwHMVl/uxig==";
constexpr std::string_view kCarol =
    "carol:$7$101$L5LMCTFQVHQF1sfK$LJ3h+sU7LXEOoDuqeRn2aENwOrWpjIfzKj53tHKWDDfuUSjBNJ8MoH7iNE4/eNtkhHkIGRb41LmwpJMyjmTIOA==";
constexpr std::string_view kDave =
    "dave:$7$5$HNbvTPKkgcdd5jLV$ZUZZVxjmLcui02w4YKby4+RqDlvbUEjcWI0mf8tyqotYQRyB0GR/ozqvIy9D6/ngJ37Ar8j82R6Zrjyeyjv9oA==";
constexpr std::string_view kBeatrice =
    "b\xc3\xa9"
    "atrice:$7$101$JTwl8xiXsVVfqIAi$44ViQJGIjH4FeFl1gRHKdzJuN+FJsKtYFzVYGVjhDuIqKWD73i0nwkyLJqI+w1yiPbfG7qivxNVlWFG2UNFdtw==";
constexpr std::string_view kErin =
    "erin:$6$je1LBGKu92upT8lm$POf+Ye3DLjJ1yuy9SQkuy+yntoKmCoEk2pOTVpCPVNQuffgfFfNzppUtCoHXxqhqRiqqvJR3mq5lzyz7pg8ghA==";

// alice's salt and digest, to build lines that are wrong in exactly one place.
constexpr std::string_view kSalt = "pB0shTHISMKkcGqj";
constexpr std::string_view kDigest =
    "aWnkOFuut3oiVC4yDkHZidHKyGfqGZRUoGw0VbTpeS0hTuMDiTTRN227vmDwGAzwoNYIHspSkhzeqeOXUjxSQg==";

std::string lines(std::initializer_list<std::string_view> list) {
  std::string out;
  for (auto l : list) {
    out += l;
    out += '\n';
  }
  return out;
}

PasswordFile parse_clean(const std::string& text) {
  FileProblems problems;
  auto file = PasswordFile::parse(text, "passwd", problems);
  for (const auto& p : problems) ADD_FAILURE() << p.describe();
  return file;
}

TEST(PasswordFile, EmptyFileAcceptsNobody) {
  const PasswordFile nobody;
  EXPECT_EQ(nobody.size(), 0u);
  EXPECT_FALSE(nobody.verify("alice", "correct horse"));
  EXPECT_FALSE(nobody.verify("", ""));
}

TEST(PasswordFile, Pbkdf2LinesFromMosquittoPasswd) {
  const auto file = parse_clean(lines({kAlice, kDave}));
  EXPECT_TRUE(file.verify("alice", "correct horse"));
  EXPECT_FALSE(file.verify("alice", "correct horse "));
  EXPECT_FALSE(file.verify("alice", "Correct horse"));
  EXPECT_FALSE(file.verify("alice", ""));
  EXPECT_TRUE(file.verify("dave", "five rounds"));  // -I 5
  EXPECT_FALSE(file.verify("dave", "correct horse"));
}

TEST(PasswordFile, Sha512LinesFromMosquittoPasswd) {
  const auto file = parse_clean(lines({kBob, kErin}));
  EXPECT_TRUE(file.verify("bob", "hunter2"));
  EXPECT_FALSE(file.verify("bob", "hunter3"));
  EXPECT_FALSE(file.verify("bob", std::string("hunter2\0", 8)));
  EXPECT_TRUE(file.verify("erin", ""));
  EXPECT_FALSE(file.verify("erin", "x"));
}

TEST(PasswordFile, EmptyPassword) {
  const auto file = parse_clean(lines({kCarol}));
  EXPECT_TRUE(file.verify("carol", ""));
  EXPECT_FALSE(file.verify("carol", " "));
}

TEST(PasswordFile, BinaryPasswordAndUtf8User) {
  const auto file = parse_clean(lines({kBeatrice}));
  EXPECT_TRUE(file.contains("b\xc3\xa9" "atrice"));
  EXPECT_TRUE(file.verify("b\xc3\xa9" "atrice", "\xff\xfe\x01\x7f bin"));
  EXPECT_FALSE(file.verify("b\xc3\xa9" "atrice", "\xff\xfe\x01\x7f bi"));
  EXPECT_FALSE(file.verify("beatrice", "\xff\xfe\x01\x7f bin"));
}

TEST(PasswordFile, PasswordsAreBytesNotCStrings) {
  const std::string with_nul("ab\0cd", 5);
  const auto file = parse_clean("u:" + hash_password(with_nul) + "\n");
  EXPECT_TRUE(file.verify("u", with_nul));
  EXPECT_FALSE(file.verify("u", "ab"));
  EXPECT_FALSE(file.verify("u", std::string("ab\0ce", 5)));
}

TEST(PasswordFile, UnknownUser) {
  const auto file = parse_clean(lines({kAlice, kBob}));
  EXPECT_FALSE(file.contains("mallory"));
  EXPECT_FALSE(file.verify("mallory", "correct horse"));
  EXPECT_FALSE(file.verify("mallory", ""));
  EXPECT_FALSE(file.verify("Alice", "correct horse"));
  EXPECT_FALSE(file.verify("", ""));
}

TEST(PasswordFile, CommentsBlankLinesCrLfAndBlanksAroundFields) {
  const std::string text = "# users of the gateway\n\n   \n" + std::string(kAlice) + "\r\n  " + std::string(kBob) + "  \n" +
                           std::string(kCarol);  // no final newline
  const auto file = parse_clean(text);
  EXPECT_EQ(file.users(), (std::vector<std::string>{"alice", "bob", "carol"}));
  EXPECT_TRUE(file.verify("alice", "correct horse"));
  EXPECT_TRUE(file.verify("bob", "hunter2"));
  EXPECT_TRUE(file.verify("carol", ""));
}

struct Bad {
  std::string line;
  std::string says;  // part of the problem's message
};

TEST(PasswordFile, MalformedLinesAreReportedWithTheirLineAndAcceptNobody) {
  const std::string salt(kSalt);
  const std::string digest(kDigest);
  const std::vector<Bad> bad = {
      {"nocolon", "no ':'"},
      {"u2:$5$" + salt + "$" + digest, "unknown hash type '$5$'"},
      {"u3:$7$101$!!!!notbase64!!!$" + digest, "salt"},
      {"u4:$7$101$" + salt.substr(0, 12) + "$" + digest, "salt"},
      {"u5:$7$0$" + salt + "$" + digest, "outside 1..1000000"},
      {"u6:$7$99999999999$" + salt + "$" + digest, "outside"},
      {"u7:$7$2000000$" + salt + "$" + digest, "outside"},
      {"u8:$7$-5$" + salt + "$" + digest, "outside"},
      {"u9:$7$ten$" + salt + "$" + digest, "not a number"},
      {"u10:$7$101$" + salt, "four fields"},
      {"u11:$6$" + salt + "$" + digest.substr(0, 40), "hash is not 64 bytes"},
      {"u12:$7$101$" + salt + "$" + digest.substr(0, 86), "hash is not 64 bytes"},
      {"u13:$6$" + salt, "three fields"},
      {"u14:plain-text-password", "not hashed"},
      {":$7$101$" + salt + "$" + digest, "user name is empty"},
      {"u16:", "no password hash"},
      {"u17:$7$101$" + salt + "$" + digest + ":more", "more than one ':'"},
      {"u18:$7$101$" + salt + "$" + digest + "$", "four fields"},
      {"u\x01" "19:$7$101$" + salt + "$" + digest, "control character"},
      {"u\xff" "20:$7$101$" + salt + "$" + digest, "not UTF-8"},
      {"u21:$$7$101$" + salt + "$" + digest, "unknown hash type"},
      {"u22:$7$101$" + salt + "$" + digest.substr(0, 87) + "A", "hash is not 64 bytes"},
  };
  // Good lines between the bad ones, so a reported line number is checked, not guessed.
  std::string text = "# header\n" + std::string(kAlice) + "\n";
  std::vector<std::size_t> expected_lines;
  std::size_t line = 2;
  for (const auto& b : bad) {
    text += b.line + "\n";
    expected_lines.push_back(++line);
    text += "\n";
    ++line;
  }
  text += std::string(kBob) + "\n";

  FileProblems problems;
  const auto file = PasswordFile::parse(text, "/etc/outpost/passwd", problems);
  ASSERT_EQ(problems.size(), bad.size());
  for (std::size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(bad[i].line);
    EXPECT_EQ(problems[i].file, "/etc/outpost/passwd");
    EXPECT_EQ(problems[i].line, expected_lines[i]);
    EXPECT_NE(problems[i].message.find(bad[i].says), std::string::npos) << problems[i].message;
    // A problem never quotes a password field.
    EXPECT_EQ(problems[i].message.find(digest.substr(0, 20)), std::string::npos);
    EXPECT_EQ(problems[i].message.find("plain-text-password"), std::string::npos);
  }
  EXPECT_EQ(file.users(), (std::vector<std::string>{"alice", "bob"}));
  for (int i = 2; i <= 22; ++i) {
    const std::string user = "u" + std::to_string(i);
    EXPECT_FALSE(file.contains(user)) << user;
    EXPECT_FALSE(file.verify(user, "correct horse")) << user;
  }
  EXPECT_FALSE(file.verify("plain-text-password", "plain-text-password"));
  EXPECT_TRUE(file.verify("alice", "correct horse"));
  EXPECT_TRUE(file.verify("bob", "hunter2"));
}

TEST(PasswordFile, DuplicateUserKeepsTheFirstLine) {
  const std::string second = "alice:" + hash_password("second");
  FileProblems problems;
  const auto file = PasswordFile::parse(lines({kBob, kAlice, "", second}), "passwd", problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].describe(), "passwd:4: user 'alice' is listed again (first on line 2); this line is ignored");
  EXPECT_TRUE(file.verify("alice", "correct horse"));
  EXPECT_FALSE(file.verify("alice", "second"));
  EXPECT_EQ(file.size(), 2u);
}

TEST(PasswordFile, DuplicateAfterABadLineOfTheSameUser) {
  // The first line that is understood is the one kept.
  const std::string bad = "alice:$7$0$" + std::string(kSalt) + "$" + std::string(kDigest);
  FileProblems problems;
  const auto file = PasswordFile::parse(lines({bad, kAlice}), "passwd", problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 1u);
  EXPECT_TRUE(file.verify("alice", "correct horse"));
}

TEST(PasswordFile, HashPasswordRoundTrip) {
  const auto hash = hash_password("s3cret");
  EXPECT_TRUE(std::regex_match(hash, std::regex(R"(\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==)"))) << hash;
  EXPECT_NE(hash, hash_password("s3cret"));  // a fresh salt every time
  EXPECT_TRUE(is_password_hash(hash));

  const auto legacy = hash_password_sha512("s3cret");
  EXPECT_TRUE(std::regex_match(legacy, std::regex(R"(\$6\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==)"))) << legacy;

  const auto slow = hash_password("s3cret", 2000);
  EXPECT_EQ(slow.rfind("$7$2000$", 0), 0u);

  const auto file = parse_clean("a:" + hash + "\nb:" + legacy + "\nc:" + slow + "\nd:" + hash_password("") + "\n");
  for (const char* user : {"a", "b", "c"}) {
    EXPECT_TRUE(file.verify(user, "s3cret")) << user;
    EXPECT_FALSE(file.verify(user, "s3cre")) << user;
  }
  EXPECT_TRUE(file.verify("d", ""));
}

TEST(PasswordFile, HashPasswordRefusesBadIterations) {
  EXPECT_THROW(hash_password("x", 0), std::invalid_argument);
  EXPECT_THROW(hash_password("x", -1), std::invalid_argument);
  EXPECT_THROW(hash_password("x", kMaxIterations + 1), std::invalid_argument);
}

TEST(PasswordFile, UserNames) {
  EXPECT_FALSE(user_name_problem("alice"));
  EXPECT_FALSE(user_name_problem("b\xc3\xa9" "atrice"));
  EXPECT_TRUE(user_name_problem(""));
  EXPECT_TRUE(user_name_problem("a:b"));
  EXPECT_TRUE(user_name_problem("a\nb"));
  EXPECT_TRUE(user_name_problem("\xc3"));
  EXPECT_TRUE(user_name_problem("\xed\xa0\x80"));  // a surrogate
  EXPECT_TRUE(user_name_problem(std::string(65536, 'a')));
}

TEST(PasswordFile, VerifyFromManyThreads) {
  const auto file = parse_clean(lines({kAlice, kBob, kDave}));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (!file.verify("alice", "correct horse") || !file.verify("bob", "hunter2") || file.verify("dave", "x") ||
            file.verify("nobody", "x")) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "outpost-passwd-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

TEST(PasswordFile, LoadReadsTheFileAndNamesItInProblems) {
  TempDir dir;
  const auto path = dir.file("passwd");
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(f, "%s\nbroken\n", std::string(kAlice).c_str());
    std::fclose(f);
  }
  FileProblems problems;
  const auto file = PasswordFile::load(path, problems);
  EXPECT_TRUE(file.verify("alice", "correct horse"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].describe(), path + ":2: no ':' between user and password hash");
}

TEST(PasswordFile, LoadOfAMissingFileThrowsWithThePath) {
  FileProblems problems;
  try {
    PasswordFile::load("/nonexistent/outpost/passwd", problems);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/outpost/passwd: No such file or directory");
  }
}

// The real tool, run now: whatever Debian's mosquitto_passwd writes today must verify.
TEST(PasswordFile, ReadsWhatMosquittoPasswdWritesNow) {
  const char* tool = "/usr/bin/mosquitto_passwd";
  ASSERT_EQ(::access(tool, X_OK), 0) << tool << " is missing (apt-get install mosquitto)";
  TempDir dir;
  const auto path = dir.file("passwd");
  const auto run = [&](const std::string& args) {
    const std::string command = std::string(tool) + " " + args + " >/dev/null 2>&1";
    return std::system(command.c_str());
  };
  ASSERT_EQ(run("-c -b '" + path + "' ann 'open sesame'"), 0);
  ASSERT_EQ(run("-H sha512 -b '" + path + "' ben 'old style'"), 0);
  ASSERT_EQ(run("-I 1000 -b '" + path + "' cat 'many rounds'"), 0);
  ASSERT_EQ(run("-b '" + path + "' dan ''"), 0);

  FileProblems problems;
  const auto file = PasswordFile::load(path, problems);
  for (const auto& p : problems) ADD_FAILURE() << p.describe();
  EXPECT_EQ(file.users(), (std::vector<std::string>{"ann", "ben", "cat", "dan"}));
  EXPECT_TRUE(file.verify("ann", "open sesame"));
  EXPECT_TRUE(file.verify("ben", "old style"));
  EXPECT_TRUE(file.verify("cat", "many rounds"));
  EXPECT_TRUE(file.verify("dan", ""));
  EXPECT_FALSE(file.verify("ann", "open sesame!"));
  EXPECT_FALSE(file.verify("ben", "open sesame"));
  EXPECT_FALSE(file.verify("dan", "x"));
}

}  // namespace
}  // namespace outpost::auth
