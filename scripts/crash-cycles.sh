#!/bin/sh
# SIGKILL cycles under mixed MQTT QoS 1/2 and AMQP confirmed load against the real broker
# (tests/integration/55_crash_mixed.py, which CI runs with 3 short cycles). Checks that no
# acknowledged message is lost and counts duplicates; docs/robustness.md has a 20-cycle run.
#
#   scripts/crash-cycles.sh [CYCLES] [SECONDS]    defaults: 20 cycles, up to 3 s between kills
#
# OUTPOST_BIN names the binary (default build/src/outpost); OUTPOST_CRASH_SEED changes the
# random kill moments.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
export OUTPOST_CRASH_CYCLES="${1:-20}"
export OUTPOST_CRASH_SECONDS="${2:-3}"
export OUTPOST_BIN="${OUTPOST_BIN:-$here/build/src/outpost}"
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$here/tests/integration/55_crash_mixed.py" -v
