// `outpost store check` and `outpost store recover`: what to do with a store the broker
// refuses to open (docs/robustness.md, "Damaged stores").
//   outpost store check   [--data-dir DIR | -c FILE]
//   outpost store recover [--data-dir DIR | -c FILE]
// The store is the one the broker would open with the same options: --data-dir DIR, else
// persistence.dir of FILE, else ./outpost-data. Runs on the main thread instead of the
// broker; blocks on the disk.
#pragma once

#include <iosfwd>

namespace outpost {

// argv[0] is "store". Returns the exit code: 0 the store is sound (check) or was
// recovered (recover); 1 the store is damaged (check) or could not be recovered; 2 the
// command line is wrong.
int store_main(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace outpost
