// AclRules: topic access rules in Mosquitto's acl_file form, as the core's AccessControl.
//
// The file (mosquitto.conf(5), acl_file; parsed as src/security_default.c does):
//   # a comment
//   topic [read|write|readwrite|deny] FILTER     rules of the current section
//   user NAME                                    starts the section of NAME (spaces allowed)
//   pattern [read|write|readwrite|deny] FILTER   every client; %u and %c substituted
// `topic` lines before the first `user` line are the anonymous clients' (no user name);
// there is no way back to the anonymous section once a `user` line was seen. A user named
// twice has the rules of both sections. `pattern` lines apply to every client wherever
// they appear. Without an access word a rule grants readwrite; FILTER is the rest of the
// line, so a filter containing a space needs the access word.
//
// Decisions, as Mosquitto 2's default ACL check takes them (mosquitto_acl_check_default):
// - Anything no rule grants is refused; an ACL with no rules refuses everything.
// - A client is checked against its own section first (its user's, or the anonymous one),
//   then against the patterns. In each, a matching `deny` refuses, else a matching grant
//   with the access asked for allows, else the next step is asked. So a deny wins over
//   grants of its own step, a deny of the client's section also over every pattern, but a
//   grant of the client's section is not taken back by a pattern's deny (Mosquitto lists
//   denies first within each list and returns on the first decision).
// - A pattern using %u does not apply to an anonymous client; one using %c does not apply
//   to a client without a client id (AMQP).
// - Matching is MQTT's: '+' one level, '#' the rest including the parent level, a filter
//   whose first level is a wildcard matches no topic starting with '$'.
//
// Deliberate differences from Mosquitto:
// - A malformed line (unknown keyword or access word, invalid filter, `user` without a
//   name, a `topic`/`pattern` whose only word is an access word) is reported with its
//   file:line and skipped; Mosquitto refuses to start. A skipped line grants nothing, and
//   the `topic` lines after a skipped `user` line are skipped too (they would otherwise
//   land in the previous section). Mosquitto reads `topic read` as a readwrite grant on
//   the topic "read"; here it is an error.
// - Words may be separated by tabs as well as spaces, and a comment line may be indented.
// - A substitution value (user name or client id) containing '+', '#' or '/' would let a
//   client reach beyond its own place in the tree. A grant needing such a value does not
//   match; a deny needing it matches every topic. Mosquitto refuses every pattern to a
//   client whose name or id holds '+' or '#', and accepts '/'.
// - Subscriptions are decided here; Mosquitto 2's default check allows every subscription
//   and filters only deliveries. A filter is allowed when it shares at least one topic
//   with a read grant that applies to the client, and that shared part is not wholly
//   inside one deny that takes precedence over the grant. Deliveries are still checked
//   one by one (may_read), so a wider filter that is partly readable receives only the
//   readable part, and a filter whose readable part is covered only by several denies
//   together is allowed but receives nothing.
// - Only names of the MQTT exchange "amq.topic" are governed: AMQP publishes to other
//   exchanges, bindings on them and consumption from named queues are always allowed.
//
// Threading: built on one thread (add_*, parse, load), then shared read-only
// (std::shared_ptr<const AclRules>) by every I/O thread; the checks never block and
// may_read / may_write do not allocate.
#pragma once

#include "auth/file_problem.hpp"
#include "core/access.hpp"
#include "core/topic.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace outpost::auth {

// Bits: read = 1, write = 2 (Mosquitto's MOSQ_ACL_READ / MOSQ_ACL_WRITE); deny is none.
enum class AclAccess : std::uint8_t { deny = 0, read = 1, write = 2, readwrite = 3 };

struct AclRule {
  AclAccess access = AclAccess::readwrite;
  std::string filter;    // a valid MQTT topic filter (with %u / %c when `pattern`)
  bool pattern = false;  // %u / %c are replaced by the client's user name / client id
};

class AclRules final : public core::AccessControl {
 public:
  // Builders (also for rules written in the YAML config). Each throws
  // std::invalid_argument when the filter is not a valid topic filter.
  void add_anonymous(AclRule r);               // clients without a user name
  void add_user(std::string user, AclRule r);  // clients authenticated as `user`
  void add_pattern(AclRule r);                 // every client; marks the rule a pattern

  // Reads a Mosquitto acl_file. Throws std::runtime_error("PATH: why") when the file
  // cannot be read; lines that are not understood go to `problems` and are skipped.
  static std::shared_ptr<const AclRules> load(const std::string& path, FileProblems& problems);
  // The same from text; `name` is what the problems call the file.
  static std::shared_ptr<const AclRules> parse(std::string_view text, const std::string& name, FileProblems& problems);

  // core::AccessControl. Names outside "amq.topic" (and named queues) are not governed.
  bool may_publish(const core::ClientInfo& client, std::string_view exchange, std::string_view topic) const override;
  bool may_subscribe(const core::ClientInfo& client, std::string_view exchange, std::string_view filter) const override;
  bool may_consume(const core::ClientInfo& client, std::string_view queue, std::string_view topic) const override;

  // One message on `topic` (a topic name of amq.topic).
  bool may_read(const core::ClientInfo& client, std::string_view topic) const;
  bool may_write(const core::ClientInfo& client, std::string_view topic) const;
  // A plain topic filter (no "$share/group/" prefix).
  bool subscription_allowed(const core::ClientInfo& client, std::string_view filter) const;

  std::size_t rule_count() const noexcept { return count_; }

 private:
  struct Rule {
    AclAccess access;
    std::string filter;
    bool needs_user;    // a pattern containing %u
    bool needs_client;  // a pattern containing %c
  };
  // Denies apart from grants: a deny is looked at before any grant of the same list.
  struct RuleList {
    std::vector<Rule> denies;
    std::vector<Rule> grants;
  };
  struct Values;
  enum class Verdict : std::uint8_t { undecided, allow, refuse };

  static Rule compile(AclRule r);
  void add_to(RuleList& list, AclRule r);
  const RuleList* section_of(const core::ClientInfo& client) const;
  static Verdict decide(const RuleList& list, const Values& values, std::string_view topic, std::uint8_t want) noexcept;
  bool allowed(const core::ClientInfo& client, std::string_view topic, std::uint8_t want) const;

  RuleList anonymous_;
  std::unordered_map<std::string, RuleList, core::TransparentStringHash, std::equal_to<>> users_;
  RuleList patterns_;
  std::size_t count_ = 0;
  bool substitutes_ = false;  // some rule has %u or %c
};

}  // namespace outpost::auth
