#!/usr/bin/python3
"""Bytes the broker writes to disk per message (SD-card wear), for each persistence.sync
setting: /proc/<pid>/io write_bytes of the real broker around N QoS 1 messages of 64 B,
(a) to a connected persistent-session subscriber (stored, delivered, deleted) and
(b) to an offline persistent session (stored and kept).
Usage: bench/disk_writes.py [--messages N] [--binary build/src/outpost]"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import paho.mqtt.client as mqtt


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_bytes(pid):
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def connect(port, cid, clean):
    c = mqtt.Client(client_id=cid, clean_session=clean)
    c.connect("127.0.0.1", port)
    c.loop_start()
    time.sleep(0.2)
    return c


def run(binary, sync, n, offline):
    port = free_port()
    with tempfile.TemporaryDirectory(dir=os.environ.get("OUTPOST_BENCH_DIR", "/var/tmp")) as d:
        cfg = os.path.join(d, "outpost.yaml")
        with open(cfg, "w") as f:
            f.write(f"listeners:\n  - {{protocol: mqtt, address: 127.0.0.1, port: {port}, allow_anonymous: true}}\n"
                    f"persistence: {{dir: {d}/data, sync: {sync}}}\nsys_interval: 0\nuser: ''\n")
        proc = subprocess.Popen([binary, "-c", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            got = [0]
            sub = connect(port, "wear-sub", False)
            sub.on_message = lambda *a: got.__setitem__(0, got[0] + 1)
            sub.subscribe("wear/#", 1)
            time.sleep(0.3)
            if offline:
                sub.disconnect()
                sub.loop_stop()
                time.sleep(0.3)
            pub = connect(port, "wear-pub", True)
            time.sleep(0.5)
            before = write_bytes(proc.pid)
            for i in range(n):
                pub.publish("wear/t", b"x" * 64, qos=1).wait_for_publish()
            deadline = time.time() + 30
            while not offline and got[0] < n and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(1.5)  # the writer's last commits and a checkpoint
            after = write_bytes(proc.pid)
            pub.disconnect()
            if not offline:
                sub.disconnect()
            return (after - before) / n
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", "build", "src", "outpost"))
    a = ap.parse_args()
    print(f"| persistence.sync | connected persistent subscriber | offline persistent session |")
    print("|---|---|---|")
    for sync in ("full", "normal", "off"):
        online = run(a.binary, sync, a.messages, False)
        offline = run(a.binary, sync, a.messages, True)
        print(f"| `{sync}` | {online:,.0f} B/message | {offline:,.0f} B/message |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
