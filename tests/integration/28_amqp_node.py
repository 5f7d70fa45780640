#!/usr/bin/python3
"""AMQP 0-9-1 with Node's amqplib (npm): the usual producer and consumer on a durable
queue, a confirm channel with persistent messages, prefetch, nack with requeue, a topic
exchange binding, and a channel error (404) that closes only its channel."""

import json

from harness import BrokerTestCase, main, run_node

AMQP_ONLY = """listeners:
  - protocol: amqp
    address: 127.0.0.1
    port: {port}
    allow_anonymous: true
"""


class NodeAmqpTest(BrokerTestCase):
    config = AMQP_ONLY

    def test_amqplib(self):
        proc = run_node("amqp.js", self.port)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        r = json.loads(proc.stdout)

        # Producer and consumer: both JSON events, in order, acknowledged.
        self.assertEqual([o["event"] for o in r["orders"]], [{"id": 1, "item": "tea"}, {"id": 2, "item": "cups", "qty": 6}])
        self.assertFalse(any(o["redelivered"] for o in r["orders"]))

        c = r["confirms"]
        self.assertEqual(c["acked"], 50)
        self.assertTrue(c["inOrder"])
        self.assertEqual(c["queued"], 50)
        self.assertEqual(c["firstBody"], "c0")
        self.assertEqual(c["firstPersistent"], 2)

        p = r["prefetch"]
        self.assertEqual(p["beforeAck"], 3)
        self.assertEqual(p["afterAck"], 4)
        self.assertEqual(p["bodies"], ["p0", "p1", "p2", "p3"])

        n = r["nack"]
        self.assertEqual(n["seen"], [{"body": "again", "redelivered": False}, {"body": "again", "redelivered": True}])
        self.assertEqual(n["left"], 0)

        t = r["topic"]
        self.assertTrue(t["queueNamed"])
        self.assertEqual(t["got"], [
            {"key": "sensor.kitchen.temp", "exchange": "readings", "body": "21.5"},
            {"key": "sensor.hall.temp", "exchange": "readings", "body": "last"},
        ])

        e = r["channelError"]
        self.assertEqual(e["code"], 404)
        self.assertIn("no-such-queue", e["message"])
        self.assertTrue(e["channelClosed"])
        self.assertEqual(e["bystanderBody"], "still here")
        self.assertIsNone(r["connectionError"])
        self.assertRegex(self.broker.log_text(), r"channel \d+ closed: 404 NOT_FOUND")


if __name__ == "__main__":
    main()
