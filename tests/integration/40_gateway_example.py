#!/usr/bin/python3
"""config/examples/gateway.yaml as shipped, with its paths and ports moved into a temporary
directory: users made with `outpost passwd`, config/examples/gateway.acl as the ACL. A device
writes its own telemetry and reads its own commands, the dashboard user reads all telemetry
and commands any device, local anonymous clients read, an AMQP service logs in as the
dashboard."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import pika

import harness
from harness import PahoClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class GatewayExample(harness.BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.TemporaryDirectory(prefix="outpost-gateway-")
        d = cls.files.name
        for args in (["-c", "-b", f"{d}/passwd", "pump-7", "p7"], ["-b", f"{d}/passwd", "pump-8", "p8"],
                     ["-b", f"{d}/passwd", "dashboard", "dash"]):
            subprocess.run([harness.outpost_bin(), "passwd", *args], check=True, capture_output=True)
        shutil.copy(os.path.join(ROOT, "config", "examples", "gateway.acl"), f"{d}/acl")
        with open(os.path.join(ROOT, "config", "examples", "gateway.yaml")) as f:
            text = f.read()
        cls.device_port, cls.amqp_port = harness.free_port(), harness.free_port()
        text = re.sub(r"port: 1883\b", "port: {port}", text)
        text = re.sub(r"port: 1884\b", f"port: {cls.device_port}", text)
        text = re.sub(r"port: 5672\b", f"port: {cls.amqp_port}", text)
        text = text.replace("/etc/outpost/", f"{d}/").replace("/var/lib/outpost", "{data}")
        cls.config = text
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.files.cleanup()

    def client(self, port, client_id, user=None, password=None):
        c = PahoClient(port, client_id=client_id)
        if user:
            c.client.username_pw_set(user, password)
        c.connect()
        self.assertEqual(c.connack, 0, f"{client_id} refused")
        self.addCleanup(c.disconnect)
        return c

    def test_devices_dashboard_and_local_readers(self):
        local = self.client(self.port, "local-reader")
        self.assertEqual(local.subscribe("devices/#", 1), [1])
        dashboard = self.client(self.device_port, "dashboard-1", "dashboard", "dash")
        self.assertEqual(dashboard.subscribe("devices/+/telemetry/#", 1), [1])
        pump = self.client(self.device_port, "pump-7", "pump-7", "p7")
        self.assertEqual(pump.subscribe("devices/pump-7/commands/#", 1), [1])
        self.assertEqual(pump.subscribe("devices/pump-8/commands/#", 1), [0x80])

        pump.publish("devices/pump-8/telemetry/flow", b"forged", qos=1)  # not its own: dropped
        pump.publish("devices/pump-7/telemetry/flow", b"12.5", qos=1)
        self.assertEqual([(m.topic, m.payload) for m in dashboard.wait_messages(1)],
                         [("devices/pump-7/telemetry/flow", b"12.5")])
        dashboard.publish("devices/pump-7/commands/stop", b"1", qos=1)
        self.assertEqual(pump.wait_messages(1)[0].topic, "devices/pump-7/commands/stop")
        local.wait_messages(2)
        time.sleep(0.2)
        self.assertEqual([m.payload for m in local.messages], [b"12.5", b"1"])
        self.assertEqual([m.payload for m in dashboard.messages], [b"12.5"])

    def test_devices_need_credentials(self):
        anon = PahoClient(self.device_port, client_id="pump-9")
        anon.connect()
        self.assertEqual(anon.connack, 5)
        anon.client.loop_stop()
        wrong = PahoClient(self.device_port, client_id="pump-7")
        wrong.client.username_pw_set("pump-7", "p8")
        wrong.connect()
        self.assertEqual(wrong.connack, 4)
        wrong.client.loop_stop()

    def test_amqp_service_logs_in_as_the_dashboard(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", self.amqp_port, credentials=pika.PlainCredentials("dashboard", "dash")))
        self.addCleanup(conn.close)
        ch = conn.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, "amq.topic", "devices.*.telemetry.#")
        pump = self.client(self.device_port, "pump-8", "pump-8", "p8")
        pump.publish("devices/pump-8/telemetry/level", b"3", qos=1)
        for _ in range(250):
            method, _, body = ch.basic_get(q, auto_ack=True)
            if method:
                break
            time.sleep(0.02)
        self.assertEqual((method.routing_key, body), ("devices.pump-8.telemetry.level", b"3"))
        with self.assertRaises(pika.exceptions.ProbableAuthenticationError):
            pika.BlockingConnection(pika.ConnectionParameters(
                "127.0.0.1", self.amqp_port, credentials=pika.PlainCredentials("guest", "guest")))


if __name__ == "__main__":
    unittest.main()
