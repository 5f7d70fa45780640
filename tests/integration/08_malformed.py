#!/usr/bin/python3
"""Malformed or out-of-order packets close only their own connection, with a log line
naming the client and the reason; other clients are unaffected."""
import os
import random
import socket
import time

from harness import *


class Malformed(BrokerTestCase):
    def setUp(self):
        self.good_sub = PahoClient(self.port, client_id=f"good-sub-{self._testMethodName}").connect()
        self.good_sub.subscribe("good/t", 1)
        self.good_pub = PahoClient(self.port, client_id=f"good-pub-{self._testMethodName}").connect()

    def tearDown(self):
        # The well-behaved pair still works after each attack.
        n = len(self.good_sub.messages)
        self.good_pub.publish("good/t", b"still here", qos=1)
        msgs = self.good_sub.wait_messages(n + 1)
        self.assertEqual(msgs[-1].payload, b"still here")
        self.good_pub.disconnect()
        self.good_sub.disconnect()

    def attack(self, client_id, data):
        c = RawClient(self.port)
        c.connect(client_id)
        c.send(data)
        self.assertTrue(c.is_closed())
        c.close()

    def test_garbage_after_connect(self):
        self.attack("bad-garbage", b"\x00\x01\x02\x03garbage")
        self.assertTrue(self.broker.wait_for_log("client 'bad-garbage'"))
        self.assertTrue(self.broker.wait_for_log("protocol error"))

    def test_remaining_length_overflow(self):
        self.attack("bad-length", b"\x30\xff\xff\xff\xff\x01")
        self.assertTrue(self.broker.wait_for_log("remaining length longer than 4 bytes"))

    def test_wildcard_in_publish_topic(self):
        self.attack("bad-wild", publish_packet("a/+/b", b"x"))
        self.assertTrue(self.broker.wait_for_log("wildcard"))

    def test_subscribe_wrong_flags(self):
        data = bytearray(subscribe_packet(1, [("a", 0)]))
        data[0] = 0x80  # flags must be 0b0010 [MQTT-3.8.1-1]
        self.attack("bad-subflags", bytes(data))

    def test_invalid_utf8_topic(self):
        body = b"\x00\x03a\xc0\xafx"
        self.attack("bad-utf8", packet(0x30, body))

    def test_qos3_publish(self):
        self.attack("bad-qos3", bytes([0x36]) + publish_packet("a", b"x")[1:])

    def test_zero_packet_id(self):
        self.attack("bad-pid", publish_packet("a", b"x", qos=1, packet_id=0))

    def test_oversized_packet(self):
        c = RawClient(self.port)
        c.connect("bad-huge")
        # Announces 200 MiB, above the default 1 MiB maximum: refused from the header.
        c.send(b"\x30" + varint(200 * 1024 * 1024))
        self.assertTrue(c.is_closed())

    def test_many_random_connections(self):
        rng = random.Random(42)
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", self.port))
            data = connect_packet(f"fuzz{i}") if i % 2 else b""
            data += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
            try:
                s.sendall(data)
            except OSError:
                pass
            s.close()
        time.sleep(0.5)


if __name__ == "__main__":
    main()
