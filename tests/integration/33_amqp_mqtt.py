#!/usr/bin/python3
"""MQTT and AMQP on the one routing core: the broker started with
`-p PORT --listen amqp://127.0.0.1:APORT`, paho-mqtt on one side, pika on the other.

amq.topic is the MQTT exchange: MQTT topics are AMQP routing keys with '/' and '.'
exchanged (docs/amqp.md), properties map as documented there."""
import time
import unittest

import paho.mqtt.client as mqtt
import pika
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import harness
from harness import Broker, PahoClient


def amqp_channel(port):
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    return conn, conn.channel()


def bound_queue(ch, *keys, exchange="amq.topic"):
    q = ch.queue_declare("", exclusive=True).method.queue
    for k in keys:
        ch.queue_bind(q, exchange, k)
    return q


def get(ch, queue, timeout=5.0):
    """basic.get until a message arrives (MQTT publishes cross threads)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        method, props, body = ch.basic_get(queue, auto_ack=True)
        if method is not None:
            return method, props, body
        time.sleep(0.02)
    raise AssertionError(f"nothing arrived on {queue}")


class CrossProtocol(harness.BrokerTestCase):
    """The broker with an MQTT listener on the test's port and an AMQP one on `aport`."""

    @classmethod
    def setUpClass(cls):
        cls.aport = harness.free_port()
        cls.broker_args = ("--listen", f"amqp://127.0.0.1:{cls.aport}")
        super().setUpClass()

    def setUp(self):
        self.conn, self.ch = amqp_channel(self.aport)

    def tearDown(self):
        if self.conn.is_open:
            self.conn.close()

    def mqtt_client(self, v5=False):
        c = PahoClient(self.port, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311).connect()
        self.addCleanup(c.disconnect)
        return c

    def test_mqtt_publish_reaches_amqp_topic_binding(self):
        q = bound_queue(self.ch, "sensors.*.temp")
        pub = self.mqtt_client()
        pub.publish("sensors/room1/temp", b"21.5", qos=1)
        pub.publish("sensors/room1/humidity", b"40", qos=1)
        method, props, body = get(self.ch, q)
        self.assertEqual(body, b"21.5")
        self.assertEqual(method.exchange, "amq.topic")
        self.assertEqual(method.routing_key, "sensors.room1.temp")
        self.assertEqual(props.delivery_mode, 2)  # QoS 1: persistent
        time.sleep(0.2)
        self.assertIsNone(self.ch.basic_get(q, auto_ack=True)[0], "humidity must not match sensors.*.temp")

    def test_dot_inside_an_mqtt_level(self):
        sub = self.mqtt_client()
        sub.subscribe("p/#", qos=1)
        q = bound_queue(self.ch, "p.*")
        exact = bound_queue(self.ch, "p.v1/2")
        pub = self.mqtt_client()
        pub.publish("p/v1.2", b"fw", qos=1)
        msgs = sub.wait_messages(1)
        self.assertEqual([m.topic for m in msgs], ["p/v1.2"])  # exactly as published
        method, _, body = get(self.ch, q)
        self.assertEqual((method.routing_key, body), ("p.v1/2", b"fw"))
        method, _, _ = get(self.ch, exact)
        self.assertEqual(method.routing_key, "p.v1/2")
        # And back: an AMQP publish with the mapped key reaches MQTT as the dotted topic.
        self.ch.basic_publish("amq.topic", "p.v1/2", b"back")
        msgs = sub.wait_messages(2)
        self.assertEqual([(m.topic, m.payload) for m in msgs][1], ("p/v1.2", b"back"))

    def test_amqp_publish_reaches_mqtt_wildcard(self):
        sub = self.mqtt_client()
        sub.subscribe("a/+", qos=1)
        self.ch.basic_publish("amq.topic", "a.b", b"from-amqp",
                              pika.BasicProperties(delivery_mode=2))
        self.ch.basic_publish("amq.topic", "a.b.c", b"too-deep")
        msgs = sub.wait_messages(1)
        time.sleep(0.2)
        self.assertEqual([(m.topic, m.payload) for m in sub.messages], [("a/b", b"from-amqp")])
        self.assertEqual(msgs[0].qos, 1)  # persistent -> QoS 1, within the granted QoS

    def test_empty_routing_key_is_not_sent_to_mqtt(self):
        # '#' matches an empty AMQP routing key, but an empty topic is not MQTT: the
        # subscriber keeps its connection and gets what follows.
        sub = self.mqtt_client()
        sub.subscribe("#", qos=1)
        q = bound_queue(self.ch, "#")
        self.ch.basic_publish("amq.topic", "", b"empty-key", pika.BasicProperties(delivery_mode=2))
        self.ch.basic_publish("amq.topic", "after", b"after", pika.BasicProperties(delivery_mode=2))
        msgs = sub.wait_messages(1)
        time.sleep(0.2)
        self.assertEqual([(m.topic, m.payload) for m in sub.messages], [("after", b"after")])
        self.assertTrue(sub.client.is_connected())
        self.assertEqual(get(self.ch, q)[2], b"empty-key")  # AMQP consumers still get it

    def test_amqp_to_amqp_keys_stay_verbatim(self):
        q = bound_queue(self.ch, "x.#")
        self.ch.basic_publish("amq.topic", "x.y/z", b"1")
        method, _, _ = get(self.ch, q)
        self.assertEqual(method.routing_key, "x.y/z")

    def test_mqtt5_properties_to_amqp(self):
        q = bound_queue(self.ch, "rpc.request")
        pub = self.mqtt_client(v5=True)
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("tenant", "acme"), ("trace", "t-1")]
        props.ContentType = "application/json"
        props.CorrelationData = b"corr-42"
        props.ResponseTopic = "replies/client1"
        props.MessageExpiryInterval = 60
        pub.publish("rpc/request", b"{}", qos=1, properties=props)
        method, p, body = get(self.ch, q)
        self.assertEqual(p.headers, {"tenant": "acme", "trace": "t-1"})
        self.assertEqual(p.content_type, "application/json")
        self.assertEqual(p.correlation_id, "corr-42")
        self.assertEqual(p.reply_to, "replies.client1")  # a key on amq.topic
        self.assertIsNotNone(p.expiration)
        self.assertTrue(55000 <= int(p.expiration) <= 60000, p.expiration)

    def test_amqp_properties_to_mqtt5(self):
        sub = self.mqtt_client(v5=True)
        sub.subscribe("rpc/reply", qos=1)
        self.ch.basic_publish("amq.topic", "rpc.reply", b"ok", pika.BasicProperties(
            headers={"tenant": "acme", "n": 7}, content_type="text/plain", correlation_id="corr-42",
            reply_to="replies.client1", expiration="30000", delivery_mode=2))
        m = sub.wait_messages(1)[0]
        self.assertEqual(m.payload, b"ok")
        p = m.properties
        self.assertEqual(sorted(p.UserProperty), [("n", "7"), ("tenant", "acme")])
        self.assertEqual(p.ContentType, "text/plain")
        self.assertEqual(p.CorrelationData, b"corr-42")
        self.assertEqual(p.ResponseTopic, "replies/client1")
        self.assertTrue(25 <= p.MessageExpiryInterval <= 30, p.MessageExpiryInterval)

    def test_request_reply_across_protocols(self):
        # An MQTT requester names its response topic; an AMQP service answers on amq.topic
        # with the reply-to it was given as routing key.
        requester = self.mqtt_client(v5=True)
        requester.subscribe("replies/client7", qos=1)
        q = bound_queue(self.ch, "svc.echo")
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = "replies/client7"
        props.CorrelationData = b"id-1"
        requester.publish("svc/echo", b"ping", qos=1, properties=props)
        _, p, body = get(self.ch, q)
        self.ch.basic_publish("amq.topic", p.reply_to, body + b"-pong",
                              pika.BasicProperties(correlation_id=p.correlation_id))
        m = requester.wait_messages(1)[0]
        self.assertEqual((m.topic, m.payload, m.properties.CorrelationData),
                         ("replies/client7", b"ping-pong", b"id-1"))

    def test_long_correlation_data_goes_in_a_header(self):
        q = bound_queue(self.ch, "big.corr")
        pub = self.mqtt_client(v5=True)
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = bytes(range(256)) * 2
        pub.publish("big/corr", b"x", qos=1, properties=props)
        _, p, _ = get(self.ch, q)
        self.assertIsNone(p.correlation_id)
        self.assertEqual(p.headers["x-correlation-id"], bytes(range(256)) * 2)

    def test_mqtt_expired_message_is_not_delivered_to_amqp(self):
        q = bound_queue(self.ch, "short.lived")
        pub = self.mqtt_client(v5=True)
        props = Properties(PacketTypes.PUBLISH)
        props.MessageExpiryInterval = 1
        pub.publish("short/lived", b"gone", qos=1, properties=props)
        time.sleep(2.2)
        self.assertIsNone(self.ch.basic_get(q, auto_ack=True)[0])


class MqttIntoDurableAmqpQueue(unittest.TestCase):
    """A PUBACK for a message routed to a durable AMQP queue comes only once it is stored:
    acknowledged messages survive a SIGKILL."""

    def test_acknowledged_messages_survive_sigkill(self):
        aport = harness.free_port()
        broker = Broker(args=["--listen", f"amqp://127.0.0.1:{aport}"])
        self.addCleanup(broker.tmp.cleanup)
        broker.start()
        try:
            harness.wait_for_port(aport, proc=broker.proc)
            conn, ch = amqp_channel(aport)
            ch.queue_declare("telemetry", durable=True)
            ch.queue_bind("telemetry", "amq.topic", "plant.#")
            conn.close()
            pub = PahoClient(broker.port).connect()
            for i in range(200):
                pub.publish(f"plant/line{i % 4}/temp", str(i).encode(), qos=1, wait=False)
            pub.publish("plant/done", b"end", qos=1)  # waits: every earlier PUBACK came first
            broker.kill()
            pub.client.loop_stop()
            broker.start()
            harness.wait_for_port(aport, proc=broker.proc)
            conn, ch = amqp_channel(aport)
            declared = ch.queue_declare("telemetry", passive=True)
            self.assertEqual(declared.method.message_count, 201)
            first = ch.basic_get("telemetry", auto_ack=True)
            self.assertEqual((first[0].routing_key, first[2]), ("plant.line0.temp", b"0"))
            conn.close()
        finally:
            code = broker.stop()
            self.assertIn(code, (0, None), broker.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
