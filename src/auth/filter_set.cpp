#include "auth/filter_set.hpp"

#include "core/topic.hpp"

#include <cstddef>
#include <vector>

namespace outpost::auth {
namespace {

using Levels = std::vector<std::string_view>;

Levels split(std::string_view s) {
  Levels levels;
  levels.reserve(core::level_count(s));
  core::LevelIterator it(s);
  std::string_view level;
  while (it.next(level)) levels.push_back(level);
  return levels;
}

bool is_wildcard(std::string_view level) noexcept { return level == "+" || level == "#"; }
bool is_dollar(std::string_view level) noexcept { return !level.empty() && level.front() == '$'; }

}  // namespace

bool filter_matches(std::string_view filter, std::string_view topic) noexcept {
  if (!topic.empty() && topic.front() == '$' && !filter.empty() && (filter.front() == '+' || filter.front() == '#')) {
    return false;
  }
  core::LevelIterator f(filter);
  core::LevelIterator t(topic);
  std::string_view fl;
  std::string_view tl;
  while (f.next(fl)) {
    if (fl == "#") return true;  // checked before taking a topic level: "a/#" holds "a"
    if (!t.next(tl)) return false;
    if (fl != "+" && fl != tl) return false;
  }
  return !t.next(tl);
}

std::optional<std::string> filter_intersection(std::string_view a, std::string_view b) {
  const Levels la = split(a);
  const Levels lb = split(b);
  // A wildcard first level excludes the '$' topics the other filter names literally. Two
  // wildcards give a wildcard, which keeps excluding them.
  if ((is_wildcard(la.front()) && is_dollar(lb.front())) || (is_wildcard(lb.front()) && is_dollar(la.front()))) {
    return std::nullopt;
  }
  Levels out;
  std::size_t i = 0;
  std::size_t j = 0;
  for (;;) {
    const bool a_end = i == la.size();
    const bool b_end = j == lb.size();
    // '#' takes whatever the other side still has, nothing included (the parent level).
    if (!a_end && la[i] == "#") {
      out.insert(out.end(), lb.begin() + static_cast<std::ptrdiff_t>(j), lb.end());
      break;
    }
    if (!b_end && lb[j] == "#") {
      out.insert(out.end(), la.begin() + static_cast<std::ptrdiff_t>(i), la.end());
      break;
    }
    if (a_end && b_end) break;
    if (a_end || b_end) return std::nullopt;  // different depths, no '#' to make up for it
    if (la[i] == "+") {
      out.push_back(lb[j]);
    } else if (lb[j] == "+" || la[i] == lb[j]) {
      out.push_back(la[i]);
    } else {
      return std::nullopt;
    }
    ++i;
    ++j;
  }
  std::string joined;
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (k > 0) joined += '/';
    joined += out[k];
  }
  return joined;
}

bool filter_is_subset(std::string_view a, std::string_view b) {
  const Levels la = split(a);
  const Levels lb = split(b);
  // b's wildcard first level leaves out '$' topics that a names literally.
  if (is_wildcard(lb.front()) && is_dollar(la.front())) return false;
  std::size_t i = 0;
  std::size_t j = 0;
  for (;;) {
    if (j < lb.size() && lb[j] == "#") return true;
    if (i == la.size() || j == lb.size()) return i == la.size() && j == lb.size();
    if (la[i] == "#") {
      // a goes on deeper than b's fixed levels, except that every topic has a first level:
      // "#" and "+/#" hold the same topics.
      return i == 0 && lb.size() == 2 && lb[0] == "+" && lb[1] == "#";
    }
    if (lb[j] != "+" && (la[i] == "+" || la[i] != lb[j])) return false;
    ++i;
    ++j;
  }
}

}  // namespace outpost::auth
