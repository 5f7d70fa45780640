#!/bin/bash
# Instructions per acknowledged message under callgrind, previous vs new binary, alternating:
# one device, QoS 1, one message in flight, to an offline persistent session (every message
# stored), the default persistence (sync full). The whole run is counted (start, 3 s of
# publishing, the stop's fold and checkpoint) and divided by the acknowledged messages.
# Usage: bench/ab/durable_instructions.sh OLD_BUILD_DIR NEW_BUILD_DIR (the load generator is
# the new build's).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
OLD=$(realpath "$1")/src/outpost; NEW=$(realpath "$2")/src/outpost
LG=$(realpath "$2")/bench/outpost-loadgen
one() {
  local bin=$1 p=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])') d=$(mktemp -d)
  valgrind --tool=callgrind --callgrind-out-file=$d/cg.out $bin -p $p --data-dir $d >$d/log 2>&1 &
  local pid=$!
  for i in $(seq 200); do (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
  /usr/bin/python3 -c "
import sys; sys.path.insert(0,'$HERE'); import compare_module; c=compare_module.load(); c.offline_session($p,'offline-sub','bench/fanin/+')"
  local acked=$($LG --port $p --scenario fanin --publishers 1 --subscribers 0 --qos 1 --window 1 --payload 64 --persistent --duration 3 --warmup 0 2>&1 | grep -o '"acked": *[0-9]*' | grep -o '[0-9]*$')
  kill -INT $pid; wait $pid 2>/dev/null
  local ir=$(grep -E '^(summary|totals):' $d/cg.out | head -1 | awk '{print $2}')
  rm -rf $d
  echo "instructions $ir, acknowledged $acked, per message $((ir / acked))"
}
for r in 1 2; do
  echo "old round$r $(one "$OLD")"
  echo "new round$r $(one "$NEW")"
done
