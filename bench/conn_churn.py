#!/usr/bin/python3
"""Connection churn: N MQTT connections opened (CONNECT/CONNACK), held, and closed, round
after round, against the real broker; after each round, once the connections are gone, the
broker's open files and RSS must be back near where they started.

Usage: bench/conn_churn.py [--connections 19000] [--rounds 10] [--binary build/src/outpost]
                           [--loadgen build/bench/outpost-loadgen]
The broker and the load generator each need --connections + 100 descriptors (ulimit -n).
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def settle(pid, base_fds, timeout=30):
    """Waits until the broker's descriptors are back to the baseline (or the timeout)."""
    deadline = time.time() + timeout
    rss, fds = sample(pid)
    while fds > base_fds + 2 and time.time() < deadline:
        time.sleep(0.5)
        rss, fds = sample(pid)
    return rss, fds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connections", type=int, default=19000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--hold", type=float, default=2)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build/src/outpost"))
    ap.add_argument("--loadgen", default=os.path.join(ROOT, "build/bench/outpost-loadgen"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="outpost-churn-") as tmp:
        port = free_port()
        config = os.path.join(tmp, "outpost.yaml")
        with open(config, "w") as f:
            f.write(f"listeners:\n  - protocol: mqtt\n    address: 127.0.0.1\n    port: {port}\n"
                    f"    allow_anonymous: true\npersistence:\n  enabled: false\n")
        log = open(os.path.join(tmp, "broker.log"), "w+")
        broker = subprocess.Popen([args.binary, "-c", config], stdout=log, stderr=subprocess.STDOUT)
        time.sleep(1)
        base_rss, base_fds = sample(broker.pid)
        print(f"baseline: rss {base_rss} KiB, fds {base_fds}")
        rows = []
        ok = True
        for r in range(1, args.rounds + 1):
            start = time.time()
            res = subprocess.run([args.loadgen, "--port", str(port), "--scenario", "connections",
                                  "--connections", str(args.connections), "--hold", str(args.hold)],
                                 capture_output=True, text=True, timeout=600)
            took = time.time() - start
            if res.returncode != 0 or broker.poll() is not None:
                print(f"round {r}: loadgen exit {res.returncode}, broker {broker.poll()}\n{res.stderr[-2000:]}")
                ok = False
                break
            rss, fds = settle(broker.pid, base_fds)
            rows.append((r, rss, fds, took))
            print(f"round {r}: {args.connections} connections in {took:.1f} s; after: rss {rss} KiB, fds {fds}",
                  flush=True)
        broker.send_signal(signal.SIGTERM)
        code = broker.wait(timeout=60)
        log.seek(0)
        text = log.read()
        if code != 0 or "AddressSanitizer" in text or "runtime error:" in text:
            print(f"broker exit {code}\n{text[-4000:]}")
            ok = False
        if rows:
            fds_growth = rows[-1][2] - base_fds
            rss_growth = rows[-1][1] - rows[0][1]
            print(f"open files after the last round: {rows[-1][2]} (baseline {base_fds}); RSS after round 1: "
                  f"{rows[0][1]} KiB, after round {rows[-1][0]}: {rows[-1][1]} KiB ({rss_growth:+d} KiB)")
            if fds_growth > 2:
                ok = False
                print("descriptors were not released")
            if len(rows) > 2 and rss_growth > 0.2 * rows[0][1]:
                ok = False
                print("RSS grew by more than 20% from round 1 to the last")
        print("conn_churn: " + ("PASSED" if ok else "FAILED"))
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
