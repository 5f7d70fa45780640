#!/usr/bin/python3
"""SUBSCRIBE / UNSUBSCRIBE: granted QoS, 0x80 for invalid filters, overlapping
subscriptions delivered once, resubscribe replaces."""
import time

from harness import *


class Subscribe(BrokerTestCase):
    def test_granted_and_invalid(self):
        c = RawClient(self.port)
        c.connect("sub-codes")
        c.send(subscribe_packet(5, [("ok/0", 0), ("ok/1", 1), ("ok/2", 2), ("a/#/b", 1), ("a+", 0), ("#", 1)]))
        p = c.expect(SUBACK)
        self.assertEqual(p.packet_id(), 5)
        self.assertEqual(list(p.body[2:]), [0, 1, 2, 0x80, 0x80, 1])
        c.close()

    def test_overlapping_delivered_once_at_highest_qos(self):
        c = RawClient(self.port)
        c.connect("sub-overlap")
        c.send(subscribe_packet(1, [("ov/#", 0), ("ov/+", 2), ("ov/x", 1)]))
        c.expect(SUBACK)
        pub = PahoClient(self.port, client_id="ov-pub").connect()
        pub.publish("ov/x", b"one", qos=2)
        p = c.expect(PUBLISH)
        self.assertEqual(p.qos, 2)
        pid = p.publish_fields()[1]
        c.send(ack_packet("pubrec", pid))
        c.expect(PUBREL)
        c.send(ack_packet("pubcomp", pid))
        with self.assertRaises(TimeoutError):
            c.expect(PUBLISH, timeout=0.7)
        c.close()
        pub.disconnect()

    def test_unsubscribe_stops_delivery(self):
        s = PahoClient(self.port, client_id="unsub").connect()
        s.subscribe("uns/t", 1)
        pub = PahoClient(self.port, client_id="uns-pub").connect()
        pub.publish("uns/t", b"1", qos=1)
        s.wait_messages(1)
        c = RawClient(self.port)
        c.connect("unsub-raw")
        c.send(subscribe_packet(1, [("uns/t", 1)]))
        c.expect(SUBACK)
        c.send(unsubscribe_packet(9, ["uns/t", "never/subscribed"]))
        p = c.expect(UNSUBACK)
        self.assertEqual(p.packet_id(), 9)
        self.assertEqual(len(p.body), 2)
        pub.publish("uns/t", b"2", qos=1)
        with self.assertRaises(TimeoutError):
            c.expect(PUBLISH, timeout=0.7)
        c.close()
        s.disconnect()
        pub.disconnect()

    def test_resubscribe_replaces_qos(self):
        c = RawClient(self.port)
        c.connect("resub")
        c.send(subscribe_packet(1, [("rs/t", 2)]))
        c.expect(SUBACK)
        c.send(subscribe_packet(2, [("rs/t", 0)]))
        c.expect(SUBACK)
        pub = PahoClient(self.port, client_id="rs-pub").connect()
        pub.publish("rs/t", b"x", qos=2)
        p = c.expect(PUBLISH)
        self.assertEqual(p.qos, 0)
        with self.assertRaises(TimeoutError):
            c.expect(PUBLISH, timeout=0.5)
        c.close()
        pub.disconnect()

    def test_empty_levels_and_plus(self):
        s = PahoClient(self.port, client_id="levels").connect()
        s.subscribe("lv/+/b", 1)
        s.subscribe("+/x", 1)
        pub = PahoClient(self.port, client_id="levels-pub").connect()
        pub.publish("lv//b", b"empty-level", qos=1)
        pub.publish("/x", b"leading-slash", qos=1)
        msgs = s.wait_messages(2)
        self.assertEqual(sorted(m.payload for m in msgs), [b"empty-level", b"leading-slash"])
        pub.disconnect()
        s.disconnect()


if __name__ == "__main__":
    main()
