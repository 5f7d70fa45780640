#!/bin/bash
# Builds Outpost's Debian packages: packaging/build-debs.sh [--install-test] [amd64|arm64|armhf|all]
#
# The native architecture (amd64 here) builds on this machine: installs what is missing
# (dpkg-dev, debhelper, lintian, the build dependencies) and runs dpkg-buildpackage from a
# copy of the work tree.
# A foreign architecture (arm64, armhf) builds in a build root of its own, chosen
# automatically, so this machine's native build dependencies are never touched (Debian 12's
# libyaml-cpp-dev is not Multi-Arch: same: the arm64 one would remove the amd64 one): a
# debootstrapped Debian 12 root of the native architecture in
# /var/cache/outpost-build/root-<arch> (OUTPOST_BUILD_ROOTS), kept between runs, with
# `dpkg --add-architecture <arch>`, crossbuild-essential-<arch>, qemu-user-static and
# `apt-get build-dep -a<arch>`; the staged source is bind-mounted into it at the same path
# and dpkg-buildpackage -a<arch> -B runs there. The unit tests run under qemu-user
# (debian/rules sets CMAKE_CROSSCOMPILING_EMULATOR, the arm libraries are installed
# multiarch in the build root). /proc and /dev are mounted for the build and unmounted on exit.
# Every .deb is then checked with lintian on this machine (any error fails). The packages
# land in build/deb/out/.
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
    -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

mkdir -p "$root/build/deb/out"
# A copy of the work tree (committed or not, without build trees) with debian/ at its top,
# as dpkg-buildpackage wants it, in build/deb/src/outpost-<version>. Kept between runs, so a
# rebuild is incremental (each architecture has its own CMake tree there, obj-<triplet>).
# One build of this script at a time: the architectures share the copy.
outdir=$root/build/deb/src
stage=$outdir/outpost-$version
stage_source() {
  mkdir -p "$stage"
  rsync -a --delete --exclude='/build*/' --exclude='/debian/' --exclude='/obj-*/' --exclude='node_modules/' \
    --exclude='__pycache__/' --exclude='/outpost-data/' --exclude='.git' "$root/" "$stage/"
  # debian/ starts clean every time (debhelper's stamps would skip the configure, build and
  # test steps); the CMake build tree beside it is kept.
  rsync -a --delete "$root/packaging/debian/" "$stage/debian/"
}

# The build root of a foreign architecture (see the header). in_build_root runs a command in
# it with a clean environment; mounts are recorded and undone on exit.
build_roots=${OUTPOST_BUILD_ROOTS:-/var/cache/outpost-build}
mirror=${OUTPOST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mounted=()
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  mounted=()
}
trap unmount_all EXIT
mount_in() {  # mount_in TARGET MOUNT-ARGS...
  local target=$1; shift
  mountpoint -q "$target" && return 0
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}
broot=""
in_build_root() {
  chroot "$broot" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
prepare_build_root() {  # prepare_build_root ARCH
  local arch=$1
  broot=$build_roots/root-$arch
  if [ ! -f "$broot/.outpost-build-root" ]; then
    apt_install debootstrap
    echo "=== build-debs: debootstrap Debian 12 ($native) into $broot"
    rm -rf "$broot"
    mkdir -p "$build_roots"
    debootstrap --variant=minbase --arch="$native" bookworm "$broot" "$mirror" >"$build_roots/debootstrap-$arch.log" \
      || { echo "build-debs: debootstrap failed, see $build_roots/debootstrap-$arch.log" >&2; return 1; }
    # Installing build dependencies must never start a service in the root.
    printf '#!/bin/sh\nexit 101\n' >"$broot/usr/sbin/policy-rc.d"
    chmod +x "$broot/usr/sbin/policy-rc.d"
    touch "$broot/.outpost-build-root"
  fi
  cp /etc/resolv.conf "$broot/etc/resolv.conf"
  mount_in "$broot/proc" -t proc proc
  mount_in "$broot/dev" --bind /dev
  # The staged source at the same path as here, so paths in build logs and the CMake cache
  # mean the same inside and out; the results land beside it, in build/deb/src.
  mount_in "$broot$outdir" --bind "$outdir"
  local updated=0
  if ! in_build_root dpkg --print-foreign-architectures | grep -qx "$arch"; then
    in_build_root dpkg --add-architecture "$arch"
  fi
  local tools=(dpkg-dev debhelper "crossbuild-essential-$arch" qemu-user-static) missing=()
  for p in "${tools[@]}"; do
    [[ "$(in_build_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    in_build_root apt-get update -qq; updated=1
    in_build_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if ! in_build_root sh -c "cd '$stage' && dpkg-checkbuilddeps -a'$arch'" >/dev/null 2>&1; then
    [ $updated -eq 1 ] || in_build_root apt-get update -qq
    in_build_root sh -c "cd '$stage' && apt-get build-dep -y -qq --no-install-recommends -a'$arch' ." >/dev/null
  fi
}

status=0
for arch in "${arches[@]}"; do
  echo "=== build-debs: $arch"
  stage_source
  start=$(date +%s)
  if [ "$arch" = "$native" ]; then
    # The build dependencies of this architecture, when some are missing.
    if ! (cd "$stage" && dpkg-checkbuilddeps >/dev/null 2>&1); then
      [ $apt_updated -eq 1 ] || { apt-get update -qq; apt_updated=1; }
      DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq --no-install-recommends "$stage"
    fi
    if ! (cd "$stage" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} parallel=$jobs" \
          dpkg-buildpackage -b -us -uc -nc); then
      echo "build-debs: $arch: build failed" >&2
      status=1
      continue
    fi
  else
    # Architecture: all (outpost-dev) is built with the native packages only.
    if ! prepare_build_root "$arch"; then
      echo "build-debs: $arch: the build root could not be prepared" >&2
      unmount_all
      status=1
      continue
    fi
    # crossbuildcanrunhostbinaries: the emulator is there (debhelper's cross-build warning).
    if ! in_build_root sh -c "cd '$stage' && \
          DEB_BUILD_OPTIONS='${DEB_BUILD_OPTIONS:-} parallel=$jobs crossbuildcanrunhostbinaries' \
          dpkg-buildpackage -B -a'$arch' -us -uc -nc"; then
      echo "build-debs: $arch: build failed (in $broot)" >&2
      unmount_all
      status=1
      continue
    fi
    unmount_all
  fi
  echo "build-debs: $arch built in $(( $(date +%s) - start )) s"
  changes=$outdir/outpost_${version}_${arch}.changes
  for f in $(sed -n '/^Files:/,/^[^ ]/{s/^ [0-9a-f]* [0-9]* [^ ]* [^ ]* //p}' "$changes") "$(basename "$changes")"; do
    mv -f "$outdir/$f" "$root/build/deb/out/"
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
