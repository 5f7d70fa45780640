// Topic filters read as sets of topics: whether a topic is in one, what two of them have
// in common, and whether one lies inside another. The ACL needs the last two to decide a
// subscription before any message exists: a subscription is allowed when it can receive
// at least one topic the client may read.
//
// Filters are valid MQTT filters in canonical '/' form (core::valid_topic_filter). The
// set a filter stands for is the MQTT one: '+' is exactly one level, '#' is any number of
// levels including none (so "a/#" holds "a"), and a filter whose first level is a
// wildcard holds no topic that starts with '$' [MQTT-4.7.2-1]. Every result below is
// exact for those sets.
//
// Pure functions; any thread; nothing blocks. filter_matches does not allocate.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace outpost::auth {

// Whether `topic` (a topic name, no wildcards) is in `filter`.
bool filter_matches(std::string_view filter, std::string_view topic) noexcept;

// The filter holding exactly the topics that are in both `a` and `b`; nullopt when they
// share none. "a/+/c" and "a/b/#" give "a/b/c"; "a/#" and "a" give "a"; "#" and "$SYS/x"
// give nothing.
std::optional<std::string> filter_intersection(std::string_view a, std::string_view b);

// Whether every topic in `a` is also in `b`.
bool filter_is_subset(std::string_view a, std::string_view b);

}  // namespace outpost::auth
