// Logging: spdlog's default logger, set up once at start and re-levelled on SIGHUP.
// Components log with spdlog::info(...) etc.; any thread may log.
#pragma once

#include <spdlog/formatter.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace outpost::log {

enum class Format { text, json };

// Send log lines to standard error (file empty) or to `file`, at `level`, as `format`.
// Text lines read "2026-12-03T06:40:01.123+00:00 info MESSAGE" (ISO 8601, local time with
// its offset); JSON lines are one object each: {"time": ..., "level": ..., "thread": ...,
// "message": ...}. Under systemd (standard error is the journal: JOURNAL_STREAM) each line
// starts with its syslog priority, "<3>", instead of a time stamp, so `journalctl -p
// warning` selects by level; the journal's identifier is the program's, "outpost".
// Throws std::runtime_error for an unknown level or a file that cannot be opened.
void setup(std::string_view level, const std::string& file, Format format = Format::text);

// SIGHUP: close and open the log file again, by its name, so a file that logrotate moved
// away is replaced by a new one. Nothing happens when the log goes to standard error;
// a file that cannot be opened again is reported, and lines go to standard error until
// the next reopen succeeds.
void reopen();

// Change the level at run time (SIGHUP). Returns false for an unknown level name.
bool set_level(std::string_view level);

// True if `level` names a level: trace, debug, info, warn, error, critical, off.
bool valid_level(std::string_view level);

// "" when `file` can be appended to (it exists and is writable, or its directory lets it
// be created); otherwise why not. Creates nothing.
std::string check_file(const std::string& file);

// The formatter setup() gives the logger: `journal` drops the time stamp for a priority.
std::unique_ptr<spdlog::formatter> make_formatter(Format format, bool journal);

// `text` as the inside of a JSON string (RFC 8259): quotes, backslashes and control
// characters escaped; bytes that are not UTF-8 become U+FFFD.
std::string json_escape(std::string_view text);

// A byte count for people: "512 B", "64 KiB", "1.2 MiB", "3.5 GiB" (powers of 1024, one
// decimal unless it is a whole number of the unit).
std::string readable_bytes(std::uint64_t bytes);

}  // namespace outpost::log
