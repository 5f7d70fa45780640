// What changed between the settings the broker runs with and those of a reloaded file
// (SIGHUP): one entry per changed setting, named as the file spells it, with whether
// SIGHUP applies it or it waits for a restart.
//
// A pure function: any thread may call it; nothing blocks.
#pragma once

#include "settings.hpp"

#include <string>
#include <vector>

namespace outpost {

struct SettingChange {
  std::string key;     // "logging.level", "listeners", "mqtt.max_inflight", "plugins[cloud].config"
  std::string before;  // the old value, readable ("info", "64 MiB", "true"); "" for lists and sections
  std::string after;   // the new value, likewise
  bool applied = false;  // SIGHUP applies it; otherwise it takes effect at the next restart

  // "logging.level info -> debug" / "listeners changed"
  std::string describe() const;
};

// Every setting that differs between `running` and `fresh`, in file order. SIGHUP applies
// logging.level and the plugins' `config:` sections (for plugins that keep their name and
// library); everything else needs a restart. The password and ACL files are read again on
// every SIGHUP whatever the settings say, so only a change of their names is reported.
std::vector<SettingChange> diff_settings(const Settings& running, const Settings& fresh);

// A reloaded file does not undo the command line: what `running` took from it
// (Settings::from_command_line) is copied into `fresh`.
void keep_command_line(const Settings& running, Settings& fresh);

}  // namespace outpost
