#!/usr/bin/python3
"""AMQP clients log in as the same users as MQTT clients (pika, PLAIN), topic rules apply
to amq.topic (routing key a.b.c is topic a/b/c) and RabbitMQ-style resource permissions
from the config to exchanges and queues: refusals are 403 ACCESS_REFUSED."""
import json
import os
import tempfile
import unittest

import paho.mqtt.client as mqtt
import pika

import harness
from harness import PahoClient

ACL = """
user alice
topic readwrite sensors/#
user bob
topic read sensors/+/temp
topic write sensors/bob/#
"""


class AmqpAuth(harness.BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.TemporaryDirectory(prefix="outpost-amqp-auth-")
        passwd = os.path.join(cls.files.name, "passwd")
        acl = os.path.join(cls.files.name, "acl")
        harness.password_file(passwd, {"alice": "wonderland", "bob": "builder", "carol": "c4rol"})
        with open(acl, "w") as f:
            f.write(ACL)
        cls.mport = harness.free_port()
        cls.config = harness.amqp_config(anonymous=False, mqtt_port=cls.mport, extra=(
            f"auth:\n  password_file: {passwd}\n  acl_file: {acl}\n"
            "  permissions:\n"
            "    alice: {configure: '.*', write: '.*', read: '.*'}\n"
            "    bob: {configure: '^(amq\\.gen.*|bob\\..*)$', write: '^(amq\\.topic|bob\\..*|amq\\.gen.*)$', "
            "read: '^(amq\\.topic|bob\\..*|amq\\.gen.*)$'}\n"
            "    carol: {configure: '^$', write: '^$', read: '^$'}\n"))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.files.cleanup()

    def connect(self, user, password):
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", self.port, credentials=pika.PlainCredentials(user, password), connection_attempts=1))
        self.addCleanup(lambda: conn.is_open and conn.close())
        return conn

    def test_good_and_bad_credentials(self):
        self.assertTrue(self.connect("alice", "wonderland").is_open)
        with self.assertRaises((pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError)):
            self.connect("alice", "wrong")
        with self.assertRaises((pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError)):
            self.connect("nobody", "wonderland")

    def test_anonymous_guest_refused(self):
        with self.assertRaises((pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError)):
            self.connect("guest", "guest")

    def test_topic_publish_rules_on_amq_topic(self):
        ch = self.connect("bob", "builder").channel()
        ch.confirm_delivery()
        ch.basic_publish("amq.topic", "sensors.bob.temp", b"ok")  # allowed: confirmed
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as e:
            ch.basic_publish("amq.topic", "sensors.alice.temp", b"forged")
        self.assertEqual(e.exception.reply_code, 403)

    def test_binding_with_denied_key_is_refused(self):
        conn = self.connect("bob", "builder")
        ch = conn.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, "amq.topic", "sensors.*.temp")  # readable
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as e:
            ch.queue_bind(q, "amq.topic", "cmd.#")
        self.assertEqual(e.exception.reply_code, 403)

    def test_mqtt_device_to_amqp_service_with_credentials(self):
        ch = self.connect("bob", "builder").channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, "amq.topic", "sensors.*.temp")
        dev = PahoClient(self.mport, client_id="dev")
        dev.client.username_pw_set("alice", "wonderland")  # anonymous clients may write nothing
        dev.connect()
        dev.publish("sensors/room1/temp", b"22", qos=1)
        dev.disconnect()
        for _ in range(100):
            method, _, body = ch.basic_get(q, auto_ack=True)
            if method:
                break
            import time
            time.sleep(0.02)
        self.assertEqual(body, b"22")

    def test_amqplib_plain_and_amqplain(self):
        proc = harness.run_node("amqp_login.js", self.port, "alice", "wonderland")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        r = json.loads(proc.stdout)
        self.assertEqual(r["plain"], "ok")
        self.assertEqual(r["amqplain"], "ok")
        self.assertIn("403", r["plainWrong"])
        self.assertIn("ACCESS_REFUSED", r["amqplainWrong"])
        self.assertEqual(r["sensors.node.temp"], "confirmed")
        self.assertEqual(r["cmd.node"], 403)

    def test_resource_permissions(self):
        bob = self.connect("bob", "builder").channel()
        bob.queue_declare("bob.jobs", auto_delete=True)  # configure allowed
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as e:
            bob.queue_declare("alice.jobs")
        self.assertEqual(e.exception.reply_code, 403)
        self.assertIn("configure access to queue 'alice.jobs'", e.exception.reply_text)
        carol = self.connect("carol", "c4rol").channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as e:
            carol.basic_publish("amq.topic", "sensors.x.temp", b"x")
            carol.queue_declare("", exclusive=True)  # the publish's 403 arrives by then at the latest
        self.assertEqual(e.exception.reply_code, 403)
        alice = self.connect("alice", "wonderland").channel()
        alice.queue_declare("alice.private", auto_delete=False)
        self.addCleanup(lambda: self.connect("alice", "wonderland").channel().queue_delete("alice.private"))
        bob2 = self.connect("bob", "builder").channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as e:
            bob2.basic_get("alice.private")
        self.assertEqual(e.exception.reply_code, 403)


if __name__ == "__main__":
    unittest.main()
