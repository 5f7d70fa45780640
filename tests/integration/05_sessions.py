#!/usr/bin/python3
"""Persistent sessions: subscriptions and QoS 1/2 messages kept while offline,
unacknowledged messages re-sent with DUP on resume, clean session discards."""
import time

from harness import *


class Sessions(BrokerTestCase):
    def test_offline_messages_delivered_on_resume(self):
        s = PahoClient(self.port, client_id="sess-a", clean_session=False).connect()
        s.subscribe("sess/a", 2)
        s.disconnect()
        pub = PahoClient(self.port, client_id="sess-a-pub").connect()
        for i in range(10):
            pub.publish("sess/a", f"q1-{i}".encode(), qos=1)
        pub.publish("sess/a", b"q2", qos=2)
        pub.publish("sess/a", b"q0", qos=0)
        pub.disconnect()
        s = PahoClient(self.port, client_id="sess-a", clean_session=False).connect()
        self.assertEqual(s.flags["session present"], 1)
        msgs = s.wait_messages(11)
        payloads = [m.payload for m in msgs]
        self.assertEqual(payloads[:11], [f"q1-{i}".encode() for i in range(10)] + [b"q2"])
        s.disconnect()

    def test_subscriptions_survive_reconnect(self):
        s = PahoClient(self.port, client_id="sess-b", clean_session=False).connect()
        s.subscribe("sess/b/+", 1)
        s.disconnect()
        s = PahoClient(self.port, client_id="sess-b", clean_session=False).connect()
        pub = PahoClient(self.port, client_id="sess-b-pub").connect()
        pub.publish("sess/b/x", b"live", qos=1)
        self.assertEqual([m.payload for m in s.wait_messages(1)], [b"live"])
        pub.disconnect()
        s.disconnect()

    def test_clean_session_discards(self):
        s = PahoClient(self.port, client_id="sess-c", clean_session=False).connect()
        s.subscribe("sess/c", 1)
        s.disconnect()
        s = PahoClient(self.port, client_id="sess-c", clean_session=True).connect()
        self.assertEqual(s.flags["session present"], 0)
        s.disconnect()
        pub = PahoClient(self.port, client_id="sess-c-pub").connect()
        pub.publish("sess/c", b"lost", qos=1)
        pub.disconnect()
        s = PahoClient(self.port, client_id="sess-c", clean_session=False).connect()
        self.assertEqual(s.flags["session present"], 0)
        time.sleep(0.5)
        self.assertEqual(s.messages, [])
        s.disconnect()

    def test_unacked_resent_with_dup(self):
        c = RawClient(self.port)
        c.connect("sess-d", clean=False)
        c.send(subscribe_packet(1, [("sess/d", 1)]))
        c.expect(SUBACK)
        pub = PahoClient(self.port, client_id="sess-d-pub").connect()
        pub.publish("sess/d", b"first", qos=1)
        p = c.expect(PUBLISH)
        topic, pid, payload = p.publish_fields()
        self.assertFalse(p.dup)
        c.close()  # no PUBACK
        time.sleep(0.3)
        c = RawClient(self.port)
        present, _ = c.connect("sess-d", clean=False)
        self.assertEqual(present, 1)
        p2 = c.expect(PUBLISH)
        t2, pid2, payload2 = p2.publish_fields()
        self.assertTrue(p2.dup)  # [MQTT-4.4.0-1]
        self.assertEqual((t2, pid2, payload2), (topic, pid, payload))
        c.send(ack_packet("puback", pid2))
        c.send(DISCONNECT)
        c.close()
        pub.disconnect()

    def test_pubrel_resent_on_resume(self):
        c = RawClient(self.port)
        c.connect("sess-e", clean=False)
        c.send(subscribe_packet(1, [("sess/e", 2)]))
        c.expect(SUBACK)
        pub = PahoClient(self.port, client_id="sess-e-pub").connect()
        pub.publish("sess/e", b"two", qos=2)
        p = c.expect(PUBLISH)
        pid = p.publish_fields()[1]
        c.send(ack_packet("pubrec", pid))
        c.expect(PUBREL)
        c.close()  # no PUBCOMP
        time.sleep(0.3)
        c = RawClient(self.port)
        c.connect("sess-e", clean=False)
        self.assertEqual(c.expect(PUBREL).packet_id(), pid)
        c.send(ack_packet("pubcomp", pid))
        c.close()
        pub.disconnect()


class BoundedQueue(BrokerTestCase):
    config = broker_config(mqtt={"max_queued_messages": 5})

    def test_queue_bound_is_visible(self):
        s = PahoClient(self.port, client_id="bq", clean_session=False).connect()
        s.subscribe("bq/t", 1)
        s.disconnect()
        pub = PahoClient(self.port, client_id="bq-pub").connect()
        for i in range(8):
            pub.publish("bq/t", str(i).encode(), qos=1)
        pub.disconnect()
        self.assertTrue(self.broker.wait_for_log("subscriber queue 'mqtt/bq' is full"))
        s = PahoClient(self.port, client_id="bq", clean_session=False).connect()
        msgs = s.wait_messages(5)
        time.sleep(0.3)
        self.assertEqual([m.payload for m in s.messages], [str(i).encode() for i in range(5)])
        s.disconnect()


if __name__ == "__main__":
    main()
