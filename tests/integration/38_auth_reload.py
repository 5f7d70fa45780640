#!/usr/bin/python3
"""SIGHUP reloads the password and ACL files without dropping connected clients: new rules
apply to their next operations, a client whose user was removed is disconnected (MQTT 5:
DISCONNECT 0x87), a file that does not parse keeps the rules in force."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

import paho.mqtt.client as mqtt
import pika

import harness
from harness import PahoClient


class Reload(harness.BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.TemporaryDirectory(prefix="outpost-reload-")
        cls.passwd = os.path.join(cls.files.name, "passwd")
        cls.acl = os.path.join(cls.files.name, "acl")
        harness.password_file(cls.passwd, {"keeper": "k", "leaver": "l", "amqp-leaver": "a"})
        with open(cls.acl, "w") as f:
            f.write("user keeper\ntopic readwrite a/#\nuser leaver\ntopic readwrite #\n")
        cls.aport = harness.free_port()
        cls.config = harness.broker_config(anonymous=False, extra=(
            f"  - {{protocol: amqp, address: 127.0.0.1, port: {cls.aport}, allow_anonymous: false}}\n"
            f"auth:\n  password_file: {cls.passwd}\n  acl_file: {cls.acl}\n"))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.files.cleanup()

    def hup(self, expect):
        before = self.broker.log_text().count(expect)
        os.kill(self.broker.proc.pid, signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and self.broker.log_text().count(expect) <= before:
            time.sleep(0.05)
        self.assertGreater(self.broker.log_text().count(expect), before, self.broker.log_text()[-3000:])

    def client(self, user, password, client_id, v5=True):
        c = PahoClient(self.port, client_id=client_id, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        c.client.username_pw_set(user, password)
        c.connect()
        self.assertEqual(c.connack, 0)
        return c

    def test_1_acl_change_applies_to_connected_client(self):
        k = self.client("keeper", "k", "keeper-1")
        self.addCleanup(k.disconnect)
        self.assertEqual(k.subscribe("b/#", 1)[0].value, 0x87)
        self.assertEqual(k.subscribe("a/#", 1)[0].value, 1)
        with open(self.acl, "w") as f:
            f.write("user keeper\ntopic readwrite b/#\nuser leaver\ntopic readwrite #\n")
        self.hup("reloaded")
        # Still connected; the next operations follow the new rules.
        self.assertFalse(k.disconnected.is_set())
        self.assertEqual(k.subscribe("b/#", 1)[0].value, 1)
        k.publish("b/x", b"now readable", qos=1)
        k.publish("a/x", b"no longer readable", qos=1)
        k.wait_messages(1)
        time.sleep(0.3)
        self.assertEqual([m.payload for m in k.messages], [b"now readable"])

    def test_2_bad_file_keeps_rules(self):
        k = self.client("keeper", "k", "keeper-2")
        self.addCleanup(k.disconnect)
        with open(self.passwd, "a") as f:
            f.write("this line is not a user\n")
        self.hup("not reloaded")
        self.assertIn(f"{self.passwd}:", self.broker.log_text())
        again = self.client("keeper", "k", "keeper-2b")  # the old rules still let keeper in
        again.disconnect()
        # Repair the file for the next test.
        with open(self.passwd) as f:
            lines = [l for l in f if "not a user" not in l]
        with open(self.passwd, "w") as f:
            f.writelines(lines)

    def test_3_removed_user_is_disconnected(self):
        k = self.client("keeper", "k", "keeper-3")
        self.addCleanup(k.disconnect)
        gone = self.client("leaver", "l", "leaver-3")
        old311 = self.client("leaver", "l", "leaver-311", v5=False)
        amqp = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", self.aport, credentials=pika.PlainCredentials("amqp-leaver", "a")))
        subprocess.run(["mosquitto_passwd", "-D", self.passwd, "leaver"], check=True, capture_output=True)
        subprocess.run(["mosquitto_passwd", "-D", self.passwd, "amqp-leaver"], check=True, capture_output=True)
        self.hup("reloaded")
        self.assertTrue(gone.disconnected.wait(5))
        self.assertEqual(gone.disconnect_rc, 0x87)
        self.assertTrue(old311.disconnected.wait(5))
        with self.assertRaises(pika.exceptions.ConnectionClosedByBroker) as e:
            amqp.process_data_events(time_limit=5)
            amqp.channel()
        self.assertEqual(e.exception.reply_code, 320)
        self.assertFalse(k.disconnected.is_set())
        refused = PahoClient(self.port, client_id="leaver-again", protocol=mqtt.MQTTv5)
        refused.client.username_pw_set("leaver", "l")
        refused.connect()
        self.assertEqual(refused.connack, 0x86)
        refused.client.loop_stop()


if __name__ == "__main__":
    unittest.main()
