#!/usr/bin/python3
"""Session takeover: a second connection with the same client id closes the first."""
import time

from harness import *


class Takeover(BrokerTestCase):
    def test_second_connection_takes_over(self):
        first = RawClient(self.port)
        first.connect("same-id", clean=False)
        first.send(subscribe_packet(1, [("take/t", 1)]))
        first.expect(SUBACK)
        second = RawClient(self.port)
        present, code = second.connect("same-id", clean=False)
        self.assertEqual(code, 0)
        self.assertEqual(present, 1)  # the session moved to the new connection
        self.assertTrue(first.is_closed())  # [MQTT-3.1.4-2]
        pub = PahoClient(self.port, client_id="take-pub").connect()
        pub.publish("take/t", b"to-second", qos=1)
        p = second.expect(PUBLISH)
        self.assertEqual(p.publish_fields()[2], b"to-second")
        second.send(ack_packet("puback", p.publish_fields()[1]))
        second.close()
        pub.disconnect()
        self.assertTrue(self.broker.wait_for_log("session taken over"))

    def test_rapid_takeovers(self):
        clients = []
        for _ in range(10):
            c = RawClient(self.port)
            _, code = c.connect("flappy", clean=False)
            self.assertEqual(code, 0)
            clients.append(c)
        for c in clients[:-1]:
            self.assertTrue(c.is_closed())
        last = clients[-1]
        last.send(PINGREQ)
        last.expect(PINGRESP)
        last.close()

    def test_paho_takeover(self):
        a = PahoClient(self.port, client_id="paho-same").connect()
        b = PahoClient(self.port, client_id="paho-same")
        b.client.reconnect_delay_set(60, 60)
        a.client.reconnect_delay_set(60, 60)
        b.connect()
        self.assertTrue(a.disconnected.wait(5))
        b.subscribe("paho/same", 1)
        b.disconnect()


if __name__ == "__main__":
    main()
