#!/usr/bin/python3
"""One identity space for every protocol: the broker issues each publisher's origin, MQTT
session or AMQP connection alike, so MQTT 5 "no local" [MQTT-3.8.3-3] never mistakes an
AMQP publisher for the subscribing session because both happened to get the same number.

A fresh broker for each case, so the numbering starts where a clash would show: the first
MQTT session and the first AMQP connections are the first publishers of the broker."""
import time
import unittest

import paho.mqtt.client as mqtt
import pika
from paho.mqtt.subscribeoptions import SubscribeOptions

import harness
from harness import PahoClient


class NoLocalAcrossProtocols(harness.BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.aport = harness.free_port()
        cls.broker_args = ("--listen", f"amqp://127.0.0.1:{cls.aport}")
        super().setUpClass()

    def test_amqp_publishers_reach_no_local_mqtt_subscribers(self):
        # Eight MQTT 5 sessions subscribed with No Local and eight AMQP connections that
        # publish: whatever numbers each protocol would draw on its own, they overlap, and
        # every subscriber must still get every AMQP message.
        subs = []
        for i in range(8):
            sub = PahoClient(self.port, client_id=f"no-local-{i}", protocol=mqtt.MQTTv5).connect()
            self.addCleanup(sub.disconnect)
            sub.subscribe("nl/#", options=SubscribeOptions(qos=1, noLocal=True))
            subs.append(sub)
        sent = []
        for i in range(8):
            conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.aport))
            ch = conn.channel()
            body = f"amqp-{i}".encode()
            ch.basic_publish("amq.topic", f"nl.k{i}", body)
            sent.append((f"nl/k{i}", body))
            conn.close()
        for n, sub in enumerate(subs):
            msgs = sub.wait_messages(len(sent), timeout=5)
            self.assertEqual(sorted((m.topic, m.payload) for m in msgs), sorted(sent), f"subscriber {n}")

    def test_no_local_still_drops_the_sessions_own_messages(self):
        sub = PahoClient(self.port, client_id="self-pub", protocol=mqtt.MQTTv5).connect()
        self.addCleanup(sub.disconnect)
        sub.subscribe("own/#", options=SubscribeOptions(qos=1, noLocal=True))
        sub.publish("own/a", b"mine", qos=1)
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.aport))
        conn.channel().basic_publish("amq.topic", "own.b", b"theirs")
        conn.close()
        msgs = sub.wait_messages(1, timeout=5)
        time.sleep(0.3)
        self.assertEqual([(m.topic, m.payload) for m in sub.messages], [("own/b", b"theirs")])
        self.assertEqual(msgs[0].topic, "own/b")


if __name__ == "__main__":
    unittest.main(verbosity=2)
