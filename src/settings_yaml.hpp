// Loading Settings from YAML. Every error names FILE:LINE:COLUMN and what was expected;
// unknown keys are errors at every level.
#pragma once

#include "settings.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace outpost {

Settings load_settings_file(const std::string& path);
// `name` stands for the file name in error messages.
Settings load_settings_string(std::string_view yaml, const std::string& name);

}  // namespace outpost
