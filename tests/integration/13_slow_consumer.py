#!/usr/bin/python3
"""A slow subscriber under fan-in: publishers are paused (backpressure) instead of the
broker dropping acknowledged QoS 1 messages, even with a small queue bound."""
import socket
import threading
import time

from harness import *


class SlowConsumer(BrokerTestCase):
    config = broker_config(mqtt={"max_queued_messages": 1000, "max_inflight": 20})

    def test_fan_in_to_a_stalled_subscriber_loses_nothing(self):
        publishers, per_publisher = 4, 3000
        sub = RawClient(self.port, timeout=30)
        sub.connect("slow-sub", keepalive=0)
        sub.send(subscribe_packet(1, [("fanin/#", 1)]))
        sub.expect(SUBACK)

        acked = [0] * publishers

        def publish(i):
            p = PahoClient(self.port, client_id=f"fanin-pub{i}").connect()
            p.client.max_inflight_messages_set(50)
            p.client.max_queued_messages_set(0)
            infos = [p.publish(f"fanin/{i}", f"{i}:{n}".encode(), qos=1, wait=False) for n in range(per_publisher)]
            for info in infos:
                info.wait_for_publish(timeout=60)
            acked[i] = sum(1 for info in infos if info.is_published())
            p.disconnect()

        threads = [threading.Thread(target=publish, args=(i,)) for i in range(publishers)]
        for t in threads:
            t.start()
        time.sleep(3)  # the subscriber reads nothing meanwhile: its queue passes the flow mark

        got = {}
        total = publishers * per_publisher
        deadline = time.time() + 60
        while len(got) < total and time.time() < deadline:
            p = sub.expect(PUBLISH, timeout=30)
            topic, pid, payload = p.publish_fields()
            got[payload] = True
            sub.send(ack_packet("puback", pid))
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(sum(acked), total)
        self.assertEqual(len(got), total)
        for i in range(publishers):
            for n in range(per_publisher):
                self.assertIn(f"{i}:{n}".encode(), got)
        self.assertNotIn("dropped", self.broker.log_text())
        sub.close()


class SlowSubscriberKeepAlive(BrokerTestCase):
    config = broker_config(mqtt={"max_queued_messages": 200})

    def test_slow_subscriber_that_pings_keeps_its_connection(self):
        # A QoS 0 subscriber that reads far slower than a publisher sends: the broker's unsent
        # bytes stay above the write watermark, yet the subscriber's PINGREQs are still read,
        # so its keep alive (2 s, expiring after 3 s of silence) holds.
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.port))
        s.settimeout(10)
        s.sendall(connect_packet("slow-pinger", keepalive=2))
        s.sendall(subscribe_packet(1, [("slowka/#", 0)]))
        pub = PahoClient(self.port, client_id="slowka-pub").connect()
        stop = threading.Event()

        def flood():
            while not stop.is_set():
                for _ in range(20):
                    pub.publish("slowka/t", b"p" * 10000, qos=0, wait=False)
                time.sleep(0.01)

        t = threading.Thread(target=flood)
        t.start()
        try:
            start = time.time()
            while time.time() - start < 6:
                s.sendall(PINGREQ)
                s.recv(256)  # a trickle
                time.sleep(0.5)
            stop.set()
            # Still connected: drain what is queued (pinging on; the publisher, held by the
            # congested queue, goes on once it drains).
            s.settimeout(1)
            drained = 0
            last_ping = time.time()
            try:
                while True:
                    if time.time() - last_ping > 0.5:
                        s.sendall(PINGREQ)
                        last_ping = time.time()
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        self.fail("the broker closed the slow subscriber's connection")
                    drained += len(chunk)
            except socket.timeout:
                pass
        finally:
            stop.set()
            t.join()
            pub.disconnect()
        self.assertGreater(drained, 0)
        s.sendall(PINGREQ)
        s.settimeout(5)
        got = b""
        while b"\xd0\x00" not in got:  # PINGRESP, after whatever was still queued
            chunk = s.recv(1 << 20)
            self.assertTrue(chunk, "the broker closed the slow subscriber's connection")
            got = got[-1:] + chunk
        s.sendall(DISCONNECT)
        s.close()
        self.assertNotIn("keepalive of 2s expired", self.broker.log_text())


class PausedPublisherKeepAlive(BrokerTestCase):
    config = broker_config(mqtt={"max_queued_messages": 400, "max_inflight": 20})

    def test_publisher_held_by_a_congested_queue_keeps_its_connection(self):
        # The stalled subscriber's queue passes its flow mark, so the broker stops reading the
        # publisher for longer than 1.5 times its keep alive: that silence is the broker's.
        sub = RawClient(self.port, timeout=30)
        sub.connect("held-sub", keepalive=0)
        sub.send(subscribe_packet(1, [("held/#", 1)]))
        sub.expect(SUBACK)
        pub = RawClient(self.port, timeout=30)
        pub.connect("held-pub", keepalive=1)
        n = 300  # past the flow mark (half of max_queued_messages), within the bound
        pub.send(b"".join(publish_packet("held/t", b"m%d" % i, qos=1, packet_id=i + 1) for i in range(n)))
        deadline = time.time() + 4
        while time.time() < deadline:
            pub.send(PINGREQ)
            time.sleep(0.4)
        # The subscriber catches up; every publish is acknowledged, the publisher still there.
        got = 0
        while got < n:
            try:
                p = sub.expect(PUBLISH)
            except TimeoutError:
                self.fail(f"the subscriber got {got} of {n}")
            sub.send(ack_packet("puback", p.publish_fields()[1]))
            got += 1
        acked = set()
        while len(acked) < n:
            p = pub.recv_packet(timeout=10)
            if p.type == PUBACK:
                acked.add(p.packet_id())
        self.assertEqual(len(acked), n)
        pub.send(DISCONNECT)
        sub.send(DISCONNECT)
        self.assertNotIn("'held-pub' (127.0.0.1", "\n".join(
            line for line in self.broker.log_text().splitlines() if "keepalive" in line and "expired" in line))


if __name__ == "__main__":
    main()
