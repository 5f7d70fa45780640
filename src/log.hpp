// Logging: spdlog's default logger, set up once at start and re-levelled on SIGHUP.
// Components log with spdlog::info(...) etc.; any thread may log.
#pragma once

#include <string>
#include <string_view>

namespace outpost::log {

// Send log lines to standard error (file empty) or to `file`, at `level`.
// Throws std::runtime_error for an unknown level or a file that cannot be opened.
void setup(std::string_view level, const std::string& file);

// Change the level at run time (SIGHUP). Returns false for an unknown level name.
bool set_level(std::string_view level);

// True if `level` names a level: trace, debug, info, warn, error, critical, off.
bool valid_level(std::string_view level);

}  // namespace outpost::log
