#include "store_tool.hpp"

#include "settings_yaml.hpp"
#include "store/sqlite_check.hpp"
#include "store/store.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <ostream>

namespace outpost {
namespace {

std::string counts_text(const store::StoreCounts& c) {
  return fmt::format("{} messages ({} queued deliveries), {} sessions ({} subscriptions), {} retained, "
                     "{} AMQP definitions",
                     c.messages, c.entries, c.sessions, c.subscriptions, c.retained, c.definitions);
}

}  // namespace

int store_main(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"Checks or recovers the broker's store (stop the broker first).", "outpost store"};
  app.require_subcommand(1);
  std::string data_dir, config;
  bool force = false;
  auto* check = app.add_subcommand("check", "integrity check; exit 0 when sound, 1 when damaged");
  auto* recover = app.add_subcommand(
      "recover", "keep what can be read in a fresh store; the damaged files are moved aside, nothing is deleted");
  recover->add_flag("--force", force, "recover even a store that check finds sound");
  for (auto* sub : {check, recover}) {
    auto* d = sub->add_option("--data-dir", data_dir, "the data directory")->type_name("DIR");
    auto* c = sub->add_option("-c,--config", config, "the broker's configuration file (persistence.dir)")
                  ->type_name("FILE");
    d->excludes(c);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      out << app.help();
      return 0;
    }
    err << "outpost store: " << e.what() << "\nRun 'outpost store --help' for the options.\n";
    return 2;
  }

  std::string dir = "outpost-data";
  if (!data_dir.empty()) {
    dir = data_dir;
  } else if (!config.empty()) {
    try {
      const Settings s = load_settings_file(config);
      if (!s.persistence.enabled) {
        err << "outpost store: " << config << " turns persistence off: there is no store\n";
        return 1;
      }
      dir = s.persistence.dir;
    } catch (const std::exception& e) {
      err << "outpost store: " << e.what() << '\n';
      return 1;
    }
  }

  if (*check) {
    const auto r = store::check_store(dir);
    out << "store " << r.path << ": " << (r.ok ? "OK" : "DAMAGED") << '\n';
    for (const auto& n : r.notes) out << "  " << n << '\n';
    for (const auto& p : r.problems) out << "  problem: " << p << '\n';
    if (r.ok) {
      out << "  holds " << counts_text(r.counts) << '\n';
    } else {
      out << "  'outpost store recover' keeps what can be read in a fresh store and moves the damaged files "
             "aside\n";
    }
    return r.ok ? 0 : 1;
  }
  if (!force) {
    if (const auto c = store::check_store(dir); c.ok) {
      out << "store " << c.path << " is sound ('outpost store check' finds nothing wrong); nothing was changed "
          << "(--force recovers it anyway)\n";
      return 0;
    }
  }
  try {
    const auto r = store::recover_store(dir);
    out << "store " << r.path << " recovered\n";
    for (const auto& n : r.notes) out << "  " << n << '\n';
    out << "  kept " << counts_text(r.kept) << '\n';
    for (const auto& [from, to] : r.moved) out << "  moved " << from << " to " << to << '\n';
    return 0;
  } catch (const std::exception& e) {
    err << "outpost store: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace outpost
