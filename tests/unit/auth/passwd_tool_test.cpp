#include "auth/passwd_tool.hpp"

#include "auth/password_file.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace outpost::auth {
namespace {

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

Result passwd(std::initializer_list<std::string> args, const std::string& input = "") {
  std::vector<std::string> storage{"passwd"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  Result r;
  r.code = passwd_main(static_cast<int>(storage.size()), argv.data(), in, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

class PasswdTool : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "outpost-passwd-tool-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "passwd").string();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string read() const {
    std::ifstream f(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  }
  void write(const std::string& text) const {
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    f << text;
  }
  unsigned mode() const {
    struct stat st {};
    ::stat(path_.c_str(), &st);
    return st.st_mode & 07777;
  }
  PasswordFile load() const {
    FileProblems problems;
    auto file = PasswordFile::load(path_, problems);
    for (const auto& p : problems) ADD_FAILURE() << p.describe();
    return file;
  }
  // Nothing but the file itself is left in the directory (no temporary file).
  void expect_only_the_file() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    EXPECT_EQ(names, std::vector<std::string>{"passwd"});
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(PasswdTool, CreateInBatchMode) {
  const auto r = passwd({"-c", "-b", path_, "alice", "s3cret"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto text = read();
  EXPECT_EQ(text.rfind("alice:$7$101$", 0), 0u) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_EQ(mode(), 0600u);
  const auto file = load();
  EXPECT_TRUE(file.verify("alice", "s3cret"));
  EXPECT_FALSE(file.verify("alice", "s3cre"));
  expect_only_the_file();
}

TEST_F(PasswdTool, CreateOverwritesAndKeepsTheMode) {
  write("old:" + hash_password("x") + "\n");
  ::chmod(path_.c_str(), 0640);
  ASSERT_EQ(passwd({"-c", "-b", path_, "alice", "s3cret"}).code, 0);
  const auto file = load();
  EXPECT_EQ(file.users(), std::vector<std::string>{"alice"});
  EXPECT_EQ(mode(), 0640u);
}

TEST_F(PasswdTool, HashChoices) {
  ASSERT_EQ(passwd({"-c", "-H", "sha512", "-b", path_, "old", "pw"}).code, 0);
  EXPECT_EQ(read().rfind("old:$6$", 0), 0u);
  ASSERT_EQ(passwd({"-H", "sha512-pbkdf2", "-I", "7", "-b", path_, "new", "pw"}).code, 0);
  EXPECT_NE(read().find("\nnew:$7$7$"), std::string::npos);
  const auto file = load();
  EXPECT_TRUE(file.verify("old", "pw"));
  EXPECT_TRUE(file.verify("new", "pw"));
}

TEST_F(PasswdTool, UpdateKeepsOtherLinesByteForByteAndInOrder) {
  const std::string bob = "bob:" + hash_password_sha512("hunter2");
  const std::string carol = "carol:" + hash_password("c", 3);
  write("# gateway users\n" + bob + "\r\n\nalice:" + hash_password("old") + "\n" + carol);  // no final newline
  ::chmod(path_.c_str(), 0640);

  const auto r = passwd({"-b", path_, "alice", "new"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto text = read();
  const auto alice_at = text.find("alice:$7$101$");
  ASSERT_NE(alice_at, std::string::npos);
  const auto alice_end = text.find('\n', alice_at);
  EXPECT_EQ(text.substr(0, alice_at), "# gateway users\n" + bob + "\r\n\n");
  EXPECT_EQ(text.substr(alice_end + 1), carol + "\n");
  EXPECT_EQ(mode(), 0640u);

  // A new user goes at the end, on a line of its own.
  ASSERT_EQ(passwd({"-b", path_, "dave", "d"}).code, 0);
  const auto after = read();
  EXPECT_EQ(after.substr(0, text.size()), text);
  EXPECT_EQ(after.substr(text.size()).rfind("dave:$7$", 0), 0u);

  const auto file = load();
  EXPECT_TRUE(file.verify("alice", "new"));
  EXPECT_FALSE(file.verify("alice", "old"));
  EXPECT_TRUE(file.verify("bob", "hunter2"));
  EXPECT_TRUE(file.verify("carol", "c"));
  EXPECT_TRUE(file.verify("dave", "d"));
  expect_only_the_file();
}

TEST_F(PasswdTool, UpdateReplacesEveryLineOfAUserListedTwice) {
  // As mosquitto_passwd: each of the user's lines gets the new password.
  write("x:" + hash_password("one") + "\nx:" + hash_password("two") + "\n");
  ASSERT_EQ(passwd({"-b", path_, "x", "three"}).code, 0);
  FileProblems problems;
  const auto file = PasswordFile::load(path_, problems);
  EXPECT_EQ(problems.size(), 1u);  // still listed twice
  EXPECT_TRUE(file.verify("x", "three"));
}

TEST_F(PasswdTool, UpdateOfAMissingFileFails) {
  const auto r = passwd({"-b", path_, "alice", "pw"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Unable to open password file"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(PasswdTool, CorruptFileIsLeftAlone) {
  const std::string text = "alice:" + hash_password("a") + "\njunk without colon\n";
  write(text);
  const auto r = passwd({"-b", path_, "bob", "pw"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Corrupt password file at line 2"), std::string::npos) << r.err;
  EXPECT_EQ(read(), text);
}

TEST_F(PasswdTool, DeleteUser) {
  const std::string alice = "alice:" + hash_password("a");
  const std::string carol = "carol:" + hash_password("c");
  write(alice + "\nbob:" + hash_password("b") + "\n" + carol + "\n");
  const auto r = passwd({"-D", path_, "bob"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read(), alice + "\n" + carol + "\n");

  const auto missing = passwd({"-D", path_, "bob"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("User bob not found"), std::string::npos) << missing.err;
  EXPECT_EQ(read(), alice + "\n" + carol + "\n");
}

TEST_F(PasswdTool, ConvertPlainTextInPlace) {
  const std::string hashed = "carol:" + hash_password("already");
  write("alice:open sesame\n  bob : b0b \n# note\n" + hashed + "\n");
  ::chmod(path_.c_str(), 0640);
  const auto r = passwd({"-U", path_});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto text = read();
  EXPECT_EQ(text.find("open sesame"), std::string::npos);
  EXPECT_NE(text.find("# note\n" + hashed + "\n"), std::string::npos);  // a hash is not hashed again
  EXPECT_EQ(mode(), 0640u);
  const auto file = load();
  EXPECT_EQ(file.users(), (std::vector<std::string>{"alice", "bob", "carol"}));
  EXPECT_TRUE(file.verify("alice", "open sesame"));
  EXPECT_TRUE(file.verify("bob", "b0b"));  // blanks around fields trimmed, as mosquitto_passwd
  EXPECT_TRUE(file.verify("carol", "already"));
}

TEST_F(PasswdTool, PromptsTwice) {
  const auto r = passwd({"-c", path_, "alice"}, "typed\ntyped\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Password: \nReenter password: \n");
  EXPECT_TRUE(load().verify("alice", "typed"));

  const auto update = passwd({path_, "bob"}, "b\r\nb\r\n");
  ASSERT_EQ(update.code, 0) << update.err;
  EXPECT_TRUE(load().verify("bob", "b"));
}

TEST_F(PasswdTool, PromptedPasswordsThatDifferOrAreEmpty) {
  const auto differ = passwd({"-c", path_, "alice"}, "one\ntwo\n");
  EXPECT_EQ(differ.code, 2);  // mosquitto_passwd's code for this case
  EXPECT_NE(differ.err.find("Passwords do not match"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path_));

  const auto empty = passwd({"-c", path_, "alice"}, "\n\n");
  EXPECT_EQ(empty.code, 1);
  EXPECT_NE(empty.err.find("Empty password"), std::string::npos);

  const auto eof = passwd({"-c", path_, "alice"}, "");
  EXPECT_EQ(eof.code, 1);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(PasswdTool, BadUsage) {
  const auto none = passwd({});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.out.find("Usage: outpost passwd"), std::string::npos);

  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-c", "-D", path_, "u"},
           {"-c", "-U", path_},
           {"-D", "-U", path_},
           {"-b", "-D", path_, "u"},
           {"-H", "md5", path_, "u"},
           {"-H"},
           {"-I", "0", path_, "u"},
           {"-I", "ten", path_, "u"},
           {"-I", "2000000", "-b", path_, "u", "p"},
           {"-c", "-b", path_, "u"},
           {"-c", path_},
           {"-D", path_},
           {"-U"},
           {"-U", path_, "extra"},
           {"-b", path_, "u"},
           {path_, "u", "p"},
           {path_},
           {"-x", path_, "u"},
           {"-c", "-b", path_, "a:b", "p"},
           {"-c", "-b", path_, "a\tb", "p"},
           {"-c", "-b", path_, "", "p"},
       }) {
    std::vector<std::string> storage{"passwd"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::istringstream in("pw\npw\n");
    std::ostringstream out;
    std::ostringstream err;
    const int code = passwd_main(static_cast<int>(storage.size()), argv.data(), in, out, err);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(code, 1) << joined;
    EXPECT_TRUE(!err.str().empty() || out.str().find("Usage:") != std::string::npos) << joined;
    EXPECT_FALSE(std::filesystem::exists(path_)) << joined;
  }
}

TEST_F(PasswdTool, FollowsASymbolicLink) {
  const auto target = (dir_ / "real").string();
  {
    std::ofstream f(target);
    f << "alice:" << hash_password("a") << "\n";
  }
  std::filesystem::create_symlink("real", path_);
  ASSERT_EQ(passwd({"-b", path_, "bob", "b"}).code, 0);
  EXPECT_TRUE(std::filesystem::is_symlink(path_));
  EXPECT_TRUE(load().verify("bob", "b"));
}

}  // namespace
}  // namespace outpost::auth
