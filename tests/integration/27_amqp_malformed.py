#!/usr/bin/python3
"""Malformed AMQP 0-9-1 input on raw sockets: each gets connection.close with the reply
code the spec gives (501 frame error, 505 unexpected frame, 540 not implemented, ...),
a log line, and the socket closed; a pika client connected beforehand keeps working and
the broker keeps running."""
import random
import struct

import pika

from amqp_raw import PROTOCOL_HEADER, RawAmqp, body_frame, frame, header_frame, method_frame, table_body
from harness import *


class AmqpMalformed(BrokerTestCase):
    config = amqp_config({"frame_max": "16KiB"})

    def setUp(self):
        self.good = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=self.port))
        self.gch = self.good.channel()
        self.gq = self.gch.queue_declare("", exclusive=True).method.queue
        self.gch.basic_publish("", self.gq, b"before")

    def tearDown(self):
        # The bystander is unaffected: its queue, its channel, its connection.
        self.assertIsNotNone(self.broker.proc)
        self.assertIsNone(self.broker.proc.poll())
        self.gch.basic_publish("", self.gq, b"after")
        self.assertEqual(self.gch.basic_get(self.gq, auto_ack=True)[2], b"before")
        self.assertEqual(self.gch.basic_get(self.gq, auto_ack=True)[2], b"after")
        self.good.close()

    def attack(self, data, codes, cls=None, mid=None, log=None, open_channel=True):
        c = RawAmqp(self.port)
        c.open()
        c.open_ok()
        if open_channel:
            c.open_channel(1)
        c.send(data)
        code, text, got_cls, got_mid = c.expect_connection_close()
        self.assertIn(code, codes if isinstance(codes, tuple) else (codes,), text)
        if cls is not None:
            self.assertEqual((got_cls, got_mid), (cls, mid), text)
        self.assertTrue(c.is_closed())
        c.close()
        if log:
            self.assertTrue(self.broker.wait_for_log(log), log)
        return text

    def test_bad_frame_end(self):
        f = method_frame(1, 60, 10, 0, 1, False)
        self.attack(f[:-1] + b"\x00", 501, 0, 0, log="0xCE")

    def test_frame_larger_than_frame_max(self):
        # 16 KiB negotiated: a 20 KiB body frame is refused from its header alone.
        data = method_frame(1, 60, 40, 0, "", self.gq, False, False) + header_frame(1, 20000) + \
            body_frame(1, b"x" * 20000)
        self.attack(data, 501, log="exceeds frame_max")

    def test_huge_announced_frame(self):
        self.attack(struct.pack("!BHI", 1, 1, 0xFFFFFFF0), 501)

    def test_unknown_frame_type(self):
        self.attack(struct.pack("!BHI", 9, 0, 0) + b"\xce", 501, log="unknown frame type")

    def test_unknown_class_and_method(self):
        self.attack(frame(1, 1, struct.pack("!HH", 60, 999)), 540, 60, 999)
        self.attack(frame(1, 1, struct.pack("!HH", 77, 10)), 540, 77, 10)

    def test_truncated_method_arguments(self):
        # queue.declare cut after its queue name: the arguments cannot be decoded.
        self.attack(frame(1, 1, struct.pack("!HHH", 50, 10, 0) + b"\x05abcde"), 501, 50, 10)

    def test_bad_field_table(self):
        args = struct.pack("!HH", 50, 10) + struct.pack("!H", 0) + b"\x01q" + b"\x00"
        bad_table = b"\x03key" + b"Z" + b"\x00\x00"  # field type Z does not exist
        args += struct.pack("!I", len(bad_table)) + bad_table
        self.attack(frame(1, 1, args), 501, 50, 10)

    def test_body_without_header(self):
        self.attack(body_frame(1, b"orphan"), 505, log="content body without a content header")

    def test_header_without_publish(self):
        self.attack(header_frame(1, 5), 505)

    def test_second_header(self):
        data = method_frame(1, 60, 40, 0, "", self.gq, False, False) + header_frame(1, 5) + header_frame(1, 5)
        self.attack(data, 505)

    def test_body_longer_than_announced(self):
        data = method_frame(1, 60, 40, 0, "", self.gq, False, False) + header_frame(1, 2) + body_frame(1, b"toolong")
        self.attack(data, (501, 505))

    def test_header_for_another_class(self):
        data = method_frame(1, 60, 40, 0, "", self.gq, False, False) + header_frame(1, 2, class_id=50)
        self.attack(data, (505, 501))

    def test_content_on_unopened_channel(self):
        self.attack(header_frame(9, 1), 504, open_channel=False)

    def test_heartbeat_on_a_channel(self):
        self.attack(frame(8, 1, b""), 501)

    def test_garbage_after_open(self):
        rnd = random.Random(1234)
        for _ in range(5):
            junk = bytes(rnd.randrange(256) for _ in range(64))
            if junk[0] in (1, 2, 3, 8):
                junk = b"\xff" + junk[1:]
            self.attack(junk, 501)

    def test_garbage_in_the_handshake(self):
        c = RawAmqp(self.port)
        c.send(PROTOCOL_HEADER)
        c.expect(10, 10)
        c.send(b"\xff" * 40)
        code, _, _, _ = c.expect_connection_close()
        self.assertEqual(code, 501)
        self.assertTrue(c.is_closed())
        c.close()

    def test_method_out_of_order_in_handshake(self):
        c = RawAmqp(self.port)
        c.send(PROTOCOL_HEADER)
        c.expect(10, 10)
        c.send(method_frame(0, 10, 40, "/", "", False))  # open before start-ok
        code, _, cls, mid = c.expect_connection_close()
        self.assertEqual((code, cls, mid), (503, 10, 40))
        c.close()

    def test_malformed_amqplain_response(self):
        c = RawAmqp(self.port)
        c.send(PROTOCOL_HEADER)
        c.expect(10, 10)
        c.method(0, 10, 11, {}, "AMQPLAIN", b"\x05LOGINZ", "en_US")
        code, _, cls, mid = c.expect_connection_close()
        self.assertEqual((code, cls, mid), (403, 10, 11))
        c.close()

    def test_unsupported_mechanism(self):
        c = RawAmqp(self.port)
        c.send(PROTOCOL_HEADER)
        c.expect(10, 10)
        c.method(0, 10, 11, {}, "EXTERNAL", b"", "en_US")
        code, _, _, _ = c.expect_connection_close()
        self.assertIn(code, (403, 503, 540))
        c.close()

    def test_many_bad_clients_at_once(self):
        clients = []
        for i in range(20):
            c = RawAmqp(self.port)
            c.open()
            c.open_ok()
            clients.append(c)
        for i, c in enumerate(clients):
            c.send(b"\x01\x00\x01\x00\x00\x00\x04\x00\x3c\x00\x0a\x00" if i % 2 else b"\x07garbage!")
        for c in clients:
            self.assertTrue(c.is_closed())
            c.close()

    def test_client_vanishes_mid_frame(self):
        c = RawAmqp(self.port)
        c.open()
        c.open_ok()
        c.open_channel(1)
        data = method_frame(1, 60, 40, 0, "", self.gq, False, False) + header_frame(1, 100) + body_frame(1, b"x" * 100)
        c.send(data[:-40])
        c.close()
        # What was half sent never reaches the queue.
        self.gch.queue_declare("", exclusive=True)
        self.assertEqual(self.gch.queue_declare(self.gq, passive=True).method.message_count, 1)


if __name__ == "__main__":
    unittest.main()
