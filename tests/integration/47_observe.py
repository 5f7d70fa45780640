"""Observability: the $SYS topics against a known load (N clients, M messages), their ACL,
the http listener's /metrics (checked by promtool from Debian's prometheus package),
/healthz and /readyz, and what an http listener answers to whom."""
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paho.mqtt.client as mqtt  # noqa: E402
import pika  # noqa: E402
from harness import Broker, BrokerTestCase, PahoClient, free_port, password_file  # noqa: E402

HTTP_PORT = free_port()
AMQP_PORT = free_port()


def get(port, path, method="GET"):
    """(status, content type, body) of an HTTP request."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def metric(text, name, labels=""):
    """The value of one sample of the Prometheus text."""
    wanted = name + ("{" + labels + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == wanted:
            return float(value)
    raise AssertionError(f"no sample {wanted} in:\n{text}")


def sys_values(port, timeout=5.0):
    """The retained $SYS topics a new subscriber gets at once: topic -> first value."""
    c = PahoClient(port, client_id="sys-reader").connect()
    try:
        c.subscribe("$SYS/#", 0)
        time.sleep(0.5)
        values = {}
        deadline = time.time() + timeout
        while time.time() < deadline and "$SYS/broker/version" not in values:
            time.sleep(0.1)
            for m in c.wait_messages(0, 0):
                values.setdefault(m.topic, m.payload.decode())
        for m in c.wait_messages(0, 0):
            values.setdefault(m.topic, m.payload.decode())
        return values
    finally:
        c.disconnect()


class KnownLoad(BrokerTestCase):
    config = ("listeners:\n"
              "  - {protocol: mqtt, address: 127.0.0.1, port: {port}, allow_anonymous: true}\n"
              f"  - {{protocol: amqp, address: 127.0.0.1, port: {AMQP_PORT}, allow_anonymous: true}}\n"
              f"  - {{protocol: http, address: 127.0.0.1, port: {HTTP_PORT}}}\n"
              "sys_interval: 1s\n")

    IDLE = 5
    MESSAGES = 100

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.idle = [PahoClient(cls.port, client_id=f"idle-{i}").connect() for i in range(cls.IDLE)]
        cls.sub = PahoClient(cls.port, client_id="load-sub").connect()
        cls.sub.subscribe("load/#", 1)
        cls.pub = PahoClient(cls.port, client_id="load-pub").connect()
        for i in range(cls.MESSAGES):
            cls.pub.publish("load/x", f"m{i}".encode(), qos=1)
        got = cls.sub.wait_messages(cls.MESSAGES, timeout=10)
        assert len(got) == cls.MESSAGES, len(got)
        # AMQP: a durable queue holding three messages, no consumer.
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", AMQP_PORT, connection_attempts=3))
        ch = conn.channel()
        ch.queue_declare("orders", durable=True)
        for i in range(3):
            ch.basic_publish("", "orders", f"o{i}".encode(), pika.BasicProperties(delivery_mode=2))
        conn.close()
        time.sleep(2.5)  # at least one $SYS round after all of it

    @classmethod
    def tearDownClass(cls):
        for c in cls.idle + [cls.sub, cls.pub]:
            c.disconnect()
        super().tearDownClass()

    def test_00_sys_topics_match_the_load(self):
        # Runs first (unittest orders by name): the other tests add to the load.
        v = sys_values(self.port)
        self.assertTrue(v["$SYS/broker/version"].startswith("outpost "), v["$SYS/broker/version"])
        self.assertRegex(v["$SYS/broker/uptime"], r"^\d+ seconds$")
        clients = self.IDLE + 2
        self.assertEqual(v["$SYS/broker/clients/connected"], str(clients))
        self.assertEqual(v["$SYS/broker/clients/disconnected"], "0")
        self.assertEqual(v["$SYS/broker/clients/total"], str(clients))
        self.assertGreaterEqual(int(v["$SYS/broker/clients/maximum"]), clients)
        # 100 MQTT messages and 3 AMQP ones were received; the 100 were sent to one subscriber.
        self.assertEqual(v["$SYS/broker/messages/received"], str(self.MESSAGES + 3))
        self.assertEqual(v["$SYS/broker/publish/messages/received"], str(self.MESSAGES))
        self.assertEqual(v["$SYS/broker/publish/messages/sent"], str(self.MESSAGES))
        self.assertEqual(v["$SYS/broker/messages/sent"], str(self.MESSAGES))
        self.assertEqual(v["$SYS/broker/publish/messages/dropped"], "0")
        self.assertEqual(v["$SYS/broker/subscriptions/count"], "1")
        self.assertGreater(int(v["$SYS/broker/bytes/received"]), self.MESSAGES * 8)
        self.assertGreater(int(v["$SYS/broker/bytes/sent"]), self.MESSAGES * 8)
        self.assertEqual(v["$SYS/broker/store/messages/count"], "3")  # the AMQP queue's
        self.assertGreater(float(v["$SYS/broker/load/messages/received/1min"]), 0)
        self.assertEqual(v["$SYS/broker/amqp/queues/orders/messages"], "3")
        self.assertEqual(v["$SYS/broker/amqp/queues/orders/consumers"], "0")
        self.assertEqual(v[f"$SYS/broker/listeners/mqtt/{self.port}/connections"], str(clients))

    def test_sys_values_follow_the_broker(self):
        time.sleep(1.5)  # a round after what earlier tests did
        before = int(sys_values(self.port)["$SYS/broker/messages/received"])
        self.pub.publish("load/y", b"one more", qos=1)
        time.sleep(1.5)
        self.assertEqual(int(sys_values(self.port)["$SYS/broker/messages/received"]), before + 1)

    def test_clients_cannot_publish_into_sys(self):
        c = PahoClient(self.port, client_id="spoofer", protocol=mqtt.MQTTv5).connect()
        try:
            info = c.publish("$SYS/broker/version", b"fake", qos=1, wait=False)
            info.wait_for_publish(timeout=5)
            time.sleep(0.3)
            self.assertTrue(sys_values(self.port)["$SYS/broker/version"].startswith("outpost "))
        finally:
            c.disconnect()

    def test_metrics_pass_promtool_and_match_the_load(self):
        status, ctype, text = get(HTTP_PORT, "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual((check.stdout + check.stderr).strip(), "", "promtool lint findings")
        self.assertGreaterEqual(metric(text, "outpost_messages_received_total", 'protocol="mqtt"'), self.MESSAGES)
        self.assertGreaterEqual(metric(text, "outpost_messages_received_total", 'protocol="amqp"'), 3)
        self.assertGreaterEqual(metric(text, "outpost_messages_delivered_total", 'protocol="mqtt"'), self.MESSAGES)
        self.assertGreaterEqual(metric(text, "outpost_clients_connected"), self.IDLE + 2)
        self.assertEqual(metric(text, "outpost_amqp_queue_messages", 'queue="orders"'), 3)
        self.assertGreater(metric(text, "outpost_received_bytes_total",
                                  f'listener="127.0.0.1:{self.port}",protocol="mqtt"'), 0)
        self.assertGreater(metric(text, "outpost_store_commit_duration_seconds_count"), 0)
        self.assertGreater(metric(text, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(metric(text, "process_open_fds"), 0)

    def test_metrics_during_load_pass_promtool(self):
        pub = PahoClient(self.port, client_id="burst").connect()
        try:
            for i in range(300):
                pub.publish("load/burst", b"x" * 100, qos=0, wait=False)
            status, _, text = get(HTTP_PORT, "/metrics")
        finally:
            pub.disconnect()
        self.assertEqual(status, 200)
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_health_and_readiness(self):
        self.assertEqual(get(HTTP_PORT, "/healthz")[::2], (200, "ok\n"))
        self.assertEqual(get(HTTP_PORT, "/readyz")[::2], (200, "ready\n"))
        self.assertEqual(get(HTTP_PORT, "/nothing")[0], 404)
        self.assertEqual(get(HTTP_PORT, "/metrics", method="POST")[0], 405)
        status, _, body = get(HTTP_PORT, "/metrics", method="HEAD")
        self.assertEqual((status, body), (200, ""))


class SysAccess(BrokerTestCase):
    """ACLs decide who may read $SYS: here only the user 'ops'."""

    @classmethod
    def setUpClass(cls):
        cls.dir = __import__("tempfile").TemporaryDirectory()
        passwd = password_file(os.path.join(cls.dir.name, "passwd"), {"ops": "ops pass", "dev": "dev pass"})
        cls.config = ("listeners:\n"
                      "  - {protocol: mqtt, address: 127.0.0.1, port: {port}, allow_anonymous: false}\n"
                      f"auth:\n  password_file: {passwd}\n"
                      "  acl:\n"
                      "    - {user: ops, topic: '$SYS/#', access: read}\n"
                      "    - {user: dev, topic: 'dev/#', access: readwrite}\n"
                      "sys_interval: 1s\n")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.dir.cleanup()

    def client(self, user, password, cid):
        c = PahoClient(self.port, client_id=cid)
        c.client.username_pw_set(user, password)
        return c.connect()

    def test_only_a_user_the_acl_allows_reads_sys(self):
        dev = self.client("dev", "dev pass", "dev-1")
        ops = self.client("ops", "ops pass", "ops-1")
        try:
            self.assertEqual(dev.subscribe("$SYS/#", 0), [0x80])
            self.assertEqual(ops.subscribe("$SYS/#", 0), [0])
            got = ops.wait_messages(10, timeout=5)
            self.assertTrue(any(m.topic == "$SYS/broker/version" for m in got), [m.topic for m in got])
        finally:
            dev.disconnect()
            ops.disconnect()


class HttpAccess(unittest.TestCase):
    def test_a_listener_with_a_password_file_answers_only_its_open_paths(self):
        with __import__("tempfile").TemporaryDirectory() as d:
            passwd = password_file(os.path.join(d, "passwd"), {"ops": "ops pass"})
            port = free_port()
            config = ("listeners:\n"
                      "  - {protocol: mqtt, address: 127.0.0.1, port: {port}, allow_anonymous: true}\n"
                      f"  - {{protocol: http, address: 127.0.0.1, port: {port}, password_file: {passwd}, "
                      "open: [/healthz, /metrics]}\n"
                      "sys_interval: 0\n")
            with Broker(config=config) as b:
                self.assertEqual(get(port, "/healthz")[0], 200)
                self.assertEqual(get(port, "/metrics")[0], 200)
                # Not open: a login is asked for (the listener has a password file).
                self.assertEqual(get(port, "/readyz")[0], 401)
                # sys_interval 0: no $SYS topics at all.
                c = PahoClient(b.port, client_id="no-sys").connect()
                c.subscribe("$SYS/#", 0)
                time.sleep(1.0)
                self.assertEqual(c.wait_messages(0, 0), [])
                c.disconnect()

    def test_check_config_names_a_bad_open_path(self):
        with __import__("tempfile").TemporaryDirectory() as d:
            path = os.path.join(d, "outpost.yaml")
            with open(path, "w") as f:
                f.write("listeners:\n  - {protocol: mqtt, port: 1883, allow_anonymous: true}\n"
                        "  - {protocol: http, port: 8080, open: [metrics]}\n")
            r = subprocess.run([os.environ.get("OUTPOST_BIN", "outpost"), "--check-config", "-c", path],
                               capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("open[0]", r.stdout + r.stderr)
            self.assertIn("expected a path starting with '/'", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
