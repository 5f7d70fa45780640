// The command line: options parsed with CLI11, then turned into the final Settings (the
// configuration file or the built-in default, then the command-line overrides).
//
// main.cpp needs one call:
//
//   auto parsed = outpost::parse_and_resolve(argc, argv);
//   if (auto* exit_now = std::get_if<outpost::ExitNow>(&parsed)) {
//     print exit_now->text (stdout when code is 0, stderr otherwise); return exit_now->code;
//   }
//   run(std::get<outpost::Settings>(parsed));
//
// Everything here runs on the main thread before the broker starts. Only reading the
// configuration file touches the disk; nothing prints or exits by itself.
#pragma once

#include "settings.hpp"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace outpost {

// One listener given on the command line.
struct ListenOption {
  std::string url;    // mqtt://127.0.0.1:1883, ws://[::1]:8080/mqtt, ...
  std::string given;  // as typed, for messages: "--listen mqtt://..." or "-p 1883"
};

// What the options say, before any file is read.
struct CommandLine {
  std::string config_file;           // -c, --config; empty = the built-in default
  bool check_config = false;         // --check-config
  std::vector<ListenOption> listen;  // --listen URL and -p PORT, in command-line order
  std::optional<std::string> data_dir;   // --data-dir
  std::optional<unsigned> threads;       // -t, --threads
  std::optional<std::string> log_level;  // --log-level, or "debug" for -v
};

// The process should exit right away with `code`, after printing `text` (to standard
// output when code is 0, to standard error otherwise). Codes: 0 for --help, --version
// and a good --check-config; 1 for a configuration that does not load or check; 2 for
// a command line that does not parse.
struct ExitNow {
  ExitNow() = default;
  ExitNow(int code_, std::string text_, std::optional<Settings> checked_ = std::nullopt)
      : code(code_), text(std::move(text_)), checked(std::move(checked_)) {}
  int code = 0;
  std::string text;
  // --check-config with a valid file: the settings, so that the caller can also check the
  // files they name (password and ACL files) before printing `text`.
  std::optional<Settings> checked;
};

// Parses the options only. ExitNow for --help, --version and usage errors (unknown
// options come with a hint to use --help).
std::variant<CommandLine, ExitNow> parse_command_line(int argc, const char* const* argv);

// The final Settings: the file of -c (or Settings::builtin_default()), then, if any
// --listen / -p was given, those listeners replace all others (and, without -c and
// without --data-dir, persistence is off: a throwaway broker); then --data-dir,
// --threads and the log level. Listeners from the command line accept anonymous clients
// only on loopback addresses; TLS kinds copy `tls` from the first listener of the same
// kind in the file. Throws ConfigError naming the file position or the option.
Settings resolve_settings(const CommandLine& command_line);

// --check-config: {0, "FILE: configuration OK"} or {1, the error}.
ExitNow check_config(const CommandLine& command_line);

// parse_command_line, then check_config or resolve_settings: the one call main.cpp makes.
std::variant<Settings, ExitNow> parse_and_resolve(int argc, const char* const* argv);

// `--listen` URL -> listener: SCHEME://ADDRESS:PORT with SCHEME one of mqtt, mqtts, ws,
// wss, amqp, amqps; IPv6 in brackets ([::1]:1883); ws and wss may add a path (default
// /mqtt). Throws ConfigError("--listen URL: what is wrong").
ListenerSettings parse_listen_url(const std::string& url);

}  // namespace outpost
