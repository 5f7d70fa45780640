"""MQTT over TLS, WebSocket and WebSocket over TLS, with certificates made for the test by
`openssl`: mosquitto_pub/mosquitto_sub against mqtts (with and without client
certificates), python3-paho-mqtt over ws and wss, takeover across transports, and the
refusals (TLS 1.1, untrusted or missing client certificate, plaintext on a TLS port, a
WebSocket upgrade on the wrong path or without the mqtt subprotocol), each while another
client stays connected. SIGHUP loads a new certificate without dropping clients."""

import os
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import paho.mqtt.client as mqtt

from harness import Broker, PahoClient, free_port, main, wait_for_port


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 / localhost, a client certificate signed by
    the CA (CN device-1), and a client certificate from another, untrusted CA."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=Outpost Test CA", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn, ca in (("server", "outpost-1", "ca"), ("server2", "outpost-2", "ca"), ("client", "device-1", "ca")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={cn}", cwd=d)
        ext = ["-extfile", "san.ext"] if name.startswith("server") else []
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "2", *ext, cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out", "rogue.crt", "-days",
            "2", "-subj", "/CN=rogue", cwd=d)


class TlsWebSocketTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.TemporaryDirectory()
        d = cls.d = cls.pki.name
        make_pki(d)
        # The broker reads these two paths; SIGHUP makes it read them again.
        for ext in ("crt", "key"):
            os.link(os.path.join(d, f"server.{ext}"), os.path.join(d, f"live.{ext}"))
        cls.ports = {k: free_port() for k in ("mqtts", "mtls", "ws", "wss")}
        tls = (f"    tls:\n      cert_file: {d}/live.crt\n      key_file: {d}/live.key\n")
        config = (
            "listeners:\n"
            "  - protocol: mqtt\n    address: 127.0.0.1\n    port: {port}\n    allow_anonymous: true\n"
            f"  - protocol: mqtts\n    address: 127.0.0.1\n    port: {cls.ports['mqtts']}\n    allow_anonymous: true\n"
            + tls +
            f"  - protocol: mqtts\n    address: 127.0.0.1\n    port: {cls.ports['mtls']}\n    allow_anonymous: false\n"
            + tls + f"      ca_file: {d}/ca.crt\n      require_client_cert: true\n      use_identity_as_username: true\n"
            f"  - protocol: ws\n    address: 127.0.0.1\n    port: {cls.ports['ws']}\n    allow_anonymous: true\n"
            f"  - protocol: wss\n    address: 127.0.0.1\n    port: {cls.ports['wss']}\n    allow_anonymous: true\n"
            "    path: /mqtt\n" + tls)
        cls.broker = Broker(config=config).start()
        for p in cls.ports.values():
            assert wait_for_port(p)
        cls.port = cls.broker.port

    @classmethod
    def tearDownClass(cls):
        code = cls.broker.stop()
        text = cls.broker.log_text()
        cls.broker.tmp.cleanup()
        cls.pki.cleanup()
        if "AddressSanitizer" in text or "runtime error:" in text:
            raise AssertionError("sanitizer report in broker log:\n" + text)
        if code not in (0, None):
            raise AssertionError(f"broker exited with {code}:\n" + text)

    def setUp(self):
        # A bystander on plain TCP: no refusal below may disturb it.
        self.bystander = PahoClient(self.port, client_id=f"bystander-{self.id()[-20:]}").connect()

    def tearDown(self):
        self.assertTrue(self.bystander.client.is_connected(), "the bystander lost its connection")
        self.bystander.disconnect()

    def path(self, name):
        return os.path.join(self.d, name)

    def ws_client(self, client_id, port, tls=False, protocol=mqtt.MQTTv311):
        c = mqtt.Client(client_id=client_id, transport="websockets", protocol=protocol)
        c.ws_set_options(path="/mqtt")
        if tls:
            c.tls_set(ca_certs=self.path("ca.crt"))
        got = []
        cond = threading.Condition()
        connected = threading.Event()
        c.on_connect = lambda *a: connected.set()

        def on_message(client, userdata, msg):
            with cond:
                got.append(msg)
                cond.notify_all()

        c.on_message = on_message
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.assertTrue(connected.wait(5), "no CONNACK over WebSocket")
        self.addCleanup(c.loop_stop)
        self.addCleanup(c.disconnect)
        return c, got, cond

    # --- TLS ----------------------------------------------------------------------------

    def mosquitto(self, tool, port, *args):
        return subprocess.run([f"/usr/bin/mosquitto_{tool}", "-h", "127.0.0.1", "-p", str(port),
                               "--cafile", self.path("ca.crt"), *args], capture_output=True, text=True, timeout=15)

    def test_mosquitto_clients_over_tls(self):
        sub = subprocess.Popen(["/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.ports["mqtts"]),
                                "--cafile", self.path("ca.crt"), "-t", "tls/t", "-C", "1", "-q", "1", "-W", "10"],
                               stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        pub = self.mosquitto("pub", self.ports["mqtts"], "-t", "tls/t", "-m", "over tls", "-q", "1")
        self.assertEqual(pub.returncode, 0, pub.stderr)
        out, _ = sub.communicate(timeout=10)
        self.assertEqual(out.strip(), "over tls")

    def test_client_certificate_required(self):
        ok = self.mosquitto("pub", self.ports["mtls"], "--cert", self.path("client.crt"), "--key",
                            self.path("client.key"), "-t", "mtls/t", "-m", "x", "-q", "1")
        self.assertEqual(ok.returncode, 0, ok.stderr)  # no user name: the certificate's CN is one
        missing = self.mosquitto("pub", self.ports["mtls"], "-t", "mtls/t", "-m", "x", "-q", "1")
        self.assertNotEqual(missing.returncode, 0)
        rogue = self.mosquitto("pub", self.ports["mtls"], "--cert", self.path("rogue.crt"), "--key",
                               self.path("rogue.key"), "-t", "mtls/t", "-m", "x", "-q", "1")
        self.assertNotEqual(rogue.returncode, 0)
        self.broker.wait_for_log("TLS handshake with 127.0.0.1")

    def test_old_tls_versions_refused(self):
        def s_client(version):
            return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.ports['mqtts']}", version,
                                   "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", self.path("ca.crt")],
                                  input="", capture_output=True, text=True, timeout=15)
        old = s_client("-tls1_1")
        self.assertNotEqual(old.returncode, 0)
        self.assertIn("no peer certificate available", old.stdout)
        self.assertIn("Cipher is (NONE)", old.stdout)
        good = s_client("-tls1_2")
        self.assertIn("Protocol  : TLSv1.2", good.stdout)
        self.assertIn("Verify return code: 0 (ok)", good.stdout)
        self.broker.wait_for_log("unsupported protocol")

    def test_plaintext_on_a_tls_port(self):
        s = socket.create_connection(("127.0.0.1", self.ports["mqtts"]), timeout=5)
        s.sendall(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")  # an MQTT CONNECT, not a TLS hello
        try:
            data = s.recv(100)
            closed = data == b"" or not data.startswith(b"\x20")  # never a CONNACK
        except ConnectionResetError:
            closed = True
        s.close()
        self.assertTrue(closed)

    def test_sighup_reloads_the_certificate(self):
        def served_cn():
            ctx = ssl.create_default_context(cafile=self.path("ca.crt"))
            with socket.create_connection(("127.0.0.1", self.ports["mqtts"]), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    return dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
        connected = mqtt.Client(client_id="tls-stays")
        connected.tls_set(ca_certs=self.path("ca.crt"))
        connected.connect("127.0.0.1", self.ports["mqtts"])
        connected.loop_start()
        time.sleep(0.3)
        self.assertEqual(served_cn(), "outpost-1")
        for ext in ("crt", "key"):
            tmp = self.path(f"live.{ext}.new")
            os.link(self.path(f"server2.{ext}"), tmp)
            os.replace(tmp, self.path(f"live.{ext}"))
        self.broker.proc.send_signal(signal.SIGHUP)
        self.broker.wait_for_log("certificate and key reloaded")
        self.assertEqual(served_cn(), "outpost-2")
        self.assertTrue(connected.is_connected())
        connected.loop_stop()
        connected.disconnect()
        for ext in ("crt", "key"):  # back to the first, for the other tests
            tmp = self.path(f"live.{ext}.new")
            os.link(self.path(f"server.{ext}"), tmp)
            os.replace(tmp, self.path(f"live.{ext}"))
        self.broker.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)

    # --- WebSocket ------------------------------------------------------------------------

    def test_websocket_and_tcp_share_topics(self):
        ws, got, cond = self.ws_client("ws-sub", self.ports["ws"])
        ws.subscribe("ws/t", 1)
        time.sleep(0.3)
        self.bystander.publish("ws/t", b"from tcp", qos=1)
        with cond:
            cond.wait_for(lambda: got, 5)
        self.assertEqual([m.payload for m in got], [b"from tcp"])
        # And back: a WebSocket publisher reaches a TCP subscriber; several packets per frame
        # and packets split across frames are the stream's business.
        self.bystander.subscribe("ws/back", 1)
        for i in range(20):
            ws.publish("ws/back", b"x" * (i * 300), qos=1)
        msgs = self.bystander.wait_messages(20)
        self.assertEqual([len(m.payload) for m in msgs], [i * 300 for i in range(20)])

    def test_websocket_over_tls(self):
        wss, got, cond = self.ws_client("wss-sub", self.ports["wss"], tls=True, protocol=mqtt.MQTTv5)
        wss.subscribe("wss/t", 1)
        time.sleep(0.3)
        self.bystander.publish("wss/t", b"secure", qos=1)
        with cond:
            cond.wait_for(lambda: got, 5)
        self.assertEqual([m.payload for m in got], [b"secure"])

    def test_takeover_across_transports(self):
        first = PahoClient(self.port, client_id="roaming", protocol=mqtt.MQTTv5).connect()
        self.ws_client("roaming", self.ports["wss"], tls=True, protocol=mqtt.MQTTv5)
        self.assertTrue(first.disconnected.wait(5), "the TCP connection was not taken over")
        self.assertEqual(first.disconnect_rc, 142)  # session taken over
        first.client.loop_stop()

    def upgrade(self, path, protocol="mqtt"):
        s = socket.create_connection(("127.0.0.1", self.ports["ws"]), timeout=5)
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
        if protocol:
            req += f"Sec-WebSocket-Protocol: {protocol}\r\n"
        s.sendall((req + "\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        return data.split(b"\r\n", 1)[0].decode(), data

    def test_upgrade_refusals(self):
        status, data = self.upgrade("/mqtt")
        self.assertEqual(status, "HTTP/1.1 101 Switching Protocols")
        self.assertIn(b"Sec-WebSocket-Protocol: mqtt", data)
        self.assertEqual(self.upgrade("/elsewhere")[0], "HTTP/1.1 404 Not Found")
        self.assertEqual(self.upgrade("/mqtt", protocol=None)[0], "HTTP/1.1 400 Bad Request")
        self.assertEqual(self.upgrade("/mqtt", protocol="chat, superchat")[0], "HTTP/1.1 400 Bad Request")
        self.assertEqual(self.upgrade("/mqtt", protocol="chat, mqttv3.1")[0], "HTTP/1.1 101 Switching Protocols")


if __name__ == "__main__":
    main()
