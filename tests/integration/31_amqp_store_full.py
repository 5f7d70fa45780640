#!/usr/bin/python3
"""A full store (persistence.max_bytes) and AMQP publishers: persistent messages to a
durable queue are nacked, clients that announce the capability get connection.blocked
once, and connection.unblocked when the store has room again; transient traffic and other
connections carry on."""
import time
import unittest

import pika

import harness
from harness import Broker


class StoreFull(unittest.TestCase):
    def test_blocked_then_unblocked(self):
        aport = harness.free_port()
        broker = Broker(config=f"""
listeners:
  - {{protocol: mqtt, address: 127.0.0.1, port: {{port}}, allow_anonymous: true}}
  - {{protocol: amqp, address: 127.0.0.1, port: {aport}, allow_anonymous: true}}
persistence: {{max_bytes: 1MiB}}
""")
        self.addCleanup(broker.tmp.cleanup)
        broker.start()
        try:
            harness.wait_for_port(aport, proc=broker.proc)
            events = []
            conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", aport))
            conn.add_on_connection_blocked_callback(lambda c, m: events.append(("blocked", m.method.reason)))
            conn.add_on_connection_unblocked_callback(lambda c, m: events.append(("unblocked",)))
            ch = conn.channel()
            ch.confirm_delivery()
            ch.queue_declare("fill", durable=True)
            body = b"x" * (64 * 1024)
            acked = 0
            nacked = False
            for _ in range(40):
                try:
                    ch.basic_publish("", "fill", body, pika.BasicProperties(delivery_mode=2))
                    acked += 1
                except pika.exceptions.NackError:
                    nacked = True
                    break
            self.assertTrue(nacked, "the store never filled up")
            self.assertGreater(acked, 5)
            conn.process_data_events(time_limit=0.2)
            self.assertEqual(events, [("blocked", "store full")])
            # Transient messages are not stored: they still go through.
            ch.queue_declare("transient", exclusive=True)
            ch.basic_publish("", "transient", b"t")
            self.assertEqual(ch.basic_get("transient", auto_ack=True)[2], b"t")
            # Everything acknowledged is there; freeing it unblocks the connection.
            self.assertEqual(ch.queue_declare("fill", passive=True).method.message_count, acked)
            ch.queue_purge("fill")
            deadline = time.time() + 10
            while ("unblocked",) not in events and time.time() < deadline:
                conn.process_data_events(time_limit=0.2)
            self.assertEqual(events, [("blocked", "store full"), ("unblocked",)])
            ch.basic_publish("", "fill", body, pika.BasicProperties(delivery_mode=2))  # acked again
            conn.close()
            self.assertIn("store is full", broker.log_text())
        finally:
            code = broker.stop()
            self.assertIn(code, (0, None), broker.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
