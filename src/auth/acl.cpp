#include "auth/acl.hpp"

#include "auth/filter_set.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace outpost::auth {
namespace {

constexpr std::string_view topic_exchange = "amq.topic";
constexpr std::uint8_t read_bit = static_cast<std::uint8_t>(AclAccess::read);
constexpr std::uint8_t write_bit = static_cast<std::uint8_t>(AclAccess::write);

// --- substitution of %u / %c ----------------------------------------------------------
//
// Scanned left to right as Mosquitto does: "%u" and "%c" are replaced wherever they stand
// in a level; any other '%' is itself. The values substituted never hold '/', '+' or '#'
// (see Use below), so a substituted filter has the levels and wildcards of the pattern.

struct Substitutes {
  std::string_view user;
  std::string_view client;
};

// Whether the pattern level `level`, with its %u / %c replaced, equals `topic_level`.
bool level_equals(std::string_view level, std::string_view topic_level, const Substitutes& s) noexcept {
  std::size_t p = 0;
  std::size_t t = 0;
  while (p < level.size()) {
    if (level[p] == '%' && p + 1 < level.size() && (level[p + 1] == 'u' || level[p + 1] == 'c')) {
      const std::string_view value = level[p + 1] == 'u' ? s.user : s.client;
      if (topic_level.substr(t, value.size()) != value) return false;
      t += value.size();
      p += 2;
      continue;
    }
    if (t >= topic_level.size() || topic_level[t] != level[p]) return false;
    ++t;
    ++p;
  }
  return t == topic_level.size();
}

// filter_matches, with the filter's literal levels compared after substitution.
bool matches_substituted(std::string_view filter, std::string_view topic, const Substitutes& s) noexcept {
  if (!topic.empty() && topic.front() == '$' && (filter.front() == '+' || filter.front() == '#')) return false;
  core::LevelIterator f(filter);
  core::LevelIterator t(topic);
  std::string_view fl;
  std::string_view tl;
  while (f.next(fl)) {
    if (fl == "#") return true;
    if (!t.next(tl)) return false;
    if (fl != "+" && !level_equals(fl, tl, s)) return false;
  }
  return !t.next(tl);
}

std::string substituted(std::string_view filter, const Substitutes& s) {
  std::string out;
  out.reserve(filter.size() + s.user.size() + s.client.size());
  for (std::size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '%' && i + 1 < filter.size() && (filter[i + 1] == 'u' || filter[i + 1] == 'c')) {
      out += filter[i + 1] == 'u' ? s.user : s.client;
      ++i;
    } else {
      out += filter[i];
    }
  }
  return out;
}

// A value that would change the shape of a pattern: another level, or a wildcard.
bool safe_value(std::string_view value) noexcept { return value.find_first_of("/+#") == std::string_view::npos; }

// --- the acl_file's words ---------------------------------------------------------------

constexpr std::string_view blanks = " \t\r\v\f";

std::string_view trim(std::string_view s) noexcept {
  const auto first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(blanks);
  return s.substr(first, last - first + 1);
}

// The first word of a trimmed text and the trimmed rest.
std::pair<std::string_view, std::string_view> first_word(std::string_view s) noexcept {
  const auto end = s.find_first_of(blanks);
  if (end == std::string_view::npos) return {s, {}};
  return {s.substr(0, end), trim(s.substr(end))};
}

std::optional<AclAccess> access_word(std::string_view w) noexcept {
  if (w == "read") return AclAccess::read;
  if (w == "write") return AclAccess::write;
  if (w == "readwrite") return AclAccess::readwrite;
  if (w == "deny") return AclAccess::deny;
  return std::nullopt;
}

}  // namespace

// The client's values for substitution, looked at once per check, and only when some
// rule substitutes at all.
struct AclRules::Values {
  Values(const core::ClientInfo& client, bool substitutes) noexcept
      : subs{client.user.view(), client.client_id.view()},
        user_safe(!substitutes || safe_value(subs.user)),
        client_safe(!substitutes || safe_value(subs.client)) {}

  Substitutes subs;
  bool user_safe;
  bool client_safe;
};

namespace {

// How a rule takes part in one client's check.
enum class Use : std::uint8_t {
  skip,       // does not apply to this client
  match,      // applies, matched as written (substituted)
  everything  // a deny whose substitution is unsafe: it refuses every topic
};

template <class Rule, class Values>
Use use_of(const Rule& r, const Values& v) noexcept {
  if ((r.needs_user && v.subs.user.empty()) || (r.needs_client && v.subs.client.empty())) return Use::skip;
  if ((r.needs_user && !v.user_safe) || (r.needs_client && !v.client_safe)) {
    return r.access == AclAccess::deny ? Use::everything : Use::skip;
  }
  return Use::match;
}

// The filter a rule stands for, for this client (only patterns are substituted).
template <class Rule>
std::string filter_for(const Rule& r, const Substitutes& s) {
  return r.needs_user || r.needs_client ? substituted(r.filter, s) : r.filter;
}

template <class Rule>
bool rule_matches(const Rule& r, const Substitutes& s, std::string_view topic) noexcept {
  if (!r.needs_user && !r.needs_client) return filter_matches(r.filter, topic);
  return matches_substituted(r.filter, topic, s);
}

}  // namespace

// --- building ---------------------------------------------------------------------------

AclRules::Rule AclRules::compile(AclRule r) {
  if (!core::valid_topic_filter(r.filter)) {
    throw std::invalid_argument(fmt::format("invalid topic filter '{}'", r.filter));
  }
  const bool needs_user = r.pattern && r.filter.find("%u") != std::string::npos;
  const bool needs_client = r.pattern && r.filter.find("%c") != std::string::npos;
  return Rule{r.access, std::move(r.filter), needs_user, needs_client};
}

void AclRules::add_to(RuleList& list, AclRule r) {
  Rule rule = compile(std::move(r));
  substitutes_ = substitutes_ || rule.needs_user || rule.needs_client;
  (rule.access == AclAccess::deny ? list.denies : list.grants).push_back(std::move(rule));
  ++count_;
}

void AclRules::add_anonymous(AclRule r) { add_to(anonymous_, std::move(r)); }

void AclRules::add_user(std::string user, AclRule r) { add_to(users_[std::move(user)], std::move(r)); }

void AclRules::add_pattern(AclRule r) {
  r.pattern = true;
  add_to(patterns_, std::move(r));
}

std::shared_ptr<const AclRules> AclRules::parse(std::string_view text, const std::string& name, FileProblems& problems) {
  auto rules = std::make_shared<AclRules>();
  enum class Section : std::uint8_t { anonymous, user, broken } section = Section::anonymous;
  std::string user;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto eol = text.find('\n');
    const std::string_view line = trim(text.substr(0, eol));
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (line.empty() || line.front() == '#') continue;

    const auto problem = [&](std::string message) { problems.push_back(FileProblem{name, line_no, std::move(message)}); };
    const auto [keyword, rest] = first_word(line);
    if (keyword == "user") {
      if (rest.empty()) {
        problem("'user' without a name (the topic lines up to the next user line are skipped too)");
        section = Section::broken;
      } else {
        section = Section::user;
        user = std::string(rest);
      }
      continue;
    }
    if (keyword != "topic" && keyword != "pattern") {
      problem(fmt::format("unknown keyword '{}' (expected topic, pattern or user)", keyword));
      continue;
    }
    const bool pattern = keyword == "pattern";
    if (!pattern && section == Section::broken) {
      problem("skipped: it follows a 'user' line that was not understood");
      continue;
    }
    if (rest.empty()) {
      problem(fmt::format("'{}' without a topic filter", keyword));
      continue;
    }
    const auto [word, after] = first_word(rest);
    const auto access = access_word(word);
    AclRule rule{AclAccess::readwrite, {}, pattern};
    if (after.empty()) {
      // Mosquitto would grant readwrite on a topic named "read"; a forgotten filter is likelier.
      if (access) {
        problem(fmt::format("'{} {}' without a topic filter", keyword, word));
        continue;
      }
      rule.filter = std::string(word);
    } else {
      if (!access) {
        problem(fmt::format("unknown access '{}' (expected read, write, readwrite or deny)", word));
        continue;
      }
      rule.access = *access;
      rule.filter = std::string(after);
    }
    if (!core::valid_topic_filter(rule.filter)) {
      problem(fmt::format("invalid topic filter '{}'", rule.filter));
      continue;
    }
    if (pattern) {
      rules->add_pattern(std::move(rule));
    } else if (section == Section::anonymous) {
      rules->add_anonymous(std::move(rule));
    } else {
      rules->add_user(user, std::move(rule));
    }
  }
  return rules;
}

std::shared_ptr<const AclRules> AclRules::load(const std::string& path, FileProblems& problems) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error(fmt::format("{}: is a directory", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error(fmt::format("{}: read error", path));
  return parse(text.str(), path, problems);
}

// --- checking ---------------------------------------------------------------------------

const AclRules::RuleList* AclRules::section_of(const core::ClientInfo& client) const {
  if (client.user.empty()) return &anonymous_;
  const auto it = users_.find(client.user.view());
  return it == users_.end() ? nullptr : &it->second;
}

AclRules::Verdict AclRules::decide(const RuleList& list, const Values& values, std::string_view topic,
                                   std::uint8_t want) noexcept {
  for (const Rule& r : list.denies) {
    const Use use = use_of(r, values);
    if (use == Use::everything || (use == Use::match && rule_matches(r, values.subs, topic))) return Verdict::refuse;
  }
  for (const Rule& r : list.grants) {
    if ((static_cast<std::uint8_t>(r.access) & want) == 0) continue;
    if (use_of(r, values) == Use::match && rule_matches(r, values.subs, topic)) return Verdict::allow;
  }
  return Verdict::undecided;
}

bool AclRules::allowed(const core::ClientInfo& client, std::string_view topic, std::uint8_t want) const {
  const Values values(client, substitutes_);
  if (const RuleList* own = section_of(client)) {
    const Verdict v = decide(*own, values, topic, want);
    if (v != Verdict::undecided) return v == Verdict::allow;
  }
  return decide(patterns_, values, topic, want) == Verdict::allow;
}

bool AclRules::may_read(const core::ClientInfo& client, std::string_view topic) const {
  return allowed(client, topic, read_bit);
}

bool AclRules::may_write(const core::ClientInfo& client, std::string_view topic) const {
  return allowed(client, topic, write_bit);
}

bool AclRules::subscription_allowed(const core::ClientInfo& client, std::string_view filter) const {
  if (!core::valid_topic_filter(filter)) return false;
  const Values values(client, substitutes_);

  // The denies of a list as this client sees them: a filter, or every topic.
  struct Deny {
    bool everything;
    std::string filter;
  };
  const auto denies_of = [&](const RuleList& list) {
    std::vector<Deny> out;
    for (const Rule& r : list.denies) {
      const Use use = use_of(r, values);
      if (use == Use::everything) out.push_back(Deny{true, {}});
      if (use == Use::match) out.push_back(Deny{false, filter_for(r, values.subs)});
    }
    return out;
  };
  const auto covered = [](const std::string& part, const std::vector<Deny>& denies) {
    for (const Deny& d : denies) {
      if (d.everything || filter_is_subset(part, d.filter)) return true;
    }
    return false;
  };
  // Whether a read grant of `list` shares with `filter` a part that none of `before`
  // (the denies that take precedence over the list's grants) wholly covers.
  const auto readable = [&](const RuleList& list, const std::vector<const std::vector<Deny>*>& before) {
    for (const Rule& r : list.grants) {
      if ((static_cast<std::uint8_t>(r.access) & read_bit) == 0 || use_of(r, values) != Use::match) continue;
      const auto part = filter_intersection(filter_for(r, values.subs), filter);
      if (!part) continue;
      bool denied = false;
      for (const auto* denies : before) denied = denied || covered(*part, *denies);
      if (!denied) return true;
    }
    return false;
  };

  const RuleList* own = section_of(client);
  const std::vector<Deny> own_denies = own ? denies_of(*own) : std::vector<Deny>{};
  if (own && readable(*own, {&own_denies})) return true;
  const std::vector<Deny> pattern_denies = denies_of(patterns_);
  return readable(patterns_, {&own_denies, &pattern_denies});
}

bool AclRules::may_publish(const core::ClientInfo& client, std::string_view exchange, std::string_view topic) const {
  return exchange != topic_exchange || may_write(client, topic);
}

bool AclRules::may_subscribe(const core::ClientInfo& client, std::string_view exchange, std::string_view filter) const {
  return exchange != topic_exchange || subscription_allowed(client, filter);
}

bool AclRules::may_consume(const core::ClientInfo& client, std::string_view queue, std::string_view topic) const {
  return !queue.empty() || may_read(client, topic);
}

}  // namespace outpost::auth
