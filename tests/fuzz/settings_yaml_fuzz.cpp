// Fuzz target: the YAML configuration loader (src/settings_yaml.cpp), on text in memory.
//
// Invariant beyond "no crash, no UB, no leak": whatever the text, the loader returns
// Settings or throws ConfigError whose message starts with the file's name (the
// FILE:LINE:COLUMN form of settings_yaml.hpp). Any other exception escapes and is
// reported by libFuzzer as a crash: the broker would die at start-up or on SIGHUP
// instead of naming the mistake.
#include "fuzz_check.hpp"
#include "settings.hpp"
#include "settings_yaml.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const std::string name = "fuzz.yaml";
  try {
    const outpost::Settings s = outpost::load_settings_string(text, name);
    FUZZ_CHECK(s.source == name, "Settings::source names the text");
  } catch (const outpost::ConfigError& e) {
    FUZZ_CHECK(std::string_view(e.what()).starts_with(name), "a configuration error starts with the file's name");
  }
  return 0;
}
