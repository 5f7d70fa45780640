"""The admin part of the http listener: GET /api/v1/clients against a known set of clients
(paho MQTT 3.1.1 and 5.0, pika AMQP), GET /api/v1/queues, POST
/api/v1/clients/{id}/disconnect seen by each kind of client, and the HTTP Basic login of a
listener's admins."""
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paho.mqtt.client as mqtt  # noqa: E402
import pika  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from harness import Broker, BrokerTestCase, PahoClient, free_port, password_file  # noqa: E402

HTTP_PORT = free_port()
AMQP_PORT = free_port()


def request(port, path, method="GET", user=None, password=None):
    """(status, headers, body) of an HTTP request."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=b"" if method == "POST" else None)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def clients(port, **kw):
    status, _, body = request(port, "/api/v1/clients", **kw)
    assert status == 200, (status, body)
    return {c["id"]: c for c in json.loads(body)}


def wait_until(predicate, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def no_reconnect(c):
    # paho's network thread would connect again a second after the broker closed it.
    c.client.reconnect_delay_set(min_delay=120, max_delay=120)
    return c


class ClientList(BrokerTestCase):
    config = ("listeners:\n"
              "  - {protocol: mqtt, address: 127.0.0.1, port: {port}, allow_anonymous: true}\n"
              f"  - {{protocol: amqp, address: 127.0.0.1, port: {AMQP_PORT}, allow_anonymous: true}}\n"
              f"  - {{protocol: http, address: 127.0.0.1, port: {HTTP_PORT}}}\n"
              "sys_interval: 0\n")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.started = time.time()
        # MQTT 3.1.1, two subscriptions.
        cls.v311 = no_reconnect(PahoClient(cls.port, client_id="sub-311"))
        cls.v311.connect()
        cls.v311.subscribe("a/#", 1)
        cls.v311.subscribe("b/#", 0)
        # MQTT 5.0 with a queue built while it was away: 5 messages, then back with a
        # receive maximum of 2 and a callback that holds the first message (no PUBACK):
        # 2 in flight, 3 queued.
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
        away = PahoClient(cls.port, client_id="dev-5", protocol=mqtt.MQTTv5, clean_session=False)
        away.connect(properties=props)
        away.subscribe("dev/#", 1)
        away.disconnect()
        pub = PahoClient(cls.port, client_id="filler").connect()
        for i in range(5):
            pub.publish("dev/x", f"m{i}".encode(), qos=1)
        pub.disconnect()
        cls.release = threading.Event()
        cls.v5 = no_reconnect(PahoClient(cls.port, client_id="dev-5", protocol=mqtt.MQTTv5, clean_session=False))
        cls.v5.client.on_message = lambda client, userdata, msg: cls.release.wait(30)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
        props.ReceiveMaximum = 2
        cls.v5.connect(properties=props)
        # AMQP: a named connection consuming `jobs` (4 messages) with prefetch 1, no ack:
        # 1 unacked, 3 left in the queue.
        cls.amqp = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", AMQP_PORT, client_properties={"connection_name": "orders service"}))
        ch = cls.amqp.channel()
        ch.queue_declare("jobs", durable=True)
        for i in range(4):
            ch.basic_publish("", "jobs", f"j{i}".encode(), pika.BasicProperties(delivery_mode=2))
        ch.basic_qos(prefetch_count=1)
        cls.got = []
        ch.basic_consume("jobs", lambda c, m, p, b: cls.got.append(b), auto_ack=False)
        deadline = time.time() + 5
        while not cls.got and time.time() < deadline:
            cls.amqp.process_data_events(time_limit=0.1)

    @classmethod
    def tearDownClass(cls):
        cls.release.set()
        for c in (cls.v311, cls.v5):
            try:
                c.disconnect()
            except Exception:
                pass
        try:
            cls.amqp.close()
        except Exception:
            pass
        super().tearDownClass()

    def test_00_clients_and_their_figures(self):
        now = time.time()
        listed = {}

        def settled():
            listed.update(clients(HTTP_PORT))
            d = listed.get("dev-5")
            return d is not None and d["in_flight"] == 2 and d["queued"] == 3

        self.assertTrue(wait_until(settled), listed)
        self.assertEqual(set(listed), {"sub-311", "dev-5", "orders service"}, listed)
        c = listed["sub-311"]
        self.assertEqual((c["protocol"], c["protocol_version"]), ("mqtt", "3.1.1"))
        self.assertEqual((c["subscriptions"], c["queued"], c["in_flight"]), (2, 0, 0))
        self.assertEqual(c["listener"], f"mqtt 127.0.0.1:{self.port}")
        self.assertTrue(c["remote_address"].startswith("127.0.0.1:"), c)
        self.assertIsNone(c["user"])
        self.assertLessEqual(self.started - 2, c["connected_since_unix"])
        self.assertLessEqual(c["connected_since_unix"], now)
        self.assertEqual(c["connected_since"],
                         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c["connected_since_unix"])))
        d = listed["dev-5"]
        self.assertEqual((d["protocol"], d["protocol_version"]), ("mqtt", "5.0"))
        self.assertEqual((d["subscriptions"], d["queued"], d["in_flight"]), (1, 3, 2))
        a = listed["orders service"]
        self.assertEqual((a["protocol"], a["protocol_version"]), ("amqp", "0-9-1"))
        self.assertEqual(a["listener"], f"amqp 127.0.0.1:{AMQP_PORT}")
        self.assertEqual((a["subscriptions"], a["queued"], a["in_flight"]), (1, 3, 1), a)

    def test_01_queues(self):
        status, headers, body = request(HTTP_PORT, "/api/v1/queues")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        queues = {q["name"]: q for q in json.loads(body)}
        self.assertEqual(queues["jobs"]["consumers"], 1)
        self.assertTrue(queues["jobs"]["durable"])
        self.assertEqual(queues["jobs"]["messages"], 3)
        self.assertEqual(queues["jobs"]["dropped"], 0)

    def test_kick_an_mqtt5_client(self):
        c = no_reconnect(PahoClient(self.port, client_id="kick 5/é", protocol=mqtt.MQTTv5)).connect()
        self.assertIn("kick 5/é", clients(HTTP_PORT))
        status, _, _ = request(HTTP_PORT, "/api/v1/clients/" + urllib.parse.quote("kick 5/é", safe="") + "/disconnect",
                               method="POST")
        self.assertEqual(status, 202)
        self.assertTrue(c.disconnected.wait(5))
        self.assertEqual(int(getattr(c.disconnect_rc, "value", c.disconnect_rc)), 0x98)
        c.client.loop_stop()
        self.assertTrue(wait_until(lambda: "kick 5/é" not in clients(HTTP_PORT)))
        self.broker.wait_for_log("disconnected by an administrator")

    def test_kick_an_mqtt311_client(self):
        c = no_reconnect(PahoClient(self.port, client_id="kick-311")).connect()
        status, _, _ = request(HTTP_PORT, "/api/v1/clients/kick-311/disconnect", method="POST")
        self.assertEqual(status, 202)
        self.assertTrue(c.disconnected.wait(5))
        self.assertNotEqual(c.disconnect_rc, 0)  # closed, not a DISCONNECT it asked for
        c.client.loop_stop()
        self.assertTrue(wait_until(lambda: "kick-311" not in clients(HTTP_PORT)))

    def test_kick_an_amqp_connection(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", AMQP_PORT, client_properties={"connection_name": "kick-amqp"}))
        self.assertIn("kick-amqp", clients(HTTP_PORT))
        status, _, _ = request(HTTP_PORT, "/api/v1/clients/kick-amqp/disconnect", method="POST")
        self.assertEqual(status, 202)
        with self.assertRaises(pika.exceptions.ConnectionClosedByBroker) as cm:
            deadline = time.time() + 5
            while time.time() < deadline:
                conn.process_data_events(time_limit=0.1)
        self.assertEqual(cm.exception.reply_code, 320)
        self.assertIn("administrator", cm.exception.reply_text)

    def test_kick_an_unknown_client(self):
        status, _, body = request(HTTP_PORT, "/api/v1/clients/nobody/disconnect", method="POST")
        self.assertEqual(status, 404, body)

    def test_methods(self):
        self.assertEqual(request(HTTP_PORT, "/api/v1/clients", method="POST")[0], 405)
        status, headers, _ = request(HTTP_PORT, "/api/v1/clients/x/disconnect")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "POST")


class Login(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        passwd = password_file(os.path.join(cls.dir.name, "passwd"), {"root": "root pw", "viewer": "viewer pw"})
        cls.http_port = free_port()
        config = ("listeners:\n"
                  "  - {protocol: mqtt, address: 127.0.0.1, port: {port}, allow_anonymous: true}\n"
                  f"  - {{protocol: http, address: 127.0.0.1, port: {cls.http_port}, password_file: {passwd}, "
                  "admins: [root]}\n"
                  "sys_interval: 0\n")
        cls.broker = Broker(config=config).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        cls.broker.tmp.cleanup()
        cls.dir.cleanup()

    def test_credentials(self):
        status, headers, _ = request(self.http_port, "/api/v1/clients")
        self.assertEqual(status, 401)
        self.assertTrue(headers["WWW-Authenticate"].startswith('Basic realm="outpost"'), headers["WWW-Authenticate"])
        self.assertEqual(request(self.http_port, "/api/v1/clients", user="root", password="wrong")[0], 401)
        self.assertEqual(request(self.http_port, "/api/v1/clients", user="nobody", password="x")[0], 401)
        self.assertEqual(request(self.http_port, "/api/v1/clients", user="viewer", password="viewer pw")[0], 403)
        self.assertEqual(request(self.http_port, "/api/v1/clients/x/disconnect", method="POST", user="viewer",
                                 password="viewer pw")[0], 403)
        self.assertEqual(request(self.http_port, "/api/v1/clients", user="root", password="root pw")[0], 200)
        self.assertEqual(request(self.http_port, "/", user="root", password="root pw")[0], 200)
        self.assertEqual(request(self.http_port, "/api/v1/status", user="root", password="root pw")[0], 200)

    def test_open_paths_stay_open(self):
        self.assertEqual(request(self.http_port, "/healthz")[0], 200)
        self.assertEqual(request(self.http_port, "/readyz")[0], 200)
        self.assertEqual(request(self.http_port, "/healthz", user="viewer", password="wrong")[0], 200)

    def test_a_kick_is_logged_with_who_asked(self):
        c = no_reconnect(PahoClient(self.broker.port, client_id="victim")).connect()
        status, _, _ = request(self.http_port, "/api/v1/clients/victim/disconnect", method="POST", user="root",
                               password="root pw")
        self.assertEqual(status, 202)
        self.assertTrue(c.disconnected.wait(5))
        c.client.loop_stop()
        self.broker.wait_for_log("admin 'root' from 127.0.0.1")


class CheckConfig(unittest.TestCase):
    def test_admins_without_a_password_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "outpost.yaml")
            with open(path, "w") as f:
                f.write("listeners:\n  - {protocol: mqtt, port: 1883, allow_anonymous: true}\n"
                        "  - {protocol: http, port: 8080, admins: [root]}\n")
            r = subprocess.run([os.environ.get("OUTPOST_BIN", "outpost"), "--check-config", "-c", path],
                               capture_output=True, text=True)
            out = r.stdout + r.stderr
            self.assertNotEqual(r.returncode, 0, out)
            self.assertRegex(out, re.escape(path) + r":3:\d+")
            self.assertIn("admins", out)
            self.assertIn("password file", out)

    def test_admins_only_on_http_listeners(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "outpost.yaml")
            with open(path, "w") as f:
                f.write("listeners:\n  - {protocol: mqtt, port: 1883, allow_anonymous: true, admins: [root]}\n")
            r = subprocess.run([os.environ.get("OUTPOST_BIN", "outpost"), "--check-config", "-c", path],
                               capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertRegex(r.stdout + r.stderr, re.escape(path) + r":2:\d+")


if __name__ == "__main__":
    unittest.main(verbosity=2)
