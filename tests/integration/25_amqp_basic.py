#!/usr/bin/python3
"""The AMQP 0-9-1 basic class as RabbitMQ clients use it: mandatory returns, consumers
(exclusive, no-ack, server-made tags, cancel, cancel notification), redelivery, ack /
nack / reject, prefetch per consumer and per channel, basic.get, basic.recover,
publisher confirms, every basic property and header field type, large bodies, message
and queue TTL, length limits with both overflow policies, queue expiry and
dead-lettering with x-death."""
import datetime
import decimal
import os
import socket
import threading
import time

import pika

from amqp_raw import RawAmqp, body_frame, header_frame, method_frame
from harness import *

PE = pika.exceptions


def params(port, **kw):
    return pika.ConnectionParameters(host="127.0.0.1", port=port, **kw)


class Collector:
    """A consumer that keeps (method, properties, body) of each delivery."""

    def __init__(self, conn, ch, queue, auto_ack=False, exclusive=False, tag=None):
        self.conn, self.ch, self.got = conn, ch, []
        kw = {"consumer_tag": tag} if tag else {}
        self.tag = ch.basic_consume(queue, self._on, auto_ack=auto_ack, exclusive=exclusive, **kw)

    def _on(self, ch, method, props, body):
        self.got.append((method, props, body))

    def wait(self, n, timeout=3.0):
        deadline = time.time() + timeout
        while len(self.got) < n and time.time() < deadline:
            self.conn.process_data_events(time_limit=0.05)
        return self.got

    def settle(self, quiet=0.3):
        """Lets deliveries arrive until none came for `quiet` seconds."""
        while True:
            n = len(self.got)
            self.conn.process_data_events(time_limit=quiet)
            if len(self.got) == n:
                return self.got

    def bodies(self):
        return [b for _, _, b in self.got]


class AmqpBasic(BrokerTestCase):
    config = amqp_config()

    def setUp(self):
        self.conn = pika.BlockingConnection(params(self.port))
        self.ch = self.conn.channel()

    def tearDown(self):
        if self.conn.is_open:
            self.conn.close()

    def queue(self, name="", **kw):
        return self.ch.queue_declare(name, exclusive=not name, **kw).method.queue

    def publish(self, q, *bodies, ch=None, exchange="", **props):
        for b in bodies:
            (ch or self.ch).basic_publish(exchange, q, b if isinstance(b, bytes) else b.encode(),
                                          pika.BasicProperties(**props) if props else None)

    def count(self, q):
        return self.ch.queue_declare(q, passive=True).method.message_count

    def get(self, q, auto_ack=True, ch=None):
        return (ch or self.ch).basic_get(q, auto_ack=auto_ack)

    # ---------------------------------------------------------------- returns

    def test_mandatory_unroutable_is_returned(self):
        returned = []
        self.ch.add_on_return_callback(lambda ch, m, p, b: returned.append((m, p, b)))
        self.ch.basic_publish("amq.direct", "nobody-bound", b"back to me", pika.BasicProperties(message_id="m1"),
                              mandatory=True)
        self.ch.basic_publish("amq.direct", "nobody-bound", b"dropped silently")  # not mandatory
        deadline = time.time() + 3
        while len(returned) < 1 and time.time() < deadline:
            self.conn.process_data_events(time_limit=0.05)
        self.conn.process_data_events(time_limit=0.2)
        self.assertEqual(len(returned), 1)
        m, p, b = returned[0]
        self.assertEqual((m.reply_code, m.reply_text, m.exchange, m.routing_key), (312, "NO_ROUTE", "amq.direct",
                                                                                   "nobody-bound"))
        self.assertEqual((p.message_id, b), ("m1", b"back to me"))
        # A routable mandatory message is simply delivered.
        q = self.queue()
        self.ch.basic_publish("", q, b"ok", mandatory=True)
        self.assertEqual(self.get(q)[2], b"ok")

    def test_mandatory_with_confirms(self):
        self.ch.confirm_delivery()
        with self.assertRaises(PE.UnroutableError) as err:
            self.ch.basic_publish("amq.fanout", "", b"nowhere", mandatory=True)
        self.assertEqual(err.exception.messages[0].method.reply_code, 312)

    # ---------------------------------------------------------------- consumers

    def test_server_made_consumer_tag(self):
        # pika always names its consumers; an empty tag takes raw frames.
        c = RawAmqp(self.port)
        c.open()
        c.open_ok()
        c.open_channel(1)
        c.method(1, 50, 10, 0, "", False, False, True, True, False, {})
        q = c.expect(50, 11).args[0]
        c.method(1, 60, 20, 0, q, "", False, True, False, False, {})
        tag = c.expect(60, 21).args[0]
        self.assertTrue(tag.startswith("amq.ctag-"), tag)
        c.method(1, 60, 20, 0, q, "", False, True, False, False, {})
        self.assertNotEqual(c.expect(60, 21).args[0], tag)
        # A tag already used on the channel is a connection error (530 NOT_ALLOWED).
        c.method(1, 60, 20, 0, q, tag, False, True, False, False, {})
        code, _, cls, mid = c.expect_connection_close()
        self.assertEqual((code, cls, mid), (530, 60, 20))
        c.close()

    def test_consume_no_ack_cancel(self):
        q = self.queue()
        self.publish(q, "a", "b", "c")
        c = Collector(self.conn, self.ch, q, auto_ack=True)
        c.wait(3)
        self.assertEqual(c.bodies(), [b"a", b"b", b"c"])
        self.assertEqual([m.delivery_tag for m, _, _ in c.got], [1, 2, 3])
        self.assertEqual({m.consumer_tag for m, _, _ in c.got}, {c.tag})
        self.assertFalse(any(m.redelivered for m, _, _ in c.got))
        self.assertEqual(self.count(q), 0)  # no-ack: gone
        self.ch.basic_cancel(c.tag)
        self.publish(q, "d")
        c.settle(0.2)
        self.assertEqual(len(c.got), 3)
        self.assertEqual(self.count(q), 1)

    def test_exclusive_consumer(self):
        q = self.queue("basic-excl-consumer")
        Collector(self.conn, self.ch, q, exclusive=True)
        ch2 = self.conn.channel()
        with self.assertRaises(PE.ChannelClosedByBroker) as err:
            Collector(self.conn, ch2, q)
        self.assertEqual(err.exception.reply_code, 403)
        # And an exclusive consumer on a queue that has consumers.
        q2 = self.queue("basic-excl-consumer2")
        Collector(self.conn, self.ch, q2)
        ch3 = self.conn.channel()
        with self.assertRaises(PE.ChannelClosedByBroker) as err:
            Collector(self.conn, ch3, q2, exclusive=True)
        self.assertEqual(err.exception.reply_code, 403)
        self.ch.queue_delete(q)
        self.ch.queue_delete(q2)

    def test_cancel_notification_when_queue_deleted(self):
        q = self.queue("basic-cancel-notify")
        cancelled = []
        self.ch.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
        c = Collector(self.conn, self.ch, q)
        other = self.conn.channel()
        other.queue_delete(q)
        deadline = time.time() + 3
        while not cancelled and time.time() < deadline:
            self.conn.process_data_events(time_limit=0.05)
        self.assertEqual(cancelled, [c.tag])
        self.assertTrue(self.ch.is_open)

    # ---------------------------------------------------------------- acknowledgements

    def test_nack_requeue_sets_redelivered(self):
        q = self.queue()
        self.publish(q, "one", "two")
        m, _, body = self.get(q, auto_ack=False)
        self.assertFalse(m.redelivered)
        self.ch.basic_nack(m.delivery_tag, requeue=True)
        m2, _, body2 = self.get(q, auto_ack=False)
        self.assertEqual(body2, b"one")  # back at the head
        self.assertTrue(m2.redelivered)
        self.ch.basic_reject(m2.delivery_tag, requeue=True)
        m3, _, _ = self.get(q, auto_ack=False)
        self.assertTrue(m3.redelivered)
        self.ch.basic_ack(m3.delivery_tag)
        m4, _, body4 = self.get(q, auto_ack=False)
        self.assertEqual((body4, m4.redelivered), (b"two", False))
        self.ch.basic_reject(m4.delivery_tag, requeue=False)
        self.assertEqual(self.count(q), 0)

    def test_channel_close_requeues_unacked_as_redelivered(self):
        q = self.queue()
        self.publish(q, "x", "y", "z")
        ch2 = self.conn.channel()
        c = Collector(self.conn, ch2, q)
        c.wait(3)
        ch2.basic_ack(c.got[0][0].delivery_tag)
        ch2.close()
        self.assertEqual(self.count(q), 2)
        m, _, body = self.get(q)
        self.assertEqual((body, m.redelivered), (b"y", True))
        m, _, body = self.get(q)
        self.assertEqual((body, m.redelivered), (b"z", True))

    def test_ack_nack_multiple(self):
        q = self.queue()
        self.publish(q, *[str(i) for i in range(6)])
        c = Collector(self.conn, self.ch, q)
        c.wait(6)
        tags = [m.delivery_tag for m, _, _ in c.got]
        self.ch.basic_ack(tags[1], multiple=True)  # acks 0 and 1
        self.ch.basic_nack(tags[3], multiple=True, requeue=True)  # 2 and 3 back
        c.wait(8)
        again = [(b, m.redelivered) for m, _, b in c.got[6:]]
        self.assertEqual(again, [(b"2", True), (b"3", True)])
        self.ch.basic_nack(0, multiple=True, requeue=False)  # everything outstanding, dropped
        self.ch.basic_cancel(c.tag)
        self.assertEqual(self.count(q), 0)

    def test_double_ack_is_406(self):
        q = self.queue()
        self.publish(q, "x")
        m, _, _ = self.get(q, auto_ack=False)
        self.ch.basic_ack(m.delivery_tag)
        self.ch.basic_ack(m.delivery_tag)
        with self.assertRaises(PE.ChannelClosedByBroker) as err:
            self.ch.queue_declare("", exclusive=True)
        self.assertEqual(err.exception.reply_code, 406)

    # ---------------------------------------------------------------- prefetch

    def test_prefetch_per_consumer(self):
        q = self.queue()
        self.publish(q, *[str(i) for i in range(10)])
        self.ch.basic_qos(prefetch_count=3)
        c = Collector(self.conn, self.ch, q)
        self.assertEqual(len(c.settle()), 3)
        self.ch.basic_ack(c.got[0][0].delivery_tag)
        self.assertEqual(len(c.settle()), 4)
        self.ch.basic_ack(c.got[-1][0].delivery_tag, multiple=True)
        self.assertEqual(len(c.settle()), 7)

    def test_prefetch_global_per_channel(self):
        q1, q2 = self.queue(), self.queue()
        self.publish(q1, *["a"] * 10)
        self.publish(q2, *["b"] * 10)
        self.ch.basic_qos(prefetch_count=3)  # each consumer
        self.ch.basic_qos(prefetch_count=4, global_qos=True)  # the channel
        c1 = Collector(self.conn, self.ch, q1)
        c2 = Collector(self.conn, self.ch, q2)
        c1.settle()
        c2.settle()
        self.assertEqual(len(c1.got) + len(c2.got), 4)
        self.assertLessEqual(len(c1.got), 3)
        self.assertLessEqual(len(c2.got), 3)
        self.ch.basic_ack(0, multiple=True)
        c1.settle()
        c2.settle()
        self.assertEqual(len(c1.got) + len(c2.got), 8)

    def test_prefetch_size_is_not_implemented(self):
        with self.assertRaises(PE.ConnectionClosedByBroker) as err:
            self.ch.basic_qos(prefetch_size=1000, prefetch_count=1)
        self.assertEqual(err.exception.reply_code, 540)

    def test_busy_consumer_does_not_hold_back_the_others(self):
        q = self.queue("basic-two-consumers")
        slow_conn = pika.BlockingConnection(params(self.port))
        slow_ch = slow_conn.channel()
        slow_ch.basic_qos(prefetch_count=1)
        slow = Collector(slow_conn, slow_ch, q)
        self.ch.basic_qos(prefetch_count=1)
        fast_got = []

        def on_fast(ch, method, props, body):
            fast_got.append(body)
            ch.basic_ack(method.delivery_tag)

        self.ch.basic_consume(q, on_fast)
        pub = self.conn.channel()
        for i in range(30):
            pub.basic_publish("", q, str(i).encode())
        slow.wait(1)  # the slow one takes one message and never acknowledges it
        deadline = time.time() + 5
        while len(fast_got) < 29 and time.time() < deadline:
            self.conn.process_data_events(time_limit=0.05)
            slow_conn.process_data_events(time_limit=0)
        slow.settle(0.1)
        self.assertEqual(len(slow.got), 1)
        self.assertEqual(len(fast_got), 29)
        self.assertEqual(sorted(fast_got + slow.bodies(), key=int), [str(i).encode() for i in range(30)])
        slow_conn.close()
        self.ch.queue_delete(q)

    # ---------------------------------------------------------------- backpressure

    def raw_publisher(self, heartbeat=0):
        r = RawAmqp(self.port)
        r.open(heartbeat=heartbeat)
        r.open_ok()
        r.open_channel(1)
        r.method(1, 85, 10, False)
        r.expect(85, 11)
        return r

    def wait_confirms(self, r, n, timeout=10.0):
        """Reads confirms up to tag n; the last tag confirmed."""
        deadline, acked = time.time() + timeout, 0
        while acked < n and time.time() < deadline:
            try:
                f = r.read_frame(timeout=max(0.01, deadline - time.time()))
            except TimeoutError:
                break
            if f.is_method(60, 80):
                acked = f.args[0]
        return acked

    def test_consumer_holding_its_window_does_not_block_publishers(self):
        # Past the queue's flow mark, a consumer that holds its prefetch window drains
        # nothing: publishers carry on (the queue buffers), as without a consumer.
        q = self.queue("basic-held-window")
        self.ch.basic_qos(prefetch_count=1)
        held = Collector(self.conn, self.ch, q)
        r = self.raw_publisher()
        one = method_frame(1, 60, 40, 0, "", q, False, False) + header_frame(1, 1) + body_frame(1, b"x")
        n = 15000
        r.send(one * n)
        self.assertEqual(self.wait_confirms(r, n), n)
        held.wait(1)
        self.assertEqual(self.count(q), n - 1)
        r.close()
        self.ch.queue_delete(q)

    def test_paused_publisher_is_not_dropped_for_missed_heartbeats(self):
        # A consumer that does not read its socket: its queue passes the flow mark and the
        # publisher is paused with its frames (heartbeats too) waiting unread in the
        # broker's socket; the broker must not take its own pause for the peer's silence.
        q = self.queue("basic-paused-publisher")
        reader = RawAmqp(self.port)
        reader.open()
        reader.open_ok()
        reader.open_channel(1)
        reader.method(1, 60, 20, 0, q, "sink", False, True, False, False, {})
        reader.expect(60, 21)
        r = self.raw_publisher(heartbeat=1)
        one = method_frame(1, 60, 40, 0, "", q, False, False) + header_frame(1, 1024) + body_frame(1, b"p" * 1024)
        n = 30000
        r.send(one * 2000)
        self.assertEqual(self.wait_confirms(r, 2000), 2000)
        # The sender writes through a socket object of its own: a socket's timeout is per
        # object, and sendall fixes its deadline from it when it starts, so on the shared
        # one the reads below (which set short timeouts) could cut the sending short.
        out = socket.socket(fileno=os.dup(r.sock.fileno()))
        out.settimeout(60)
        sender = threading.Thread(target=lambda: out.sendall(one * (n - 2000)))
        sender.start()
        acked = self.wait_confirms(r, n, timeout=3.0)  # paused, past two heartbeat intervals
        self.assertLess(acked, n)
        reader.close()  # the consumer goes: the queue no longer holds the publisher back
        self.assertEqual(self.wait_confirms(r, n), n)
        sender.join()
        out.close()
        self.assertFalse(self.broker.wait_for_log("missed heartbeats", timeout=0.1))
        r.close()
        self.ch.queue_delete(q)

    # ---------------------------------------------------------------- get, recover

    def test_get_and_get_empty(self):
        q = self.queue()
        self.assertEqual(self.get(q), (None, None, None))
        self.publish(q, "1", "2", "3")
        m, _, body = self.get(q, auto_ack=False)
        self.assertEqual((body, m.message_count, m.exchange, m.routing_key), (b"1", 2, "", q))
        m2, _, _ = self.get(q, auto_ack=True)
        self.assertEqual(m2.message_count, 1)
        self.ch.basic_ack(m.delivery_tag)
        self.assertEqual(self.count(q), 1)

    def test_recover_requeues_unacked(self):
        q = self.queue()
        self.publish(q, "r1", "r2")
        c = Collector(self.conn, self.ch, q)
        c.wait(2)
        self.ch.basic_recover(requeue=True)
        c.wait(4)
        self.assertEqual([(b, m.redelivered) for m, _, b in c.got[2:]], [(b"r1", True), (b"r2", True)])
        self.ch.basic_ack(0, multiple=True)

    # ---------------------------------------------------------------- confirms

    def test_confirms_raw(self):
        # Raw frames, to see every basic.ack and its multiple flag.
        c = RawAmqp(self.port)
        c.open()
        c.open_ok()
        c.open_channel(1)
        c.method(1, 85, 10, False)
        c.expect(85, 11)
        c.method(1, 50, 10, 0, "", False, False, True, True, False, {})
        q = c.expect(50, 11).args[0]
        for i in range(20):
            c.method(1, 60, 40, 0, "", q, False, False)
            c.send(header_frame(1, 1) + body_frame(1, b"x"))
        confirmed = set()
        while len(confirmed) < 20:
            f = c.expect(60, 80)
            tag, multiple = f.args
            self.assertNotIn(tag, confirmed)
            confirmed |= set(range(min(confirmed | {tag}) if multiple else tag, tag + 1)) if multiple else {tag}
        self.assertEqual(confirmed, set(range(1, 21)))
        c.close()

    def test_confirms_pika(self):
        q = self.queue()
        self.ch.confirm_delivery()
        for i in range(50):
            self.ch.basic_publish("", q, b"%d" % i, pika.BasicProperties(delivery_mode=2))
        self.assertEqual(self.count(q), 50)

    # ---------------------------------------------------------------- properties and bodies

    def test_all_properties_and_header_types_round_trip(self):
        q = self.queue()
        ts = datetime.datetime(2024, 5, 6, 7, 8, 9)
        headers = {
            "str": "text ü", "int": 42, "neg": -7, "big": 2 ** 40, "true": True, "false": False,
            "dec": decimal.Decimal("3.14"), "when": ts, "table": {"inner": "v", "deeper": {"n": 1}},
            "array": [1, "two", [3], {"four": 4}], "bytes": b"\x00\x01\xff", "none": None, "empty": "",
        }
        props = pika.BasicProperties(
            content_type="application/json", content_encoding="gzip", headers=headers, delivery_mode=2,
            priority=7, correlation_id="corr-1", reply_to="reply.q", expiration="60000", message_id="msg-1",
            timestamp=1700000000, type="kind", user_id="guest", app_id="tests", cluster_id="c1")
        self.ch.basic_publish("", q, b"{}", props)
        _, got, body = self.get(q)
        self.assertEqual(body, b"{}")
        for name in ("content_type", "content_encoding", "delivery_mode", "priority", "correlation_id", "reply_to",
                     "expiration", "message_id", "timestamp", "type", "user_id", "app_id", "cluster_id"):
            self.assertEqual(getattr(got, name), getattr(props, name), name)
        self.assertEqual(got.headers, headers)

    def test_no_properties(self):
        q = self.queue()
        self.ch.basic_publish("", q, b"bare")
        _, got, body = self.get(q)
        for name in ("content_type", "headers", "delivery_mode", "expiration", "message_id", "timestamp"):
            self.assertIsNone(getattr(got, name), name)
        self.assertEqual(body, b"bare")

    def test_empty_body(self):
        q = self.queue()
        self.ch.basic_publish("", q, b"")
        _, _, body = self.get(q)
        self.assertEqual(body, b"")

    def test_user_id_must_match_the_login(self):
        q = self.queue()
        with self.assertRaises(PE.ChannelClosedByBroker) as err:
            self.ch.basic_publish("", q, b"x", pika.BasicProperties(user_id="someone-else"))
            self.ch.queue_declare("", exclusive=True)
        self.assertEqual(err.exception.reply_code, 406)

    def test_five_mib_body(self):
        q = self.queue()
        body = bytes(i * 7 % 251 for i in range(5 * 1024 * 1024))
        self.ch.basic_publish("", q, body)
        _, _, got = self.get(q)
        self.assertEqual(got, body)
        c = Collector(self.conn, self.ch, q, auto_ack=True)
        self.ch.basic_publish("", q, body)
        c.wait(1, timeout=10)
        self.assertEqual(c.got[0][2], body)

    # ---------------------------------------------------------------- TTL, limits, expiry

    def test_per_message_ttl(self):
        q = self.queue()
        self.publish(q, "short", expiration="50")
        self.publish(q, "long", expiration="60000")
        time.sleep(0.3)
        m, props, body = self.get(q)
        self.assertEqual(body, b"long")
        self.assertEqual(props.expiration, "60000")
        self.assertEqual(self.get(q), (None, None, None))

    def test_invalid_expiration_is_406(self):
        q = self.queue()
        with self.assertRaises(PE.ChannelClosedByBroker) as err:
            self.publish(q, "x", expiration="soon")
            self.ch.queue_declare("", exclusive=True)
        self.assertEqual(err.exception.reply_code, 406)

    def test_per_queue_ttl(self):
        q = self.queue(arguments={"x-message-ttl": 100})
        self.publish(q, "a", "b")
        self.assertEqual(self.count(q), 2)
        time.sleep(0.5)
        self.assertEqual(self.count(q), 0)
        self.assertEqual(self.get(q), (None, None, None))

    def test_max_length_drop_head(self):
        q = self.queue(arguments={"x-max-length": 3})
        self.publish(q, *[str(i) for i in range(6)])
        self.assertEqual([self.get(q)[2] for _ in range(3)], [b"3", b"4", b"5"])

    def test_max_length_bytes(self):
        q = self.queue(arguments={"x-max-length-bytes": 10})
        self.publish(q, "aaaa", "bbbb", "cccc")
        self.assertEqual(self.count(q), 2)
        self.assertEqual([self.get(q)[2] for _ in range(2)], [b"bbbb", b"cccc"])

    def test_reject_publish_nacks(self):
        q = self.queue(arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
        self.ch.confirm_delivery()
        self.publish(q, "1", "2")
        with self.assertRaises(PE.NackError):
            self.publish(q, "3")
        self.assertEqual([self.get(q)[2] for _ in range(2)], [b"1", b"2"])
        self.publish(q, "4")  # room again
        self.assertEqual(self.get(q)[2], b"4")

    def test_queue_expires(self):
        self.ch.queue_declare("basic-expiring", arguments={"x-expires": 200})
        self.ch.queue_declare("basic-expiring", passive=True)
        time.sleep(0.8)
        with self.assertRaises(PE.ChannelClosedByBroker) as err:
            self.ch.queue_declare("basic-expiring", passive=True)
        self.assertEqual(err.exception.reply_code, 404)

    def test_queue_with_consumer_does_not_expire(self):
        self.ch.queue_declare("basic-expiring2", arguments={"x-expires": 200})
        c = Collector(self.conn, self.ch, "basic-expiring2")
        c.settle(0.8)
        self.ch.queue_declare("basic-expiring2", passive=True)
        self.ch.queue_delete("basic-expiring2")

    # ---------------------------------------------------------------- dead-lettering

    def dlx_setup(self, **args):
        self.ch.exchange_declare("basic.dlx", "direct")
        dlq = self.queue()
        self.ch.queue_bind(dlq, "basic.dlx", args.pop("bind_key", "src-key"))
        arguments = {"x-dead-letter-exchange": "basic.dlx"}
        arguments.update(args)
        src = self.ch.queue_declare("basic-dl-" + self._testMethodName, arguments=arguments).method.queue
        self.addCleanup(self.delete_queue, src)
        self.ch.queue_bind(src, "amq.direct", "src-key")
        return src, dlq

    def delete_queue(self, q):
        with pika.BlockingConnection(params(self.port)) as conn:
            conn.channel().queue_delete(q)

    def wait_get(self, q, timeout=3.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.get(q)
            if got[0] is not None:
                return got
            time.sleep(0.05)
        self.fail(f"nothing arrived in {q}")

    def check_death(self, props, reason, queue, count=1, exchange="amq.direct", keys=("src-key",)):
        deaths = props.headers["x-death"]
        d = deaths[0]
        self.assertEqual(d["reason"], reason)
        self.assertEqual(d["queue"], queue)
        self.assertEqual(d["count"], count)
        self.assertEqual(d["exchange"], exchange)
        self.assertEqual(d["routing-keys"], list(keys))
        self.assertIsInstance(d["time"], datetime.datetime)
        self.assertEqual(props.headers["x-first-death-reason"], reason)
        self.assertEqual(props.headers["x-first-death-queue"], queue)
        self.assertEqual(props.headers["x-first-death-exchange"], exchange)

    def test_dead_letter_rejected(self):
        src, dlq = self.dlx_setup()
        self.publish("src-key", "bad", exchange="amq.direct", headers={"keep": "me"}, message_id="m-9")
        m, _, _ = self.get(src, auto_ack=False)
        self.ch.basic_reject(m.delivery_tag, requeue=False)
        m, props, body = self.wait_get(dlq)
        self.assertEqual(body, b"bad")
        self.assertEqual((m.exchange, m.routing_key), ("basic.dlx", "src-key"))
        self.assertEqual(props.message_id, "m-9")
        self.assertEqual(props.headers["keep"], "me")
        self.check_death(props, "rejected", src)

    def test_dead_letter_expired(self):
        src, dlq = self.dlx_setup(**{"x-message-ttl": 50})
        self.publish("src-key", "old", exchange="amq.direct")
        _, props, body = self.wait_get(dlq)
        self.assertEqual(body, b"old")
        self.check_death(props, "expired", src)

    def test_dead_letter_per_message_expiry_keeps_original_expiration(self):
        src, dlq = self.dlx_setup()
        self.publish("src-key", "old", exchange="amq.direct", expiration="30")
        _, props, body = self.wait_get(dlq)
        self.check_death(props, "expired", src)
        self.assertEqual(props.headers["x-death"][0]["original-expiration"], "30")
        self.assertIsNone(props.expiration)

    def test_dead_letter_maxlen_with_routing_key(self):
        src, dlq = self.dlx_setup(**{"x-max-length": 1, "x-dead-letter-routing-key": "dl-key", "bind_key": "dl-key"})
        self.publish("src-key", "first", "second", exchange="amq.direct")
        m, props, body = self.wait_get(dlq)
        self.assertEqual(body, b"first")
        self.assertEqual(m.routing_key, "dl-key")
        self.check_death(props, "maxlen", src)
        self.assertEqual(self.get(src)[2], b"second")

    def test_dead_letter_count_grows(self):
        # A cycle: src dead-letters to the dlx, whose queue is src itself (via the key).
        self.ch.exchange_declare("basic.dlx2", "direct")
        src = self.ch.queue_declare("basic-dl-cycle", arguments={"x-dead-letter-exchange": "basic.dlx2"}).method.queue
        self.addCleanup(self.delete_queue, src)
        self.ch.queue_bind(src, "basic.dlx2", src)
        self.publish(src, "loop")
        for n in (1, 2, 3):
            m, _, _ = self.wait_get_noack(src)
            self.ch.basic_reject(m.delivery_tag, requeue=False)
        _, props, _ = self.get(src)
        deaths = props.headers["x-death"]
        self.assertEqual(len(deaths), 1)
        self.assertEqual((deaths[0]["count"], deaths[0]["reason"], deaths[0]["queue"]), (3, "rejected", src))
        self.assertEqual(props.headers["x-first-death-exchange"], "")

    def wait_get_noack(self, q):
        deadline = time.time() + 3
        while time.time() < deadline:
            got = self.get(q, auto_ack=False)
            if got[0] is not None:
                return got
            time.sleep(0.05)
        self.fail("nothing arrived")


if __name__ == "__main__":
    unittest.main()
