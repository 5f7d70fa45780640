#!/usr/bin/python3
"""Persistence: what the broker acknowledged survives a restart (SIGTERM) and a crash
(SIGKILL): persistent sessions with their queued QoS 1/2 messages, retained messages,
QoS 2 exchanges in flight in both directions; a damaged store stops the start; a full
store refuses QoS 1/2 publishes visibly."""
import os
import threading

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from harness import *


def v5_connect(port, client_id, expiry, clean_start):
    """An MQTT 5 client with a session expiry interval; returns (client, session present)."""
    c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
    got = {}
    done = threading.Event()

    def on_connect(client, userdata, flags, rc, properties=None):
        got["present"] = flags["session present"]
        done.set()

    c.on_connect = on_connect
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry
    c.connect("127.0.0.1", port, clean_start=clean_start, properties=props)
    c.loop_start()
    if not done.wait(5):
        raise AssertionError("no CONNACK")
    return c, got["present"]


def fresh_broker(**kw):
    b = Broker(**kw)
    b.start()
    return b


class Persistence(unittest.TestCase):
    def setUp(self):
        self.broker = fresh_broker()
        self.port = self.broker.port

    def tearDown(self):
        self.broker.stop()
        text = self.broker.log_text()
        self.broker.tmp.cleanup()
        if "AddressSanitizer" in text or "runtime error:" in text:
            raise AssertionError("sanitizer report in broker log:\n" + text)

    def restart(self, crash):
        if crash:
            self.broker.kill()
        else:
            self.assertEqual(self.broker.stop(), 0)
        self.broker.start()

    def queued_messages_survive(self, crash):
        offline_subscription(self.port, "ps-sub", "ps/#", 1)
        pub = PahoClient(self.port, client_id="ps-pub").connect()
        for i in range(50):
            pub.publish(f"ps/{i % 3}", f"m{i}".encode(), qos=1)  # waits for the PUBACK
        pub.disconnect()
        self.restart(crash)
        s = PahoClient(self.port, client_id="ps-sub", clean_session=False).connect()
        self.assertEqual(s.flags["session present"], 1)
        msgs = s.wait_messages(50, timeout=10)
        self.assertEqual([m.payload for m in msgs], [f"m{i}".encode() for i in range(50)])
        # The subscription itself survived: live messages arrive too.
        pub = PahoClient(self.port, client_id="ps-pub").connect()
        pub.publish("ps/live", b"after", qos=1)
        self.assertEqual(s.wait_messages(51)[-1].payload, b"after")
        pub.disconnect()
        s.disconnect()

    def test_queued_messages_survive_restart(self):
        self.queued_messages_survive(crash=False)

    def test_queued_messages_survive_crash(self):
        self.queued_messages_survive(crash=True)

    def test_shared_subscription_messages_survive_crash(self):
        member = PahoClient(self.port, client_id="psh-member", clean_session=False).connect()
        member.subscribe("$share/grp/psh/t", 1)
        member.disconnect()
        pub = PahoClient(self.port, client_id="psh-pub").connect()
        for i in range(20):
            pub.publish("psh/t", f"s{i}".encode(), qos=1)  # acknowledged: stored in the group's queue
        pub.disconnect()
        self.restart(crash=True)
        member = PahoClient(self.port, client_id="psh-member", clean_session=False).connect()
        self.assertEqual(member.flags["session present"], 1)
        msgs = member.wait_messages(20, timeout=10)
        self.assertEqual([m.payload for m in msgs], [f"s{i}".encode() for i in range(20)])
        member.disconnect()

    def retained_survives(self, crash):
        pub = PahoClient(self.port, client_id="pr-pub").connect()
        pub.publish("pr/a", b"A", qos=1, retain=True)
        pub.publish("pr/b", b"B0", qos=1, retain=True)
        pub.publish("pr/b", b"B1", qos=1, retain=True)
        pub.publish("pr/c", b"C", qos=1, retain=True)
        pub.publish("pr/c", b"", qos=1, retain=True)  # cleared
        pub.disconnect()
        self.restart(crash)
        s = PahoClient(self.port, client_id="pr-sub").connect()
        s.subscribe("pr/#", 1)
        msgs = s.wait_messages(2)
        time.sleep(0.3)
        self.assertEqual(sorted((m.topic, m.payload, m.retain) for m in s.messages),
                         [("pr/a", b"A", 1), ("pr/b", b"B1", 1)])
        s.disconnect()

    def test_retained_survives_restart(self):
        self.retained_survives(crash=False)

    def test_retained_survives_crash(self):
        self.retained_survives(crash=True)

    def test_outgoing_qos2_in_flight_completes_once_after_crash(self):
        sub = RawClient(self.port)
        sub.connect("q2-out", clean=False)
        sub.send(subscribe_packet(1, [("q2o/t", 2)]))
        sub.expect(SUBACK)
        pub = PahoClient(self.port, client_id="q2-out-pub").connect()
        pub.publish("q2o/t", b"once", qos=2)
        p = sub.expect(PUBLISH)
        pid = p.publish_fields()[1]
        sub.send(ack_packet("pubrec", pid))
        rel = sub.expect(PUBREL)
        self.assertEqual(rel.packet_id(), pid)
        time.sleep(0.2)  # the PUBREC's state change reaches the store
        self.broker.kill()
        sub.close()
        pub.client.loop_stop()
        self.broker.start()
        sub = RawClient(self.port)
        present, rc = sub.connect("q2-out", clean=False)
        self.assertEqual((present, rc), (1, 0))
        # Only the PUBREL is re-sent, with the same packet id: the message is not sent again.
        rel = sub.expect(PUBREL)
        self.assertEqual(rel.packet_id(), pid)
        sub.send(ack_packet("pubcomp", pid))
        with self.assertRaises(Exception):
            sub.expect(PUBLISH, timeout=1.0)
        sub.send(DISCONNECT)
        sub.close()

    def test_incoming_qos2_in_flight_completes_once_after_crash(self):
        offline_subscription(self.port, "q2-in-sub", "q2i/t", 2)
        pub = RawClient(self.port)
        pub.connect("q2-in-pub", clean=False)
        pub.send(publish_packet("q2i/t", b"exactly-once", qos=2, packet_id=7))
        rec = pub.expect(PUBREC)
        self.assertEqual(rec.packet_id(), 7)
        self.broker.kill()
        pub.close()
        self.broker.start()
        pub = RawClient(self.port)
        self.assertEqual(pub.connect("q2-in-pub", clean=False), (1, 0))
        # The publisher did not see the PUBREC: it sends the PUBLISH again (DUP). The
        # broker remembers the id and does not route it twice.
        pub.send(publish_packet("q2i/t", b"exactly-once", qos=2, packet_id=7, dup=True))
        self.assertEqual(pub.expect(PUBREC).packet_id(), 7)
        pub.send(ack_packet("pubrel", 7))
        self.assertEqual(pub.expect(PUBCOMP).packet_id(), 7)
        pub.send(DISCONNECT)
        pub.close()
        s = PahoClient(self.port, client_id="q2-in-sub", clean_session=False).connect()
        s.wait_messages(1)
        time.sleep(0.5)
        self.assertEqual([m.payload for m in s.messages], [b"exactly-once"])
        s.disconnect()

    def test_session_expiry_keeps_counting_across_a_restart(self):
        for cid, expiry in (("exp-short", 2), ("exp-long", 300)):
            c, present = v5_connect(self.port, cid, expiry, clean_start=True)
            c.subscribe("exp/t", 1)
            time.sleep(0.2)
            c.disconnect()
            c.loop_stop()
        time.sleep(0.3)
        self.broker.stop()
        time.sleep(2.5)  # the short session expires while the broker is down
        self.broker.start()
        c, present = v5_connect(self.port, "exp-short", 300, clean_start=False)
        self.assertEqual(present, 0)
        c.disconnect()
        c.loop_stop()
        c, present = v5_connect(self.port, "exp-long", 300, clean_start=False)
        self.assertEqual(present, 1)
        c.disconnect()
        c.loop_stop()

    def test_acknowledgements_keep_publish_order_around_commits(self):
        offline_subscription(self.port, "order-sub", "order/durable", 1)
        pub = RawClient(self.port)
        pub.connect("order-pub")
        # Stored (waits for a commit), not stored (nobody subscribes), stored, not stored.
        pub.send(publish_packet("order/durable", b"1", qos=1, packet_id=1) +
                 publish_packet("order/nobody", b"2", qos=1, packet_id=2) +
                 publish_packet("order/durable", b"3", qos=1, packet_id=3) +
                 publish_packet("order/nobody", b"4", qos=1, packet_id=4))
        ids = [pub.expect(PUBACK).packet_id() for _ in range(4)]
        self.assertEqual(ids, [1, 2, 3, 4])  # [MQTT-4.6.0-2]
        pub.send(DISCONNECT)
        pub.close()

    def test_clean_session_leaves_nothing_behind(self):
        offline_subscription(self.port, "pc-sub", "pc/t", 1)
        pub = PahoClient(self.port, client_id="pc-pub").connect()
        pub.publish("pc/t", b"old", qos=1)
        pub.disconnect()
        # A clean session discards the stored one, on disk too.
        s = PahoClient(self.port, client_id="pc-sub", clean_session=True).connect()
        s.disconnect()
        self.restart(crash=False)
        s = PahoClient(self.port, client_id="pc-sub", clean_session=False).connect()
        self.assertEqual(s.flags["session present"], 0)
        time.sleep(0.3)
        self.assertEqual(s.messages, [])
        s.disconnect()


class DamagedStore(unittest.TestCase):
    def test_damaged_database_stops_the_start(self):
        b = Broker()
        try:
            os.makedirs(b.data_dir)
            with open(os.path.join(b.data_dir, "outpost.db"), "wb") as f:
                f.write(b"this is not a database" * 500)
            proc = subprocess.run(b.command(), capture_output=True, text=True, timeout=20)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn("outpost.db", proc.stderr)
            # Nothing was overwritten: the damaged file is left for inspection.
            with open(os.path.join(b.data_dir, "outpost.db"), "rb") as f:
                self.assertTrue(f.read().startswith(b"this is not a database"))
        finally:
            b.tmp.cleanup()

    def test_data_dir_that_cannot_be_created_stops_the_start(self):
        b = Broker()
        try:
            blocker = os.path.join(b.tmp.name, "file")
            open(blocker, "w").close()
            b.data_dir = os.path.join(blocker, "data")
            proc = subprocess.run(b.command(), capture_output=True, text=True, timeout=20)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn("data", proc.stderr)
        finally:
            b.tmp.cleanup()


class FullStore(unittest.TestCase):
    def test_full_store_refuses_visibly(self):
        b = Broker(config=broker_config(extra="persistence:\n  dir: {data}\n  max_bytes: 1MiB\n")).start()
        try:
            offline_subscription(b.port, "full-sub", "full/t", 1)
            pub = RawClient(b.port)
            pub.connect("full-pub")
            closed = False
            sent = 0
            for i in range(1, 200):
                pub.send(publish_packet("full/t", bytes(16000), qos=1, packet_id=i))
                try:
                    pub.expect(PUBACK)
                    sent += 1
                except Exception:
                    closed = True
                    break
            # MQTT 3.1.1 cannot refuse one message: the connection is closed, with a log line.
            self.assertTrue(closed)
            self.assertGreater(sent, 30)
            self.assertTrue(b.wait_for_log("the store is full"))
            # MQTT 5 can refuse one message: PUBACK with 0x97 (quota exceeded), and the
            # connection stays.
            v5 = RawClient(b.port)
            v5.send(packet(0x10, mqtt_str("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 60) + b"\x00" +
                           mqtt_str("full-pub-5")))
            self.assertEqual(v5.expect(CONNACK).body[1], 0)
            v5.send(packet(0x32, mqtt_str("full/t") + struct.pack("!H", 9) + b"\x00" + bytes(16000)))
            ack = v5.expect(PUBACK)
            self.assertEqual(ack.packet_id(), 9)
            self.assertEqual(ack.body[2], 0x97)
            v5.send(PINGREQ)
            v5.expect(PINGRESP)
            v5.close()
            # What was acknowledged is delivered.
            s = PahoClient(b.port, client_id="full-sub", clean_session=False).connect()
            self.assertEqual(len(s.wait_messages(sent, timeout=10)), sent)
            s.disconnect()
        finally:
            b.stop()
            b.tmp.cleanup()


if __name__ == "__main__":
    main()
