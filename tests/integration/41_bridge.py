"""bridge_mqtt against a real Debian mosquitto as the cloud: out and in forwarding with
prefixes, both directions without echo, for MQTT 5 and 3.1.1, and the $SYS status."""

import time
import unittest

import paho.mqtt.client as mqtt

import cloud
import harness
from harness import PahoClient

TOPICS = [
    {"pattern": "sensors/#", "direction": "out", "qos": 1, "local_prefix": "site/", "remote_prefix": "edge-1/"},
    {"pattern": "cmd/#", "direction": "in", "qos": 1, "local_prefix": "dev/", "remote_prefix": "edge-1/"},
    {"pattern": "chat/#", "direction": "both", "qos": 1, "local_prefix": "", "remote_prefix": "shared/"},
]


class BridgeForwarding:
    protocol_version = 5

    @classmethod
    def setUpClass(cls):
        cls.cloud = cloud.Mosquitto(persistence=False).start()
        cls.broker = harness.Broker(config=cloud.bridge_config(
            f"mqtt://127.0.0.1:{cls.cloud.port}", TOPICS, cls.protocol_version)).start()
        cls.port = cls.broker.port
        cls.sys = cloud.SysWatcher(cls.port)
        state = cls.sys.wait("state", lambda v: v == "connected", timeout=15)
        if state != "connected":
            raise AssertionError(f"bridge not connected ({state}):\n" + cls.broker.log_text())

    @classmethod
    def tearDownClass(cls):
        cls.sys.close()
        code = cls.broker.stop()
        text = cls.broker.log_text()
        cls.broker.tmp.cleanup()
        cls.cloud.cleanup()
        if "AddressSanitizer" in text or "runtime error:" in text:
            raise AssertionError("sanitizer report in broker log:\n" + text)
        if code not in (0, None):
            raise AssertionError(f"broker exited with {code}:\n" + text)

    def cloud_client(self, client_id):
        c = PahoClient(self.cloud.port, client_id=client_id).connect()
        self.addCleanup(c.disconnect)
        return c

    def local_client(self, client_id, protocol=mqtt.MQTTv311):
        c = PahoClient(self.port, client_id=client_id, protocol=protocol).connect()
        self.addCleanup(c.disconnect)
        return c

    def test_out_with_prefixes(self):
        sub = self.cloud_client("cloud-sub-out")
        sub.subscribe("edge-1/#", 1)
        pub = self.local_client("dev-out")
        for i in range(20):
            pub.publish(f"site/sensors/room{i % 2}/temp", str(i), qos=1)
        pub.publish("elsewhere/sensors/x", "not bridged", qos=1)
        msgs = sub.wait_messages(20, timeout=10)
        self.assertEqual(len(msgs), 20, self.broker.log_text()[-3000:])
        self.assertEqual([m.topic for m in msgs[:2]], ["edge-1/sensors/room0/temp", "edge-1/sensors/room1/temp"])
        self.assertEqual([int(m.payload) for m in msgs], list(range(20)))
        time.sleep(0.3)
        self.assertEqual(len(sub.messages), 20)
        forwarded = self.sys.wait("forwarded", lambda v: int(v) >= 20, timeout=5)
        self.assertGreaterEqual(int(forwarded), 20)

    def test_in_with_prefixes(self):
        sub = self.local_client("dev-in")
        sub.subscribe("dev/cmd/#", 1)
        pub = self.cloud_client("cloud-pub-in")
        pub.publish("edge-1/cmd/reboot", "now", qos=1)
        pub.publish("edge-2/cmd/reboot", "not ours", qos=1)
        msgs = sub.wait_messages(1, timeout=10)
        self.assertEqual([(m.topic, m.payload) for m in msgs], [("dev/cmd/reboot", b"now")])
        time.sleep(0.3)
        self.assertEqual(len(sub.messages), 1)

    def test_both_without_echo(self):
        local_sub = self.local_client("dev-both-sub", protocol=mqtt.MQTTv5)
        local_sub.subscribe("chat/#", 1)
        cloud_sub = self.cloud_client("cloud-both-sub")
        cloud_sub.subscribe("shared/chat/#", 1)
        local_pub = self.local_client("dev-both-pub")
        cloud_pub = self.cloud_client("cloud-both-pub")
        local_pub.publish("chat/from-edge", "e", qos=1)
        cloud_pub.publish("shared/chat/from-cloud", "c", qos=1)
        self.assertEqual(len(cloud_sub.wait_messages(2, timeout=10)), 2)
        self.assertEqual(len(local_sub.wait_messages(2, timeout=10)), 2)
        time.sleep(1.0)  # an echo would arrive within this
        self.assertEqual(sorted((m.topic, m.payload) for m in cloud_sub.messages),
                         [("shared/chat/from-cloud", b"c"), ("shared/chat/from-edge", b"e")])
        self.assertEqual(sorted((m.topic, m.payload) for m in local_sub.messages),
                         [("chat/from-cloud", b"c"), ("chat/from-edge", b"e")])

    def test_properties_cross(self):
        if self.protocol_version != 5:
            self.skipTest("MQTT 5 properties need a 5 remote")
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        sub = PahoClient(self.cloud.port, client_id="cloud-props", protocol=mqtt.MQTTv5).connect()
        self.addCleanup(sub.disconnect)
        sub.subscribe("edge-1/sensors/props", 1)
        pub = self.local_client("dev-props", protocol=mqtt.MQTTv5)
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "application/json"
        props.UserProperty = [("unit", "C")]
        pub.publish("site/sensors/props", "{}", qos=1, properties=props)
        msgs = sub.wait_messages(1, timeout=10)
        self.assertEqual(len(msgs), 1)
        self.assertEqual(msgs[0].properties.ContentType, "application/json")
        self.assertIn(("unit", "C"), msgs[0].properties.UserProperty)

    def test_sys_topics(self):
        self.assertEqual(self.sys.value("state"), "connected")
        self.assertIsNotNone(self.sys.wait("queued", lambda v: v.isdigit(), timeout=5))
        self.assertIsNotNone(self.sys.wait("dropped", lambda v: v == "0", timeout=5))


class Mqtt5(BridgeForwarding, unittest.TestCase):
    protocol_version = 5


class Mqtt311(BridgeForwarding, unittest.TestCase):
    protocol_version = "3.1.1"


class Refused(unittest.TestCase):
    """A remote that refuses the bridge's credentials: retried at max_delay, reported once."""

    def test_bad_credentials(self):
        cl = cloud.Mosquitto(persistence=False, extra="")
        cl.tmp_passwd = harness.password_file(cl.tmp.name + "/passwd", {"edge": "right"})
        cl.extra = f"password_file {cl.tmp_passwd}\n"
        cl.start()
        self.addCleanup(cl.cleanup)
        config = cloud.bridge_config(f"mqtt://127.0.0.1:{cl.port}", TOPICS[:1], 5,
                                     extra_bridge="      username: edge\n      password: wrong\n")
        config = config.replace("max_delay: 1s", "max_delay: 3s")
        with harness.Broker(config=config) as b:
            sys = cloud.SysWatcher(b.port)
            self.addCleanup(sys.close)
            err = sys.wait("last_error", lambda v: "refused" in v, timeout=10)
            # mosquitto 2.0 answers a wrong password with "not authorized" (MQTT 5 0x87).
            self.assertRegex(err or "", "refused the connection: (not authorized|bad user name or password)",
                             b.log_text())
            time.sleep(4)
            attempts = cl.log_text().count("New connection from")
            # min_delay is 100ms: hammering would be ~40 attempts in 4 s; at max_delay (3s) it is 2-3.
            self.assertLessEqual(attempts, 6, cl.log_text()[-2000:])
            self.assertEqual(b.log_text().count("refused the connection"), 1, b.log_text())
            self.assertEqual(sys.value("state"), "disconnected")


class InboundAcl(unittest.TestCase):
    """Inbound messages are published with the bridge's identity (`user: bridge`): the ACLs
    decide, as for any client."""

    def test_acl_applies_to_inbound(self):
        cl = cloud.Mosquitto(persistence=False).start()
        self.addCleanup(cl.cleanup)
        config = cloud.bridge_config(f"mqtt://127.0.0.1:{cl.port}", [
            {"pattern": "cmd/#", "direction": "in", "qos": 1, "local_prefix": "dev/", "remote_prefix": "edge-1/"}], 5,
            extra="auth:\n  acl:\n"
                  "    - {user: bridge, topic: 'dev/cmd/allowed/#', access: write}\n"
                  "    - {anonymous: true, topic: '#', access: readwrite}\n"
                  "    - {anonymous: true, topic: '$SYS/#', access: read}\n")
        config = config.replace("    library: bridge_mqtt\n", "    library: bridge_mqtt\n    user: bridge\n")
        with harness.Broker(config=config) as b:
            sys = cloud.SysWatcher(b.port)
            self.addCleanup(sys.close)
            self.assertEqual(sys.wait("state", lambda v: v == "connected", timeout=15), "connected", b.log_text())
            sub = PahoClient(b.port, client_id="dev-acl").connect()
            self.addCleanup(sub.disconnect)
            sub.subscribe("dev/cmd/#", 1)
            pub = PahoClient(cl.port, client_id="cloud-acl").connect()
            self.addCleanup(pub.disconnect)
            pub.publish("edge-1/cmd/denied/x", "no", qos=1)
            pub.publish("edge-1/cmd/allowed/x", "yes", qos=1)
            msgs = sub.wait_messages(1, timeout=10)
            time.sleep(0.5)
            self.assertEqual([(m.topic, m.payload) for m in sub.messages], [("dev/cmd/allowed/x", b"yes")])
            self.assertTrue(b.wait_for_log("refused locally"), b.log_text())


if __name__ == "__main__":
    harness.main()
