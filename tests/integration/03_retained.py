#!/usr/bin/python3
"""Retained messages: set, replace, clear; retain flag on subscribe vs live delivery;
wildcard filters; '$' topics."""
import time

from harness import *


class Retained(BrokerTestCase):
    def publish_retained(self, topic, payload, qos=1):
        pub = PahoClient(self.port, client_id="ret-pub").connect()
        pub.publish(topic, payload, qos=qos, retain=True)
        pub.disconnect()

    def collect(self, filt, n, client_id, timeout=2):
        sub = PahoClient(self.port, client_id=client_id).connect()
        sub.subscribe(filt, 1)
        msgs = sub.wait_messages(n, timeout=timeout)
        time.sleep(0.2)
        msgs = list(sub.messages)
        sub.disconnect()
        return msgs

    def test_set_replace_clear(self):
        self.publish_retained("ret/a", b"one")
        msgs = self.collect("ret/a", 1, "ret-s1")
        self.assertEqual([(m.payload, m.retain) for m in msgs], [(b"one", True)])
        self.publish_retained("ret/a", b"two")
        msgs = self.collect("ret/a", 1, "ret-s2")
        self.assertEqual([m.payload for m in msgs], [b"two"])
        self.publish_retained("ret/a", b"")  # clear [MQTT-3.3.1-10]
        msgs = self.collect("ret/a", 1, "ret-s3", timeout=0.5)
        self.assertEqual(msgs, [])

    def test_wildcards(self):
        self.publish_retained("wild/x/1", b"a")
        self.publish_retained("wild/y/1", b"b")
        self.publish_retained("wild/y/2", b"c")
        self.assertEqual(sorted(m.payload for m in self.collect("wild/+/1", 2, "w1")), [b"a", b"b"])
        self.assertEqual(sorted(m.payload for m in self.collect("wild/#", 3, "w2")), [b"a", b"b", b"c"])
        self.assertTrue(all(m.retain for m in self.collect("wild/#", 3, "w3")))

    def test_live_delivery_has_retain_zero(self):
        sub = PahoClient(self.port, client_id="live-sub").connect()
        sub.subscribe("live/t", 1)
        self.publish_retained("live/t", b"now")
        msgs = sub.wait_messages(1)
        self.assertEqual(msgs[0].payload, b"now")
        self.assertFalse(msgs[0].retain)  # [MQTT-3.3.1-9]
        sub.disconnect()

    def test_dollar_topics_not_matched_by_hash(self):
        self.publish_retained("$internal/x", b"hidden")
        self.publish_retained("visible/x", b"shown")
        payloads = [m.payload for m in self.collect("#", 1, "dollar-sub")]
        self.assertIn(b"shown", payloads)
        self.assertNotIn(b"hidden", payloads)
        self.assertEqual([m.payload for m in self.collect("$internal/#", 1, "dollar-sub2")], [b"hidden"])

    def test_retained_qos_downgraded(self):
        self.publish_retained("retq/t", b"q2", qos=2)
        c = RawClient(self.port)
        c.connect("retq-raw")
        c.send(subscribe_packet(1, [("retq/t", 0)]))
        c.expect(SUBACK)
        p = c.expect(PUBLISH)
        self.assertEqual(p.qos, 0)
        self.assertTrue(p.retain)
        c.close()


if __name__ == "__main__":
    main()
