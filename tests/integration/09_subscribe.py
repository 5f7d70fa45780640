#!/usr/bin/python3
"""SUBSCRIBE / UNSUBSCRIBE: granted QoS, invalid filters close the connection (as
Mosquitto does), overlapping subscriptions delivered once, resubscribe replaces."""
import time

from harness import *


class Subscribe(BrokerTestCase):
    def test_granted_and_invalid(self):
        c = RawClient(self.port)
        c.connect("sub-codes")
        c.send(subscribe_packet(5, [("ok/0", 0), ("ok/1", 1), ("ok/2", 2), ("#", 1)]))
        p = c.expect(SUBACK)
        self.assertEqual(p.packet_id(), 5)
        self.assertEqual(list(p.body[2:]), [0, 1, 2, 1])
        c.close()
        for bad in ("a/#/b", "a+", "+a/b", ""):
            # A filter that breaks the syntax (section 4.7) closes the connection before any
            # filter of the packet is applied.
            c = RawClient(self.port)
            c.connect("sub-invalid", clean=False)
            c.send(subscribe_packet(6, [("inv/ok", 1), (bad, 1)]))
            with self.assertRaises(ConnectionError, msg=bad):  # closed, no SUBACK
                c.recv_packet()
            c.close()
            self.assertTrue(self.broker.wait_for_log(f"SUBSCRIBE to invalid filter '{bad}'"))
            c = RawClient(self.port)
            self.assertEqual(c.connect("sub-invalid", clean=False), (1, 0))
            c.send(unsubscribe_packet(7, ["inv/ok"]))
            c.expect(UNSUBACK)
            c.send(publish_packet("inv/ok", b"x", qos=1, packet_id=3))
            c.expect(PUBACK)  # and no PUBLISH: the valid filter of the refused packet was not applied
            self.assertFalse(c.is_closed(timeout=0.3))
            c.send(DISCONNECT)
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
