#!/bin/bash
# Instructions per delivered message, previous vs new binary, same loadgen, alternating.
# Usage: bench/ab/instructions.sh OLD_BUILD_DIR NEW_BUILD_DIR  (Release builds with bench/ enabled,
# e.g. the build-bench folders bench/compare makes in two checkouts). Rounds alternate
# between the two binaries; the load generator is the new build's.
set -u
OLD_BUILD=$(realpath "$1"); NEW_BUILD=$(realpath "$2")
LG=$NEW_BUILD/bench/outpost-loadgen
declare -A BIN=([old]=$OLD_BUILD/src/outpost [new]=$NEW_BUILD/src/outpost)
free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
one() { # bin seconds -> "ir sent"
  local p=$(free_port) d=$(mktemp -d)
  valgrind --tool=callgrind --callgrind-out-file=$d/cg.out ${BIN[$1]} -p $p --data-dir $d >$d/log 2>&1 &
  local pid=$!
  for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
  local sent=$($LG --port $p --scenario fanin --publishers 10 --qos $3 --rate 2000 --duration $2 --warmup 0 2>&1 | grep -o '"delivered": *[0-9]*' | grep -o '[0-9]*$')
  kill -INT $pid; wait $pid 2>/dev/null
  local ir=$(grep -E '^(summary|totals):' $d/cg.out | head -1 | awk '{print $2}')
  rm -rf $d
  echo "$ir $sent"
}
for qos in 0 1; do
for round in 1 2; do
  for which in old new; do
    read ir1 n1 < <(one $which 2 $qos)
    read ir2 n2 < <(one $which 6 $qos)
    echo "qos$qos $which round$round $(( (ir2 - ir1) / (n2 - n1) ))"
  done
done
done
