// The command line: options parsed with CLI11 and turned into the final Settings
// (the config file or the built-in default, then the command-line overrides).
#pragma once

#include "settings.hpp"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace outpost {

struct CommandLine {
  std::string config_file;  // -c
  bool check_config = false;
  std::vector<std::string> listen;  // --listen URL (repeatable)
  std::vector<std::uint16_t> ports;  // -p PORT (repeatable)
  std::optional<std::string> data_dir;
  std::optional<unsigned> threads;
  std::optional<std::string> log_level;
};

// The process should exit right away with this code and text (help, version,
// --check-config, or an error).
struct ExitNow {
  int code = 0;
  std::string text;
};

// Parses argv and resolves the settings. Errors (bad option, bad config, bad URL)
// come back as ExitNow with code 1 (2 for usage errors) and a message.
std::variant<Settings, ExitNow> parse_and_resolve(int argc, const char* const* argv);

// `--listen` URL -> listener: mqtt://ADDR:PORT, ws://ADDR:PORT/PATH, IPv6 as [::1]:1883.
// Throws ConfigError naming the URL.
ListenerSettings parse_listen_url(const std::string& url);

// Applies the command line to `base`. Throws ConfigError.
Settings resolve_settings(const CommandLine& cl);

}  // namespace outpost
