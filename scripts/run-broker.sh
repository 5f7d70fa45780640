#!/bin/bash
# Installs what is missing, builds Outpost and runs it on config/outpost.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target outpost
exec build/src/outpost -c config/outpost.yaml "$@"
