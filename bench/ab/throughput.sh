#!/bin/bash
# A/B: alternating rounds of the previous and the new broker binary, one loadgen.
# Usage: bench/ab/throughput.sh OLD_BUILD_DIR NEW_BUILD_DIR  (Release builds with bench/ enabled,
# e.g. the build-bench folders bench/compare makes in two checkouts). Rounds alternate
# between the two binaries; the load generator is the new build's.
set -u
OLD_BUILD=$(realpath "$1"); NEW_BUILD=$(realpath "$2")
LG=$NEW_BUILD/bench/outpost-loadgen
OLD=$OLD_BUILD/src/outpost
NEW=$NEW_BUILD/src/outpost
free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
run() { # bin label args...
  local bin=$1 label=$2; shift 2
  local p=$(free_port) a=$(free_port) d=$(mktemp -d)
  taskset -c 0 $bin --listen mqtt://127.0.0.1:$p --listen amqp://127.0.0.1:$a --data-dir $d >$d/log 2>&1 &
  local pid=$!
  for i in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$a) 2>/dev/null && break; sleep 0.1; done
  local port=$p; [[ "$*" == *"--protocol amqp"* ]] && port=$a
  local out=$(taskset -c 1 $LG --port $port "$@" 2>&1 | grep -o '"msgs_per_s": *[0-9.]*' | head -1 | grep -o '[0-9.]*$')
  kill -INT $pid; wait $pid 2>/dev/null; rm -rf $d
  echo "$label $out"
}
for round in 1 2 3; do
  for which in old new; do
    bin=$OLD; [ $which = new ] && bin=$NEW
    run $bin "$which fanin-qos0" --scenario fanin --publishers 10 --qos 0 --duration 3 --threads 1
    run $bin "$which fanin-qos1" --scenario fanin --publishers 10 --qos 1 --duration 3 --threads 1
    run $bin "$which amqp-confirm-persistent" --protocol amqp --publishers 4 --consumers 1 --confirm --window 100 --prefetch 100 --persistent --duration 3 --threads 1
  done
done
