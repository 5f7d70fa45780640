// Durations ("30s", "500ms", "2m", "1h") and sizes ("1GiB", "64MiB", "1000") as written in
// the bridge's configuration. Pure functions, any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace outpost::bridge {

// A non-negative duration: a number (decimals allowed) followed by ms, s, m or h; a bare
// number is seconds. nullopt if the text is not one.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// A byte count: a whole number followed by B, KiB, MiB, GiB, TiB (powers of 1024) or kB,
// KB, MB, GB, TB (powers of 1000); a bare number is bytes. nullopt if not one, or too big.
std::optional<uint64_t> parse_size(std::string_view text);

// "true"/"false" (and YAML's "yes"/"no", "on"/"off").
std::optional<bool> parse_bool(std::string_view text);

// A whole number in [lo, hi].
std::optional<int64_t> parse_int(std::string_view text, int64_t lo, int64_t hi);

}  // namespace outpost::bridge
