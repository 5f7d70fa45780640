"""The bridge scenario of bench/compare: Outpost's bridge_mqtt plugin next to Mosquitto's
own bridge (a `connection` section), each forwarding to a "cloud" Debian mosquitto on this
machine.

- drain after an outage: the cloud is down while N QoS 1 messages on 10 topics are
  published at the edge; then the cloud comes back and the rate at which the stored
  messages reach a cloud subscriber is measured (first to last arrival).
- steady forwarding: the cloud is up; the same N messages are published and forwarded as
  they come.

Publishers are 10 `mosquitto_pub -l` processes (QoS 1, one topic each); the cloud
subscriber is `mosquitto_sub` with a persistent session (QoS 1) that prints each message's
arrival time."""

import os
import signal
import subprocess
import tempfile
import time

from benchlib import fmt, free_port, med, ratio, wait_port

TITLE = "## MQTT bridge"
TOPICS = 10


def pinned(cpu, cmd):
    return (["taskset", "-c", str(cpu)] if cpu is not None else []) + cmd


class Proc:
    def __init__(self, cmd, log, cwd):
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_cloud(tmp, port, pin):
    cfg = os.path.join(tmp, "cloud.conf")
    with open(cfg, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                f"persistence_location {tmp}/cloud-\nautosave_interval 0\n"
                "max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 100\n"
                f"log_dest file {tmp}/cloud.log\nlog_type error\nlog_type warning\nuser root\n")
    p = Proc(pinned(pin, ["/usr/sbin/mosquitto", "-c", cfg]), os.path.join(tmp, "cloud.out"), tmp)
    wait_port(port, p.proc)
    return p


def start_edge(kind, build, tmp, port, cloud_port, pin):
    if kind == "outpost":
        cfg = os.path.join(tmp, "edge.yaml")
        with open(cfg, "w") as f:
            f.write(f"""threads: 1
listeners:
  - protocol: mqtt
    address: 127.0.0.1
    port: {port}
    allow_anonymous: true
persistence:
  enabled: true
  sync: full
  dir: {tmp}/outpost-data
logging:
  level: info
plugins:
  - name: cloud
    library: {build}/plugins/bridge_mqtt.so
    config:
      remote: mqtt://127.0.0.1:{cloud_port}
      client_id: edge-bridge
      protocol_version: 5
      reconnect: {{min_delay: 100ms, max_delay: 1s}}
      topics:
        - {{pattern: "sensors/#", direction: out, qos: 1, remote_prefix: "edge/"}}
      queue: {{max_bytes: 1GiB, on_full: refuse}}
""")
        cmd = [os.path.join(build, "src", "outpost"), "-c", cfg]
    else:
        cfg = os.path.join(tmp, "edge.conf")
        with open(cfg, "w") as f:
            # Mosquitto's bridge queues for the remote like for a client: unbounded here, as
            # Outpost's outbox is bounded only by its 1 GiB.
            f.write(f"""listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 100
log_dest file {tmp}/edge-mosquitto.log
user root
connection cloud
address 127.0.0.1:{cloud_port}
clientid edge-bridge
cleansession false
restart_timeout 1
topic sensors/# out 1 "" edge/
""")
        cmd = ["/usr/sbin/mosquitto", "-c", cfg]
    p = Proc(pinned(pin, cmd), os.path.join(tmp, f"edge-{kind}.log"), tmp)
    wait_port(port, p.proc, timeout=60)
    return p


def publish(port, n, pin):
    """n QoS 1 messages over 10 topics, 10 mosquitto_pub -l processes; returns seconds."""
    started = time.time()
    procs = []
    for t in range(TOPICS):
        p = subprocess.Popen(pinned(pin, ["mosquitto_pub", "-p", str(port), "-q", "1", "-l", "-i", f"pub{t}",
                                          "-t", f"sensors/t{t}"]), stdin=subprocess.PIPE)
        p.stdin.write("".join(f"{i}\n" for i in range(t, n, TOPICS)).encode())
        p.stdin.close()
        procs.append(p)
    for p in procs:
        if p.wait(timeout=600) != 0:
            raise RuntimeError("mosquitto_pub failed")
    return time.time() - started


def subscribe_once(port):
    """Creates the cloud subscriber's persistent session."""
    subprocess.run(["mosquitto_sub", "-p", str(port), "-q", "1", "-c", "-i", "cloud-app", "-t", "edge/#", "-E"],
                   check=True, timeout=10)


def start_subscriber(port, n, out_path, pin):
    out = open(out_path, "w")
    p = subprocess.Popen(pinned(pin, ["mosquitto_sub", "-p", str(port), "-q", "1", "-c", "-i", "cloud-app",
                                      "-t", "edge/#", "-C", str(n), "-F", "%U %t %p"]), stdout=out)
    return p, out


def arrival_rate(path, n):
    """(messages/s from the first to the last arrival, messages counted, order broken)."""
    times, last, broken = [], {}, 0
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            times.append(float(parts[0]))
            seq = int(parts[2])
            if seq < last.get(parts[1], -1):
                broken += 1
            last[parts[1]] = seq
    if len(times) < 2:
        return None, len(times), broken
    return (len(times) - 1) / max(1e-9, times[-1] - times[0]), len(times), broken


def wait_sub(p, out, timeout, edge_port=None):
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        if edge_port:
            # What the edge's bridge says about the messages that did not arrive.
            status = subprocess.run(["mosquitto_sub", "-p", str(edge_port), "-t", "$SYS/broker/bridge/#", "-v",
                                     "-W", "2"], capture_output=True, text=True).stdout
            print(f"cloud subscriber timed out; edge status:\n{status}", flush=True)
    out.close()


def one_run(kind, build, n, pins):
    with tempfile.TemporaryDirectory(prefix="bridge-bench-") as tmp:
        cloud_port, edge_port = free_port(), free_port()
        res = {}
        # Drain: the subscriber's session exists, then the cloud goes down.
        cloud = start_cloud(tmp, cloud_port, pins[1])
        subscribe_once(cloud_port)
        cloud.stop()
        edge = start_edge(kind, build, tmp, edge_port, cloud_port, pins[0])
        try:
            time.sleep(0.5)
            publish(edge_port, n, pins[1])
            cloud = start_cloud(tmp, cloud_port, pins[1])
            sub, out = start_subscriber(cloud_port, n, os.path.join(tmp, "drain.txt"), pins[1])
            wait_sub(sub, out, 120, edge_port)
            res["drain"], res["drain_count"], res["drain_order"] = arrival_rate(os.path.join(tmp, "drain.txt"), n)
            if res["drain_count"] < n:
                log = os.path.join(tmp, f"edge-{kind}.log")
                print(subprocess.run(["tail", "-n", "20", log], capture_output=True, text=True).stdout, flush=True)
            # Steady: everything connected, the same load forwarded as it comes.
            sub, out = start_subscriber(cloud_port, n, os.path.join(tmp, "steady.txt"), pins[1])
            time.sleep(0.5)
            res["publish_s"] = publish(edge_port, n, pins[1])
            wait_sub(sub, out, 120, edge_port)
            res["steady"], res["steady_count"], res["steady_order"] = arrival_rate(os.path.join(tmp, "steady.txt"), n)
            if kind == "outpost":
                with open(os.path.join(tmp, "edge-outpost.log"), errors="replace") as f:
                    text = f.read()
                import re
                m = re.findall(r"window (\d+)", text)
                res["window"] = int(m[-1]) if m else None
        finally:
            edge.stop()
            cloud.stop()
        return res


def run(build, rounds, pins, n):
    results = {"outpost": [], "mosquitto": [], "messages": n}
    for r in range(rounds):
        for kind in (["outpost", "mosquitto"] if r % 2 == 0 else ["mosquitto", "outpost"]):
            res = one_run(kind, build, n, pins)
            results[kind].append(res)
            print(f"round {r + 1} bridge {kind:9s} drain {fmt(res['drain'])} msg/s ({res['drain_count']}/{n}), "
                  f"steady {fmt(res['steady'])} msg/s ({res['steady_count']}/{n})", flush=True)
    return results


def report(results, rounds, command):
    n = results["messages"]
    lines = [TITLE, "",
             f"Outpost's `bridge_mqtt` plugin next to Mosquitto's own bridge (`connection` section, "
             f"`cleansession false`), each at the edge forwarding `sensors/#` at QoS 1 to a \"cloud\" Debian "
             f"mosquitto on this machine, where a `mosquitto_sub` with a persistent session receives them. "
             f"{n:,} messages of a few bytes on 10 topics, published by 10 `mosquitto_pub -l` (QoS 1). Outpost "
             "stores the outbox with `persistence.sync: full`; the Mosquitto edge keeps its bridge queue in "
             "memory (`persistence false`, `max_queued_messages 0` so that it drops nothing). "
             f"{rounds} round(s), medians; `{command}`.", "",
             "| measure (messages per second at the cloud subscriber) | Outpost | mosquitto | ratio |",
             "|---|---:|---:|---:|"]
    for key, label in (("drain", "drain after an outage (stored at the edge, cloud restarted)"),
                       ("steady", "steady forwarding (cloud up)")):
        o = med([r[key] for r in results["outpost"]])
        m = med([r[key] for r in results["mosquitto"]])
        lines.append(f"| {label} | {fmt(o)} | {fmt(m)} | {fmt(ratio(o, m), 2)}x |")
    lost_o = sum(n - r["drain_count"] + n - r["steady_count"] for r in results["outpost"])
    lost_m = sum(n - r["drain_count"] + n - r["steady_count"] for r in results["mosquitto"])
    order_o = sum(r["drain_order"] + r["steady_order"] for r in results["outpost"])
    order_m = sum(r["drain_order"] + r["steady_order"] for r in results["mosquitto"])
    windows = sorted({r.get("window") for r in results["outpost"] if r.get("window")})
    lines += ["",
              f"Messages missing at the cloud subscriber (all runs): Outpost {lost_o}, mosquitto {lost_m}; "
              f"per-topic order broken: Outpost {order_o}, mosquitto {order_m}. Outpost's window towards the "
              f"cloud: {', '.join(map(str, windows)) or '?'} messages in flight (the cloud's Receive Maximum, capped "
              "at 1000). The steady rate is bounded by the publishers (`mosquitto_pub` keeps 20 QoS 1 messages in "
              "flight each) and shared CPU as much as by either bridge.", ""]
    return "\n".join(lines) + "\n"
