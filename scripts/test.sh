#!/bin/bash
# Builds Outpost and runs every test: unit tests (GoogleTest), the layering check and
# the integration tests (the real binary with real clients), first in a release build,
# then again under AddressSanitizer and UndefinedBehaviorSanitizer. The second pass also
# replays the fuzz targets' checked-in corpora (ctest fuzz_replay.*, tests/fuzz); running
# libFuzzer itself needs the clang tree of scripts/fuzz.sh, too costly for this budget
# (docs/robustness.md, "Fuzzing").
# OUTPOST_SKIP_ASAN=1 skips the second pass for a quick local run.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test || exit 1

jobs=$(nproc)
# Most tests wait on sockets, timers and child processes rather than the CPU (the release
# pass keeps two cores about 60% busy at three tests per core), so they run three per core.
test_jobs=$((jobs * 3))
passed=0
failed=0
status=0

run_pass() {
  local dir=$1
  shift
  echo "=== build: $dir ($*)"
  if ! cmake -S . -B "$dir" -G Ninja "$@" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"
    echo "configure failed"
    status=1
    failed=$((failed + 1))
    return
  fi
  if ! cmake --build "$dir" -j "$jobs"; then
    echo "build failed"
    status=1
    failed=$((failed + 1))
    return
  fi
  echo "=== test: $dir"
  local log="$dir/ctest.log"
  (cd "$dir" && ctest --output-on-failure -j "$test_jobs" 2>&1) | tee "$log"
  local rc=${PIPESTATUS[0]}
  local total fails
  total=$(sed -nE 's/.* tests failed out of ([0-9]+).*/\1/p' "$log" | tail -1)
  fails=$(sed -nE 's/.* ([0-9]+) tests failed out of.*/\1/p' "$log" | tail -1)
  total=${total:-0}
  fails=${fails:-0}
  passed=$((passed + total - fails))
  failed=$((failed + fails))
  if [ "$rc" -ne 0 ] || [ "$total" -eq 0 ]; then status=1; fi
}

# Line tables only (-g1): backtraces and sanitizer reports still name file:line, and the
# compile takes about a third less time than with full debug information.
run_pass build -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
if [ "${OUTPOST_SKIP_ASAN:-0}" != "1" ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_pass build-asan -DCMAKE_BUILD_TYPE=Debug -DOUTPOST_SANITIZE=ON -DOUTPOST_BUILD_BENCH=OFF
fi

echo "$passed passed, $failed failed"
exit $status
