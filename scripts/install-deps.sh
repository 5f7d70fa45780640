#!/bin/bash
# Installs what Outpost needs from Debian 12 packages, and only what is missing. Run as root
# on a fresh machine; quiet when everything is there.
#   scripts/install-deps.sh          what building and running the broker needs (the
#                                    compiler, the libraries); no test client, no browser
#   scripts/install-deps.sh --test   that, plus the real clients and peers the tests and
#                                    benchmarks use: mosquitto, Python clients, Chromium,
#                                    promtool (Debian's prometheus), Node.js and npm
set -euo pipefail

with_tests=0
case "${1:-}" in
  "") ;;
  --test) with_tests=1 ;;
  *) echo "usage: scripts/install-deps.sh [--test]" >&2; exit 2 ;;
esac

PACKAGES=(
  # build and run
  g++ cmake ninja-build pkg-config
  libboost1.81-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev
  libsqlite3-dev libssl-dev libpaho-mqttpp-dev libpaho-mqtt-dev libsystemd-dev
  # the unit tests are part of the default build
  libgtest-dev libgmock-dev
)
if [ $with_tests -eq 1 ]; then
  PACKAGES+=(
    # real clients and peers for the tests and benchmarks
    mosquitto mosquitto-clients python3 python3-paho-mqtt python3-pika python3-kombu openssl
    # a real browser for MQTT over WebSocket and the status page
    chromium
    # promtool checks the /metrics text format
    prometheus
  )
fi

# A package counts as present when it is installed for this machine's architecture (or is
# architecture-independent); a copy for a foreign architecture, as the cross builds of
# packaging/build-debs.sh install, does not count.
native=$(dpkg --print-architecture)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Architecture} ${Status}\n' "$p" 2>/dev/null |
      grep -Eq "^($native|all) install ok installed$"; then
    missing+=("$p")
  fi
done

# Node.js and npm run the JavaScript test clients (MQTT.js, amqplib). A Node.js installed
# some other way (with its own npm) is used as it is rather than replaced by Debian's.
if [ $with_tests -eq 1 ] && { ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; }; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
# Installing mosquitto must not start a system broker: tests start their own on free ports.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ $created_policy -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
