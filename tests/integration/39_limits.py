#!/usr/bin/python3
"""Client limits (`limits:`) with real clients: new connections per second per address
(on a listener that overrides the top level), the publish rate that slows a client down
without losing anything, subscriptions per client, topic levels, client id length."""
import socket
import struct
import time

import paho.mqtt.client as mqtt

from harness import *
from mqtt5_raw import Raw5, publish5, subscribe5

RATE_PORT = free_port()

CONFIG = f"""listeners:
  - protocol: mqtt
    address: 127.0.0.1
    port: {{port}}
    allow_anonymous: true
  - protocol: mqtt
    address: 127.0.0.1
    port: {RATE_PORT}
    allow_anonymous: true
    limits:
      max_connections_per_second_per_address: 5
limits:
  max_publish_rate: 200
  max_subscriptions_per_client: 3
  max_topic_levels: 5
  max_client_id_length: 32
"""


def connack_or_closed(sock, timeout=2.0):
    """The CONNACK return code, or None when the broker closed the socket first."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4)
    except (ConnectionResetError, BrokenPipeError):
        return None
    except socket.timeout:
        raise AssertionError("neither CONNACK nor close")
    if not data:
        return None
    return data[3]


class Limits(BrokerTestCase):
    config = CONFIG

    def test_connections_per_second_per_address(self):
        time.sleep(1.1)  # the broker's readiness probe opened one: let its second pass
        socks = [socket.create_connection(("127.0.0.1", RATE_PORT), timeout=2) for _ in range(20)]
        for i, s in enumerate(socks):
            try:
                s.sendall(connect_packet(f"burst-{i}"))
            except OSError:
                pass
        results = [connack_or_closed(s) for s in socks]
        for s in socks:
            s.close()
        accepted = [r for r in results if r == 0]
        refused = [r for r in results if r is None]
        # 5 a second; a burst straddling a second boundary may get 10 in.
        self.assertGreaterEqual(len(accepted), 5, results)
        self.assertLessEqual(len(accepted), 10, results)
        self.assertEqual(len(accepted) + len(refused), 20, results)
        # One log line per address per second, not one per connection.
        self.assertTrue(self.broker.wait_for_log("max_connections_per_second_per_address"))
        self.assertLessEqual(self.broker.log_text().count("connections from 127.0.0.1 refused"), 2)
        time.sleep(1.1)
        later = PahoClient(RATE_PORT, client_id="after-a-second").connect()
        self.assertEqual(later.connack, 0)
        later.disconnect()
        # The other listener has no such limit.
        socks = [socket.create_connection(("127.0.0.1", self.port), timeout=2) for _ in range(12)]
        for i, s in enumerate(socks):
            s.sendall(connect_packet(f"free-{i}"))
        self.assertEqual([connack_or_closed(s) for s in socks], [0] * 12)
        for s in socks:
            s.close()

    def test_publish_rate_slows_down_and_loses_nothing(self):
        sub = PahoClient(self.port, client_id="rate-sub").connect()
        sub.subscribe("rate/#", 0)
        pub = PahoClient(self.port, client_id="rate-pub").connect()
        start = time.time()
        for i in range(1000):
            pub.publish("rate/t", str(i).encode(), qos=0)
        msgs = sub.wait_messages(1000, timeout=15)
        elapsed = time.time() - start
        self.assertEqual(len(msgs), 1000)
        self.assertEqual([int(m.payload) for m in msgs], list(range(1000)))
        # 200 a second after a first second's worth: about 4 s.
        self.assertGreaterEqual(elapsed, 3.5)
        self.assertLess(elapsed, 8)
        self.assertTrue(self.broker.wait_for_log("client 'rate-pub'"))
        self.assertIn("publishing faster than limits.max_publish_rate 200 messages/s;", self.broker.log_text())
        pub.disconnect()
        sub.disconnect()

    def test_max_subscriptions(self):
        c = RawClient(self.port)
        c.connect("subs-311")
        c.send(subscribe_packet(1, [("s/1", 0), ("s/2", 1), ("s/3", 0), ("s/4", 0)]))
        p = c.expect(SUBACK)
        self.assertEqual(list(p.body[2:]), [0, 1, 0, 0x80])
        # Subscribing again to a filter it has replaces it: no quota needed.
        c.send(subscribe_packet(2, [("s/1", 1)]))
        self.assertEqual(list(c.expect(SUBACK).body[2:]), [1])
        c.close()
        v5 = PahoClient(self.port, client_id="subs-5", protocol=mqtt.MQTTv5).connect()
        granted = [v5.subscribe(f"s5/{i}", 0)[0] for i in range(4)]
        self.assertEqual([g.value for g in granted], [0, 0, 0, 0x97])
        v5.disconnect()

    def test_topic_levels(self):
        sub = PahoClient(self.port, client_id="levels-sub").connect()
        sub.subscribe("lv/#", 1)
        c = RawClient(self.port)
        c.connect("levels-311")
        c.send(subscribe_packet(1, [("lv/a/b/c/d", 0), ("lv/a/b/c/d/e", 0)]))
        self.assertEqual(list(c.expect(SUBACK).body[2:]), [0, 0x80])
        # 3.1.1: acknowledged, not delivered.
        c.send(publish_packet("lv/a/b/c/d/e", b"deep", qos=1, packet_id=3))
        self.assertEqual(c.expect(PUBACK).packet_id(), 3)
        c.send(publish_packet("lv/a/b/c/d", b"ok", qos=1, packet_id=4))
        c.expect(PUBACK)
        # MQTT 5: 0x90 on PUBACK, SUBACK 0x8F.
        r = Raw5(self.port)
        self.assertEqual(r.connect5("levels-5")[1], 0)
        r.send(subscribe5(1, [("lv/1/2/3/4/5/6", 0)]))
        self.assertEqual(r.expect(SUBACK).body[-1], 0x8F)
        r.send(publish5("lv/1/2/3/4/5", b"deep5", qos=1, packet_id=7))
        ack = r.expect(PUBACK)
        self.assertEqual(struct.unpack("!H", ack.body[:2])[0], 7)
        self.assertEqual(ack.body[2], 0x90)
        # QoS 0 has no acknowledgement: DISCONNECT 0x90.
        r.send(publish5("lv/1/2/3/4/5", b"deep5", qos=0))
        self.assertEqual(r.expect_disconnect(), 0x90)
        r.close()
        msgs = sub.wait_messages(2, timeout=1.0)
        self.assertEqual([m.payload for m in msgs], [b"ok"])
        c.close()
        sub.disconnect()

    def test_client_id_length(self):
        ok = RawClient(self.port)
        self.assertEqual(ok.connect("x" * 32)[1], 0)
        ok.close()
        c = RawClient(self.port)
        self.assertEqual(c.connect("y" * 33)[1], 2)  # identifier rejected
        self.assertTrue(c.is_closed())
        c.close()
        v5 = PahoClient(self.port, client_id="z" * 40, protocol=mqtt.MQTTv5)
        v5.connect()
        self.assertEqual(v5.connack.value, 0x85)
        v5.client.loop_stop()
        self.assertTrue(self.broker.wait_for_log("limits.max_client_id_length"))

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("OUTPOST_SHOW_LOG"):
            print(cls.broker.log_text())
        super().tearDownClass()


if __name__ == "__main__":
    unittest.main()
