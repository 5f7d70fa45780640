#!/usr/bin/python3
"""W3C trace context end to end: the MQTT 5 user properties traceparent/tracestate are the
AMQP headers of the same names both ways, unchanged (paho-mqtt with MQTT 5 properties on
one side, pika on the other, and an AMQP service in between); they cross the MQTT bridge to
a real Debian mosquitto and back; `tracing: {inject: true}` gives a message without one a
valid fresh one; log lines about refused and dropped messages name the trace id."""

import re
import time
import unittest

import paho.mqtt.client as mqtt
import pika
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import cloud
import harness
from harness import PahoClient

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACESTATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
VALID = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-01$")


def publish_props(*pairs):
    p = Properties(PacketTypes.PUBLISH)
    p.UserProperty = list(pairs)
    return p


def user_properties(msg):
    props = getattr(msg, "properties", None)
    return dict(getattr(props, "UserProperty", []) or []) if props is not None else {}


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def amqp_channel(port):
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    return conn, conn.channel()


def bound_queue(ch, *keys, exchange="amq.topic"):
    q = ch.queue_declare("", exclusive=True).method.queue
    for k in keys:
        ch.queue_bind(q, exchange, k)
    return q


def get(ch, queue, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        method, props, body = ch.basic_get(queue, auto_ack=True)
        if method is not None:
            return method, props, body
        time.sleep(0.02)
    raise AssertionError(f"nothing arrived on {queue}")


def two_listener_config(aport, extra=""):
    return ("listeners:\n"
            "  - {protocol: mqtt, address: 127.0.0.1, port: {port}, allow_anonymous: true}\n"
            f"  - {{protocol: amqp, address: 127.0.0.1, port: {aport}, allow_anonymous: true}}\n" + extra)


class Mixin:
    def mqtt_client(self, v5=True, port=None):
        c = PahoClient(port or self.port, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311).connect()
        self.addCleanup(c.disconnect)
        return c

    def amqp(self):
        conn, ch = amqp_channel(self.aport)
        self.addCleanup(lambda: conn.is_open and conn.close())
        return ch


class CarriedAcrossProtocols(Mixin, harness.BrokerTestCase):
    """Without injection: what is sent arrives as it was sent."""

    @classmethod
    def setUpClass(cls):
        cls.aport = harness.free_port()
        cls.config = two_listener_config(cls.aport)
        super().setUpClass()

    def test_mqtt5_user_properties_become_amqp_headers(self):
        ch = self.amqp()
        q = bound_queue(ch, "orders.#")
        pub = self.mqtt_client()
        pub.publish("orders/1", b"o1", qos=1,
                    properties=publish_props(("traceparent", TRACEPARENT), ("tracestate", TRACESTATE), ("k", "v")))
        _, props, body = get(ch, q)
        self.assertEqual(body, b"o1")
        self.assertEqual(text(props.headers["traceparent"]), TRACEPARENT)
        self.assertEqual(text(props.headers["tracestate"]), TRACESTATE)
        self.assertEqual(text(props.headers["k"]), "v")

    def test_amqp_headers_become_mqtt5_user_properties(self):
        sub = self.mqtt_client()
        sub.subscribe("events/#", 1)
        ch = self.amqp()
        ch.basic_publish("amq.topic", "events.a", b"e1",
                         pika.BasicProperties(headers={"traceparent": TRACEPARENT, "tracestate": TRACESTATE}))
        msgs = sub.wait_messages(1)
        self.assertEqual(len(msgs), 1)
        ups = user_properties(msgs[0])
        self.assertEqual(ups.get("traceparent"), TRACEPARENT)
        self.assertEqual(ups.get("tracestate"), TRACESTATE)

    def test_round_trip_through_an_amqp_service(self):
        """A device asks (MQTT 5), a service answers over AMQP with the headers it got, the
        device gets the answer with the same trace context."""
        ch = self.amqp()
        requests = bound_queue(ch, "req.#")
        device = self.mqtt_client()
        device.subscribe("resp/#", 1)
        device.publish("req/42", b"ask", qos=1, properties=publish_props(("traceparent", TRACEPARENT)))
        method, props, body = get(ch, requests)
        ch.basic_publish("amq.topic", "resp.42", b"answer:" + body, pika.BasicProperties(headers=props.headers))
        msgs = device.wait_messages(1)
        self.assertEqual(len(msgs), 1)
        self.assertEqual(msgs[0].payload, b"answer:ask")
        self.assertEqual(user_properties(msgs[0]).get("traceparent"), TRACEPARENT)

    def test_nothing_added_without_injection_and_malformed_kept(self):
        ch = self.amqp()
        q = bound_queue(ch, "plain.#")
        sub = self.mqtt_client()
        sub.subscribe("plain/#", 1)
        pub = self.mqtt_client(v5=False)
        pub.publish("plain/a", b"x", qos=1)
        _, props, _ = get(ch, q)
        self.assertFalse(props.headers and "traceparent" in props.headers)
        self.assertNotIn("traceparent", user_properties(sub.wait_messages(1)[0]))
        bad = self.mqtt_client()
        bad.publish("plain/b", b"y", qos=1, properties=publish_props(("traceparent", "not-a-trace")))
        _, props, _ = get(ch, q)
        self.assertEqual(text(props.headers["traceparent"]), "not-a-trace")


class FailuresAreLoggedWithTheTraceId(Mixin, harness.BrokerTestCase):
    config = harness.broker_config(mqtt={"max_queued_messages": 2}, extra=(
        "auth:\n  acl:\n"
        "    - {anonymous: true, topic: \"#\", access: readwrite}\n"
        "    - {anonymous: true, topic: \"forbidden/#\", access: deny}\n"))

    def test_acl_refusal_names_the_trace(self):
        trace_id = "0af7651916cd43dd8448eb211c80319c"
        pub = self.mqtt_client()
        info = pub.publish("forbidden/x", b"no", qos=1, wait=False,
                           properties=publish_props(("traceparent", f"00-{trace_id}-b7ad6b7169203331-01")))
        info.wait_for_publish(timeout=5)
        self.assertTrue(self.broker.wait_for_log(f"not authorized; not delivered trace={trace_id}"),
                        self.broker.log_text()[-2000:])

    def test_queue_full_drop_names_the_trace(self):
        harness.offline_subscription(self.port, "slow-trace", "full/#", 1)
        pub = self.mqtt_client()
        for i in range(2):
            pub.publish("full/t", str(i), qos=1)
        trace_id = "1af7651916cd43dd8448eb211c80319d"
        info = pub.publish("full/t", b"third", qos=1, wait=False,
                           properties=publish_props(("traceparent", f"00-{trace_id}-b7ad6b7169203331-01")))
        info.wait_for_publish(timeout=5)
        self.assertTrue(self.broker.wait_for_log("delivery refused: subscriber queue 'mqtt/slow-trace' is full"),
                        self.broker.log_text()[-2000:])
        self.assertTrue(self.broker.wait_for_log(f"trace={trace_id}"), self.broker.log_text()[-2000:])

    def test_malformed_trace_is_not_logged(self):
        pub = self.mqtt_client()
        info = pub.publish("forbidden/y", b"no", qos=1, wait=False,
                           properties=publish_props(("traceparent", "00-zzzz-b7ad6b7169203331-01")))
        info.wait_for_publish(timeout=5)
        self.assertTrue(self.broker.wait_for_log("PUBLISH on 'forbidden/y' not authorized; not delivered\n"),
                        self.broker.log_text()[-2000:])


class Injection(Mixin, harness.BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.aport = harness.free_port()
        cls.config = two_listener_config(cls.aport, "tracing: {inject: true}\n")
        super().setUpClass()

    def test_a_message_without_one_gets_a_valid_traceparent(self):
        ch = self.amqp()
        q = bound_queue(ch, "inj.#")
        sub = self.mqtt_client()
        sub.subscribe("inj/#", 1)
        pub = self.mqtt_client(v5=False)  # 3.1.1: no way to send one
        pub.publish("inj/a", b"x", qos=1)
        got = user_properties(sub.wait_messages(1)[0]).get("traceparent")
        self.assertRegex(got or "", VALID)
        _, props, _ = get(ch, q)
        self.assertEqual(text(props.headers["traceparent"]), got, "MQTT and AMQP subscribers see one id")
        pub.publish("inj/b", b"y", qos=1)
        second = user_properties(sub.wait_messages(2)[1]).get("traceparent")
        self.assertRegex(second or "", VALID)
        self.assertNotEqual(second[3:35], got[3:35], "each message gets its own trace id")

    def test_amqp_headers_are_kept_and_extended(self):
        ch = self.amqp()
        q = bound_queue(ch, "injh.#")
        ch.basic_publish("amq.topic", "injh.a", b"e", pika.BasicProperties(headers={"n": 5, "s": "text"}))
        _, props, _ = get(ch, q)
        self.assertEqual(props.headers["n"], 5, "typed headers are kept as they were")
        self.assertEqual(text(props.headers["s"]), "text")
        self.assertRegex(text(props.headers["traceparent"]), VALID)

    def test_an_existing_one_is_kept_even_malformed(self):
        sub = self.mqtt_client()
        sub.subscribe("keep/#", 1)
        pub = self.mqtt_client()
        pub.publish("keep/a", b"1", qos=1, properties=publish_props(("traceparent", TRACEPARENT)))
        pub.publish("keep/b", b"2", qos=1, properties=publish_props(("traceparent", "garbage")))
        msgs = sub.wait_messages(2)
        self.assertEqual(len(msgs), 2)
        self.assertEqual([user_properties(m).get("traceparent") for m in msgs], [TRACEPARENT, "garbage"])
        self.assertEqual([len([k for k, _ in m.properties.UserProperty if k == "traceparent"]) for m in msgs], [1, 1])


class DeadLettersAreLoggedWithTheTraceId(Mixin, harness.BrokerTestCase):
    """At debug: an expired AMQP message dead-lettered, and one dropped without a
    dead-letter exchange, name the trace."""

    @classmethod
    def setUpClass(cls):
        cls.aport = harness.free_port()
        cls.config = two_listener_config(cls.aport, "logging: {level: debug}\n")
        super().setUpClass()

    def test_expired_and_dead_lettered(self):
        ch = self.amqp()
        ch.exchange_declare("dlx", "fanout")
        dead = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(dead, "dlx")
        ch.queue_declare("short-lived", arguments={"x-message-ttl": 50, "x-dead-letter-exchange": "dlx"})
        ch.queue_declare("no-dlx", arguments={"x-message-ttl": 50})
        self.addCleanup(lambda: ch.is_open and (ch.queue_delete("short-lived"), ch.queue_delete("no-dlx")))
        trace_a = "2af7651916cd43dd8448eb211c80319e"
        trace_b = "3af7651916cd43dd8448eb211c80319f"
        ch.basic_publish("", "short-lived", b"late", pika.BasicProperties(
            headers={"traceparent": f"00-{trace_a}-b7ad6b7169203331-01"}))
        ch.basic_publish("", "no-dlx", b"late", pika.BasicProperties(
            headers={"traceparent": f"00-{trace_b}-b7ad6b7169203331-01"}))
        _, props, body = get(ch, dead, timeout=10)
        self.assertEqual(body, b"late")
        self.assertEqual(text(props.headers["traceparent"]), f"00-{trace_a}-b7ad6b7169203331-01")
        self.assertTrue(self.broker.wait_for_log(
            f"message on queue 'short-lived' dead-lettered (expired) to exchange 'dlx' trace={trace_a}"),
            self.broker.log_text()[-3000:])
        self.assertTrue(self.broker.wait_for_log(
            f"message on queue 'no-dlx' dropped (expired; no dead-letter exchange) trace={trace_b}", timeout=10),
            self.broker.log_text()[-3000:])


TOPICS = [
    {"pattern": "sensors/#", "direction": "out", "qos": 1, "local_prefix": "", "remote_prefix": "edge/"},
    {"pattern": "cmd/#", "direction": "in", "qos": 1, "local_prefix": "", "remote_prefix": "edge/"},
]


class ThroughTheBridge(Mixin, unittest.TestCase):
    """bridge_mqtt (MQTT 5) to a real mosquitto on a free loopback port, both directions."""

    @classmethod
    def setUpClass(cls):
        cls.cloud = cloud.Mosquitto(persistence=False).start()
        cls.broker = harness.Broker(config=cloud.bridge_config(f"mqtt://127.0.0.1:{cls.cloud.port}", TOPICS, 5)).start()
        cls.port = cls.broker.port
        cls.sys = cloud.SysWatcher(cls.port)
        state = cls.sys.wait("state", lambda v: v == "connected", timeout=15)
        if state != "connected":
            raise AssertionError(f"bridge not connected ({state}):\n" + cls.broker.log_text())

    @classmethod
    def tearDownClass(cls):
        cls.sys.close()
        code = cls.broker.stop()
        text_ = cls.broker.log_text()
        cls.broker.tmp.cleanup()
        cls.cloud.cleanup()
        if "AddressSanitizer" in text_ or "runtime error:" in text_:
            raise AssertionError("sanitizer report in broker log:\n" + text_)
        if code not in (0, None):
            raise AssertionError(f"broker exited with {code}:\n" + text_)

    def test_out_to_the_cloud_and_back_in(self):
        cloud_sub = self.mqtt_client(port=self.cloud.port)
        cloud_sub.subscribe("edge/sensors/#", 1)
        device = self.mqtt_client()
        device.subscribe("cmd/#", 1)
        device.publish("sensors/t1", b"21.5", qos=1,
                       properties=publish_props(("traceparent", TRACEPARENT), ("tracestate", TRACESTATE)))
        msgs = cloud_sub.wait_messages(1, timeout=10)
        self.assertEqual(len(msgs), 1, self.broker.log_text()[-3000:])
        ups = user_properties(msgs[0])
        self.assertEqual(ups.get("traceparent"), TRACEPARENT)
        self.assertEqual(ups.get("tracestate"), TRACESTATE)

        # The cloud answers with the same trace context; it comes in unchanged.
        cloud_pub = self.mqtt_client(port=self.cloud.port)
        cloud_pub.publish("edge/cmd/t1", b"set 20", qos=1,
                          properties=publish_props(("traceparent", ups["traceparent"]), ("tracestate", TRACESTATE)))
        msgs = device.wait_messages(1, timeout=10)
        self.assertEqual(len(msgs), 1, self.broker.log_text()[-3000:])
        self.assertEqual(msgs[0].topic, "cmd/t1")
        ups = user_properties(msgs[0])
        self.assertEqual(ups.get("traceparent"), TRACEPARENT)
        self.assertEqual(ups.get("tracestate"), TRACESTATE)


if __name__ == "__main__":
    harness.main()
