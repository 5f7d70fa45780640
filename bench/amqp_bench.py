"""AMQP 0-9-1 side by side: Outpost's AMQP listener against Debian's rabbitmq-server, in
one run, on this machine (used by bench/compare; `bench/compare --amqp-only` runs just
this part).

Scenarios (publishers -> one queue -> one consumer, through the default exchange):
  transient    transient messages to a non-durable queue, no confirms, automatic acks
  transient    the same with consumer acks (prefetch 100)
  persistent   persistent messages to a durable queue, publisher confirms (100 unconfirmed
               per publisher), consumer acks (prefetch 100)

RabbitMQ runs as a child process of this script: its own epmd on a free port, its node
on free AMQP and distribution ports, its database and logs in a temporary directory,
stopped by process id. No system service is started or used."""

import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import tempfile
import time

from benchlib import fmt, free_port, med, ratio, rss_kib, wait_port

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
EPMD = shutil.which("epmd") or "/usr/bin/epmd"

# name, description, loadgen arguments (each with --protocol amqp)
SCENARIOS = [
    ("transient_autoack", "transient, non-durable queue, no confirms, automatic acks",
     ["--publishers", 4, "--consumers", 1, "--no-ack"]),
    ("transient_ack", "transient, non-durable queue, no confirms, consumer acks (prefetch 100)",
     ["--publishers", 4, "--consumers", 1, "--prefetch", 100]),
    ("persistent_confirm", "persistent, durable queue, confirms (window 100), consumer acks (prefetch 100)",
     ["--publishers", 4, "--consumers", 1, "--persistent", "--confirm", "--window", 100, "--prefetch", 100]),
]


def ensure_rabbitmq():
    """Installs Debian's rabbitmq-server when it is missing, without starting its service
    (a policy-rc.d that refuses service starts while apt runs)."""
    if os.path.exists(RABBITMQ_SERVER):
        return
    if os.geteuid() != 0:
        raise SystemExit("bench: rabbitmq-server is missing; run as root or: sudo apt-get install rabbitmq-server")
    policy = "/usr/sbin/policy-rc.d"
    created = not os.path.exists(policy)
    if created:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "rabbitmq-server"], check=True,
                       env=env)
    finally:
        if created:
            os.remove(policy)


def rabbitmq_version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"], capture_output=True,
                             text=True).stdout.strip()
        erl = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "erlang-base"], capture_output=True,
                             text=True).stdout.strip()
        return f"rabbitmq-server {out} (Debian), Erlang {erl}"
    except OSError:
        return "rabbitmq-server"


def process_tree_rss_kib(pid):
    """RSS of `pid` and its descendants (beam.smp and erl_child_setup for RabbitMQ)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss_kib(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return total


def stop_pid(proc, timeout=60):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class OutpostAmqp:
    """Outpost with one AMQP listener, one I/O thread, persistence on (sync full)."""

    kind = "outpost"

    def __init__(self, build, tmp, pin):
        self.build, self.tmp, self.pin = build, tmp, pin
        self.port = free_port()
        self.proc = None

    def __enter__(self):
        cfg = os.path.join(self.tmp, f"outpost-amqp-{self.port}.yaml")
        with open(cfg, "w") as f:
            f.write(f"""threads: 1
listeners:
  - protocol: amqp
    address: 127.0.0.1
    port: {self.port}
    allow_anonymous: true
persistence:
  enabled: true
  sync: full
  max_bytes: 4GiB
  dir: {self.tmp}/outpost-amqp-{self.port}
logging:
  level: warn
""")
        cmd = [os.path.join(self.build, "src", "outpost"), "-c", cfg]
        if self.pin is not None:
            cmd = ["taskset", "-c", str(self.pin)] + cmd
        self.log = open(os.path.join(self.tmp, f"outpost-amqp-{self.port}.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.tmp)
        wait_port(self.port, self.proc, timeout=30)
        return self

    def rss_kib(self):
        return process_tree_rss_kib(self.proc.pid)

    def __exit__(self, *exc):
        stop_pid(self.proc, 30)
        self.log.close()


class RabbitMQ:
    """Debian's rabbitmq-server as a child process: its own epmd (a child too) on a free
    port, the node on free ports, database and logs under `tmp`. Default settings
    otherwise (classic queues, the default message store and its fsync before confirms),
    pinned like Outpost."""

    kind = "rabbitmq"

    def __init__(self, build, tmp, pin):
        self.tmp, self.pin = tmp, pin
        self.port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
        self.base = os.path.join(tmp, f"rabbitmq-{self.port}")
        self.proc = self.epmd = None

    def __enter__(self):
        os.makedirs(self.base)
        conf = os.path.join(self.base, "rabbitmq.conf")
        with open(conf, "w") as f:
            f.write(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n")
        plugins = os.path.join(self.base, "enabled_plugins")
        with open(plugins, "w") as f:
            f.write("[].\n")
        env_file = os.path.join(self.base, "rabbitmq-env.conf")
        open(env_file, "w").close()
        env = dict(os.environ,
                   HOME=self.base,  # the Erlang cookie goes here, not into root's home
                   ERL_EPMD_PORT=str(self.epmd_port),
                   RABBITMQ_NODENAME=f"bench{self.port}@localhost",
                   RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
                   RABBITMQ_NODE_PORT=str(self.port),
                   RABBITMQ_DIST_PORT=str(self.dist_port),
                   RABBITMQ_MNESIA_BASE=os.path.join(self.base, "mnesia"),
                   RABBITMQ_LOG_BASE=os.path.join(self.base, "log"),
                   RABBITMQ_CONFIG_FILE=conf,
                   RABBITMQ_ENABLED_PLUGINS_FILE=plugins,
                   RABBITMQ_CONF_ENV_FILE=env_file,
                   RABBITMQ_PID_FILE=os.path.join(self.base, "rabbitmq.pid"),
                   # The script then runs the Erlang VM in its own process (exec), so the
                   # child's pid is the broker's and SIGTERM stops it cleanly.
                   RUNNING_UNDER_SYSTEMD="true")
        self.log = open(os.path.join(self.base, "console.log"), "ab")
        # Our own epmd, in the foreground, so that the node does not start a daemon one.
        self.epmd = subprocess.Popen([EPMD, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_port(self.epmd_port, self.epmd, timeout=10)
        cmd = [RABBITMQ_SERVER]
        if self.pin is not None:
            cmd = ["taskset", "-c", str(self.pin)] + cmd
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=self.base,
                                     stdin=subprocess.DEVNULL)
        try:
            wait_port(self.port, self.proc, timeout=120)
        except Exception:
            self.__exit__()
            raise
        return self

    def rss_kib(self):
        return process_tree_rss_kib(self.proc.pid)

    def __exit__(self, *exc):
        stop_pid(self.proc, 60)
        stop_pid(self.epmd, 10)
        self.log.close()


def loadgen_sampling(build, broker, pin, *args):
    """Runs the load generator against `broker` and samples the broker's RSS while it
    runs; returns its JSON result with rss_peak_kib and rss_idle_kib."""
    idle = broker.rss_kib()
    cmd = [os.path.join(build, "bench", "outpost-loadgen"), "--protocol", "amqp", "--port", str(broker.port),
           *map(str, args)]
    if pin is not None:
        cmd = ["taskset", "-c", str(pin)] + cmd
    lg = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = idle
    while lg.poll() is None:
        peak = max(peak, broker.rss_kib())
        time.sleep(0.1)
    out, err = lg.communicate()
    lines = out.strip().splitlines()
    if not lines:
        raise RuntimeError(f"loadgen failed against {broker.kind}: {err}")
    res = json.loads(lines[-1])
    if lg.returncode != 0:
        print(f"loadgen reported failures against {broker.kind}: {err.strip()}", flush=True)
    res["rss_idle_kib"] = idle
    res["rss_peak_kib"] = peak
    return res


def machine():
    """Where and when: the AMQP section may come from a run other than the MQTT one."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
        cpu = m.group(1) if m else cpu
    with open("/proc/meminfo") as f:
        mem = f"{int(f.readline().split()[1]) // 1024 // 1024} GiB"
    return (f"{datetime.date.today().isoformat()}, {cpu}, {os.cpu_count()} cores, {mem}, kernel "
            f"{platform.release()}, load average {os.getloadavg()[0]:.1f} at the start")


def run(build, rounds, pins, duration, payload=64):
    ensure_rabbitmq()
    results = {name: {"outpost": [], "rabbitmq": []} for name, _, _ in SCENARIOS}
    results["machine"] = machine()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for name, desc, args in SCENARIOS:
                order = [OutpostAmqp, RabbitMQ] if r % 2 == 0 else [RabbitMQ, OutpostAmqp]
                for cls in order:
                    with cls(build, tmp, pins[0]) as b:
                        res = loadgen_sampling(build, b, pins[1], *args, "--payload", payload, "--duration", duration,
                                               "--warmup", 1)
                    results[name][cls.kind].append(res)
                    print(f"round {r + 1} amqp {name:18s} {cls.kind:8s} {res['msgs_per_s']:>10,.0f} msg/s  "
                          f"confirm p50/p99 {res['ack_p50_us']:.0f}/{res['ack_p99_us']:.0f} us  "
                          f"lost {res['lost_acked']}  RSS peak {res['rss_peak_kib'] / 1024:.1f} MiB", flush=True)
    return results


TITLE = "## AMQP 0-9-1 against RabbitMQ"


def report(results, rounds, duration, command):
    lines = [TITLE, ""]
    w = lines.append
    w(f"Outpost's AMQP listener against Debian's {rabbitmq_version()}, each with default settings apart from "
      "ports and directories, each scenario run against each broker in turn (alternating which goes first), "
      f"{rounds} round(s) of {duration:g} s after 1 s of warm-up, medians shown. 4 publishers -> one queue "
      "(through the default exchange) -> one consumer, 64 B messages; the load generator "
      "(`outpost-loadgen --protocol amqp`) checks sequence numbers. The broker is pinned to CPU 0 (Outpost with "
      "one I/O thread and `persistence.sync: full`; RabbitMQ's Erlang VM with everything it starts) and the load "
      "generator to CPU 1. Ratios are Outpost / RabbitMQ.")
    w("")
    w(f"Command: `{command}`")
    w("")
    w(f"Machine: {results['machine']}.")
    w("")
    w("| scenario | measure | Outpost | RabbitMQ | ratio |")
    w("|---|---|---:|---:|---:|")
    for name, desc, _ in SCENARIOS:
        rows = [("msgs_per_s", "delivered msg/s", 0), ("published_per_s", "published msg/s (taken from the publishers)", 0),
                ("p50_us", "delivery latency p50 (us)", 0),
                ("p99_us", "delivery latency p99 (us)", 0)]
        if name == "persistent_confirm":
            rows += [("ack_p50_us", "confirm latency p50 (us)", 0), ("ack_p99_us", "confirm latency p99 (us)", 0)]
        rows += [("rss_peak_mib", "broker RSS, peak (MiB)", 1), ("rss_idle_mib", "broker RSS, idle before (MiB)", 1)]
        for i, (key, label, digits) in enumerate(rows):
            vals = {}
            for kind in ("outpost", "rabbitmq"):
                rs = results[name][kind]
                if key.endswith("_mib"):
                    vals[kind] = med([r[key.replace("_mib", "_kib")] / 1024 for r in rs])
                else:
                    vals[kind] = med([r[key] for r in rs])
            o, m = vals["outpost"], vals["rabbitmq"]
            scen = desc if i == 0 else ""
            w(f"| {scen} | {label} | {fmt(o, digits) if digits else fmt(o)} | {fmt(m, digits) if digits else fmt(m)} "
              f"| {fmt(ratio(o, m), 2)} |")
    w("")
    lost = {k: sum(r["lost_acked"] for n, _, _ in SCENARIOS for r in results[n][k]) for k in ("outpost", "rabbitmq")}
    dups = {k: sum(r["duplicates"] for n, _, _ in SCENARIOS for r in results[n][k]) for k in ("outpost", "rabbitmq")}
    fails = {k: sum(r["failed"] for n, _, _ in SCENARIOS for r in results[n][k]) for k in ("outpost", "rabbitmq")}
    w(f"Confirmed but not delivered: {lost['outpost']} (Outpost) / {lost['rabbitmq']} (RabbitMQ); duplicates "
      f"{dups['outpost']} / {dups['rabbitmq']}; client errors {fails['outpost']} / {fails['rabbitmq']}.")
    w("")
    return "\n".join(lines) + "\n"
