// FUZZ_CHECK: an invariant of a fuzz target. A broken one prints what and where, then
// aborts, which libFuzzer (and the replay runner under ctest) report as a crash with the
// input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                                                   \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, (what), #cond); \
      std::abort();                                                                              \
    }                                                                                            \
  } while (false)
