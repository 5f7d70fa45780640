#!/usr/bin/python3
"""SIGKILL cycles under mixed load: an MQTT QoS 1 publisher, an MQTT QoS 2 publisher and an
AMQP publisher with confirms (persistent messages to a durable queue) run against the real
broker while it is killed with SIGKILL (by its PID) at random moments and restarted. A live
MQTT subscriber (persistent session, QoS 1) and a live AMQP consumer (manual acks) take
everything. Afterwards every message the broker acknowledged (PUBACK, PUBREC, basic.ack)
must have reached its consumer at least once; duplicates are counted and must stay within
what can have been in flight at each kill.

CI runs a short version (3 cycles). The long run of docs/robustness.md:
    OUTPOST_CRASH_CYCLES=20 OUTPOST_CRASH_SECONDS=3 scripts/crash-cycles.sh
Prints one line of figures per stream, and "crash-cycles: ..." with the totals."""
import bisect
import collections
import os
import random
import socket
import struct
import threading
import time
import unittest

import pika

import harness
from harness import (DISCONNECT, PUBACK, PUBCOMP, PUBLISH, PUBREC, Broker, RawClient, ack_packet,
                     offline_subscription, publish_packet)

CYCLES = int(os.environ.get("OUTPOST_CRASH_CYCLES", "3"))
SECONDS = float(os.environ.get("OUTPOST_CRASH_SECONDS", "1.2"))  # longest run between kills
SEED = int(os.environ.get("OUTPOST_CRASH_SEED", "19"))
MQTT_INFLIGHT = 20  # mqtt.max_inflight: the subscriber's window
PREFETCH = 20       # the AMQP consumer's window
WINDOW = 16         # each MQTT publisher's unacknowledged publishes
RATE = 1500         # per MQTT publisher, messages per second
ERRORS = (OSError, AssertionError, struct.error, IndexError, KeyError, ConnectionError, TimeoutError)


class Stopping(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.reconnects = 0

    def run(self):
        while not self.stop.is_set():
            try:
                self.session()
            except ERRORS:
                pass
            except Exception:  # pika's exceptions: the broker went away
                pass
            self.reconnects += 1
            time.sleep(0.05)


class MqttPublisher(Stopping):
    """QoS 1 or 2; a message counts as acknowledged at PUBACK / PUBREC."""

    def __init__(self, port, qos):
        super().__init__()
        self.port, self.qos = port, qos
        self.topic = f"crash/q{qos}"
        self.acked = set()
        self.next_seq = 0
        self.started = time.time()

    def session(self):
        c = RawClient(self.port, timeout=2.0)
        try:
            c.connect(f"crash-pub-q{self.qos}", clean=True)
            inflight, pid = {}, 0
            while not self.stop.is_set():
                ahead = self.next_seq - (time.time() - self.started) * RATE
                if ahead > 0:
                    time.sleep(ahead / RATE)
                while len(inflight) < WINDOW:
                    pid = pid % 65535 + 1
                    inflight[pid] = self.next_seq
                    c.send(publish_packet(self.topic, struct.pack("!Q", self.next_seq), qos=self.qos, packet_id=pid))
                    self.next_seq += 1
                p = c.recv_packet(timeout=2.0)
                if p.type == PUBACK:
                    with self.lock:
                        self.acked.add(inflight.pop(p.packet_id()))
                elif p.type == PUBREC:
                    with self.lock:
                        self.acked.add(inflight[p.packet_id()])
                    c.send(ack_packet("pubrel", p.packet_id()))
                elif p.type == PUBCOMP:
                    inflight.pop(p.packet_id())
        finally:
            c.close()


class AmqpPublisher(Stopping):
    def __init__(self, port):
        super().__init__()
        self.port = port
        self.acked = set()
        self.next_seq = 0

    def session(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port, socket_timeout=2,
                                                                 blocked_connection_timeout=5))
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            ch.queue_declare("crash-q", durable=True)
            while not self.stop.is_set():
                seq = self.next_seq
                self.next_seq += 1
                ch.basic_publish("", "crash-q", struct.pack("!Q", seq), pika.BasicProperties(delivery_mode=2))
                with self.lock:
                    self.acked.add(seq)
        finally:
            try:
                conn.close()
            except Exception:
                pass


class MqttSubscriber(Stopping):
    """The persistent session "crash-sub" (QoS 1), online; acknowledges everything."""

    def __init__(self, port):
        super().__init__()
        self.port = port
        self.got = collections.Counter()  # (topic, seq) -> times received
        self.times = collections.defaultdict(list)  # (topic, seq) -> when received
        self.last = time.time()

    def session(self):
        c = RawClient(self.port, timeout=2.0)
        try:
            c.connect("crash-sub", clean=False)
            while not self.stop.is_set():
                try:
                    p = c.recv_packet(timeout=0.5)
                except (socket.timeout, TimeoutError):
                    continue
                if p.type != PUBLISH:
                    continue
                topic, pid, payload = p.publish_fields()
                key = (topic, struct.unpack("!Q", payload)[0])
                with self.lock:
                    self.got[key] += 1
                    self.last = time.time()
                    self.times[key].append((self.last, self.reconnects))
                if pid:
                    c.send(ack_packet("puback", pid))
            c.send(DISCONNECT)
        finally:
            c.close()


class AmqpConsumer(Stopping):
    def __init__(self, port):
        super().__init__()
        self.port = port
        self.got = collections.Counter()
        self.times = collections.defaultdict(list)
        self.last = time.time()

    def session(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port, socket_timeout=2))
        try:
            ch = conn.channel()
            ch.queue_declare("crash-q", durable=True)
            ch.basic_qos(prefetch_count=PREFETCH)

            def on_message(channel, method, properties, body):
                seq = struct.unpack("!Q", body)[0]
                with self.lock:
                    self.got[seq] += 1
                    self.last = time.time()
                    self.times[seq].append((self.last, self.reconnects))
                channel.basic_ack(method.delivery_tag)

            ch.basic_consume("crash-q", on_message)
            while not self.stop.is_set():
                conn.process_data_events(time_limit=0.2)
        finally:
            try:
                conn.close()
            except Exception:
                pass


def duplicates(counter):
    return sum(n - 1 for n in counter.values() if n > 1)


def in_flight_bound(times, kills, window):
    """What can have been in flight at the kills: for each kill, the messages the consumer
    received in the second around it (delivered, their acknowledgement perhaps not yet
    committed; some still in the socket when the broker died) plus its window. Also
    returns the duplicates received twice on one connection, which no kill explains."""
    received = sorted(t for ts in times.values() for t, _ in ts)
    bound = 0
    for k in kills:
        lo, hi = bisect.bisect_left(received, k - 1.0), bisect.bisect_right(received, k + 0.5)
        bound += (hi - lo) + window
    same_connection = 0
    for ts in times.values():
        for (_, first), (_, again) in zip(ts, ts[1:]):
            if first == again:
                same_connection += 1
    return bound, same_connection


class CrashMixed(unittest.TestCase):
    def test_kill_cycles_lose_nothing_acknowledged(self):
        self.kill_cycles("full")

    def test_kill_cycles_lose_nothing_acknowledged_with_sync_normal(self):
        # The operation log carries the commits: one append each, folded into SQLite later.
        self.kill_cycles("normal")

    def kill_cycles(self, sync):
        aport = harness.free_port()
        b = Broker(config=f"""
listeners:
  - {{protocol: mqtt, address: 127.0.0.1, port: {{port}}, allow_anonymous: true}}
  - {{protocol: amqp, address: 127.0.0.1, port: {aport}, allow_anonymous: true}}
mqtt: {{max_inflight: {MQTT_INFLIGHT}}}
persistence: {{sync: {sync}}}
""").start()
        threads = []
        try:
            harness.wait_for_port(aport, proc=b.proc)
            offline_subscription(b.port, "crash-sub", "crash/#", 1)
            pubs = [MqttPublisher(b.port, 1), MqttPublisher(b.port, 2), AmqpPublisher(aport)]
            sub, consumer = MqttSubscriber(b.port), AmqpConsumer(aport)
            threads = pubs + [sub, consumer]
            for t in threads:
                t.start()
            rng = random.Random(SEED)
            started = time.time()
            kills = []
            for cycle in range(CYCLES):
                time.sleep(0.3 + rng.random() * (SECONDS - 0.3))
                kills.append(time.time())
                b.kill()  # SIGKILL to the broker's PID
                time.sleep(0.05 + rng.random() * 0.2)
                b.start()
                harness.wait_for_port(aport, proc=b.proc)
            time.sleep(0.5)
            for p in pubs:
                p.stop.set()
            for p in pubs:
                p.join(timeout=10)
            # Everything still queued reaches the consumers.
            deadline = time.time() + 20
            while time.time() < deadline and time.time() - max(sub.last, consumer.last) < 1.5:
                time.sleep(0.2)
            for t in (sub, consumer):
                t.stop.set()
                t.join(timeout=10)
            elapsed = time.time() - started

            streams = [
                ("mqtt qos1", pubs[0].acked, collections.Counter(
                    {s: n for (topic, s), n in sub.got.items() if topic == "crash/q1"})),
                ("mqtt qos2", pubs[1].acked, collections.Counter(
                    {s: n for (topic, s), n in sub.got.items() if topic == "crash/q2"})),
                ("amqp", pubs[2].acked, consumer.got),
            ]
            total_acked = total_lost = total_dups = 0
            for name, acked, got in streams:
                lost = sorted(acked - set(got))
                dups = duplicates(got)
                print(f"{name}: acknowledged {len(acked)}, received {len(got)} distinct, {dups} duplicates, "
                      f"{len(lost)} lost")
                total_acked += len(acked)
                total_lost += len(lost)
                total_dups += dups
                self.assertGreater(len(acked), 10, f"{name}: too little progress to test anything")
                self.assertEqual(lost, [], f"{name}: acknowledged messages lost, e.g. {lost[:10]}")
            # A duplicate is a message delivered before a kill whose acknowledgement had not
            # been committed yet: each must straddle a kill, and together they stay within
            # what the consumers received just before the kills plus their windows.
            mqtt_dups = duplicates(sub.got)
            amqp_dups = duplicates(consumer.got)
            mqtt_bound, mqtt_unexplained = in_flight_bound(sub.times, kills, MQTT_INFLIGHT)
            amqp_bound, amqp_unexplained = in_flight_bound(consumer.times, kills, PREFETCH)
            print(f"crash-cycles: {CYCLES} SIGKILLs in {elapsed:.1f} s, {total_acked} messages acknowledged, "
                  f"{total_lost} lost, {total_dups} duplicates (mqtt {mqtt_dups} of at most {mqtt_bound} in flight, "
                  f"amqp {amqp_dups} of at most {amqp_bound}; {mqtt_unexplained + amqp_unexplained} twice on one "
                  f"connection)")
            self.assertEqual(mqtt_unexplained + amqp_unexplained, 0, "a message delivered twice on one connection")
            self.assertLessEqual(mqtt_dups, mqtt_bound)
            self.assertLessEqual(amqp_dups, amqp_bound)
        except BaseException:
            print("\n--- broker log ---\n" + b.log_text()[-6000:])
            raise
        finally:
            for t in threads:
                t.stop.set()
            code = b.stop()
            text = b.log_text()
            b.tmp.cleanup()
            self.assertNotIn("AddressSanitizer", text)
            self.assertNotIn("runtime error:", text)
            self.assertIn(code, (0, None))


if __name__ == "__main__":
    unittest.main(verbosity=2)
