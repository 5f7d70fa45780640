#!/bin/bash
# Builds FlashMQ (https://www.flashmq.org/, OSL-3.0) from a source tree you already have,
# for bench/compare --flashmq. It fetches nothing: get the source yourself, preferably a
# release tag (e.g. a checkout or `git archive` of FlashMQ's v1.26.2), and pass its folder.
#
#   bench/build-flashmq.sh SRC_DIR [OUT_DIR]    # OUT_DIR defaults to build-flashmq at the repo root
#
# Installs only the missing Debian build dependencies (cmake, make, g++, libssl-dev), then
# configures a Release build (FlashMQ's own build.sh also builds man pages and a .deb; the
# benchmark needs neither) and builds with nice and at most two jobs. Prints the binary's path.
set -euo pipefail

usage() { echo "usage: $0 SRC_DIR [OUT_DIR]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=$(realpath "$1")
OUT=$(realpath -m "${2:-$ROOT/build-flashmq}")
if [[ ! -f "$SRC/CMakeLists.txt" || ! -f "$SRC/mainapp.cpp" ]]; then
    echo "$SRC does not look like FlashMQ's source" >&2
    exit 1
fi

missing=()
for pkg in cmake make g++ libssl-dev; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing ${missing[*]}" >&2
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

jobs=$(nproc)
if (( jobs > 2 )); then jobs=2; fi
cmake -S "$SRC" -B "$OUT" -DCMAKE_BUILD_TYPE=Release >/dev/null
nice -n 10 cmake --build "$OUT" --target flashmq -j "$jobs" >&2
"$OUT/flashmq" --version >&2 || true
echo "$OUT/flashmq"
