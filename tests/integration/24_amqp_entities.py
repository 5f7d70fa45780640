#!/usr/bin/python3
"""AMQP 0-9-1 exchanges, queues and bindings (the exchange and queue classes): declare
with every flag, passive declares, equivalence checks (406), reserved names (403),
the pre-declared exchanges and the default exchange, bind / unbind, purge, delete with
if-unused / if-empty."""
import pika

from harness import *

PE = pika.exceptions


def params(port):
    return pika.ConnectionParameters(host="127.0.0.1", port=port)


class AmqpEntities(BrokerTestCase):
    config = amqp_config()

    def setUp(self):
        self.conn = pika.BlockingConnection(params(self.port))
        self.ch = self.conn.channel()

    def tearDown(self):
        if self.conn.is_open:
            self.conn.close()

    def channel_error(self, code, action, conn=None):
        ch = (conn or self.conn).channel()
        with self.assertRaises(PE.ChannelClosedByBroker) as err:
            action(ch)
            ch.queue_declare("", exclusive=True)  # errors of async methods arrive here
        self.assertEqual(err.exception.reply_code, code, err.exception.reply_text)
        self.assertTrue((conn or self.conn).is_open)

    def temp_queue(self, ch=None):
        return (ch or self.ch).queue_declare("", exclusive=True).method.queue

    def get_all(self, q, ch=None):
        out = []
        while True:
            m, props, body = (ch or self.ch).basic_get(q, auto_ack=True)
            if m is None:
                return out
            out.append(body)

    # ---------------------------------------------------------------- exchanges

    def test_direct_fanout_topic(self):
        ch = self.ch
        ch.exchange_declare("ent.direct", "direct")
        ch.exchange_declare("ent.fanout", "fanout")
        ch.exchange_declare("ent.topic", "topic")
        q1, q2 = self.temp_queue(), self.temp_queue()
        ch.queue_bind(q1, "ent.direct", "red")
        ch.queue_bind(q2, "ent.direct", "blue")
        ch.queue_bind(q1, "ent.fanout", "ignored")
        ch.queue_bind(q2, "ent.fanout")
        ch.queue_bind(q1, "ent.topic", "a.*.c")
        ch.queue_bind(q2, "ent.topic", "a.#")
        ch.basic_publish("ent.direct", "red", b"d-red")
        ch.basic_publish("ent.direct", "blue", b"d-blue")
        ch.basic_publish("ent.direct", "green", b"d-green")
        ch.basic_publish("ent.fanout", "whatever", b"f")
        ch.basic_publish("ent.topic", "a.b.c", b"t-abc")
        ch.basic_publish("ent.topic", "a.b.c.d", b"t-abcd")
        ch.basic_publish("ent.topic", "x.b.c", b"t-x")
        self.assertEqual(self.get_all(q1), [b"d-red", b"f", b"t-abc"])
        self.assertEqual(self.get_all(q2), [b"d-blue", b"f", b"t-abc", b"t-abcd"])
        for name in ("ent.direct", "ent.fanout", "ent.topic"):
            ch.exchange_delete(name)

    def test_topic_wildcards(self):
        ch = self.ch
        ch.exchange_declare("ent.topic2", "topic")
        q = self.temp_queue()
        ch.queue_bind(q, "ent.topic2", "*.orange.*")
        ch.queue_bind(q, "ent.topic2", "lazy.#")
        ch.queue_bind(q, "ent.topic2", "#.end")
        for key in ("quick.orange.rabbit", "lazy", "lazy.a.b.c", "x.end", "end", "quick.orange",
                    "orange", "a.orange.b.c", "lazy.orange.male.rabbit"):
            ch.basic_publish("ent.topic2", key, key.encode())
        self.assertEqual(self.get_all(q), [b"quick.orange.rabbit", b"lazy", b"lazy.a.b.c", b"x.end", b"end",
                                           b"lazy.orange.male.rabbit"])
        ch.exchange_delete("ent.topic2")

    def test_empty_routing_key_is_zero_words(self):
        # As RabbitMQ: "" has no word, so '*' (exactly one) does not match it, '#' and ""
        # do; "." is two empty words.
        ch = self.ch
        ch.exchange_declare("ent.topic3", "topic")
        queues = {}
        for key in ("*", "#", "", "*.*", "#.*"):
            queues[key] = self.temp_queue()
            ch.queue_bind(queues[key], "ent.topic3", key)
        for rk in ("", "a", "."):
            ch.basic_publish("ent.topic3", rk, (rk or "<empty>").encode())
        got = {key: self.get_all(q) for key, q in queues.items()}
        self.assertEqual(got, {"*": [b"a"], "#": [b"<empty>", b"a", b"."], "": [b"<empty>"], "*.*": [b"."],
                               "#.*": [b"a", b"."]})
        ch.exchange_delete("ent.topic3")

    def test_passive_exchange(self):
        self.ch.exchange_declare("ent.passive", "fanout")
        self.ch.exchange_declare("ent.passive", passive=True)
        self.channel_error(404, lambda ch: ch.exchange_declare("ent.missing", passive=True))
        self.ch.exchange_delete("ent.passive")

    def test_redeclare_exchange_needs_equivalence(self):
        self.ch.exchange_declare("ent.eq", "direct", durable=False)
        self.ch.exchange_declare("ent.eq", "direct", durable=False)  # same: fine
        self.channel_error(406, lambda ch: ch.exchange_declare("ent.eq", "fanout"))
        self.channel_error(406, lambda ch: ch.exchange_declare("ent.eq", "direct", durable=True))
        self.channel_error(406, lambda ch: ch.exchange_declare("ent.eq", "direct", auto_delete=True))
        self.ch.exchange_delete("ent.eq")

    def test_unknown_exchange_type_is_a_connection_error(self):
        conn = pika.BlockingConnection(params(self.port))
        with self.assertRaises(PE.ConnectionClosedByBroker) as err:
            conn.channel().exchange_declare("ent.weird", "no-such-type")
        self.assertEqual(err.exception.reply_code, 503)

    def test_reserved_and_default_exchange(self):
        self.channel_error(403, lambda ch: ch.exchange_declare("amq.custom", "direct"))
        self.channel_error(403, lambda ch: ch.exchange_delete("amq.direct"))
        self.channel_error(403, lambda ch: ch.queue_bind(self.temp_queue(ch), "", "k"))
        for name, kind in (("amq.direct", "direct"), ("amq.fanout", "fanout"), ("amq.topic", "topic")):
            self.ch.exchange_declare(name, passive=True)
            self.ch.exchange_declare(name, kind, durable=True)
            self.channel_error(406, lambda ch: ch.exchange_declare(name, kind, durable=False))

    def test_predeclared_exchanges_route(self):
        q = self.temp_queue()
        self.ch.queue_bind(q, "amq.direct", "k1")
        self.ch.queue_bind(q, "amq.fanout")
        self.ch.queue_bind(q, "amq.topic", "s.*")
        self.ch.basic_publish("amq.direct", "k1", b"1")
        self.ch.basic_publish("amq.direct", "k2", b"no")
        self.ch.basic_publish("amq.fanout", "", b"2")
        self.ch.basic_publish("amq.topic", "s.x", b"3")
        self.ch.basic_publish("amq.topic", "s.x.y", b"no")
        self.assertEqual(self.get_all(q), [b"1", b"2", b"3"])
        self.ch.queue_unbind(q, "amq.fanout")

    def test_default_exchange(self):
        q = self.temp_queue()
        self.ch.basic_publish("", q, b"direct to queue")
        self.ch.basic_publish("", "ent-no-such-queue", b"lost")
        m, _, body = self.ch.basic_get(q, auto_ack=True)
        self.assertEqual(body, b"direct to queue")
        self.assertEqual(m.exchange, "")
        self.assertEqual(m.routing_key, q)
        self.channel_error(403, lambda ch: ch.exchange_declare("", "direct"))

    def test_exchange_delete(self):
        ch = self.ch
        ch.exchange_declare("ent.del", "fanout")
        q = self.temp_queue()
        ch.queue_bind(q, "ent.del")
        self.channel_error(406, lambda c: c.exchange_delete("ent.del", if_unused=True))
        ch.exchange_delete("ent.del")
        self.channel_error(404, lambda c: c.exchange_declare("ent.del", passive=True))
        # Deleting what is not there is fine (RabbitMQ 3.x).
        ch.exchange_delete("ent.del")
        ch.exchange_declare("ent.del", "fanout")
        ch.exchange_delete("ent.del", if_unused=True)

    def test_auto_delete_exchange_goes_with_its_last_binding(self):
        ch = self.ch
        ch.exchange_declare("ent.auto", "fanout", auto_delete=True)
        ch.exchange_declare("ent.auto", passive=True)  # no binding yet: still there
        q1, q2 = self.temp_queue(), self.temp_queue()
        ch.queue_bind(q1, "ent.auto")
        ch.queue_bind(q2, "ent.auto")
        ch.queue_unbind(q1, "ent.auto")
        ch.exchange_declare("ent.auto", passive=True)
        ch.queue_delete(q2)
        self.channel_error(404, lambda c: c.exchange_declare("ent.auto", passive=True))

    def test_internal_exchange(self):
        ch = self.ch
        ch.exchange_declare("ent.internal", "fanout", internal=True)
        ch.exchange_declare("ent.internal", "fanout", internal=True)
        self.channel_error(406, lambda c: c.exchange_declare("ent.internal", "fanout", internal=False))
        self.channel_error(403, lambda c: c.basic_publish("ent.internal", "", b"x"))
        ch.exchange_delete("ent.internal")

    # ---------------------------------------------------------------- queues

    def test_named_and_server_named_queues(self):
        ok = self.ch.queue_declare("ent-named").method
        self.assertEqual((ok.queue, ok.message_count, ok.consumer_count), ("ent-named", 0, 0))
        gen = self.ch.queue_declare("").method.queue
        self.assertTrue(gen.startswith("amq.gen-"), gen)
        self.assertGreater(len(gen), len("amq.gen-") + 10)
        self.assertNotEqual(gen, self.ch.queue_declare("").method.queue)
        self.channel_error(403, lambda c: c.queue_declare("amq.mine"))
        self.ch.queue_delete("ent-named")
        self.ch.queue_delete(gen)

    def test_declare_ok_counts(self):
        q = "ent-counts"
        self.ch.queue_declare(q)
        for i in range(3):
            self.ch.basic_publish("", q, b"m%d" % i)
        other = self.conn.channel()
        other.basic_consume(q, lambda *a: None)
        other.basic_consume(q, lambda *a: None)
        # Unacknowledged deliveries are not counted as ready messages.
        self.conn.process_data_events(0.2)
        ok = self.ch.queue_declare(q, passive=True).method
        self.assertEqual((ok.message_count, ok.consumer_count), (0, 2))
        other.close()
        ok = self.ch.queue_declare(q, passive=True).method
        self.assertEqual((ok.message_count, ok.consumer_count), (3, 0))
        self.assertEqual(self.ch.queue_declare(q).method.message_count, 3)
        self.ch.queue_delete(q)

    def test_passive_queue(self):
        self.ch.queue_declare("ent-passive")
        self.ch.queue_declare("ent-passive", passive=True)
        self.channel_error(404, lambda c: c.queue_declare("ent-missing", passive=True))
        self.ch.queue_delete("ent-passive")

    def test_redeclare_queue_needs_equivalence(self):
        self.ch.queue_declare("ent-qeq", durable=True, arguments={"x-max-length": 10})
        self.ch.queue_declare("ent-qeq", durable=True, arguments={"x-max-length": 10})
        self.channel_error(406, lambda c: c.queue_declare("ent-qeq", durable=False, arguments={"x-max-length": 10}))
        self.channel_error(406, lambda c: c.queue_declare("ent-qeq", durable=True, auto_delete=True,
                                                          arguments={"x-max-length": 10}))
        self.channel_error(406, lambda c: c.queue_declare("ent-qeq", durable=True))
        self.channel_error(406, lambda c: c.queue_declare("ent-qeq", durable=True, arguments={"x-max-length": 11}))
        self.ch.queue_delete("ent-qeq")

    def test_invalid_queue_arguments(self):
        self.channel_error(406, lambda c: c.queue_declare("ent-badarg", arguments={"x-max-length": "ten"}))
        self.channel_error(406, lambda c: c.queue_declare("ent-badarg", arguments={"x-message-ttl": -1}))
        self.channel_error(406, lambda c: c.queue_declare("ent-badarg", arguments={"x-overflow": "sideways"}))
        self.channel_error(404, lambda c: c.queue_declare("ent-badarg", passive=True))

    def test_exclusive_queue(self):
        q = self.ch.queue_declare("ent-excl", exclusive=True).method.queue
        other = pika.BlockingConnection(params(self.port))
        self.channel_error(405, lambda c: c.queue_declare(q, passive=True), conn=other)
        self.channel_error(405, lambda c: c.queue_delete(q), conn=other)
        self.channel_error(405, lambda c: c.queue_purge(q), conn=other)
        self.channel_error(405, lambda c: c.queue_bind(q, "amq.fanout"), conn=other)
        self.ch.basic_publish("", q, b"x")
        # The owner sees it; after the owner closes, the queue is gone.
        self.ch.queue_declare(q, exclusive=True)
        self.conn.close()
        self.channel_error(404, lambda c: c.queue_declare(q, passive=True), conn=other)
        other.channel().queue_declare(q, exclusive=True)  # the name is free again
        other.close()

    def test_exclusive_redeclared_non_exclusive_by_owner(self):
        q = self.ch.queue_declare("ent-excl2", exclusive=True).method.queue
        self.channel_error(405, lambda c: c.queue_declare(q))
        self.ch.queue_delete(q)

    def test_auto_delete_queue(self):
        ch = self.ch
        ch.queue_declare("ent-auto", auto_delete=True)
        ch.queue_declare("ent-auto", passive=True)  # never had a consumer: stays
        c1 = ch.basic_consume("ent-auto", lambda *a: None)
        c2 = ch.basic_consume("ent-auto", lambda *a: None)
        ch.basic_cancel(c1)
        ch.queue_declare("ent-auto", passive=True)
        ch.basic_cancel(c2)
        self.channel_error(404, lambda c: c.queue_declare("ent-auto", passive=True))

    def test_auto_delete_queue_goes_when_consumer_channel_closes(self):
        ch2 = self.conn.channel()
        self.ch.queue_declare("ent-auto2", auto_delete=True)
        ch2.basic_consume("ent-auto2", lambda *a: None)
        ch2.close()
        self.channel_error(404, lambda c: c.queue_declare("ent-auto2", passive=True))

    # ---------------------------------------------------------------- bindings, purge, delete

    def test_bind_unbind(self):
        ch = self.ch
        ch.exchange_declare("ent.b", "direct")
        q = self.temp_queue()
        ch.queue_bind(q, "ent.b", "k")
        ch.queue_bind(q, "ent.b", "k")  # twice is once
        ch.basic_publish("ent.b", "k", b"1")
        self.assertEqual(self.get_all(q), [b"1"])
        ch.queue_unbind(q, "ent.b", "k")
        ch.basic_publish("ent.b", "k", b"2")
        self.assertEqual(self.get_all(q), [])
        ch.queue_unbind(q, "ent.b", "k")  # not bound: still fine
        self.channel_error(404, lambda c: c.queue_bind(q, "ent.nope", "k"))
        self.channel_error(404, lambda c: c.queue_bind("ent-nope", "ent.b", "k"))
        ch.exchange_delete("ent.b")

    def test_purge(self):
        q = self.temp_queue()
        for i in range(5):
            self.ch.basic_publish("", q, b"x")
        self.assertEqual(self.ch.queue_purge(q).method.message_count, 5)
        self.assertEqual(self.ch.queue_declare(q, passive=True).method.message_count, 0)
        self.channel_error(404, lambda c: c.queue_purge("ent-nope"))

    def test_delete_if_unused_and_if_empty(self):
        ch = self.ch
        ch.queue_declare("ent-del")
        ch.basic_publish("", "ent-del", b"x")
        ch.basic_publish("", "ent-del", b"y")
        self.channel_error(406, lambda c: c.queue_delete("ent-del", if_empty=True))
        tag = ch.basic_consume("ent-del", lambda *a: None, auto_ack=True)
        self.conn.process_data_events(0.2)
        self.channel_error(406, lambda c: c.queue_delete("ent-del", if_unused=True))
        ch.basic_cancel(tag)
        ch.queue_delete("ent-del", if_unused=True, if_empty=True)
        self.channel_error(404, lambda c: c.queue_declare("ent-del", passive=True))
        ch.queue_declare("ent-del2")
        for _ in range(4):
            ch.basic_publish("", "ent-del2", b"x")
        self.assertEqual(ch.queue_delete("ent-del2").method.message_count, 4)
        self.assertEqual(ch.queue_delete("ent-del2").method.message_count, 0)

    def test_deleted_queue_loses_its_bindings(self):
        ch = self.ch
        ch.queue_declare("ent-rebind")
        ch.queue_bind("ent-rebind", "amq.direct", "rebind")
        ch.queue_delete("ent-rebind")
        ch.queue_declare("ent-rebind")
        ch.basic_publish("amq.direct", "rebind", b"x")
        self.assertEqual(ch.queue_declare("ent-rebind", passive=True).method.message_count, 0)
        ch.queue_delete("ent-rebind")


if __name__ == "__main__":
    unittest.main()
