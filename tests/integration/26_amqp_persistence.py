#!/usr/bin/python3
"""AMQP durability across restarts: durable exchanges, queues and bindings and the
persistent messages in durable queues survive a clean stop and a SIGKILL; transient
messages, non-durable queues and exchanges and exclusive queues do not; a message the
broker confirmed is never lost."""
import time

import pika

from amqp_raw import RawAmqp, body_frame, header_frame, method_frame
from harness import *

PE = pika.exceptions


class AmqpPersistence(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(config=amqp_config()).start()

    def tearDown(self):
        code = self.broker.stop()
        text = self.broker.log_text()
        self.broker.tmp.cleanup()
        if "AddressSanitizer" in text or "runtime error:" in text:
            self.fail("sanitizer report in broker log:\n" + text)
        self.assertIn(code, (0, None), text[-4000:])

    def connect(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=self.broker.port))
        return conn, conn.channel()

    def define(self):
        conn, ch = self.connect()
        ch.exchange_declare("p.durable", "topic", durable=True)
        ch.exchange_declare("p.transient", "fanout", durable=False)
        ch.queue_declare("p-durable", durable=True, arguments={"x-max-length": 100})
        ch.queue_declare("p-transient", durable=False)
        ch.queue_declare("p-exclusive", durable=True, exclusive=True)
        ch.queue_bind("p-durable", "p.durable", "sensor.*")
        ch.confirm_delivery()
        persistent = pika.BasicProperties(delivery_mode=2, message_id="keep", headers={"h": 1})
        for i in range(3):
            ch.basic_publish("p.durable", "sensor.%d" % i, b"persistent-%d" % i, persistent)
        ch.basic_publish("p.durable", "sensor.x", b"transient", pika.BasicProperties(delivery_mode=1))
        ch.basic_publish("", "p-transient", b"gone", persistent)
        return conn

    def check_survivors(self):
        conn, ch = self.connect()
        ok = ch.queue_declare("p-durable", passive=True).method
        self.assertEqual(ok.message_count, 3)
        got = []
        for _ in range(3):
            m, props, body = ch.basic_get("p-durable", auto_ack=True)
            got.append(body)
            self.assertEqual((m.exchange, props.delivery_mode, props.message_id, props.headers),
                             ("p.durable", 2, "keep", {"h": 1}))
        self.assertEqual(got, [b"persistent-0", b"persistent-1", b"persistent-2"])
        # The binding came back with the exchange and the queue.
        ch.basic_publish("p.durable", "sensor.after", b"after")
        self.assertEqual(ch.basic_get("p-durable", auto_ack=True)[2], b"after")
        # So did the queue's arguments: an equal declare is fine, another is 406.
        ch.queue_declare("p-durable", durable=True, arguments={"x-max-length": 100})
        with self.assertRaises(PE.ChannelClosedByBroker) as err:
            ch.queue_declare("p-durable", durable=True, arguments={"x-max-length": 5})
        self.assertEqual(err.exception.reply_code, 406)
        for missing in ("p-transient", "p-exclusive"):
            ch = conn.channel()
            with self.assertRaises(PE.ChannelClosedByBroker) as err:
                ch.queue_declare(missing, passive=True)
            self.assertEqual(err.exception.reply_code, 404, missing)
        ch = conn.channel()
        with self.assertRaises(PE.ChannelClosedByBroker) as err:
            ch.exchange_declare("p.transient", passive=True)
        self.assertEqual(err.exception.reply_code, 404)
        conn.channel().exchange_declare("p.durable", "topic", durable=True)
        conn.close()

    def test_clean_restart(self):
        self.define().close()
        self.broker.restart()
        self.check_survivors()

    def test_sigkill(self):
        conn = self.define()
        self.broker.kill()
        self.broker.start()
        self.check_survivors()
        try:
            conn.close()
        except Exception:
            pass

    def test_deleted_entities_stay_deleted(self):
        conn, ch = self.connect()
        ch.exchange_declare("p.gone", "direct", durable=True)
        ch.queue_declare("p-gone", durable=True)
        ch.queue_declare("p-kept", durable=True)
        ch.queue_bind("p-kept", "amq.direct", "k")
        ch.queue_bind("p-kept", "p.gone", "k")
        ch.queue_unbind("p-kept", "amq.direct", "k")
        ch.exchange_delete("p.gone")
        ch.queue_delete("p-gone")
        conn.close()
        self.broker.restart()
        conn, ch = self.connect()
        ch.basic_publish("amq.direct", "k", b"x")
        self.assertEqual(ch.queue_declare("p-kept", passive=True).method.message_count, 0)
        for check in (lambda c: c.queue_declare("p-gone", passive=True),
                      lambda c: c.exchange_declare("p.gone", passive=True)):
            c = conn.channel()
            with self.assertRaises(PE.ChannelClosedByBroker) as err:
                check(c)
            self.assertEqual(err.exception.reply_code, 404)
        conn.close()

    def test_unacked_messages_survive(self):
        conn, ch = self.connect()
        ch.queue_declare("p-unacked", durable=True)
        ch.confirm_delivery()
        for i in range(5):
            ch.basic_publish("", "p-unacked", b"%d" % i, pika.BasicProperties(delivery_mode=2))
        got = [ch.basic_get("p-unacked", auto_ack=False) for _ in range(3)]
        ch.basic_ack(got[0][0].delivery_tag)
        ch.queue_declare("p-unacked", passive=True)  # a round trip: the ack has been read
        conn.close()
        self.broker.restart()
        conn, ch = self.connect()
        bodies = []
        while True:
            m, _, body = ch.basic_get("p-unacked", auto_ack=True)
            if m is None:
                break
            bodies.append(body)
        self.assertEqual(sorted(bodies), [b"1", b"2", b"3", b"4"])
        conn.close()

    def test_delivered_but_unacked_come_back_redelivered(self):
        conn, ch = self.connect()
        ch.queue_declare("p-redelivered", durable=True)
        ch.confirm_delivery()
        for i in range(4):
            ch.basic_publish("", "p-redelivered", b"%d" % i, pika.BasicProperties(delivery_mode=2))
        ch.basic_get("p-redelivered", auto_ack=False)  # 0 by basic.get
        got = []
        ch.basic_qos(prefetch_count=1)
        ch.basic_consume("p-redelivered", lambda c, m, p, b: got.append(b))  # 1 by a consumer
        deadline = time.time() + 3
        while not got and time.time() < deadline:
            conn.process_data_events(time_limit=0.05)
        # A clean stop: the store writes "sent" behind the delivery, so a SIGKILL right
        # after it may lose the mark (then the copy comes back without the flag).
        self.broker.restart()
        conn, ch = self.connect()
        flags = []
        for _ in range(4):
            m, _, body = ch.basic_get("p-redelivered", auto_ack=True)
            flags.append((body, m.redelivered))
        self.assertEqual(flags, [(b"0", True), (b"1", True), (b"2", False), (b"3", False)])
        conn.close()

    def test_queue_ttl_still_applies_after_restart(self):
        conn, ch = self.connect()
        ch.queue_declare("p-ttl", durable=True, arguments={"x-message-ttl": 300})
        ch.confirm_delivery()
        ch.basic_publish("", "p-ttl", b"short-lived", pika.BasicProperties(delivery_mode=2))
        conn.close()
        self.broker.restart()
        conn, ch = self.connect()
        deadline = time.time() + 5
        while ch.queue_declare("p-ttl", passive=True, durable=True).method.message_count and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(ch.queue_declare("p-ttl", passive=True, durable=True).method.message_count, 0)
        self.assertEqual(ch.basic_get("p-ttl")[0], None)
        conn.close()

    def test_purged_and_recreated_queues_stay_empty(self):
        conn, ch = self.connect()
        ch.confirm_delivery()
        persistent = pika.BasicProperties(delivery_mode=2)
        ch.queue_declare("p-purged", durable=True)
        ch.queue_declare("p-recreated", durable=True)
        ch.queue_declare("p-capped", durable=True, arguments={"x-max-length": 2})
        for i in range(3):
            for q in ("p-purged", "p-recreated", "p-capped"):
                ch.basic_publish("", q, b"%d" % i, persistent)
        ch.queue_purge("p-purged")
        ch.queue_delete("p-recreated")
        ch.queue_declare("p-recreated", durable=True)
        ch.basic_publish("", "p-recreated", b"new", persistent)
        conn.close()
        self.broker.kill()
        self.broker.start()
        conn, ch = self.connect()
        self.assertEqual(ch.queue_declare("p-purged", passive=True).method.message_count, 0)
        self.assertEqual(ch.queue_declare("p-recreated", passive=True).method.message_count, 1)
        self.assertEqual(ch.basic_get("p-recreated", auto_ack=True)[2], b"new")
        self.assertEqual([ch.basic_get("p-capped", auto_ack=True)[2] for _ in range(2)], [b"1", b"2"])
        self.assertEqual(ch.queue_declare("p-capped", passive=True).method.message_count, 0)
        conn.close()

    def test_confirmed_messages_are_never_lost(self):
        n = 2000
        c = RawAmqp(self.broker.port)
        c.open()
        c.open_ok()
        c.open_channel(1)
        c.method(1, 50, 10, 0, "p-confirmed", False, True, False, False, False, {})
        c.expect(50, 11)
        c.method(1, 85, 10, False)
        c.expect(85, 11)
        # Persistent messages (delivery-mode 2: flags bit 12), pipelined.
        props = bytes([2])
        batch = b""
        for i in range(n):
            batch += method_frame(1, 60, 40, 0, "", "p-confirmed", False, False) + header_frame(1, 8, flags=1 << 12, props=props) + \
                body_frame(1, b"%08d" % i)
        c.send(batch)
        confirmed = 0
        try:
            while confirmed < n:
                confirmed = c.expect(60, 80, timeout=20).args[0]  # acks only, never a nack
        except AssertionError:
            print(f"\nconfirmed through {confirmed}; broker log:\n" + self.broker.log_text()[-6000:])
            raise
        self.broker.kill()
        c.close()
        self.broker.start()
        conn, ch = self.connect()
        self.assertEqual(ch.queue_declare("p-confirmed", passive=True, durable=True).method.message_count, n)
        m, _, body = ch.basic_get("p-confirmed", auto_ack=True)
        self.assertEqual(body, b"00000000")
        conn.close()


if __name__ == "__main__":
    unittest.main()
