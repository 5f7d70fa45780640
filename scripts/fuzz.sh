#!/bin/bash
# Runs a libFuzzer target of tests/fuzz for a fixed time (docs/robustness.md, "Fuzzing").
#
#   scripts/fuzz.sh TARGET SECONDS     one target (mqtt_codec, amqp_codec, websocket,
#                                      settings_yaml, auth_files, mqtt_session, amqp_session,
#                                      op_log)
#   scripts/fuzz.sh all SECONDS        each target in turn, SECONDS each
#   scripts/fuzz.sh list               the targets
#
# Builds the clang fuzz tree in build-fuzz first if needed (OUTPOST_FUZZ=ON, clang-14,
# ccache, nice, -j2), then runs the target on a copy of its checked-in corpus (new inputs
# go to build-fuzz/corpus/TARGET, never into the source tree) with its dictionary, and
# prints the execution count and rate. Exits non-zero on a crash, a leak, a broken
# invariant or a timeout, leaving the input in build-fuzz/artifacts/TARGET/ (crash-*,
# leak-*, timeout-*): copy it to tests/fuzz/corpus/TARGET/ once fixed, so the ctest
# replay keeps it fixed.
#
# Environment: FUZZ_JOBS (build parallelism, default 2), FUZZ_NICE (default 10),
# FUZZ_ARGS (more libFuzzer flags, e.g. "-max_len=8192").
set -uo pipefail
cd "$(dirname "$0")/.."

targets=(mqtt_codec amqp_codec websocket settings_yaml auth_files mqtt_session amqp_session op_log)
build=build-fuzz
jobs=${FUZZ_JOBS:-2}
niceness=${FUZZ_NICE:-10}

usage() {
  echo "usage: $0 TARGET|all SECONDS   (targets: ${targets[*]})" >&2
  exit 2
}

if [ "${1:-}" = "list" ]; then
  printf '%s\n' "${targets[@]}"
  exit 0
fi
[ $# -eq 2 ] || usage
what=$1
seconds=$2
[[ "$seconds" =~ ^[0-9]+$ ]] || usage
if [ "$what" = all ]; then
  run=("${targets[@]}")
else
  found=0
  for t in "${targets[@]}"; do [ "$t" = "$what" ] && found=1; done
  [ $found -eq 1 ] || usage
  run=("$what")
fi

if [ ! -f "$build/build.ninja" ]; then
  nice -n 5 cmake -S . -B "$build" -G Ninja -DOUTPOST_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; echo "configure failed"; exit 1; }
fi
build_targets=()
for t in "${run[@]}"; do build_targets+=("${t}_fuzz"); done
nice -n 5 cmake --build "$build" -j "$jobs" --target "${build_targets[@]}" || { echo "build failed"; exit 1; }

# malloc_context_size=0: ASan keeps no stack for each allocation and free. Detection is
# the same; a report names where the bad access happened but not where the memory was
# allocated or freed: replay the input (ctest's fuzz_replay, or the target on the file)
# for those. Keeping 30 frames of every allocation's stack cost targets that allocate from
# deep recursion (yaml-cpp in settings_yaml) half of their time, and more as they ran:
# settings_yaml fell from 3,000 to 800 exec/s within 2 million executions.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:malloc_context_size=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${run[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  dict=()
  case $t in
    mqtt_*) dict=(-dict=tests/fuzz/mqtt.dict) ;;
    amqp_*) dict=(-dict=tests/fuzz/amqp.dict) ;;
  esac
  log="$build/$t.log"
  echo "=== fuzz: $t for ${seconds}s"
  # shellcheck disable=SC2086
  nice -n "$niceness" "$build/tests/fuzz/${t}_fuzz" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
  rc=$?
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -1)
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+).*/cov \1, ft \2/p')
  echo "$t: ${runs:-?} executions, ${rate:-?} exec/s, ${cov:-?}, exit $rc"
  if [ $rc -ne 0 ]; then
    status=1
    grep -E 'ERROR|invariant broken|SUMMARY|Test unit written' "$log" | head -20
    echo "$t: FAILED, see $log and $artifacts/"
  fi
done
exit $status
