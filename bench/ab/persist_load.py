#!/usr/bin/python3
"""Persistence under load, two builds alternating: AMQP persistent publishes with confirms
(bench/amqp_bench.py's persistent_confirm scenario) and MQTT fan-in QoS 1 from 10
publishers to one online persistent subscriber, each with `sync: full` and `sync: normal`,
broker on core 0 and the load generator on core 1, 64-byte payloads, 3 s per run.

    bench/ab/persist_load.py BUILD_A,BUILD_B [ROUNDS]     e.g. /work/base/build-bench,build-bench

Prints each run (msg/s; bytes written per message for the fan-in) and the medians.
Nothing else should run on the machine meanwhile."""
import os
import statistics
import subprocess
import sys
import tempfile

import compare_module  # noqa: E402 (bench/ab, beside this script)

compare = compare_module.load()
import amqp_bench as ab  # noqa: E402
import installed_bench as ib  # noqa: E402

builds = [os.path.abspath(b) for b in sys.argv[1].split(",")]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
dur = 3
args = [a for a in ab.SCENARIOS if a[0] == "persistent_confirm"][0][2]
res = {}
res = {}
with tempfile.TemporaryDirectory() as tmp:
    for r in range(rounds):
        for b in (builds if r % 2 == 0 else list(reversed(builds))):
            for sync in ("full", "normal"):
                def enter(self, sync=sync):
                    cfg = os.path.join(self.tmp, f"outpost-amqp-{self.port}.yaml")
                    with open(cfg, "w") as f:
                        f.write(f"threads: 1\nlisteners:\n  - protocol: amqp\n    address: 127.0.0.1\n    port: {self.port}\n    allow_anonymous: true\npersistence:\n  enabled: true\n  sync: {sync}\n  max_bytes: 4GiB\n  dir: {self.tmp}/outpost-amqp-{self.port}\nlogging:\n  level: warn\n")
                    cmd = ["taskset", "-c", "0", os.path.join(self.build, "src", "outpost"), "-c", cfg]
                    self.log = open(os.path.join(self.tmp, f"outpost-amqp-{self.port}.log"), "ab")
                    self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.tmp)
                    ab.wait_port(self.port, self.proc, timeout=30)
                    return self
                o = ab.OutpostAmqp(b, tmp, 0)
                enter(o)
                try:
                    x = ab.loadgen_sampling(b, o, 1, *args, "--payload", 64, "--duration", dur, "--warmup", 1)
                finally:
                    o.__exit__(None, None, None)
                res.setdefault((b, "amqp-persist-confirm", sync), []).append(x["msgs_per_s"])
                print(b, "amqp", sync, f"{x['msgs_per_s']:,.0f}", flush=True)
                # MQTT fan-in QoS 1, 10 publishers, persistent online subscriber
                m = ib.start("outpost", b, tmp, 0, sync, True, f"fanin-{r}-{sync}-{os.path.basename(os.path.dirname(b))}")
                try:
                    before = m.write_bytes()
                    y = compare.loadgen(b, m.port, 1, "--scenario", "fanin", "--publishers", 10, "--subscribers", 1,
                                        "--qos", 1, "--payload", 64, "--persistent", "--duration", dur, "--warmup", 1)
                    bpm = (m.write_bytes() - before) / max(1, y.get("acked", y["msgs_per_s"] * dur))
                finally:
                    m.stop()
                res.setdefault((b, "mqtt-fanin10-q1", sync), []).append(y["msgs_per_s"])
                print(b, "fanin10", sync, f"{y['msgs_per_s']:,.0f}", f"{bpm:.0f} B/msg", flush=True)
for k, v in sorted(res.items()):
    print(k, f"{statistics.median(v):,.0f}", [round(a) for a in v])
