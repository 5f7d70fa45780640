// Fuzz target: the mosquitto-format password file and ACL file parsers (src/auth).
//
// Input: byte 0 chooses (even: password file, odd: ACL file), the rest is the file.
//
// Invariants beyond "no crash, no UB, no leak": a line that is not understood is a
// FileProblem with a line number inside the file and a message, never an exception; every
// user the password file keeps is a valid user name; the ACL checks (publish, subscribe,
// read, write) answer for anonymous clients, users and wildcard-laden names without
// failing. Password verification is left out: its cost is the hash's, by design.
#include "auth/acl.hpp"
#include "auth/file_problem.hpp"
#include "auth/password_file.hpp"
#include "core/client_info.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using namespace outpost;

std::size_t line_count(std::string_view text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1; }

void check_problems(const auth::FileProblems& problems, std::string_view text, const std::string& name) {
  for (const auto& p : problems) {
    FUZZ_CHECK(p.file == name, "a problem names the file");
    FUZZ_CHECK(p.line >= 1 && p.line <= line_count(text), "a problem's line is in the file");
    FUZZ_CHECK(!p.message.empty(), "a problem says what is wrong");
    (void)p.describe();
  }
}

void password_file(std::string_view text) {
  static const std::string name = "fuzz.passwd";
  auth::FileProblems problems;
  const auto file = auth::PasswordFile::parse(text, name, problems);
  check_problems(problems, text, name);
  const auto users = file.users();
  FUZZ_CHECK(users.size() == file.size(), "users() lists every entry");
  FUZZ_CHECK(std::is_sorted(users.begin(), users.end()), "users() is sorted");
  for (const auto& u : users) {
    FUZZ_CHECK(file.contains(u), "a listed user is contained");
    FUZZ_CHECK(!auth::user_name_problem(u), "a kept user has a valid name");
  }
  // The text after the first ':' of each line, as a hash field on its own.
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line = text.substr(at, end - at);
    if (const auto colon = line.find(':'); colon != std::string_view::npos) {
      (void)auth::is_password_hash(line.substr(colon + 1));
    }
    at = end + 1;
  }
}

void acl_file(std::string_view text) {
  static const std::string name = "fuzz.acl";
  auth::FileProblems problems;
  const auto rules = auth::AclRules::parse(text, name, problems);
  check_problems(problems, text, name);
  FUZZ_CHECK(rules != nullptr, "parse always gives rules");

  static const std::string listener = "mqtt", remote = "192.0.2.1:1", identity;
  core::ClientInfo anonymous(core::Protocol::mqtt, listener, remote, identity);
  anonymous.client_id = core::ClientId("c1");
  core::ClientInfo user = anonymous;
  user.user = core::ClientId("alice");
  core::ClientInfo wild = anonymous;
  wild.user = core::ClientId("a+/#");
  wild.client_id = core::ClientId("+");
  core::ClientInfo amqp(core::Protocol::amqp, listener, remote, identity);
  amqp.user = core::ClientId("alice");
  static constexpr std::string_view kTopics[] = {"a/b", "alice/x", "c1/x", "$SYS/broker/load", "", "/", "a//b"};
  static constexpr std::string_view kFilters[] = {"#", "a/+", "+/x", "$SYS/#", "alice/#", "a/b"};
  for (const core::ClientInfo* c : {&anonymous, &user, &wild, &amqp}) {
    for (const auto t : kTopics) {
      (void)rules->may_publish(*c, "amq.topic", t);
      (void)rules->may_read(*c, t);
      (void)rules->may_write(*c, t);
      (void)rules->may_consume(*c, "q", t);
    }
    for (const auto f : kFilters) {
      (void)rules->may_subscribe(*c, "amq.topic", f);
      (void)rules->subscription_allowed(*c, f);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    password_file(text);
  } else {
    acl_file(text);
  }
  return 0;
}
