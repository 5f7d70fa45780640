#!/usr/bin/python3
"""A real full disk: the data directory is a small tmpfs that the broker's own store fills
with AMQP persistent messages (confirms) and MQTT 5 QoS 1 publishes. While commits fail,
new durable publishes are refused visibly (MQTT 5 PUBACK 0x97, AMQP nack and
connection.blocked); the publishes already in the failing commit are held, not answered
(none may be, with sync full: below), and are acknowledged once space returns (a filler file in the same tmpfs is deleted),
without a restart. Everything acknowledged is delivered afterwards, also after a SIGKILL
and a restart.

Needs root (mount -t tmpfs); skipped otherwise."""
import os
import socket
import struct
import subprocess
import time
import unittest

import pika

import harness
from harness import PUBACK, Broker, RawClient, ack_packet, offline_subscription, DISCONNECT, PUBLISH
from mqtt5_raw import Raw5, publish5

MiB = 1 << 20
TMPFS_SIZE = 16 * MiB
# What deleting the filler gives back must hold what the store writes before it is itself
# again: a checkpoint copies up to 4 MiB of write-ahead log into the database file while
# the log still holds it, and with sync normal the operation log holds up to 512 KiB more.
FILLER = 6 * MiB
BODY = 16 * 1024
WINDOW = 4


def used_fraction(path):
    st = os.statvfs(path)
    return 1.0 - st.f_bavail / st.f_blocks


class MqttPublisher:
    """MQTT 5 QoS 1 publisher that sees the PUBACK reason codes (paho 1.6 hides them)."""

    def __init__(self, port, client_id):
        self.c = Raw5(port, timeout=5.0)
        self.c.connect5(client_id, clean=True)
        self.inflight = {}  # packet id -> seq
        self.pid = 0
        self.acked, self.refused = set(), set()

    def send(self, seq):
        self.pid = self.pid % 65535 + 1
        self.inflight[self.pid] = seq
        body = struct.pack("!Q", seq) + b"m" * (BODY - 8)
        self.c.send(publish5("df/m", body, qos=1, packet_id=self.pid))

    def receive(self, timeout):
        """One PUBACK; False when none came within `timeout`."""
        try:
            p = self.c.expect(PUBACK, timeout=timeout)
        except (TimeoutError, socket.timeout):
            return False
        pid = p.packet_id()
        reason = p.body[2] if len(p.body) > 2 else 0
        seq = self.inflight.pop(pid)
        if reason == 0:
            self.acked.add(seq)
        elif reason == 0x97:
            self.refused.add(seq)
        else:
            raise AssertionError(f"PUBACK reason {reason:#x} for seq {seq}")
        return True


class DiskFull(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")

    def test_full_disk_refuses_keeps_and_recovers(self):
        self.fill_the_disk("full")

    def test_full_disk_refuses_keeps_and_recovers_with_sync_normal(self):
        # Commits are appends to the operation log; the log's failure is the commit's.
        self.fill_the_disk("normal")

    def fill_the_disk(self, sync):
        aport = harness.free_port()
        b = Broker(config=f"""
listeners:
  - {{protocol: mqtt, address: 127.0.0.1, port: {{port}}, allow_anonymous: true}}
  - {{protocol: amqp, address: 127.0.0.1, port: {aport}, allow_anonymous: true}}
persistence: {{sync: {sync}}}
""")
        os.makedirs(b.data_dir)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0750", "outpost-it-full",
                                  b.data_dir], capture_output=True, text=True)
        if mounted.returncode != 0:
            b.tmp.cleanup()
            self.skipTest("cannot mount a tmpfs here: " + mounted.stderr.strip())
        try:
            self.run_test(b, aport)
        except BaseException:
            print("\n--- broker log ---\n" + b.log_text()[-8000:])
            raise
        finally:
            b.stop()
            subprocess.run(["umount", b.data_dir], check=False)
            b.tmp.cleanup()

    def run_test(self, b, aport):
        b.start()
        filler = os.path.join(b.data_dir, "filler")
        with open(filler, "wb") as f:
            f.write(b"\xff" * FILLER)
        offline_subscription(b.port, "df-sub", "df/#", 1)

        events = []
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", aport))
        conn.add_on_connection_blocked_callback(lambda c, m: events.append(("blocked", m.method.reason)))
        conn.add_on_connection_unblocked_callback(lambda c, m: events.append(("unblocked",)))
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare("df-q", durable=True)
        amqp_confirmed = []

        def amqp_publish(i):
            ch.basic_publish("", "df-q", struct.pack("!Q", i) + b"a" * (BODY - 8),
                             pika.BasicProperties(delivery_mode=2))

        # 1. AMQP persistent messages until half of the filesystem is used.
        i = 0
        while used_fraction(b.data_dir) < 0.5:
            amqp_publish(i)
            amqp_confirmed.append(i)
            i += 1
            self.assertLess(i, 2000, "the store never grew")

        # 2. MQTT 5 QoS 1 until commits fail: the publisher stalls (its PUBACKs wait for a
        #    commit that cannot happen) and refusals start. With sync full the operation
        #    log is rewritten in place, in space the file already has: it may take the
        #    publishes a failing fold leaves (they are on the disk, so acknowledged), and
        #    the next ones are refused at once without any being held.
        pub = MqttPublisher(b.port, "df-pub")
        seq = 0
        deadline = time.time() + 30
        while True:
            self.assertLess(time.time(), deadline, "the disk never filled up")
            while len(pub.inflight) < WINDOW:
                pub.send(seq)
                seq += 1
            if not pub.receive(timeout=1.0):
                break  # stalled: the commit holding the in-flight publishes is failing
            if pub.refused:
                break  # refused: commits fail
        self.assertTrue(b.wait_for_log("retried until it succeeds", timeout=5), "no failed commit logged")
        stalled = dict(pub.inflight)
        print(f"disk full after {len(amqp_confirmed)} AMQP and {len(pub.acked)} MQTT acknowledged messages; "
              f"{len(stalled)} MQTT publishes held; used {used_fraction(b.data_dir):.2f}")

        # 3. Refused visibly: a second MQTT 5 publisher gets 0x97 at once ...
        other = MqttPublisher(b.port, "df-pub2")
        for k in range(3):
            other.send(1_000_000 + k)
            self.assertTrue(other.receive(timeout=3.0), "no PUBACK while the disk is full")
        self.assertEqual(len(other.refused), 3, f"expected 0x97, acked {other.acked}")
        # ... and AMQP: nack and connection.blocked.
        with self.assertRaises(pika.exceptions.NackError):
            amqp_publish(i)
        conn.process_data_events(time_limit=0.3)
        self.assertEqual(events, [("blocked", "store full")])
        self.assertIn("QoS 1/2 PUBLISH refused with 0x97", b.log_text())

        # 4. Space returns: the held publishes are acknowledged, publishers are accepted
        #    again and AMQP is unblocked, without a restart.
        os.unlink(filler)
        t0 = time.time()
        while pub.inflight and time.time() - t0 < 10:
            pub.receive(timeout=0.5)
        self.assertEqual(pub.inflight, {}, "held publishes never acknowledged after space returned")
        print(f"held PUBACKs released {time.time() - t0:.1f} s after the filler was deleted")
        self.assertTrue(set(stalled.values()) <= pub.acked | pub.refused)
        while ("unblocked",) not in events and time.time() - t0 < 10:
            conn.process_data_events(time_limit=0.2)
        self.assertEqual(events, [("blocked", "store full"), ("unblocked",)])
        for k in range(3):
            pub.send(seq)
            seq += 1
            self.assertTrue(pub.receive(timeout=5.0))
        self.assertEqual(pub.refused & set(range(seq - 3, seq)), set(), "still refused after space returned")
        for k in range(3):
            i += 1
            amqp_publish(i)
            amqp_confirmed.append(i)
        conn.close()
        pub.c.close()
        other.c.close()
        self.assertTrue(b.wait_for_log("succeed again", timeout=1))

        # 5. Everything acknowledged survives a SIGKILL and a restart.
        b.kill()
        b.start()
        harness.wait_for_port(aport, proc=b.proc)
        got = self.drain_mqtt(b.port, "df-sub")
        lost = sorted(pub.acked - got)
        self.assertEqual(lost, [], f"{len(lost)} acknowledged MQTT messages lost")
        self.assertEqual(got & pub.refused, set(), "a refused MQTT message was delivered")
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", aport))
        ch = conn.channel()
        amqp_got = set()
        while True:
            method, _, body = ch.basic_get("df-q", auto_ack=True)
            if method is None:
                break
            amqp_got.add(struct.unpack("!Q", body[:8])[0])
        conn.close()
        lost = sorted(set(amqp_confirmed) - amqp_got)
        self.assertEqual(lost, [], f"{len(lost)} confirmed AMQP messages lost")
        print(f"after restart: MQTT {len(got)} of {len(pub.acked)} acknowledged, "
              f"AMQP {len(amqp_got)} of {len(amqp_confirmed)} confirmed")
        text = b.log_text()
        self.assertNotIn("AddressSanitizer", text)
        self.assertNotIn("runtime error:", text)

    def drain_mqtt(self, port, client_id):
        sub = RawClient(port, timeout=5.0)
        self.assertEqual(sub.connect(client_id, clean=False), (1, 0))
        got = set()
        while True:
            try:
                p = sub.recv_packet(timeout=1.0)
            except (socket.timeout, TimeoutError):
                break
            if p.type != PUBLISH:
                continue
            _, pid, payload = p.publish_fields()
            got.add(struct.unpack("!Q", payload[:8])[0])
            if pid:
                sub.send(ack_packet("puback", pid))
        sub.send(DISCONNECT)
        sub.close()
        return got


if __name__ == "__main__":
    unittest.main(verbosity=2)
