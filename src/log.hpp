// Logging: spdlog's default logger, set up once at start and re-levelled on SIGHUP.
// Components log with spdlog::info(...) etc.; any thread may log.
#pragma once

#include <string>
#include <string_view>

namespace outpost::log {

// Send log lines to standard error (file empty) or to `file`, at `level`. Under systemd
// (standard error is the journal: JOURNAL_STREAM) each line carries its syslog priority,
// "<3>", instead of a time stamp, so `journalctl -p warning` selects by level.
// Throws std::runtime_error for an unknown level or a file that cannot be opened.
void setup(std::string_view level, const std::string& file);

// SIGHUP: close and open the log file again, by its name, so a file that logrotate moved
// away is replaced by a new one. Nothing happens when the log goes to standard error;
// a file that cannot be opened again is reported, and lines go to standard error until
// the next reopen succeeds.
void reopen();

// Change the level at run time (SIGHUP). Returns false for an unknown level name.
bool set_level(std::string_view level);

// True if `level` names a level: trace, debug, info, warn, error, critical, off.
bool valid_level(std::string_view level);

}  // namespace outpost::log
