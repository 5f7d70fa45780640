#!/bin/bash
# Calls go one way: server -> protocols -> core -> store. Each layer may include only
# itself and the layers below it; this check fails the test run on a wrong-way include.
# The build is the guard (each library exports only its own include root, see
# cmake/include_roots.cmake); this script is the stopgap for what the build cannot see: a
# quoted include is first looked up beside the including file, so the sources in src/ itself
# find src/core/... by relative path, and "../" climbs out of any folder.
set -u
cd "$(dirname "$0")/.." || exit 1
status=0
checked=()

# check PATHS ALLOWED_REGEX: every quoted include in PATHS (folders, searched recursively, or
# files; separated by spaces) must match ALLOWED_REGEX and must not climb with "../".
check() {
  local allowed=$2 line file inc re='#include "([^"]+)"' paths
  read -ra paths <<<"$1"
  checked+=("${paths[@]}")
  while IFS= read -r line; do
    file=${line%%:*}
    [[ ${line#*:} =~ $re ]] || continue
    inc=${BASH_REMATCH[1]}
    if [[ ! $inc =~ ^($allowed) || $inc == *../* ]]; then
      echo "layering: $file includes \"$inc\" (allowed here: $allowed)"
      status=1
    fi
  done < <(grep -rn --include='*.hpp' --include='*.cpp' --include='*.h' --include='*.c' \
             -E '^#include "' "${paths[@]}" | sed -E 's/^([^:]+):[0-9]+:/\1:/')
}

check src/text 'text/'
check src/store 'store/'
check src/core 'core/|store/|log\.hpp'
# The built-in security backends implement the core's interfaces.
check src/auth 'auth/|core/|store/|text/|log\.hpp'
# The plugin host attaches plugins to the core's seams (and sees the C interface).
check src/plugin 'plugin/|core/|store/|log\.hpp|config_tree\.hpp'
# Observability reads the core and the store; what lives above them comes through collectors.
check src/observe 'observe/|http/|core/|store/|log\.hpp|status_page\.inc'
check protocols/mqtt/codec 'mqtt/codec/'
check protocols/amqp/codec 'amqp/codec/'
check protocols/common 'common/'
check protocols/mqtt 'mqtt/|common/|core/|store/|settings\.hpp|log\.hpp'
check protocols/amqp 'amqp/|common/|core/|store/|settings\.hpp|log\.hpp'
check protocols/websocket 'websocket/'
check protocols/http 'http/|common/|text/'
check src/server 'server/|common/|websocket/|settings\.hpp|log\.hpp'
# The files in src/ itself: logging, settings, and main.cpp, which wires everything.
check 'src/log.hpp src/log.cpp' 'log\.hpp'
check 'src/settings.hpp src/settings.cpp src/settings_yaml.hpp src/settings_yaml.cpp src/settings_diff.hpp src/settings_diff.cpp src/cli.hpp src/cli.cpp src/config_tree.hpp' \
  'settings\.hpp|settings_yaml\.hpp|settings_diff\.hpp|cli\.hpp|log\.hpp|config_tree\.hpp'
check 'src/service_notify.hpp src/service_notify.cpp' 'service_notify\.hpp'
check 'src/main.cpp src/config_check.hpp src/config_check.cpp src/store_tool.hpp src/store_tool.cpp' 'service_notify\.hpp|config_check\.hpp|store_tool\.hpp|observe/|http/|plugin/|auth/|server/|mqtt/|amqp/|websocket/|common/|core/|store/|settings\.hpp|settings_yaml\.hpp|settings_diff\.hpp|cli\.hpp|log\.hpp'
# A plugin sees the C interface only.
check plugins 'outpost/plugin\.h|[a-z_]+\.h|[a-z_]+\.hpp'
# The load generator is a client: it may use the pure codecs, never the broker.
check bench/loadgen '[a-z_]+\.hpp|mqtt/codec/|amqp/codec/'
check bench/store 'store/'

# Every source outside tests/ must fall under one of the checks above.
while IFS= read -r file; do
  covered=0
  for path in "${checked[@]}"; do
    if [[ $file == "$path" || $file == "$path"/* ]]; then covered=1; break; fi
  done
  if [ $covered -eq 0 ]; then
    echo "layering: $file is not covered by any rule in scripts/check-layers.sh"
    status=1
  fi
done < <(find src protocols plugins bench -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' -o -name '*.c' \) | sort)

if [ $status -eq 0 ]; then echo "layering: every include goes down the layers"; fi
exit $status
