#!/usr/bin/python3
"""Soak: the real broker under mixed load for a long time, sampled for growth.

While it runs, in parallel:
  - the load generator's scenarios in turn (MQTT fan-in QoS 1, fan-out QoS 0, many topics,
    AMQP persistent with confirms, a burst of held connections);
  - connection churn: MQTT 3.1.1 and 5.0 clients (clean and persistent sessions) and AMQP
    connections opened, used and closed, over and over;
  - a slow consumer: a QoS 0 subscriber to a busy topic that reads 2 KiB/s;
  - an offline persistent session whose queue a publisher fills past its bound
    (limits.max_queued_messages).
Every --sample seconds it records the broker's RSS, open files and threads
(/proc/<pid>), and at the end it prints the trend after the warm-up and writes the samples
(CSV) and a plot (SVG).

Usage: bench/soak.py [--duration 3600] [--binary build/src/outpost]
                     [--loadgen build/bench/outpost-loadgen] [--out docs/soak]
A run under AddressSanitizer: build with -DOUTPOST_SANITIZE=ON and pass that binary; the
broker's exit report (leaks) is printed at the end.
"""
import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
import pika

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def proc_sample(pid):
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds, threads


class Soak:
    def __init__(self, args):
        self.args = args
        self.stop = threading.Event()
        self.errors = []
        self.counts = {"churn_mqtt": 0, "churn_amqp": 0, "scenarios": 0, "offline_published": 0,
                       "slow_bytes": 0}
        self.lock = threading.Lock()

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def error(self, what):
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(f"{time.strftime('%H:%M:%S')} {what}")

    # ------------------------------------------------------------------ broker
    def start_broker(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="outpost-soak-")
        self.mqtt_port, self.amqp_port = free_port(), free_port()
        config = os.path.join(self.tmp.name, "outpost.yaml")
        with open(config, "w") as f:
            f.write(f"""listeners:
  - protocol: mqtt
    address: 127.0.0.1
    port: {self.mqtt_port}
    allow_anonymous: true
  - protocol: amqp
    address: 127.0.0.1
    port: {self.amqp_port}
    allow_anonymous: true
persistence:
  enabled: true
  dir: {self.tmp.name}/data
mqtt:
  max_queued_messages: {self.args.offline_bound}
""")
        self.log = open(os.path.join(self.tmp.name, "broker.log"), "w+")
        self.broker = subprocess.Popen([self.args.binary, "-c", config], stdout=self.log, stderr=subprocess.STDOUT)
        if not (wait_port(self.mqtt_port) and wait_port(self.amqp_port)):
            self.broker.kill()
            sys.exit("broker did not start:\n" + open(self.log.name).read())

    # ------------------------------------------------------------------ load
    def scenarios(self):
        port, amqp = str(self.mqtt_port), str(self.amqp_port)
        lg = [self.args.loadgen, "--host", "127.0.0.1", "--warmup", "1", "--duration", "15"]

        def rate(r):
            return str(max(100, int(r * self.args.scale)))

        runs = [
            ["--port", port, "--scenario", "fanin", "--publishers", "8", "--subscribers", "1", "--qos", "1",
             "--payload", "64", "--rate", rate(20000)],
            ["--port", port, "--scenario", "fanout", "--publishers", "1", "--subscribers", "20", "--qos", "0",
             "--payload", "256", "--rate", rate(2000)],
            ["--port", port, "--scenario", "topics", "--publishers", "4", "--subscribers", "4", "--qos", "1",
             "--payload", "64", "--rate", rate(10000)],
            ["--protocol", "amqp", "--port", amqp, "--publishers", "4", "--consumers", "2", "--confirm",
             "--persistent", "--payload", "64", "--rate", rate(10000)],
            ["--port", port, "--scenario", "connections", "--connections", "2000", "--hold", "5"],
        ]
        i = 0
        while not self.stop.is_set():
            cmd = lg + runs[i % len(runs)]
            i += 1
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
                if r.returncode != 0:
                    self.error(f"loadgen {' '.join(cmd[cmd.index('--port') - 2:][:6])} exited {r.returncode}: "
                               f"{r.stderr.strip()[-300:]}")
                self.count("scenarios")
            except subprocess.TimeoutExpired:
                self.error("loadgen did not finish in 120 s")
            self.stop.wait(2)

    def churn_mqtt(self, worker):
        n = 0
        while not self.stop.is_set():
            n += 1
            v5 = n % 2 == 0
            persistent = n % 3 == 0
            cid = f"churn-{worker}-{n % 50}"
            try:
                if v5:
                    c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
                    props = None
                    if persistent:
                        from paho.mqtt.properties import Properties
                        from paho.mqtt.packettypes import PacketTypes
                        props = Properties(PacketTypes.CONNECT)
                        props.SessionExpiryInterval = 30
                    c.connect("127.0.0.1", self.mqtt_port, keepalive=10, clean_start=not persistent,
                              properties=props)
                else:
                    c = mqtt.Client(client_id=cid, clean_session=not persistent)
                    c.connect("127.0.0.1", self.mqtt_port, keepalive=10)
                c.loop_start()
                c.subscribe(f"churn/{worker}/#", 1)
                for k in range(5):
                    c.publish(f"churn/{worker}/{k}", b"x" * 100, qos=k % 2)
                time.sleep(random.uniform(0.05, 0.3))
                if n % 7 == 0:
                    c.loop_stop()
                    c.socket().close()  # dropped without DISCONNECT: the will / keep alive path
                else:
                    c.disconnect()
                    c.loop_stop()
                self.count("churn_mqtt")
            except Exception as e:  # noqa: BLE001 - any failure is recorded, the soak goes on
                self.error(f"mqtt churn: {e!r}")
                self.stop.wait(1)

    def churn_amqp(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.amqp_port,
                                                                         heartbeat=30))
                ch = conn.channel()
                q = ch.queue_declare("", exclusive=True).method.queue
                ch.queue_bind(q, "amq.topic", "churn.#")
                ch.confirm_delivery()
                for k in range(5):
                    ch.basic_publish("", q, b"y" * 200, pika.BasicProperties(delivery_mode=2))
                for k in range(5):
                    ch.basic_get(q, auto_ack=True)
                conn.close()
                self.count("churn_amqp")
            except Exception as e:  # noqa: BLE001
                self.error(f"amqp churn: {e!r}")
                self.stop.wait(1)
            self.stop.wait(random.uniform(0.05, 0.2))

    def slow_consumer(self):
        """A QoS 0 subscriber to a busy topic that reads 2 KiB/s; a publisher keeps the topic busy."""
        try:
            s = socket.create_connection(("127.0.0.1", self.mqtt_port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            cid = b"soak-slow"
            body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
            s.sendall(bytes([0x10, len(body)]) + body)
            topic = b"soak/slow"
            sub = b"\x00\x01" + len(topic).to_bytes(2, "big") + topic + b"\x00"
            s.sendall(bytes([0x82, len(sub)]) + sub)
            pub = mqtt.Client(client_id="soak-slow-pub")
            pub.connect("127.0.0.1", self.mqtt_port)
            pub.loop_start()
            last_ping = time.time()
            while not self.stop.is_set():
                for _ in range(50):
                    pub.publish("soak/slow", b"z" * 1000, qos=0)
                s.settimeout(0.05)
                try:
                    got = s.recv(100)
                    self.count("slow_bytes", len(got))
                except socket.timeout:
                    pass
                if time.time() - last_ping > 20:
                    s.sendall(b"\xc0\x00")
                    last_ping = time.time()
                self.stop.wait(0.05)
            pub.loop_stop()
            s.close()
        except Exception as e:  # noqa: BLE001
            self.error(f"slow consumer: {e!r}")

    def offline_session(self):
        try:
            c = mqtt.Client(client_id="soak-offline", clean_session=False)
            c.connect("127.0.0.1", self.mqtt_port)
            c.loop_start()
            c.subscribe("soak/offline/#", 1)
            time.sleep(0.5)
            c.disconnect()
            c.loop_stop()
            pub = mqtt.Client(client_id="soak-offline-pub")
            pub.connect("127.0.0.1", self.mqtt_port)
            pub.loop_start()
            while not self.stop.is_set():
                for _ in range(100):
                    pub.publish("soak/offline/x", b"o" * 64, qos=1)
                self.count("offline_published", 100)
                self.stop.wait(0.2)
            pub.loop_stop()
        except Exception as e:  # noqa: BLE001
            self.error(f"offline session: {e!r}")

    # ------------------------------------------------------------------ run
    def run(self):
        self.start_broker()
        pid = self.broker.pid
        threads = [threading.Thread(target=self.scenarios, daemon=True),
                   threading.Thread(target=self.churn_amqp, daemon=True),
                   threading.Thread(target=self.slow_consumer, daemon=True),
                   threading.Thread(target=self.offline_session, daemon=True)]
        threads += [threading.Thread(target=self.churn_mqtt, args=(w,), daemon=True) for w in range(3)]
        for t in threads:
            t.start()
        samples = []
        start = time.time()
        next_print = start
        while time.time() - start < self.args.duration:
            if self.broker.poll() is not None:
                self.error(f"broker exited with {self.broker.returncode}")
                break
            rss, fds, nthreads = proc_sample(pid)
            t = time.time() - start
            samples.append((t, rss, fds, nthreads))
            if time.time() >= next_print:
                print(f"{t:7.0f} s  rss {rss:8d} KiB  fds {fds:5d}  threads {nthreads:3d}  {self.counts}",
                      flush=True)
                next_print += 60
            time.sleep(self.args.sample)
        self.stop.set()
        for t in threads:
            t.join(timeout=150)
        code = None
        if self.broker.poll() is None:
            self.broker.send_signal(signal.SIGTERM)
            try:
                code = self.broker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.broker.kill()
                code = "killed after 60 s"
        else:
            code = self.broker.returncode
        self.log.flush()
        log_text = open(self.log.name).read()
        return samples, code, log_text


def trend(samples, col, warmup):
    pts = [(s[0], s[col]) for s in samples if s[0] >= warmup]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else 0.0
    vals = [p[1] for p in pts]
    return {"first": vals[0], "last": vals[-1], "min": min(vals), "max": max(vals), "per_hour": slope * 3600}


def svg_plot(samples, path, title):
    w, h, pad = 900, 320, 50
    t_max = max(s[0] for s in samples) or 1
    r_max = max(s[1] for s in samples) or 1
    r_top = r_max * 1.1
    pts = " ".join(f"{pad + s[0] / t_max * (w - 2 * pad):.1f},{h - pad - s[1] / r_top * (h - 2 * pad):.1f}"
                   for s in samples)
    ticks = []
    for i in range(5):
        v = r_top * i / 4
        y = h - pad - v / r_top * (h - 2 * pad)
        ticks.append(f'<line x1="{pad}" y1="{y:.1f}" x2="{w - pad}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{pad - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{v / 1024:.0f}</text>')
    for i in range(7):
        x = pad + i / 6 * (w - 2 * pad)
        ticks.append(f'<text x="{x:.1f}" y="{h - pad + 16}" font-size="11" text-anchor="middle">'
                     f'{t_max * i / 6 / 60:.0f}</text>')
    with open(path, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">'
                f'<rect width="100%" height="100%" fill="white"/>'
                f'<text x="{w / 2}" y="20" font-size="14" text-anchor="middle">{title}</text>'
                + "".join(ticks) +
                f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{pts}"/>'
                f'<text x="{w / 2}" y="{h - 10}" font-size="12" text-anchor="middle">minutes</text>'
                f'<text x="14" y="{h / 2}" font-size="12" transform="rotate(-90 14 {h / 2})" '
                f'text-anchor="middle">RSS (MiB)</text></svg>\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=3600)
    ap.add_argument("--sample", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=None, help="seconds left out of the trend (default: 10%%, "
                                                               "at most 300)")
    ap.add_argument("--offline-bound", type=int, default=20000)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the load generator's rates")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build/src/outpost"))
    ap.add_argument("--loadgen", default=os.path.join(ROOT, "build/bench/outpost-loadgen"))
    ap.add_argument("--out", default=None, help="path prefix for the CSV and SVG (e.g. docs/soak)")
    args = ap.parse_args()
    warmup = args.warmup if args.warmup is not None else min(300, args.duration * 0.1)
    soak = Soak(args)
    samples, code, log_text = soak.run()
    print(f"\nbroker exit: {code}; load: {soak.counts}")
    ok = code == 0 and not soak.errors
    for label, col in (("RSS KiB", 1), ("open files", 2), ("threads", 3)):
        tr = trend(samples, col, warmup)
        if tr:
            print(f"{label:10} after {warmup:.0f} s: first {tr['first']}, last {tr['last']}, min {tr['min']}, "
                  f"max {tr['max']}, trend {tr['per_hour']:+.0f}/hour")
    if soak.errors:
        print("errors:\n  " + "\n  ".join(soak.errors))
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        if marker in log_text:
            ok = False
            print(f"sanitizer report in the broker log:\n{log_text[-8000:]}")
            break
    if args.out:
        with open(args.out + ".csv", "w") as f:
            f.write("seconds,rss_kib,open_files,threads\n")
            for s in samples:
                f.write(f"{s[0]:.1f},{s[1]},{s[2]},{s[3]}\n")
        svg_plot(samples, args.out + ".svg", f"Outpost RSS under mixed load ({args.duration / 60:.0f} min)")
        print(f"wrote {args.out}.csv and {args.out}.svg")
    print("soak: " + ("PASSED" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
