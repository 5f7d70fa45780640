#!/bin/bash
# Builds Outpost's Debian packages: packaging/build-debs.sh [--install-test] [amd64|arm64|armhf|all]
#
# For each architecture: installs what is missing (dpkg-dev, debhelper, lintian; for a
# foreign architecture crossbuild-essential-<arch>, the build dependencies of that
# architecture after `dpkg --add-architecture`, and qemu-user to run its unit tests), builds
# with dpkg-buildpackage -a<arch> from a copy of the work tree, then checks every .deb with
# lintian (any error fails). The packages land in build/deb/out/.
# DEB_BUILD_OPTIONS=nocheck skips the unit tests; OUTPOST_JOBS sets the parallel build
# (default: the number of cores). --install-test runs packaging/test-install.sh on each
# architecture's packages afterwards.
# Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

install_test=0
arches=()
for arg in "$@"; do
  case "$arg" in
    --install-test) install_test=1 ;;
    amd64 | arm64 | armhf) arches+=("$arg") ;;
    all) arches+=(amd64 arm64 armhf) ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-debs: unknown argument '$arg' (amd64, arm64, armhf, all, --install-test)" >&2; exit 2 ;;
  esac
done
[ ${#arches[@]} -gt 0 ] || arches=("$(dpkg --print-architecture)")
native=$(dpkg --print-architecture)
jobs=${OUTPOST_JOBS:-$(nproc)}
version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "build-debs: missing packages: ${missing[*]} (run as root)" >&2
    exit 1
  fi
  if [ $apt_updated -eq 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

apt_install dpkg-dev debhelper lintian rsync pkg-config

# A copy of the work tree (committed or not, without build trees) with debian/ at its top,
# as dpkg-buildpackage wants it. Kept between runs, so a rebuild is incremental.
stage=$root/build/deb/src/outpost-$version
mkdir -p "$stage" "$root/build/deb/out"
rsync -a --delete --exclude='/build*/' --exclude='/debian/' --exclude='/obj-*/' --exclude='node_modules/' \
  --exclude='__pycache__/' --exclude='/outpost-data/' --exclude='.git' "$root/" "$stage/"
# debian/ starts clean every time (debhelper's stamps would skip the configure, build and
# test steps); the CMake build tree beside it is kept.
rsync -a --delete "$root/packaging/debian/" "$stage/debian/"

status=0
for arch in "${arches[@]}"; do
  echo "=== build-debs: $arch"
  if [ "$arch" != "$native" ]; then
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
      dpkg --add-architecture "$arch"
      apt_updated=0
    fi
    apt_install "crossbuild-essential-$arch" qemu-user-static
  fi
  # The build dependencies of this architecture, when some are missing.
  if ! (cd "$stage" && dpkg-checkbuilddeps -a"$arch" >/dev/null 2>&1); then
    [ $apt_updated -eq 1 ] || { apt-get update -qq; apt_updated=1; }
    # Some -dev packages cannot be installed for two architectures at once (Debian 12's
    # libyaml-cpp-dev is not Multi-Arch: same): installing the arm64 one removes the amd64
    # one, and native builds on this machine break. Refuse unless told it is fine (a build
    # machine or container of its own).
    removals=$(apt-get -s build-dep --no-install-recommends -a"$arch" "$stage" 2>/dev/null | sed -n 's/^Remv \([^ ]*\).*/\1/p')
    if [ -n "$removals" ] && [ "${OUTPOST_ALLOW_REMOVALS:-0}" != "1" ]; then
      echo "build-debs: the $arch build dependencies would remove: $(echo $removals)" >&2
      echo "build-debs: on a machine that builds for $native too, build $arch in a container of its own," >&2
      echo "build-debs: or set OUTPOST_ALLOW_REMOVALS=1 (reinstall them afterwards for native builds)" >&2
      status=1
      continue
    fi
    DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq --no-install-recommends -a"$arch" "$stage"
  fi
  # An architecture-independent outpost-dev is built with the native packages only.
  if [ "$arch" = "$native" ]; then what=-b; else what=-B; fi
  start=$(date +%s)
  if ! (cd "$stage" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} parallel=$jobs" \
        dpkg-buildpackage "$what" -a"$arch" -us -uc -nc); then
    echo "build-debs: $arch: build failed" >&2
    status=1
    continue
  fi
  echo "build-debs: $arch built in $(( $(date +%s) - start )) s"
  changes=$root/build/deb/src/outpost_${version}_${arch}.changes
  for f in $(sed -n '/^Files:/,/^[^ ]/{s/^ [0-9a-f]* [0-9]* [^ ]* [^ ]* //p}' "$changes") "$(basename "$changes")"; do
    mv -f "$root/build/deb/src/$f" "$root/build/deb/out/"
  done
  changes=$root/build/deb/out/$(basename "$changes")
  echo "=== lintian: $arch"
  if ! lintian --fail-on error --info --suppress-tags-from-file "$root/packaging/lintian-explained" "$changes"; then
    echo "build-debs: $arch: lintian found errors" >&2
    status=1
    continue
  fi
  if [ $install_test -eq 1 ]; then
    "$root/packaging/test-install.sh" "$arch" || status=1
  fi
done
ls -l "$root/build/deb/out/"
exit $status
