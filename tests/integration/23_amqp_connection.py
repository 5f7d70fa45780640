#!/usr/bin/python3
"""AMQP 0-9-1 connections (section 2.2.4 and 4.2 of the spec): protocol header
negotiation, PLAIN and AMQPLAIN, tune, heartbeats, vhosts, closing both ways, many
channels, channel.flow; channel errors close only their channel, connection errors close
the connection with the reply code and the failing method's class and method ids."""
import socket
import time

import pika

from amqp_raw import PROTOCOL_HEADER, RawAmqp, frame, header_frame, body_frame, method_frame
from harness import *


def params(port, **kw):
    return pika.ConnectionParameters(host="127.0.0.1", port=port,
                                     credentials=pika.PlainCredentials("guest", "guest"), **kw)


class AmqpConnection(BrokerTestCase):
    config = amqp_config({"heartbeat": "60s", "channel_max": 128, "frame_max": "64KiB"})

    def setUp(self):
        # A bystander on its own connection: whatever a test breaks, it keeps working.
        self.bystander = pika.BlockingConnection(params(self.port))
        self.bch = self.bystander.channel()
        self.bq = self.bch.queue_declare("", exclusive=True).method.queue

    def tearDown(self):
        self.bch.basic_publish("", self.bq, b"still here")
        _, _, body = self.bch.basic_get(self.bq, auto_ack=True)
        self.assertEqual(body, b"still here")
        self.bystander.close()

    def raw(self, **kw):
        c = RawAmqp(self.port)
        c.open(**kw)
        c.open_ok()
        return c

    # ---------------------------------------------------------------- header and auth

    def test_wrong_protocol_header_gets_ours(self):
        for wrong in (b"AMQP\x00\x00\x09\x00", b"HTTP/1.1 200 OK\r\n\r\n", b"AMQP\x01\x01\x00\x0a"):
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(wrong)
                got = b""
                while True:
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    got += chunk
                self.assertEqual(got, PROTOCOL_HEADER, wrong)

    def test_plain_with_pika(self):
        with pika.BlockingConnection(params(self.port)) as conn:
            props = conn._impl.server_properties
            self.assertEqual(props["product"], b"Outpost" if isinstance(props["product"], bytes) else "Outpost")
            caps = props["capabilities"]
            for cap in ("publisher_confirms", "basic.nack", "consumer_cancel_notify"):
                self.assertTrue(caps[cap], cap)
            ch = conn.channel()
            self.assertTrue(ch.is_open)

    def test_start_offers_mechanisms_and_amqplain_works(self):
        c = RawAmqp(self.port)
        start = c.open(mechanism="AMQPLAIN", user="svc", password="secret")
        self.assertEqual(start.args[0:2], [0, 9])
        self.assertEqual(set(start.args[3].split()), {b"PLAIN", b"AMQPLAIN"})
        c.open_ok()
        c.open_channel(1)
        c.method(1, 50, 10, 0, "", False, False, True, True, False, {})
        ok = c.expect(50, 11)
        self.assertTrue(ok.args[0].startswith("amq.gen-"))
        c.close()

    def test_tune_values(self):
        c = RawAmqp(self.port)
        c.open(frame_max=4096)
        self.assertEqual(c.tune, [128, 64 * 1024, 60])
        c.open_ok()
        # A channel above the negotiated channel_max is refused with a connection error.
        c.method(129, 20, 10, "")
        code, _, cls, mid = c.expect_connection_close()
        self.assertEqual((code, cls, mid), (504, 20, 10))
        self.assertTrue(c.is_closed())
        c.close()

    def test_tune_ok_frame_max_above_server(self):
        c = RawAmqp(self.port)
        c.send(PROTOCOL_HEADER)
        c.expect(10, 10)
        c.method(0, 10, 11, {}, "PLAIN", b"\x00guest\x00guest", "en_US")
        c.expect(10, 30)
        c.method(0, 10, 31, 0, 1 << 20, 0)
        code, _, cls, mid = c.expect_connection_close()
        self.assertEqual((code, cls, mid), (530, 10, 31))
        c.close()

    def test_frame_max_is_enforced_both_ways(self):
        # pika asks for the largest frame the server allows; a 200 KiB body is split.
        with pika.BlockingConnection(params(self.port)) as conn:
            self.assertEqual(conn._impl.params.frame_max, 64 * 1024)
            ch = conn.channel()
            q = ch.queue_declare("", exclusive=True).method.queue
            body = bytes(range(256)) * 800
            ch.basic_publish("", q, body)
            _, _, got = ch.basic_get(q, auto_ack=True)
            self.assertEqual(got, body)

    # ---------------------------------------------------------------- heartbeats

    def test_silent_client_is_dropped_after_two_heartbeats(self):
        c = self.raw(heartbeat=1)
        start = time.time()
        beats = 0
        # The broker sends heartbeats while it waits; the client never answers.
        while True:
            try:
                f = c.read_frame(timeout=5)
            except (ConnectionError, OSError):
                break
            if f.type == 8:
                beats += 1
        elapsed = time.time() - start
        self.assertGreaterEqual(beats, 1)
        self.assertLess(elapsed, 4.5)
        c.close()
        self.assertTrue(self.broker.wait_for_log("missed heartbeats"))

    def test_pika_with_heartbeat_stays_connected_while_idle(self):
        with pika.BlockingConnection(params(self.port, heartbeat=1)) as conn:
            ch = conn.channel()
            conn.sleep(3.0)  # pika answers heartbeats while it sleeps
            self.assertTrue(conn.is_open)
            q = ch.queue_declare("", exclusive=True).method.queue
            self.assertTrue(q)

    # ---------------------------------------------------------------- vhost and closing

    def test_other_vhost_is_refused(self):
        c = RawAmqp(self.port)
        c.open(vhost="/other")
        code, text, cls, mid = c.expect_connection_close()
        self.assertEqual((code, cls, mid), (530, 10, 40))
        self.assertIn(b"NOT_ALLOWED", text.encode() if isinstance(text, str) else text)
        self.assertTrue(c.is_closed())
        c.close()
        with self.assertRaises(pika.exceptions.AMQPConnectionError):
            pika.BlockingConnection(params(self.port, virtual_host="elsewhere"))

    def test_client_close(self):
        c = self.raw()
        c.open_channel(1)
        c.method(0, 10, 50, 200, "bye", 0, 0)
        c.expect(10, 51)
        self.assertTrue(c.is_closed())
        c.close()

    def test_channel_close_both_ways(self):
        c = self.raw()
        c.open_channel(1)
        c.method(1, 20, 40, 200, "done", 0, 0)
        c.expect(20, 41)
        # The same channel number can be opened again.
        c.open_channel(1)
        # Broker-initiated channel close: the client answers close-ok and reuses the channel.
        c.method(1, 50, 10, 0, "no-such-queue", True, False, False, False, False, {})
        f = c.expect(20, 40)
        self.assertEqual((f.args[0], f.args[2], f.args[3]), (404, 50, 10))
        c.method(1, 20, 41)
        c.open_channel(1)
        c.close()

    def test_many_channels(self):
        with pika.BlockingConnection(params(self.port)) as conn:
            channels = [conn.channel() for _ in range(100)]
            q = channels[0].queue_declare("", exclusive=True).method.queue
            for i, ch in enumerate(channels):
                ch.basic_publish("", q, str(i).encode())
            got = []
            for ch in reversed(channels):
                _, _, body = ch.basic_get(q, auto_ack=True)
                got.append(int(body))
            self.assertEqual(got, list(range(100)))
            for ch in channels[::2]:
                ch.close()
            for ch in channels[1::2]:
                self.assertTrue(ch.is_open)
                ch.queue_declare(q, passive=True)

    def test_channel_flow(self):
        c = self.raw()
        c.open_channel(1)
        c.method(1, 50, 10, 0, "", False, False, True, True, False, {})
        q = c.expect(50, 11).args[0]
        c.method(1, 20, 20, False)
        self.assertEqual(c.expect(20, 21).args, [False])
        c.method(1, 60, 20, 0, q, "ctag", False, True, False, False, {})
        c.expect(60, 21)
        c.method(1, 60, 40, 0, "", q, False, False)
        c.send(header_frame(1, 2) + body_frame(1, b"hi"))
        with self.assertRaises(socket.timeout):
            c.read_frame(timeout=0.5)  # no delivery while the channel is stopped
        c.method(1, 20, 20, True)
        self.assertEqual(c.expect(20, 21).args, [True])
        d = c.expect(60, 60)
        self.assertEqual(d.args[0], "ctag")
        c.close()

    # ---------------------------------------------------------------- channel errors

    def assert_channel_error(self, code, action):
        """`action(channel)` fails with `code`; only that channel closes."""
        with pika.BlockingConnection(params(self.port)) as conn:
            victim, other = conn.channel(), conn.channel()
            with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as err:
                action(victim)
                victim.queue_declare("", exclusive=True)  # an error on an async method arrives here
            self.assertEqual(err.exception.reply_code, code, err.exception.reply_text)
            self.assertFalse(victim.is_open)
            self.assertTrue(conn.is_open)
            q = other.queue_declare("", exclusive=True).method.queue
            other.basic_publish("", q, b"x")
            self.assertEqual(other.basic_get(q, auto_ack=True)[2], b"x")
            self.assertTrue(conn.channel().is_open)

    def test_404_missing_queue(self):
        self.assert_channel_error(404, lambda ch: ch.queue_declare("no-such-queue", passive=True))

    def test_404_missing_exchange(self):
        self.assert_channel_error(404, lambda ch: ch.exchange_declare("no-such-exchange", passive=True))

    def test_404_publish_to_missing_exchange(self):
        self.assert_channel_error(404, lambda ch: ch.basic_publish("no-such-exchange", "k", b"x"))

    def test_405_other_connections_exclusive_queue(self):
        q = self.bch.queue_declare("locked-q", exclusive=True).method.queue
        self.assert_channel_error(405, lambda ch: ch.queue_declare(q))
        self.assert_channel_error(405, lambda ch: ch.basic_consume(q, lambda *a: None))
        self.assert_channel_error(405, lambda ch: ch.basic_get(q))
        self.bch.queue_delete(q)

    def test_406_inequivalent_queue(self):
        conn = pika.BlockingConnection(params(self.port))
        conn.channel().queue_declare("equiv-q", durable=False, arguments={"x-max-length": 5})
        self.assert_channel_error(406, lambda ch: ch.queue_declare("equiv-q", durable=True,
                                                                   arguments={"x-max-length": 5}))
        self.assert_channel_error(406, lambda ch: ch.queue_declare("equiv-q", arguments={"x-max-length": 6}))
        conn.channel().queue_delete("equiv-q")
        conn.close()

    def test_403_reserved_exchange_name(self):
        self.assert_channel_error(403, lambda ch: ch.exchange_declare("amq.mine", "direct"))

    def test_406_unknown_delivery_tag(self):
        self.assert_channel_error(406, lambda ch: ch.basic_ack(12345))

    def test_channel_error_has_class_and_method(self):
        c = self.raw()
        c.open_channel(1)
        c.open_channel(2)
        c.method(1, 40, 10, 0, "amq.reserved", "fanout", False, False, False, False, False, {})
        f = c.expect(20, 40)
        self.assertEqual(f.channel, 1)
        self.assertEqual((f.args[0], f.args[2], f.args[3]), (403, 40, 10))
        # Until close-ok, what arrives on the closed channel is dropped (section 2.2.5).
        c.method(1, 50, 10, 0, "", False, False, True, True, False, {})
        c.method(1, 20, 41)
        c.method(2, 50, 10, 0, "", False, False, True, True, False, {})
        ok = c.expect(50, 11)
        self.assertEqual(ok.channel, 2)
        c.close()

    # ---------------------------------------------------------------- connection errors

    def assert_connection_error(self, data, code, cls, mid, channels=(1,)):
        c = self.raw()
        for n in channels:
            c.open_channel(n)
        c.send(data)
        got_code, text, got_cls, got_mid = c.expect_connection_close()
        self.assertEqual((got_code, got_cls, got_mid), (code, cls, mid), text)
        self.assertTrue(c.is_closed())
        c.close()
        return text

    def test_503_non_connection_method_on_channel_0(self):
        self.assert_connection_error(method_frame(0, 60, 10, 0, 1, False), 503, 60, 10)

    def test_503_connection_method_on_a_channel(self):
        self.assert_connection_error(method_frame(1, 10, 40, "/", "", False), 503, 10, 40)

    def test_503_server_method_from_client(self):
        self.assert_connection_error(method_frame(1, 60, 72, ""), 503, 60, 72)

    def test_504_method_on_unopened_channel(self):
        self.assert_connection_error(method_frame(7, 60, 10, 0, 1, False), 504, 60, 10)

    def test_504_second_channel_open(self):
        self.assert_connection_error(method_frame(1, 20, 10, ""), 504, 20, 10)

    def test_505_method_instead_of_content_header(self):
        data = method_frame(1, 60, 40, 0, "", "q", False, False) + method_frame(1, 60, 10, 0, 1, False)
        self.assert_connection_error(data, 505, 60, 10)

    def test_505_content_header_without_publish(self):
        self.assert_connection_error(header_frame(1, 3), 505, 0, 0)

    def test_501_bad_frame_end(self):
        self.assert_connection_error(frame(1, 1, b"\x00\x3c\x00\x0a\x00\x00\x00\x01\x00", end=0x00), 501, 0, 0)

    def test_540_tx_select(self):
        self.assert_connection_error(method_frame(1, 90, 10), 540, 90, 10)

    def test_540_unknown_method(self):
        self.assert_connection_error(frame(1, 1, b"\x00\x3c\x03\xe7"), 540, 60, 999)
        self.assert_connection_error(frame(1, 1, b"\x01\xf4\x00\x0a"), 540, 500, 10)

    def test_peer_that_never_answers_close_is_dropped(self):
        # After the broker's connection.close only close / close-ok count (section 2.2.4);
        # a peer that keeps talking instead is dropped after a short grace period.
        c = self.raw()
        c.open_channel(1)
        c.send(method_frame(1, 90, 10))  # tx.select: 540
        code, _, _, _ = c.expect_connection_close()
        self.assertEqual(code, 540)
        start = time.time()
        closed = False
        while time.time() - start < 10:
            try:
                c.send(method_frame(1, 60, 40, 0, "", "q", False, False) + header_frame(1, 1) + body_frame(1, b"x"))
            except OSError:
                closed = True
                break
            if c.is_closed(timeout=0.2):
                closed = True
                break
        self.assertTrue(closed, "the broker kept the connection open")
        self.assertLess(time.time() - start, 8)
        c.close()

    def test_connection_error_closes_all_channels(self):
        with pika.BlockingConnection(params(self.port)) as conn:
            ch1, ch2 = conn.channel(), conn.channel()
            with self.assertRaises(pika.exceptions.ConnectionClosedByBroker) as err:
                ch1.exchange_declare("x-unknown-type", "no-such-type")
            self.assertEqual(err.exception.reply_code, 503)
            self.assertFalse(ch2.is_open)


if __name__ == "__main__":
    unittest.main()
