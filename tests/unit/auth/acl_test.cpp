#include "auth/acl.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace outpost::auth {
namespace {

core::ClientInfo client(std::string_view user, std::string_view client_id = "dev1") {
  core::ClientInfo c;
  c.protocol = core::Protocol::mqtt;
  c.user = core::ClientId(user);
  c.client_id = core::ClientId(client_id);
  return c;
}

const core::ClientInfo anonymous = client("", "anon1");

std::shared_ptr<const AclRules> parse_ok(std::string_view text) {
  FileProblems problems;
  auto rules = AclRules::parse(text, "acl", problems);
  for (const auto& p : problems) ADD_FAILURE() << p.describe();
  return rules;
}

// --- the file ---------------------------------------------------------------------------

TEST(AclParse, ReportsMalformedLinesWithTheirNumbersAndSkipsThem) {
  FileProblems problems;
  const auto rules = AclRules::parse(
      "# comment\n"
      "\n"
      "topic read ok/1\n"
      "topics read a/b\n"           // 4: unknown keyword
      "topic reed a/b\n"            // 5: unknown access word
      "topic read a/#/b\n"          // 6: invalid filter
      "topic read\n"                // 7: access word, no filter
      "topic\n"                     // 8: nothing
      "pattern write x+/%u\n"       // 9: invalid filter
      "user\n"                      // 10: no name
      "topic readwrite after/bad\n" // 11: would land in the previous section
      "user bob\n"
      "topic bob/#\n",
      "/etc/outpost/acl", problems);
  ASSERT_EQ(problems.size(), 8u);
  EXPECT_EQ(problems[0].describe(), "/etc/outpost/acl:4: unknown keyword 'topics' (expected topic, pattern or user)");
  EXPECT_EQ(problems[1].line, 5u);
  EXPECT_NE(problems[1].message.find("'reed'"), std::string::npos);
  EXPECT_EQ(problems[2].line, 6u);
  EXPECT_NE(problems[2].message.find("a/#/b"), std::string::npos);
  EXPECT_EQ(problems[3].line, 7u);
  EXPECT_EQ(problems[4].line, 8u);
  EXPECT_EQ(problems[5].line, 9u);
  EXPECT_EQ(problems[6].line, 10u);
  EXPECT_EQ(problems[7].line, 11u);
  EXPECT_EQ(rules->rule_count(), 2u);

  // The skipped lines grant nothing, to anybody.
  EXPECT_TRUE(rules->may_read(anonymous, "ok/1"));
  EXPECT_FALSE(rules->may_write(anonymous, "a/b"));
  EXPECT_FALSE(rules->may_read(anonymous, "read"));
  EXPECT_FALSE(rules->may_read(anonymous, "after/bad"));
  EXPECT_FALSE(rules->may_read(client("bob"), "after/bad"));
  EXPECT_TRUE(rules->may_read(client("bob"), "bob/x"));
}

TEST(AclParse, WhitespaceCommentsAndNamesWithSpaces) {
  const auto rules = parse_ok(
      "   # an indented comment\n"
      "\t topic\tread\t  spaced/%u  \r\n"
      "user   Jane Doe  \n"
      "topic write rooms/living room\n");
  EXPECT_EQ(rules->rule_count(), 2u);
  EXPECT_TRUE(rules->may_read(anonymous, "spaced/%u"));  // a topic line is literal
  EXPECT_TRUE(rules->may_write(client("Jane Doe"), "rooms/living room"));
  EXPECT_FALSE(rules->may_write(client("Jane"), "rooms/living room"));
}

TEST(AclParse, TopicWithoutAccessWordIsReadWrite) {
  const auto rules = parse_ok("topic a/b\n");
  EXPECT_TRUE(rules->may_read(anonymous, "a/b"));
  EXPECT_TRUE(rules->may_write(anonymous, "a/b"));
  EXPECT_FALSE(rules->may_read(anonymous, "a/c"));
}

TEST(AclParse, AFilterWithASpaceNeedsTheAccessWord) {
  FileProblems problems;
  const auto rules = AclRules::parse("topic my topic\ntopic readwrite my topic\n", "acl", problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 1u);
  EXPECT_TRUE(rules->may_write(anonymous, "my topic"));
}

TEST(AclParse, AUserNamedTwiceHasBothSections) {
  const auto rules = parse_ok(
      "user alice\ntopic read a/#\n"
      "user bob\ntopic read b/#\n"
      "user alice\ntopic write c\n");
  EXPECT_TRUE(rules->may_read(client("alice"), "a/1"));
  EXPECT_TRUE(rules->may_write(client("alice"), "c"));
  EXPECT_FALSE(rules->may_read(client("alice"), "b/1"));
  EXPECT_TRUE(rules->may_read(client("bob"), "b/1"));
  EXPECT_FALSE(rules->may_write(client("bob"), "c"));
}

TEST(AclLoad, ReadsAFileAndNamesAnUnreadableOne) {
  const auto path = std::filesystem::temp_directory_path() / "outpost_acl_test.acl";
  {
    std::ofstream out(path);
    out << "topic read a\nbogus\n";
  }
  FileProblems problems;
  const auto rules = AclRules::load(path.string(), problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].file, path.string());
  EXPECT_EQ(problems[0].line, 2u);
  EXPECT_TRUE(rules->may_read(anonymous, "a"));
  std::filesystem::remove(path);

  try {
    AclRules::load("/nonexistent/outpost.acl", problems);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("/nonexistent/outpost.acl: ", 0), 0u) << e.what();
  }
}

TEST(AclBuilder, RefusesAnInvalidFilter) {
  AclRules rules;
  EXPECT_THROW(rules.add_anonymous(AclRule{AclAccess::read, "a/b#", false}), std::invalid_argument);
  EXPECT_THROW(rules.add_user("u", AclRule{AclAccess::read, "", false}), std::invalid_argument);
  EXPECT_EQ(rules.rule_count(), 0u);
  rules.add_pattern(AclRule{AclAccess::read, "p/%u", false});  // add_pattern makes it a pattern
  EXPECT_TRUE(rules.may_read(client("zoe"), "p/zoe"));
  EXPECT_FALSE(rules.may_read(client("zoe"), "p/%u"));
}

// --- who the rules apply to -------------------------------------------------------------

TEST(AclRules, NothingGrantedIsRefused) {
  const auto rules = parse_ok("");
  EXPECT_EQ(rules->rule_count(), 0u);
  EXPECT_FALSE(rules->may_read(anonymous, "a"));
  EXPECT_FALSE(rules->may_write(client("alice"), "a"));
  EXPECT_FALSE(rules->may_subscribe(client("alice"), "amq.topic", "#"));
}

TEST(AclRules, TopicsBeforeAnyUserAreTheAnonymousClients) {
  const auto rules = parse_ok("topic public/#\nuser alice\ntopic alice/#\n");
  EXPECT_TRUE(rules->may_read(anonymous, "public/x"));
  EXPECT_FALSE(rules->may_read(anonymous, "alice/x"));
  EXPECT_FALSE(rules->may_read(client("alice"), "public/x"));  // not inherited by users
  EXPECT_TRUE(rules->may_read(client("alice"), "alice/x"));
  EXPECT_FALSE(rules->may_read(client("mallory"), "public/x"));
  EXPECT_FALSE(rules->may_read(client("mallory"), "alice/x"));
}

TEST(AclRules, ReadWriteAndReadwrite) {
  const auto rules = parse_ok("topic read r\ntopic write w\ntopic readwrite rw\ntopic read both\ntopic write both\n");
  EXPECT_TRUE(rules->may_read(anonymous, "r"));
  EXPECT_FALSE(rules->may_write(anonymous, "r"));
  EXPECT_FALSE(rules->may_read(anonymous, "w"));
  EXPECT_TRUE(rules->may_write(anonymous, "w"));
  EXPECT_TRUE(rules->may_read(anonymous, "rw"));
  EXPECT_TRUE(rules->may_write(anonymous, "rw"));
  EXPECT_TRUE(rules->may_read(anonymous, "both"));
  EXPECT_TRUE(rules->may_write(anonymous, "both"));
}

// --- patterns ---------------------------------------------------------------------------

TEST(AclPatterns, UserAndClientIdSubstitution) {
  const auto rules = parse_ok(
      "pattern readwrite users/%u/#\n"
      "pattern read devices/%c/cmd\n"
      "user alice\n"
      "pattern write both/%u-%c\n");  // patterns apply to everyone wherever they stand
  const auto alice = client("alice", "dev1");
  EXPECT_TRUE(rules->may_write(alice, "users/alice/x"));
  EXPECT_TRUE(rules->may_read(alice, "users/alice"));
  EXPECT_FALSE(rules->may_read(alice, "users/bob/x"));
  EXPECT_TRUE(rules->may_read(alice, "devices/dev1/cmd"));
  EXPECT_FALSE(rules->may_write(alice, "devices/dev1/cmd"));
  EXPECT_FALSE(rules->may_read(alice, "devices/dev2/cmd"));
  EXPECT_TRUE(rules->may_write(alice, "both/alice-dev1"));
  EXPECT_FALSE(rules->may_write(alice, "both/alice-dev2"));
  EXPECT_TRUE(rules->may_write(client("bob", "d9"), "both/bob-d9"));
}

TEST(AclPatterns, UserPatternsDoNotApplyToAnonymousClients) {
  const auto rules = parse_ok("pattern read users/%u/#\npattern read devices/%c\n");
  EXPECT_FALSE(rules->may_read(anonymous, "users//x"));
  EXPECT_FALSE(rules->may_read(anonymous, "users/%u/x"));
  EXPECT_TRUE(rules->may_read(anonymous, "devices/anon1"));
  // No client id (AMQP): the %c pattern does not apply either.
  EXPECT_FALSE(rules->may_read(client("alice", ""), "devices/"));
}

TEST(AclPatterns, AWildcardOrSlashInTheValueDoesNotGrant) {
  const auto rules = parse_ok("pattern readwrite users/%u/#\npattern readwrite devices/%c\n");
  EXPECT_TRUE(rules->may_write(client("bob", "d"), "users/bob/x"));
  // A user named "+" or "#" must not reach every user's tree, nor "bob/x" a part of bob's.
  EXPECT_FALSE(rules->may_write(client("+", "d"), "users/bob/x"));
  EXPECT_FALSE(rules->may_write(client("+", "d"), "users/+/x"));
  EXPECT_FALSE(rules->may_write(client("#", "d"), "users/bob"));
  EXPECT_FALSE(rules->may_write(client("bob/x", "d"), "users/bob/x/y"));
  EXPECT_FALSE(rules->may_write(client("a", "d+"), "devices/d1"));
  EXPECT_FALSE(rules->may_write(client("a", "d/1"), "devices/d/1"));
  // The other patterns still apply to such a client.
  EXPECT_TRUE(rules->may_write(client("+", "d"), "devices/d"));
  EXPECT_FALSE(rules->may_subscribe(client("+", "d"), "amq.topic", "users/#"));
}

TEST(AclPatterns, ADenyWithAnUnsafeValueRefusesEveryPattern) {
  const auto rules = parse_ok("pattern deny private/%u/#\npattern readwrite public/#\n");
  EXPECT_TRUE(rules->may_write(client("bob"), "public/x"));
  EXPECT_FALSE(rules->may_write(client("bob"), "private/bob/x"));
  EXPECT_FALSE(rules->may_write(client("b#"), "public/x"));
  EXPECT_FALSE(rules->may_subscribe(client("b/x"), "amq.topic", "public/#"));
}

// --- deny -------------------------------------------------------------------------------

TEST(AclDeny, WinsOverGrantsOfItsSectionWhateverTheOrder) {
  const auto rules = parse_ok(
      "topic readwrite a/#\n"
      "topic deny a/secret/#\n"
      "user alice\n"
      "topic deny b/secret\n"
      "topic read b/#\n");
  EXPECT_TRUE(rules->may_write(anonymous, "a/open"));
  EXPECT_FALSE(rules->may_write(anonymous, "a/secret"));
  EXPECT_FALSE(rules->may_read(anonymous, "a/secret/x"));
  EXPECT_TRUE(rules->may_read(client("alice"), "b/open"));
  EXPECT_FALSE(rules->may_read(client("alice"), "b/secret"));
}

TEST(AclDeny, ASectionDenyWinsOverPatternGrants) {
  const auto rules = parse_ok("user alice\ntopic deny users/alice/locked\npattern readwrite users/%u/#\n");
  EXPECT_TRUE(rules->may_write(client("alice"), "users/alice/x"));
  EXPECT_FALSE(rules->may_write(client("alice"), "users/alice/locked"));
}

TEST(AclDeny, PatternDenyWinsOverPatternGrantsButNotOverTheSectionsGrants) {
  // Mosquitto asks the client's own section first and stops at its first decision.
  const auto rules = parse_ok(
      "pattern readwrite #\n"
      "pattern deny secret/#\n"
      "user alice\n"
      "topic read secret/alice\n");
  EXPECT_FALSE(rules->may_read(client("bob"), "secret/x"));
  EXPECT_TRUE(rules->may_read(client("bob"), "other"));
  EXPECT_TRUE(rules->may_read(client("alice"), "secret/alice"));
  EXPECT_FALSE(rules->may_read(client("alice"), "secret/other"));
  // A write-only match in the section does not decide a read: the patterns are asked.
  const auto w = parse_ok("user alice\ntopic write x\npattern deny x\npattern read y\n");
  EXPECT_FALSE(w->may_read(client("alice"), "x"));
  EXPECT_TRUE(w->may_write(client("alice"), "x"));
  EXPECT_TRUE(w->may_read(client("alice"), "y"));
}

// --- subscriptions ----------------------------------------------------------------------

TEST(AclSubscribe, ExactNarrowerWiderAndDisjointFilters) {
  const auto rules = parse_ok("topic read sensors/+/temp\ntopic write cmd/#\n");
  const auto sub = [&](std::string_view f) { return rules->may_subscribe(anonymous, "amq.topic", f); };
  EXPECT_TRUE(sub("sensors/+/temp"));   // exact
  EXPECT_TRUE(sub("sensors/k1/temp"));  // narrower
  EXPECT_TRUE(sub("sensors/#"));        // wider, partly readable
  EXPECT_TRUE(sub("#"));
  EXPECT_TRUE(sub("+/k1/+"));
  EXPECT_FALSE(sub("sensors/k1/humidity"));  // disjoint
  EXPECT_FALSE(sub("sensors/+"));
  EXPECT_FALSE(sub("cmd/#"));  // write only
  EXPECT_FALSE(sub("a/#/b"));  // not a filter
}

TEST(AclSubscribe, ADenyCoveringTheReadablePartRefuses) {
  const auto rules = parse_ok("topic read a/#\ntopic deny a/private/#\n");
  const auto sub = [&](std::string_view f) { return rules->may_subscribe(anonymous, "amq.topic", f); };
  EXPECT_TRUE(sub("a/#"));
  EXPECT_TRUE(sub("a/+/x"));  // a/public/x is readable
  EXPECT_FALSE(sub("a/private/#"));
  EXPECT_FALSE(sub("a/private/+/x"));
  EXPECT_FALSE(sub("a/private"));  // '#' holds its parent level
  // Per message, the wider subscription receives only what is readable.
  EXPECT_TRUE(rules->may_consume(anonymous, "", "a/public"));
  EXPECT_FALSE(rules->may_consume(anonymous, "", "a/private/x"));
}

TEST(AclSubscribe, PatternGrantsAndDenies) {
  const auto rules = parse_ok(
      "pattern read users/%u/#\n"
      "pattern deny users/%u/vault/#\n"
      "user alice\n"
      "topic deny users/alice/inbox\n");
  const auto alice = client("alice");
  EXPECT_TRUE(rules->may_subscribe(alice, "amq.topic", "users/alice/#"));
  EXPECT_TRUE(rules->may_subscribe(alice, "amq.topic", "users/+/x"));
  EXPECT_FALSE(rules->may_subscribe(alice, "amq.topic", "users/bob/#"));
  EXPECT_FALSE(rules->may_subscribe(alice, "amq.topic", "users/alice/vault/#"));
  EXPECT_FALSE(rules->may_subscribe(alice, "amq.topic", "users/alice/inbox"));
  EXPECT_TRUE(rules->may_subscribe(client("bob"), "amq.topic", "users/bob/inbox"));
  EXPECT_FALSE(rules->may_subscribe(anonymous, "amq.topic", "users/#"));
}

TEST(AclSubscribe, DollarTopicsAndHash) {
  const auto rules = parse_ok("topic read #\nuser admin\ntopic read $SYS/#\n");
  EXPECT_TRUE(rules->may_subscribe(anonymous, "amq.topic", "#"));
  EXPECT_TRUE(rules->may_read(anonymous, "a/b"));
  EXPECT_FALSE(rules->may_read(anonymous, "$SYS/broker/uptime"));  // '#' does not reach '$'
  EXPECT_FALSE(rules->may_subscribe(anonymous, "amq.topic", "$SYS/#"));
  EXPECT_FALSE(rules->may_subscribe(anonymous, "amq.topic", "$SYS/broker/uptime"));
  const auto admin = client("admin");
  EXPECT_TRUE(rules->may_subscribe(admin, "amq.topic", "$SYS/#"));
  EXPECT_TRUE(rules->may_read(admin, "$SYS/broker/uptime"));
  EXPECT_FALSE(rules->may_subscribe(admin, "amq.topic", "#"));
  EXPECT_FALSE(rules->may_read(admin, "a/b"));
}

// --- the core's interface ---------------------------------------------------------------

TEST(AclAccessControl, GovernsOnlyTheMqttExchange) {
  const auto rules = parse_ok("topic read in/#\ntopic write out/#\n");
  const core::AccessControl& access = *rules;
  EXPECT_TRUE(access.may_publish(anonymous, "amq.topic", "out/1"));
  EXPECT_FALSE(access.may_publish(anonymous, "amq.topic", "in/1"));
  EXPECT_TRUE(access.may_subscribe(anonymous, "amq.topic", "in/#"));
  EXPECT_FALSE(access.may_subscribe(anonymous, "amq.topic", "out/#"));
  EXPECT_TRUE(access.may_consume(anonymous, "", "in/1"));
  EXPECT_FALSE(access.may_consume(anonymous, "", "out/1"));
  // Other exchanges, the default exchange and named queues are not topic rules' business.
  EXPECT_TRUE(access.may_publish(anonymous, "", "orders"));
  EXPECT_TRUE(access.may_publish(anonymous, "amq.direct", "in/1"));
  EXPECT_TRUE(access.may_subscribe(anonymous, "events", "out/#"));
  EXPECT_TRUE(access.may_consume(anonymous, "orders", ""));
}

}  // namespace
}  // namespace outpost::auth
