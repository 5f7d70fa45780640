// The Prometheus text exposition format (version 0.0.4) of a snapshot: names with the
// outpost_ prefix, counters ending in _total, base units (_bytes, _seconds), labels for
// listener, protocol, queue, reason and plugin instance; the process_* names Prometheus
// client libraries use for the process itself.
#pragma once

#include "observe/snapshot.hpp"

#include <string>
#include <string_view>

namespace outpost::observe {

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string prometheus_text(const Snapshot& s);

// A label value with \, " and newlines escaped as the format asks.
std::string escape_label_value(std::string_view v);

}  // namespace outpost::observe
