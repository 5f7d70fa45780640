#!/bin/bash
# RSS per idle MQTT connection, previous vs new binary: 10,000 idle connections held.
# Usage: bench/ab/idle_connections.sh OLD_BUILD_DIR NEW_BUILD_DIR  (Release builds with bench/ enabled,
# e.g. the build-bench folders bench/compare makes in two checkouts). Rounds alternate
# between the two binaries; the load generator is the new build's.
set -u
OLD_BUILD=$(realpath "$1"); NEW_BUILD=$(realpath "$2")
LG=$NEW_BUILD/bench/outpost-loadgen
declare -A BIN=([old]=$OLD_BUILD/src/outpost [new]=$NEW_BUILD/src/outpost)
free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
rss() { awk '/VmRSS/{print $2}' /proc/$1/status; }
for round in 1 2; do
  for which in old new; do
    p=$(free_port); d=$(mktemp -d)
    taskset -c 0 ${BIN[$which]} -p $p --data-dir $d >$d/log 2>&1 &
    pid=$!
    for i in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
    sleep 0.5; before=$(rss $pid)
    taskset -c 1 $LG --port $p --scenario connections --connections 10000 --hold 8 > $d/lg 2>&1 &
    lg=$!
    sleep 6; during=$(rss $pid)
    wait $lg
    kill -INT $pid; wait $pid 2>/dev/null
    held=$(grep -o '"ready": *[0-9]*' $d/lg | grep -o '[0-9]*$')
    echo "$which round$round rss_before=${before}KiB rss_held=${during}KiB held=${held} per_conn=$(awk -v a=$during -v b=$before 'BEGIN{printf "%.3f", (a-b)/10000}')KiB"
    rm -rf $d
  done
done
