"""Performance as installed (bench/compare --installed-only): the shipped configuration,
next to mosquitto with its defaults, in one run.

1. The disk: how long an fdatasync of a 4 KiB append takes in the directory the brokers
   store into (what a `persistence.sync: full` commit costs at least).
2. One device, one QoS 1 message in flight (window 1, 64 B): with its subscriber online
   (a persistent session that acknowledges at once) and offline (everything stored).
   Outpost's shipped config with `sync: full` (shipped), `normal`, `off` and persistence
   off; mosquitto with `persistence true`.
(bench/compare adds fan-in QoS 1 to one MQTT 3.1.1 subscriber with each broker's shipped
in-flight window, FlashMQ included when built: run_fanin_defaults.)

Outpost's configuration is config/outpost.yaml itself, with only the ports, the data
directory, the log level and `threads: 1` (both brokers on one thread, pinned to one core,
the load generator on the other) changed, and for (2) `persistence.sync` / `enabled`.
"""

import os
import re
import statistics
import subprocess
import tempfile
import time

from benchlib import free_port, wait_port, med, fmt

TITLE = "## Performance as installed"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fsync_latency(directory, n=300):
    """p50 / p99 microseconds of a 4 KiB append followed by fdatasync, as a WAL commit."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = os.urandom(4096)
    times = []
    try:
        for i in range(n):
            t0 = time.perf_counter()
            os.pwrite(fd, block, i * 4096)
            os.fdatasync(fd)
            times.append((time.perf_counter() - t0) * 1e6)
    finally:
        os.close(fd)
        os.unlink(path)
    times.sort()
    return {"p50": statistics.median(times), "p99": times[int(len(times) * 0.99) - 1]}


def device_stat(directory):
    """The kernel's I/O counters of the block device holding `directory`, or None (tmpfs,
    overlays without a device of their own)."""
    st = os.stat(directory)
    path = f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/stat"
    return path if os.path.exists(path) else None


def device_written(stat_path):
    """Bytes written to that device so far, after a sync: what reaches the medium (an SD
    card's wear), the file system's journal included. The kernel counts 512-byte sectors."""
    if stat_path is None:
        return None
    os.sync()
    with open(stat_path) as f:
        return int(f.read().split()[6]) * 512


def shipped_outpost_config(port, data_dir, sync=None, enabled=None):
    with open(os.path.join(ROOT, "config", "outpost.yaml")) as f:
        text = f.read()
    text = re.sub(r"(?m)^threads: \d+", "threads: 1", text)
    text = text.replace("port: 1883 ", f"port: {port} ", 1)
    text = text.replace("port: 5672", f"port: {free_port()}", 1)
    text = text.replace("port: 8080", f"port: {free_port()}", 1)
    text = re.sub(r"(?m)^(  dir: )\S+", lambda m: m.group(1) + data_dir, text, count=1)
    text = re.sub(r"(?m)^(  level: )\w+", r"\1warn", text, count=1)
    if sync:
        text = re.sub(r"(?m)^(  sync: )\w+", lambda m: m.group(1) + sync, text, count=1)
    if enabled is not None:
        text = re.sub(r"(?m)^(persistence:\n  enabled: )\w+", lambda m: m.group(1) + ("true" if enabled else "false"),
                      text, count=1)
    return text


class Running:
    """A broker started from a config text, pinned, stopped by its process id."""

    def __init__(self, kind, build, tmp, pin, config_text, port):
        self.kind, self.port = kind, port
        cfg = os.path.join(tmp, f"{kind}-{port}.conf")
        with open(cfg, "w") as f:
            f.write(config_text)
        if kind == "outpost":
            cmd = [os.path.join(build, "src", "outpost"), "-c", cfg]
        else:
            cmd = ["mosquitto", "-c", cfg]
        if pin is not None:
            cmd = ["taskset", "-c", str(pin)] + cmd
        self.log = open(os.path.join(tmp, f"{kind}-{port}.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_port(port, self.proc, timeout=60)
        except RuntimeError:
            self.stop()
            with open(self.log.name) as f:
                raise RuntimeError(f"{kind} did not start:\n{f.read()[-2000:]}")

    def write_bytes(self):
        with open(f"/proc/{self.proc.pid}/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def mosquitto_config(port, data_dir, persistence):
    return (f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n"
            f"persistence {'true' if persistence else 'false'}\npersistence_location {data_dir}/\n")


CONFIGS = [
    # label, kind, sync, persistence enabled
    ("Outpost, `sync: full` (shipped)", "outpost", "full", True),
    ("Outpost, `sync: normal`", "outpost", "normal", True),
    ("Outpost, `sync: off`", "outpost", "off", True),
    ("Outpost, persistence off", "outpost", None, False),
    ("mosquitto, `persistence true`", "mosquitto", None, True),
]


def start(kind, build, tmp, pin, sync, enabled, name):
    port = free_port()
    data = os.path.join(tmp, f"{name}-data")
    os.makedirs(data, exist_ok=True)
    text = shipped_outpost_config(port, data, sync, enabled) if kind == "outpost" else \
        mosquitto_config(port, data, enabled)
    return Running(kind, build, tmp, pin, text, port)


def run_installed(build, pins, rounds, duration, loadgen, offline_session):
    out = {"fsync": None, "online": {}, "offline": {}}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DATA_DIR")) as tmp:
        out["fsync"] = fsync_latency(tmp)
        dev = device_stat(tmp)
        print(f"fdatasync of a 4 KiB append: p50 {out['fsync']['p50']:.0f} us, p99 {out['fsync']['p99']:.0f} us",
              flush=True)
        for r in range(rounds):
            order = CONFIGS if r % 2 == 0 else list(reversed(CONFIGS))
            for label, kind, sync, enabled in order:
                for mode in ("online", "offline"):
                    if mode == "offline" and not enabled:
                        continue
                    b = start(kind, build, tmp, pins[0], sync, enabled, f"{mode}-{r}-{kind}-{sync}-{enabled}")
                    try:
                        if mode == "offline":
                            offline_session(b.port, "offline-sub", "bench/fanin/+")
                        before, dev_before = b.write_bytes(), device_written(dev)
                        res = loadgen(build, b.port, pins[1], "--scenario", "fanin", "--publishers", 1,
                                      "--subscribers", 1 if mode == "online" else 0, "--qos", 1, "--window", 1,
                                      "--payload", 64, "--persistent", "--duration", duration, "--warmup", 1)
                        res["bytes_per_msg"] = (b.write_bytes() - before) / max(1, res["acked"])
                        # Synced while the broker still runs: its final fold and checkpoint at
                        # the stop are not counted here either.
                        res["device_bytes_per_msg"] = None if dev is None else \
                            (device_written(dev) - dev_before) / max(1, res["acked"])
                        res["rate"] = res["msgs_per_s"] if mode == "online" else res["acked"] / duration
                    finally:
                        b.stop()
                    out[mode].setdefault(label, []).append(res)
                    print(f"round {r + 1} one in flight, subscriber {mode:7s} {label:34s} {res['rate']:>9,.0f} msg/s"
                          f"  PUBACK p50 {res['ack_p50_us']:.0f} us p99 {res['ack_p99_us']:.0f} us"
                          f"  {res['bytes_per_msg']:.0f} B written/msg"
                          f"  {res['device_bytes_per_msg'] or 0:.0f} B to the disk/msg", flush=True)
    return out


def device_column(rs):
    vals = [r["device_bytes_per_msg"] for r in rs if r.get("device_bytes_per_msg") is not None]
    return fmt(med(vals)) if vals else "n/a"


def installed_report(res):
    lines = []
    w = lines.append
    w(TITLE)
    w("")
    w("`bench/compare --installed-only`: Outpost with its shipped `config/outpost.yaml` (only the ports, the data "
      "directory, the log level and `threads: 1` changed) next to mosquitto with its defaults, one broker thread "
      "pinned to one core, the load generator on the other, 64-byte payloads, medians of the rounds.")
    w("")
    f = res["fsync"]
    w(f"**The disk.** A 4 KiB append followed by `fdatasync` in the directory the brokers store into: "
      f"p50 {f['p50']:.0f} us, p99 {f['p99']:.0f} us. A `sync: full` commit is one such fdatasync (of a page the "
      f"operation log already has, which spares the file system's journal).")
    w("")
    w("**Bytes per message.** *Written*: the broker's `write_bytes` (/proc/PID/io), the page-cache pages it "
      "dirtied, 4 KiB each time a page is dirtied again after it was synced. *To the disk*: what reached the block "
      "device holding the data directory during the run, synced at its end while the broker still ran "
      "(/sys/dev/block/.../stat, sectors written), the file system's journal included: an SD card's wear. The disk "
      "figure counts everything written to that device, so it is only as good as the machine is idle.")
    for mode, title in (("online", "**One device, one QoS 1 message in flight, its subscriber online** (a persistent "
                                   "session that acknowledges at once; the message is stored unless the "
                                   "acknowledgement comes first)."),
                        ("offline", "**One device, one QoS 1 message in flight, its subscriber offline** (a persistent "
                                    "session: every message is stored and stays; the PUBACK waits for its commit).")):
        w("")
        w(title)
        w("")
        w("| configuration | msg/s | PUBACK p50 (us) | PUBACK p99 (us) | bytes written per message | "
          "bytes to the disk per message |")
        w("|---|---|---|---|---|---|")
        for label, _, _, _ in CONFIGS:
            rs = res[mode].get(label)
            if not rs:
                continue
            w(f"| {label} | {fmt(med([r['rate'] for r in rs]))} | {fmt(med([r['ack_p50_us'] for r in rs]))} | "
              f"{fmt(med([r['ack_p99_us'] for r in rs]))} | {fmt(med([r['bytes_per_msg'] for r in rs]))} | "
              f"{device_column(rs)} |")
    return "\n".join(lines) + "\n"
