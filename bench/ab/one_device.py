#!/usr/bin/python3
"""One device with one QoS 1 message in flight (bench/compare --installed-only's scenario),
two builds alternating: the shipped config/outpost.yaml with one `persistence.sync`, the
persistent subscriber offline (everything stored) and online (acknowledging at once),
broker on core 0 and the load generator on core 1, 64-byte payloads, 4 s per run.

    bench/ab/one_device.py BUILD_A,BUILD_B [ROUNDS] [SYNC]    e.g. /work/base/build-bench,build-bench 3 full

Prints each run (msg/s, PUBACK p50/p99, bytes the broker wrote and bytes that reached the
disk per message, as installed_bench.py counts them) and the medians.
Nothing else should run on the machine meanwhile."""
import os
import statistics
import sys
import tempfile

import compare_module  # noqa: E402 (bench/ab, beside this script)

compare = compare_module.load()
import installed_bench as ib  # noqa: E402

builds = [os.path.abspath(b) for b in sys.argv[1].split(",")]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
sync = sys.argv[3] if len(sys.argv) > 3 else "full"
dur = 4
keys = ("rate", "ack_p50_us", "ack_p99_us", "bytes_per_msg", "device_bytes_per_msg")
res = {}
runs = 0
with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DATA_DIR")) as tmp:
    dev = ib.device_stat(tmp)
    for r in range(rounds):
        for b in (builds if r % 2 == 0 else list(reversed(builds))):
            for mode in ("offline", "online"):
                runs += 1
                name = f"{mode}-{runs}"  # a data directory of its own
                broker = ib.start("outpost", b, tmp, 0, sync, True, name)
                try:
                    if mode == "offline":
                        compare.offline_session(broker.port, "offline-sub", "bench/fanin/+")
                    before, dev_before = broker.write_bytes(), ib.device_written(dev)
                    x = compare.loadgen(b, broker.port, 1, "--scenario", "fanin", "--publishers", 1,
                                        "--subscribers", 1 if mode == "online" else 0, "--qos", 1, "--window", 1,
                                        "--payload", 64, "--persistent", "--duration", dur, "--warmup", 1)
                    acked = max(1, x["acked"])
                    x["bytes_per_msg"] = (broker.write_bytes() - before) / acked
                    x["device_bytes_per_msg"] = 0 if dev is None else (ib.device_written(dev) - dev_before) / acked
                    x["rate"] = x["msgs_per_s"] if mode == "online" else x["acked"] / dur
                finally:
                    broker.stop()
                res.setdefault((mode, b), []).append(x)
                print(f"{b} {mode:7s} {x['rate']:>8,.0f} msg/s  PUBACK p50 {x['ack_p50_us']:.0f} us "
                      f"p99 {x['ack_p99_us']:.0f} us  {x['bytes_per_msg']:,.0f} B written/msg  "
                      f"{x['device_bytes_per_msg']:,.0f} B to the disk/msg", flush=True)
print(f"medians, sync: {sync} ({', '.join(keys)})")
for (mode, b), xs in sorted(res.items()):
    print(mode, b, " ".join(f"{statistics.median(x[k] for x in xs):,.0f}" for k in keys))
