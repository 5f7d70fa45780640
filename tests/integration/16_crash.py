#!/usr/bin/python3
"""Crash test: a QoS 1 publisher records every sequence number the broker acknowledged
while the broker is killed with SIGKILL several times mid-stream and restarted; a
persistent subscriber must end up with every acknowledged number (duplicates are allowed
by QoS 1, losses never)."""
import random
import socket
import struct
import threading

from harness import *

KILLS = 4
WINDOW = 32  # QoS 1 messages in flight, so commits group several of them
SUBSCRIBERS = ("crash-sub-a", "crash-sub-b")
RATE = 5000  # messages per second: the subscriber's queue (100000 by default) never fills


class Publisher(threading.Thread):
    """Publishes seq 0, 1, 2... with QoS 1 through whatever broker is up; reconnects."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.acked = set()
        self.next_seq = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.started = time.time()

    def run(self):
        while not self.stop.is_set():
            try:
                self.session()
            except (OSError, AssertionError, struct.error, IndexError):
                time.sleep(0.05)

    def session(self):
        c = RawClient(self.port, timeout=2.0)
        try:
            c.connect("crash-pub", clean=True)
            inflight = {}
            pid = 0
            while not self.stop.is_set():
                ahead = self.next_seq - (time.time() - self.started) * RATE
                if ahead > 0:
                    time.sleep(ahead / RATE)
                while len(inflight) < WINDOW:
                    pid = pid % 65535 + 1
                    seq = self.next_seq
                    self.next_seq += 1
                    inflight[pid] = seq
                    c.send(publish_packet("crash/t", struct.pack("!Q", seq), qos=1, packet_id=pid))
                p = c.expect(PUBACK, timeout=2.0)
                seq = inflight.pop(p.packet_id())
                with self.lock:
                    self.acked.add(seq)
        finally:
            c.close()


class Crash(unittest.TestCase):
    def drain(self, port, client_id):
        """Every message the session holds, by sequence number."""
        connack, got = drain_sequences(port, client_id)
        self.assertEqual(connack, (1, 0))
        return got

    def test_acknowledged_messages_survive_repeated_kills(self):
        self.kill_repeatedly(Broker())

    def test_acknowledged_messages_survive_repeated_kills_with_sync_normal(self):
        """`sync: normal` acknowledges after one append to the store's operation log; what it
        acknowledged is there after each kill all the same."""
        self.kill_repeatedly(Broker(config=broker_config(extra="persistence:\n  sync: normal\n")))

    def kill_repeatedly(self, b):
        b.start()
        try:
            # Two persistent sessions: the message is stored once, with an entry for each.
            for sub_id in SUBSCRIBERS:
                offline_subscription(b.port, sub_id, "crash/t", 1)
            pub = Publisher(b.port)
            pub.start()
            rng = random.Random(5)
            for _ in range(KILLS):
                time.sleep(0.6 + rng.random() * 0.6)
                b.kill()
                time.sleep(0.2)
                b.start()
            time.sleep(0.8)
            pub.stop.set()
            pub.join(timeout=10)
            with pub.lock:
                acked = set(pub.acked)
            self.assertGreater(len(acked), 200, "the publisher made too little progress to test anything")
            for sub_id in SUBSCRIBERS:
                got = self.drain(b.port, sub_id)
                lost = sorted(acked - got)
                print(f"{sub_id}: acknowledged {len(acked)}, received {len(got)} distinct, {KILLS} kills")
                if lost:
                    # What the broker said about its store across the restarts says where they went.
                    said = [l for l in b.log_text().splitlines() if " warning " in l or " error " in l or "store:" in l]
                    self.fail(f"{sub_id}: {len(lost)} acknowledged messages lost, e.g. {lost[:10]}; the broker's "
                              "store lines and warnings:\n" + "\n".join(said[-60:]))
        finally:
            b.stop()
            text = b.log_text()
            b.tmp.cleanup()
            if "AddressSanitizer" in text or "runtime error:" in text:
                raise AssertionError("sanitizer report in broker log:\n" + text)


if __name__ == "__main__":
    main()
