#!/usr/bin/python3
"""PUBLISH at QoS 0/1/2 both ways, QoS downgrade, ordering, large payloads, QoS 2
exactly-once and the in-flight window."""
import time

from harness import *


class PublishQoS(BrokerTestCase):
    config = broker_config(mqtt={"max_inflight": 5})

    def test_qos_matrix(self):
        for pub_qos in (0, 1, 2):
            for sub_qos in (0, 1, 2):
                with self.subTest(pub=pub_qos, sub=sub_qos):
                    topic = f"matrix/{pub_qos}/{sub_qos}"
                    sub = PahoClient(self.port, client_id=f"msub{pub_qos}{sub_qos}").connect()
                    self.assertEqual(sub.subscribe(topic, sub_qos), [sub_qos])
                    pub = PahoClient(self.port, client_id=f"mpub{pub_qos}{sub_qos}").connect()
                    pub.publish(topic, b"payload", qos=pub_qos)
                    msgs = sub.wait_messages(1)
                    self.assertEqual(len(msgs), 1)
                    self.assertEqual(msgs[0].payload, b"payload")
                    self.assertEqual(msgs[0].qos, min(pub_qos, sub_qos))
                    pub.disconnect()
                    sub.disconnect()

    def test_order_preserved_qos1(self):
        sub = PahoClient(self.port, client_id="order-sub").connect()
        sub.subscribe("order/t", 1)
        pub = PahoClient(self.port, client_id="order-pub").connect()
        for i in range(500):
            pub.publish("order/t", str(i).encode(), qos=1, wait=False)
        msgs = sub.wait_messages(500, timeout=20)
        self.assertEqual([int(m.payload) for m in msgs], list(range(500)))
        pub.disconnect()
        sub.disconnect()

    def test_large_payload(self):
        sub = PahoClient(self.port, client_id="large-sub").connect()
        sub.subscribe("large/t", 1)
        pub = PahoClient(self.port, client_id="large-pub").connect()
        data = bytes(range(256)) * 800  # 200 KiB
        pub.publish("large/t", data, qos=1)
        msgs = sub.wait_messages(1, timeout=10)
        self.assertEqual(msgs[0].payload, data)
        pub.disconnect()
        sub.disconnect()

    def test_qos2_inbound_exactly_once(self):
        sub = PahoClient(self.port, client_id="q2-sub").connect()
        sub.subscribe("q2/t", 2)
        c = RawClient(self.port)
        c.connect("q2-raw")
        c.send(publish_packet("q2/t", b"once", qos=2, packet_id=7))
        self.assertEqual(c.expect(PUBREC).packet_id(), 7)
        # A re-sent PUBLISH before PUBREL must not be delivered again [MQTT-4.3.3-2].
        c.send(publish_packet("q2/t", b"once", qos=2, dup=True, packet_id=7))
        self.assertEqual(c.expect(PUBREC).packet_id(), 7)
        c.send(ack_packet("pubrel", 7))
        self.assertEqual(c.expect(PUBCOMP).packet_id(), 7)
        time.sleep(0.5)
        msgs = sub.wait_messages(1)
        self.assertEqual(len(msgs), 1)
        # After PUBCOMP the id is free again: a new message with it is delivered.
        c.send(publish_packet("q2/t", b"again", qos=2, packet_id=7))
        c.expect(PUBREC)
        c.send(ack_packet("pubrel", 7))
        c.expect(PUBCOMP)
        self.assertEqual(len(sub.wait_messages(2)), 2)
        c.close()
        sub.disconnect()

    def test_qos2_outbound_flow(self):
        c = RawClient(self.port)
        c.connect("q2-out")
        c.send(subscribe_packet(1, [("q2out/t", 2)]))
        c.expect(SUBACK)
        pub = PahoClient(self.port, client_id="q2-out-pub").connect()
        pub.publish("q2out/t", b"x", qos=2)
        p = c.expect(PUBLISH)
        topic, pid, payload = p.publish_fields()
        self.assertEqual((topic, p.qos, payload), ("q2out/t", 2, b"x"))
        c.send(ack_packet("pubrec", pid))
        self.assertEqual(c.expect(PUBREL).packet_id(), pid)
        c.send(ack_packet("pubcomp", pid))
        c.close()
        pub.disconnect()

    def test_inflight_window(self):
        c = RawClient(self.port)
        c.connect("window-sub")
        c.send(subscribe_packet(1, [("window/t", 1)]))
        c.expect(SUBACK)
        pub = PahoClient(self.port, client_id="window-pub").connect()
        for i in range(12):
            pub.publish("window/t", str(i).encode(), qos=1)
        got = []
        while True:
            try:
                got.append(c.expect(PUBLISH, timeout=1.0))
            except TimeoutError:
                break
        self.assertEqual(len(got), 5)  # max_inflight
        for p in got:
            c.send(ack_packet("puback", p.publish_fields()[1]))
        rest = [c.expect(PUBLISH, timeout=3) for _ in range(5)]
        for p in rest:
            c.send(ack_packet("puback", p.publish_fields()[1]))
        last = [c.expect(PUBLISH, timeout=3) for _ in range(2)]
        payloads = [int(p.publish_fields()[2]) for p in got + rest + last]
        self.assertEqual(payloads, list(range(12)))
        c.close()
        pub.disconnect()

    def test_publish_to_no_subscribers_acknowledged(self):
        pub = PahoClient(self.port, client_id="nobody-pub").connect()
        pub.publish("nobody/listens", b"x", qos=1)
        pub.publish("nobody/listens", b"x", qos=2)
        pub.disconnect()


if __name__ == "__main__":
    main()
