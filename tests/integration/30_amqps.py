#!/usr/bin/python3
"""AMQP over TLS (amqps) with certificates made for the test: pika with an SSL context
publishes with confirms and consumes; a client certificate is required where configured;
plaintext AMQP on the TLS port is refused while a TLS client stays connected; MQTT over
TLS and AMQP over TLS meet on the one core."""

import os
import socket
import ssl
import tempfile
import time
import unittest

import pika

from certs import Certs
from harness import Broker, PahoClient, free_port, main


def tls_params(port, certs, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=certs.ca_cert)
    if cert:
        ctx.load_cert_chain(cert, key)
    return pika.ConnectionParameters("127.0.0.1", port, ssl_options=pika.SSLOptions(ctx, "localhost"),
                                     connection_attempts=1, socket_timeout=5)


class AmqpsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="outpost-amqps-")
        cls.certs = Certs(os.path.join(cls.tmp.name, "certs"))
        c = cls.certs
        cls.amqps_port, cls.mtls_port, cls.mqtts_port = free_port(), free_port(), free_port()
        config = f"""
listeners:
  - {{protocol: mqtt, address: 127.0.0.1, port: {{port}}, allow_anonymous: true}}
  - protocol: amqps
    address: 127.0.0.1
    port: {cls.amqps_port}
    allow_anonymous: true
    tls: {{cert_file: {c.server_cert}, key_file: {c.server_key}}}
  - protocol: amqps
    address: 127.0.0.1
    port: {cls.mtls_port}
    allow_anonymous: true
    tls: {{cert_file: {c.server_cert}, key_file: {c.server_key}, ca_file: {c.ca_cert}, require_client_cert: true}}
  - protocol: mqtts
    address: 127.0.0.1
    port: {cls.mqtts_port}
    allow_anonymous: true
    tls: {{cert_file: {c.server_cert}, key_file: {c.server_key}}}
mqtt:
  connect_timeout: 1s
persistence: {{enabled: false}}
"""
        cls.broker = Broker(config=config).start()
        # Connected over TLS for the whole class: every refusal below must leave it alone.
        cls.bystander = pika.BlockingConnection(tls_params(cls.amqps_port, c))
        cls.bystander_ch = cls.bystander.channel()
        cls.bystander_ch.queue_declare("bystander", exclusive=True)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.bystander.close()
        finally:
            code = cls.broker.stop()
            text = cls.broker.log_text()
            cls.broker.tmp.cleanup()
            cls.tmp.cleanup()
            if "AddressSanitizer" in text or "runtime error:" in text or code not in (0, None):
                raise AssertionError(f"broker exited with {code}:\n" + text)

    def tearDown(self):
        # The bystander still works after whatever the test did.
        self.bystander_ch.basic_publish("", "bystander", b"still-here")
        method, _, body = self.bystander_ch.basic_get("bystander", auto_ack=True)
        self.assertEqual(body, b"still-here")

    def test_publish_with_confirms_and_consume_over_tls(self):
        conn = pika.BlockingConnection(tls_params(self.amqps_port, self.certs))
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare("tls-orders", exclusive=True)
        for i in range(50):
            ch.basic_publish("", "tls-orders", f"order-{i}".encode(), pika.BasicProperties(delivery_mode=2),
                             mandatory=True)
        got = []
        for method, _, body in ch.consume("tls-orders", inactivity_timeout=5):
            if method is None:
                break
            got.append(body)
            ch.basic_ack(method.delivery_tag)
            if len(got) == 50:
                break
        ch.cancel()
        self.assertEqual(got, [f"order-{i}".encode() for i in range(50)])
        big = os.urandom(3 * 1024 * 1024)  # split across many frames, inside TLS records
        ch.basic_publish("", "tls-orders", big)
        self.assertEqual(ch.basic_get("tls-orders", auto_ack=True)[2], big)
        conn.close()

    def test_client_certificate_required(self):
        with self.assertRaises(pika.exceptions.AMQPConnectionError):
            pika.BlockingConnection(tls_params(self.mtls_port, self.certs))
        with self.assertRaises(pika.exceptions.AMQPConnectionError):
            pika.BlockingConnection(tls_params(self.mtls_port, self.certs, self.certs.untrusted_cert,
                                               self.certs.untrusted_key))
        conn = pika.BlockingConnection(tls_params(self.mtls_port, self.certs, self.certs.client_cert,
                                                  self.certs.client_key))
        self.assertTrue(conn.channel().is_open)
        conn.close()
        self.assertTrue(self.broker.wait_for_log("TLS handshake"), self.broker.log_text()[-3000:])

    def test_plaintext_amqp_on_the_tls_port_is_refused(self):
        with socket.create_connection(("127.0.0.1", self.amqps_port), timeout=5) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            s.settimeout(5)
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
            self.assertNotIn(b"connection.start", data)
            self.assertFalse(data.startswith(b"\x01\x00\x00"), data[:16])  # no AMQP frame in the clear

    def test_mqtts_to_amqps(self):
        conn = pika.BlockingConnection(tls_params(self.amqps_port, self.certs))
        ch = conn.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, "amq.topic", "secure.#")
        pub = PahoClient(self.mqtts_port, ca_file=self.certs.ca_cert).connect()
        pub.publish("secure/door/1", b"open", qos=1)
        pub.disconnect()
        deadline = time.time() + 5
        method = None
        while method is None and time.time() < deadline:
            method, _, body = ch.basic_get(q, auto_ack=True)
            time.sleep(0.02 if method is None else 0)
        self.assertIsNotNone(method)
        self.assertEqual((method.routing_key, body), ("secure.door.1", b"open"))
        conn.close()


if __name__ == "__main__":
    main()
