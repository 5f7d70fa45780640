#!/usr/bin/python3
"""The store's group commit as a lone device sees it (docs/config.md, "When the writer
waits"): one QoS 1 message in flight at a time, a persistent-session subscriber that first
acknowledges everything at once (so the writer learns to hold batches for its
acknowledgements), then stops acknowledging. Whatever the writer held or skipped, every
PUBACK the device got stands for a message that survives a SIGKILL: it was acknowledged by
the subscriber before the PUBACK, or committed before it. The same for a device alone with
an offline session (every PUBACK after its own commit)."""
import socket
import struct
import threading
import time
import unittest

import harness
from harness import DISCONNECT, PUBACK, PUBLISH, Broker, RawClient, ack_packet, offline_subscription, publish_packet

TOPIC = "gc/dev1"


class Subscriber(threading.Thread):
    """A persistent session on gc/#; acknowledges each message while `acking` is set."""

    def __init__(self, port, client_id):
        super().__init__(daemon=True)
        self.client = RawClient(port, timeout=5.0)
        self.client.connect(client_id, clean=False)
        self.client.send(harness.subscribe_packet(1, [("gc/#", 1)]))
        self.client.expect(harness.SUBACK)
        self.acking = threading.Event()
        self.acking.set()
        self.stop = threading.Event()
        self.got = set()
        self.lock = threading.Lock()

    def run(self):
        while not self.stop.is_set():
            try:
                p = self.client.recv_packet(timeout=0.2)
            except (socket.timeout, TimeoutError):
                continue
            except (OSError, ConnectionError):
                return
            if p.type != PUBLISH:
                continue
            _, pid, payload = p.publish_fields()
            with self.lock:
                self.got.add(struct.unpack("!Q", payload)[0])
            if self.acking.is_set():
                self.client.send(ack_packet("puback", pid))


def publish_one_at_a_time(port, first, count, client_id="dev1"):
    """QoS 1, waiting for each PUBACK before the next publish; the sequence numbers acknowledged."""
    pub = RawClient(port, timeout=10.0)
    pub.connect(client_id, clean=True)
    acked = []
    for seq in range(first, first + count):
        pid = seq % 65535 + 1
        pub.send(publish_packet(TOPIC, struct.pack("!Q", seq), qos=1, packet_id=pid))
        p = pub.expect(PUBACK, timeout=10.0)
        if struct.unpack("!H", p.body[:2])[0] == pid:
            acked.append(seq)
    pub.send(DISCONNECT)
    pub.close()
    return acked


def drain(port, client_id):
    return harness.drain_sequences(port, client_id)[1]


class GroupCommit(unittest.TestCase):
    def test_a_lone_device_keeps_every_acknowledged_message_whatever_the_writer_held(self):
        b = Broker().start()
        try:
            sub = Subscriber(b.port, "gc-sub")
            sub.start()
            # The subscriber acknowledges at once: the writer learns how soon, and holds
            # batches about that long (most of these messages are never written).
            acked = publish_one_at_a_time(b.port, 0, 400)
            self.assertEqual(len(acked), 400)
            time.sleep(0.3)
            with sub.lock:
                self.assertEqual(sub.got, set(range(400)))
            # Now it stops acknowledging: every hold ends unanswered, and each PUBACK must
            # wait for the commit that holds its message.
            sub.acking.clear()
            acked += publish_one_at_a_time(b.port, 400, 30)
            self.assertEqual(len(acked), 430)
            b.kill()
            sub.stop.set()
            sub.join(timeout=5)
            sub.client.close()
            b.start()
            got = drain(b.port, "gc-sub")
            # The 30 were never acknowledged by the subscriber: they must all come back.
            self.assertEqual(sorted(set(range(400, 430)) - got), [])
        finally:
            b.stop()

    def test_a_lone_device_with_an_offline_session_gets_each_puback_after_its_commit(self):
        b = Broker().start()
        try:
            offline_subscription(b.port, "gc-offline", "gc/#", 1)
            acked = publish_one_at_a_time(b.port, 0, 200)
            b.kill()  # right after the last PUBACK
            b.start()
            got = drain(b.port, "gc-offline")
            self.assertEqual(sorted(set(acked) - got), [])
            self.assertEqual(len(acked), 200)
        finally:
            b.stop()


if __name__ == "__main__":
    unittest.main()
