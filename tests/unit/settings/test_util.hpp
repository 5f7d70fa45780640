// Helpers shared by the settings tests.
#pragma once

#include "settings.hpp"
#include "settings_yaml.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace outpost::testing {

// The message of the ConfigError that loading `yaml` throws, or "" if it loads.
inline std::string yaml_error(std::string_view yaml) {
  try {
    load_settings_string(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// The source tree: OUTPOST_SOURCE_DIR when the build defines it, else three levels above
// this header (tests/unit/settings/), else found by walking up from the working directory.
inline std::filesystem::path source_dir() {
#ifdef OUTPOST_SOURCE_DIR
  return std::filesystem::path(OUTPOST_SOURCE_DIR);
#else
  const auto from_header = std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "..";
  if (std::filesystem::exists(from_header / "config" / "outpost.yaml")) return from_header.lexically_normal();
  std::filesystem::path dir = std::filesystem::current_path();
  while (!std::filesystem::exists(dir / "config" / "outpost.yaml") && dir != dir.parent_path()) dir = dir.parent_path();
  return dir;
#endif
}

}  // namespace outpost::testing
