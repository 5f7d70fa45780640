// Loading Settings from YAML, the format of config/outpost.yaml (reference: docs/config.md).
//
// Every error is a ConfigError whose message starts with FILE:LINE:COLUMN (1-based) and
// says what was wrong and what was expected: YAML syntax, unknown keys (at every level,
// with the keys allowed there), duplicate keys, wrong types, out-of-range values, unknown
// choices (with the choices), missing required keys (at the enclosing mapping), and the
// rules across fields of find_problem (settings.hpp).
//
// Pure functions: any thread may call them (main.cpp does, on SIGHUP). Only
// load_settings_file touches the disk, reading one file once.
#pragma once

#include "settings.hpp"

#include <string>
#include <string_view>

namespace outpost {

// Reads and checks the file at `path`. Settings::source is set to `path`. A file that is
// empty (or only comments) gives the defaults with the built-in listener.
Settings load_settings_file(const std::string& path);

// The same for text in memory; `name` stands for the file name in messages and in
// Settings::source.
Settings load_settings_string(std::string_view yaml, const std::string& name);

}  // namespace outpost
