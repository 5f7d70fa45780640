#!/bin/bash
# Calls go one way: server -> protocols -> core -> store. Each layer may include only
# itself and the layers below it; this check fails the test run on a wrong-way include.
set -u
cd "$(dirname "$0")/.."
status=0

# check DIR ALLOWED_REGEX: every quoted include in DIR must match ALLOWED_REGEX.
check() {
  local dir=$1 allowed=$2
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
    if ! grep -Eq "^($allowed)" <<<"$inc"; then
      echo "layering: $file includes \"$inc\" (allowed here: $allowed)"
      status=1
    fi
  done < <(grep -rn --include='*.hpp' --include='*.cpp' -E '^#include "' "$dir" | sed -E 's/^([^:]+):[0-9]+:/\1:/')
}

check src/store 'store/'
check src/core 'core/|store/|log\.hpp'
check protocols/mqtt/codec 'mqtt/codec/'
check protocols/amqp/codec 'amqp/codec/'
check protocols/common 'common/'
check protocols/mqtt 'mqtt/|common/|core/|store/|settings\.hpp|log\.hpp'
check protocols/websocket 'websocket/'
check src/server 'server/|common/|websocket/|settings\.hpp|log\.hpp'
# The load generator is a client: it may use the pure codecs, never the broker.
check bench/loadgen '[a-z_]+\.hpp|mqtt/codec/|amqp/codec/'

if [ $status -eq 0 ]; then echo "layering: every include goes down the layers"; fi
exit $status
