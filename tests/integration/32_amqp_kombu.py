#!/usr/bin/python3
"""kombu (Debian's python3-kombu over py-amqp, the transport Celery uses) against the
broker: declarations through kombu's entities, JSON messages through a topic exchange,
acks and requeues, SimpleQueue, AMQPLAIN and PLAIN logins, and a durable queue that keeps
persistent messages across a restart."""
import socket
import unittest

import kombu

import harness


class Kombu(harness.BrokerTestCase):
    """The broker with an MQTT listener on the test's port and an AMQP one on `aport`."""

    @classmethod
    def setUpClass(cls):
        cls.aport = harness.free_port()
        cls.broker_args = ("--listen", f"amqp://127.0.0.1:{cls.aport}")
        super().setUpClass()

    def url(self):
        return f"amqp://guest:guest@127.0.0.1:{self.aport}//"

    def test_topic_exchange_with_json_messages(self):
        events = kombu.Exchange("events", type="topic", durable=True)
        audit = kombu.Queue("audit", exchange=events, routing_key="order.*", durable=True)
        received = []
        with kombu.Connection(self.url(), transport_options={"confirm_publish": True}) as conn:
            producer = conn.Producer(serializer="json")
            for i in range(5):
                producer.publish({"id": i, "kind": "created"}, exchange=events, routing_key="order.created",
                                 declare=[audit], delivery_mode=2)
            producer.publish({"id": 99}, exchange=events, routing_key="invoice.created")

            def on_message(body, message):
                received.append((message.delivery_info["routing_key"], body))
                message.ack()

            with conn.Consumer(audit, callbacks=[on_message], accept=["json"]):
                while len(received) < 5:
                    conn.drain_events(timeout=5)
                with self.assertRaises(socket.timeout):
                    conn.drain_events(timeout=0.3)  # invoice.* does not match order.*
        self.assertEqual(received, [("order.created", {"id": i, "kind": "created"}) for i in range(5)])

    def test_requeue_redelivers(self):
        q = kombu.Queue("retry-me", routing_key="retry-me", durable=False, auto_delete=False)
        seen = []
        with kombu.Connection(self.url()) as conn:
            conn.Producer(serializer="json").publish({"n": 1}, routing_key="retry-me", declare=[q])

            def on_message(body, message):
                seen.append(message.delivery_info["redelivered"])
                if len(seen) == 1:
                    message.requeue()
                else:
                    message.ack()

            with conn.Consumer(q, callbacks=[on_message], accept=["json"], prefetch_count=1):
                while len(seen) < 2:
                    conn.drain_events(timeout=5)
            q(conn.default_channel).delete()
        self.assertEqual(seen, [False, True])

    def test_simple_queue_and_both_login_methods(self):
        for method in ("AMQPLAIN", "PLAIN"):
            with kombu.Connection(self.url(), login_method=method) as conn:
                sq = conn.SimpleQueue(f"simple-{method}")
                sq.put({"hello": method})
                msg = sq.get(block=True, timeout=5)
                self.assertEqual(msg.payload, {"hello": method})
                msg.ack()
                self.assertEqual(sq.qsize(), 0)
                sq.close()
                sq.queue(conn.default_channel).delete()

    def test_durable_queue_keeps_persistent_messages_across_restart(self):
        jobs = kombu.Queue("jobs", kombu.Exchange("jobs", type="direct", durable=True), routing_key="jobs",
                           durable=True)
        with kombu.Connection(self.url(), transport_options={"confirm_publish": True}) as conn:
            producer = conn.Producer(serializer="json")
            for i in range(3):
                producer.publish({"job": i}, exchange=jobs.exchange, routing_key="jobs", declare=[jobs],
                                 delivery_mode="persistent")
        self.broker.restart()
        harness.wait_for_port(self.aport, proc=self.broker.proc)
        got = []
        with kombu.Connection(self.url()) as conn:
            with conn.Consumer(jobs, callbacks=[lambda body, m: (got.append(body), m.ack())], accept=["json"]):
                while len(got) < 3:
                    conn.drain_events(timeout=5)
        self.assertEqual(got, [{"job": i} for i in range(3)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
