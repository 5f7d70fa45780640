#!/bin/bash
# Installs the built Outpost package into a clean Debian 12 root and uses it as a gateway
# would: packaging/test-install.sh [ARCH] (default: this machine's; the packages come from
# build/deb/out/, made by packaging/build-debs.sh).
#
#  1. a clean Debian 12 root (debootstrap, minbase; cached in /var/cache/outpost-test/ and
#     copied fresh for every run), `apt-get install ./outpost_*.deb` inside it, so the
#     dependencies resolve from Debian;
#  2. the broker started as the installed unit says (its ExecStart, as its User=, with a
#     NOTIFY_SOCKET: READY=1 must come, RELOADING=1/READY=1 around SIGHUP, STOPPING=1 at
#     the end), then a QoS 1 round trip with mosquitto_pub/mosquitto_sub, a retained
#     QoS 1 message, and AMQP with python3-pika (a persistent message to a durable queue
#     and back, with publisher confirms; an MQTT publish routed to an AMQP queue);
#  3. the conffile edited, `dpkg -i` of the same package again: the edit and the store are
#     kept (the retained message comes back after a restart);
#  4. `apt-get purge outpost`: the conffile, /var/lib/outpost and /var/log/outpost are gone.
# The broker and the clients run in a network namespace of their own (only a loopback), so
# the packaged ports 1883/5672 never meet another broker on this machine; apt uses the
# machine's network. Prints a footprint summary
# (.deb size, installed size, binary size, idle RSS, time to READY=1).
#
# A foreign architecture (arm64, armhf) without binfmt_misc (this machine's sandbox has
# none): the root is the native Debian 12 root with `dpkg --add-architecture <arch>`, so
# apt, dpkg and the maintainer scripts (shell) run natively while outpost:<arch> and every
# library it loads are the foreign architecture's, installed multiarch from Debian. The
# broker runs under qemu-user, invoked explicitly as the unit's ExecStart with the emulator
# in front (/usr/bin/qemu-<cpu>-static copied into the root); the emulated dynamic loader
# finds the <arch> libraries under the root's /. Its idle RSS and start time are qemu's,
# not a real ARM board's.
# Needs root, debootstrap, mosquitto-clients and python3 with pika (python3-pika) on this
# machine, and qemu-user-static for a foreign architecture; what is missing is installed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-$(dpkg --print-architecture)}
debs=${OUTPOST_DEB_DIR:-$here/build/deb/out}
cache=${OUTPOST_TEST_CACHE:-/var/cache/outpost-test}
mirror=${OUTPOST_DEBIAN_MIRROR:-http://deb.debian.org/debian}

native=$(dpkg --print-architecture)

deb=$(ls -t "$debs"/outpost_*_"$arch".deb 2>/dev/null | head -1 || true)
[ -n "$deb" ] || { echo "test-install: no outpost_*_$arch.deb in $debs (run packaging/build-debs.sh $arch)" >&2; exit 1; }
emulator=""
case "$arch" in
  "$native") ;;
  arm64) emulator=/usr/bin/qemu-aarch64-static ;;
  armhf) emulator=/usr/bin/qemu-arm-static ;;
  *) echo "test-install: no emulator known for $arch" >&2; exit 2 ;;
esac
needed=()
command -v debootstrap >/dev/null || needed+=(debootstrap)
command -v mosquitto_pub >/dev/null || needed+=(mosquitto-clients)
/usr/bin/python3 -c 'import pika' 2>/dev/null || needed+=(python3-pika)
[ -z "$emulator" ] || [ -x "$emulator" ] || needed+=(qemu-user-static)
if [ ${#needed[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
fi

step() { printf '=== test-install %s: %s\n' "$arch" "$*"; }
fail() { printf 'test-install %s: FAILED: %s\n' "$arch" "$*" >&2; exit 1; }

base=$cache/base-$native
if [ ! -x "$base/usr/bin/apt-get" ]; then
  step "debootstrap Debian 12 ($native) into $base"
  rm -rf "$base"
  mkdir -p "$cache"
  debootstrap --variant=minbase --arch="$native" bookworm "$base" "$mirror" >"$cache/debootstrap-$native.log"
fi

root=$(mktemp -d /var/tmp/outpost-install-test.XXXXXX)
ns=outpost-test-$$
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
in_ns() { nsenter --net="/run/netns/$ns" -- "$@"; }  # execs the command: its pid is the command's
broker_pid=""
notify_pid=""
cleanup() {
  set +e
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  [ -n "$notify_pid" ] && kill "$notify_pid" 2>/dev/null
  for m in "$root/dev" "$root/proc"; do mountpoint -q "$m" && umount -l "$m"; done
  [ -n "${OUTPOST_TEST_KEEP:-}" ] && echo "kept $root" || rm -rf "$root"
  ip netns delete "$ns" 2>/dev/null || true
}
trap cleanup EXIT

step "fresh root from $base"
cp -a "$base/." "$root/"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# Installing must not try to start services (there is no systemd in the root anyway).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/tmp/debs"
cp "$deb" "$root/tmp/debs/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
if [ -n "$emulator" ]; then
  step "add $arch to the root's dpkg architectures, $(basename "$emulator") into the root"
  in_root dpkg --add-architecture "$arch"
  cp "$emulator" "$root$emulator"
fi

step "apt-get install ./$(basename "$deb")"
t0=$(date +%s)
in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends "/tmp/debs/$(basename "$deb")" >"$root/tmp/install.log" 2>&1 \
  || { cat "$root/tmp/install.log"; fail "apt-get install"; }
echo "installed in $(( $(date +%s) - t0 )) s"
in_root getent passwd outpost >/dev/null || fail "no outpost user"
[ "$(in_root stat -c %U:%G /var/lib/outpost)" = "outpost:outpost" ] || fail "/var/lib/outpost is not outpost's"
unit=$(ls "$root"/lib/systemd/system/outpost.service "$root"/usr/lib/systemd/system/outpost.service 2>/dev/null | head -1)
[ -n "$unit" ] || fail "no systemd unit installed"
[ -f "$root/etc/outpost/outpost.yaml" ] || fail "no /etc/outpost/outpost.yaml"
[ "$(in_root dpkg-query -W -f='${Architecture}' outpost)" = "$arch" ] || fail "outpost is not installed for $arch"
# The binary that runs is the package's: an ELF of the architecture's machine.
elf_machine=$(od -An -tu2 -j18 -N2 "$root/usr/bin/outpost" | tr -d ' ')
case "$arch:$elf_machine" in amd64:62 | arm64:183 | armhf:40) ;; *) fail "/usr/bin/outpost: ELF machine $elf_machine for $arch" ;; esac
# shellcheck disable=SC2086
in_root $emulator /usr/bin/outpost --check-config -c /etc/outpost/outpost.yaml || fail "the packaged configuration does not check"

unit_value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
exec_start=$(unit_value ExecStart)
user=$(unit_value User)
group=$(unit_value Group)
echo "unit: Type=$(unit_value Type) User=$user ExecStart=$exec_start${emulator:+ (run as: $emulator $exec_start)}"
[ "$(unit_value Type)" = "notify" ] || fail "the unit is not Type=notify"

# The service manager's side of sd_notify: a datagram socket whose messages are printed.
notify_socket=/run/outpost-notify.sock
mkdir -p "$root/run"
notify_log=$root/tmp/notify.log
python3 -u -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)  # the broker runs as its own user
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
' "$root$notify_socket" >"$notify_log" &
notify_pid=$!
for _ in $(seq 1 100); do [ -S "$root$notify_socket" ] && break; sleep 0.05; done

started_at=0
start_broker() {
  : >"$root/tmp/broker.log"
  local lines_before
  lines_before=$(grep -c READY=1 "$notify_log" || true)
  started_at=$(date +%s%N)
  # As systemd would: the unit's ExecStart as its User= and Group=, with a NOTIFY_SOCKET.
  # shellcheck disable=SC2086
  nsenter --net="/run/netns/$ns" -- chroot --userspec="$user:$group" "$root" env -i PATH=/usr/bin:/bin NOTIFY_SOCKET="$notify_socket" \
    $emulator $exec_start >"$root/tmp/broker.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 1 300); do
    if [ "$(grep -c READY=1 "$notify_log" || true)" -gt "$lines_before" ]; then
      ready_ms=$(( ($(date +%s%N) - started_at) / 1000000 ))
      return 0
    fi
    kill -0 "$broker_pid" 2>/dev/null || { cat "$root/tmp/broker.log"; fail "the broker exited at start"; }
    sleep 0.1
  done
  cat "$root/tmp/broker.log"
  fail "no READY=1 within 30 s"
}
stop_broker() {
  kill -TERM "$broker_pid"
  local code=0
  wait "$broker_pid" || code=$?
  [ $code -eq 0 ] || fail "the broker did not stop cleanly (exit $code)"
  broker_pid=""
  grep -q STOPPING=1 "$notify_log" || fail "no STOPPING=1"
}
round_trip() {  # QoS 1, from one mosquitto client to another
  local topic=$1 payload=$2 got
  in_ns mosquitto_sub -h 127.0.0.1 -p 1883 -q 1 -t "$topic" -C 1 -W 10 >"$root/tmp/sub.out" &
  local sub=$!
  sleep 0.5
  in_ns mosquitto_pub -h 127.0.0.1 -p 1883 -q 1 -t "$topic" -m "$payload" || fail "mosquitto_pub"
  wait "$sub" || fail "mosquitto_sub got nothing on $topic"
  got=$(cat "$root/tmp/sub.out")
  [ "$got" = "$payload" ] || fail "round trip: sent '$payload', got '$got'"
}

# AMQP 0-9-1 with pika (this machine's /usr/bin/python3): a persistent message through a
# durable queue with publisher confirms, then a device's MQTT publish to an AMQP queue bound
# on amq.topic with the AMQP form of the filter.
amqp_round_trip() {
  in_ns /usr/bin/python3 - <<'PY' || fail "AMQP round trip"
import subprocess, sys, time
import pika
conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672, connection_attempts=3, retry_delay=1))
ch = conn.channel()
ch.confirm_delivery()
ch.queue_declare("install-test", durable=True)
ch.basic_publish("", "install-test", b"hello over AMQP", pika.BasicProperties(delivery_mode=2), mandatory=True)
method, props, body = ch.basic_get("install-test", auto_ack=False)
assert body == b"hello over AMQP", body
ch.basic_ack(method.delivery_tag)
ch.queue_declare("install-test-sensors", exclusive=True)
ch.queue_bind("install-test-sensors", "amq.topic", "sensors.*.temp")
subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", "1883", "-q", "1", "-t", "sensors/room1/temp",
                "-m", "21.5"], check=True)
for _ in range(100):
    method, props, body = ch.basic_get("install-test-sensors", auto_ack=True)
    if method:
        break
    time.sleep(0.1)
assert body == b"21.5" and method.routing_key == "sensors.room1.temp", (method, body)
conn.close()
PY
}

step "start as the unit says ($user: $exec_start)"
start_broker
first_ready_ms=$ready_ms
echo "READY=1 after ${ready_ms} ms"
broker_uid=$(awk '/^Uid:/{print $2}' "/proc/$broker_pid/status")
[ "$broker_uid" = "$(in_root id -u "$user")" ] || fail "the broker runs as uid $broker_uid"
round_trip outpost/test/qos1 "hello over QoS 1"
in_ns mosquitto_pub -h 127.0.0.1 -p 1883 -q 1 -r -t outpost/test/kept -m "kept across reinstall" || fail "retained publish"
echo "QoS 1 round trip: ok"
amqp_round_trip
echo "AMQP round trip (persistent, confirmed) and MQTT -> AMQP: ok"
sleep 1
rss_kb=$(awk '/^VmRSS:/{print $2}' "/proc/$broker_pid/status")

step "SIGHUP (systemctl reload)"
kill -HUP "$broker_pid"
for _ in $(seq 1 50); do grep -q RELOADING=1 "$notify_log" && [ "$(grep -c READY=1 "$notify_log")" -ge 2 ] && break; sleep 0.1; done
grep -q RELOADING=1 "$notify_log" || fail "no RELOADING=1 on SIGHUP"
[ "$(grep -c READY=1 "$notify_log")" -ge 2 ] || fail "no READY=1 after the reload"
stop_broker
grep -qi error "$root/tmp/broker.log" && { cat "$root/tmp/broker.log"; fail "errors in the log"; }
echo "notifications: $(tr '\n' '|' <"$notify_log")"

step "edit the conffile, dpkg -i again"
echo "# a local edit, kept by upgrades" >>"$root/etc/outpost/outpost.yaml"
in_root dpkg -i "/tmp/debs/$(basename "$deb")" >"$root/tmp/reinstall.log" 2>&1 || { cat "$root/tmp/reinstall.log"; fail "dpkg -i"; }
grep -q "a local edit, kept" "$root/etc/outpost/outpost.yaml" || fail "the conffile edit was lost"
[ -n "$(ls -A "$root/var/lib/outpost")" ] || fail "the store was lost"
start_broker
got=$(in_ns mosquitto_sub -h 127.0.0.1 -p 1883 -q 1 -t outpost/test/kept -C 1 -W 10) || fail "no retained message after reinstall"
[ "$got" = "kept across reinstall" ] || fail "retained message: '$got'"
round_trip outpost/test/again "again"
stop_broker
echo "conffile edit and store kept"

step "apt-get purge outpost"
installed_kb=$(in_root dpkg-query -W -f='${Installed-Size}' outpost)
in_root apt-get purge -y -qq "outpost:$arch" >"$root/tmp/purge.log" 2>&1 || { cat "$root/tmp/purge.log"; fail "purge"; }
for gone in /etc/outpost/outpost.yaml /var/lib/outpost /var/log/outpost /usr/bin/outpost; do
  [ ! -e "$root$gone" ] || fail "$gone is still there after purge"
done
echo "purged: conffile, data and logs gone"

binary_bytes=$(dpkg-deb --fsys-tarfile "$deb" | tar -tvf - ./usr/bin/outpost | awk '{print $3}')
printf '\ntest-install %s: PASSED\n' "$arch"
printf '| arch | .deb | installed | /usr/bin/outpost (stripped) | idle RSS | start to READY=1 |\n'
printf '|---|---|---|---|---|---|\n'
printf '| %s%s | %s KiB | %s KiB | %s KiB | %s KiB | %s ms |\n' "$arch" "${emulator:+ (RSS and start under $(basename "$emulator"))}" "$(( $(stat -c %s "$deb") / 1024 ))" \
  "$installed_kb" "$(( binary_bytes / 1024 ))" "$rss_kb" "$first_ready_ms"
