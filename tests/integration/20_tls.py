"""MQTT over TLS (mqtts) with certificates made for the test: mosquitto_pub/sub with
--cafile, --cert and --key; client certificates required and their CN taken as the user
name; TLS 1.1, plaintext, missing and untrusted client certificates refused, a silent
peer timed out, each while a bystander client stays connected; certificates reloaded on
SIGHUP while a client stays connected."""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import Broker, PahoClient, RawClient, connect_packet, free_port, main
from certs import Certs


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="outpost-tls-")
        cls.certs = Certs(os.path.join(cls.tmp.name, "certs"))
        c = cls.certs
        cls.tls_port, cls.mtls_port, cls.tls13_port = free_port(), free_port(), free_port()
        config = f"""
listeners:
  - {{protocol: mqtt, address: 127.0.0.1, port: {{port}}, allow_anonymous: true}}
  - protocol: mqtts
    address: 127.0.0.1
    port: {cls.tls_port}
    allow_anonymous: true
    tls: {{cert_file: {c.server_cert}, key_file: {c.server_key}}}
  - protocol: mqtts
    address: 127.0.0.1
    port: {cls.mtls_port}
    allow_anonymous: false
    tls:
      cert_file: {c.server_cert}
      key_file: {c.server_key}
      ca_file: {c.ca_cert}
      require_client_cert: true
      use_identity_as_username: true
  - protocol: mqtts
    address: 127.0.0.1
    port: {cls.tls13_port}
    allow_anonymous: true
    tls: {{cert_file: {c.server_cert}, key_file: {c.server_key}, min_version: "1.3"}}
mqtt:
  connect_timeout: 1s
persistence: {{enabled: false}}
"""
        cls.broker = Broker(config=config).start()
        cls.port = cls.broker.port
        # Connected over TLS for the whole class: every refusal below must leave it alone.
        cls.bystander = PahoClient(cls.tls_port, client_id="bystander", ca_file=c.ca_cert).connect()
        cls.bystander.subscribe("bystander/#", qos=1)
        cls.pings = 0

    @classmethod
    def tearDownClass(cls):
        cls.bystander.disconnect()
        code = cls.broker.stop()
        text = cls.broker.log_text()
        cls.broker.tmp.cleanup()
        cls.tmp.cleanup()
        if "AddressSanitizer" in text or "runtime error:" in text:
            raise AssertionError("sanitizer report in broker log:\n" + text)
        if code not in (0, None):
            raise AssertionError(f"broker exited with {code}:\n" + text)

    def run(self, result=None):
        result = super().run(result)
        if result is not None and (result.failures or result.errors):
            if (result.failures + result.errors)[-1][0] is self:
                print("\n--- broker log ---\n" + self.broker.log_text()[-6000:])
        return result

    def assert_bystander_unaffected(self):
        cls = type(self)
        cls.pings += 1
        before = len(cls.bystander.messages)
        self.assertFalse(cls.bystander.disconnected.is_set(), "the bystander was disconnected")
        subprocess.run(["mosquitto_pub", "-p", str(self.port), "-t", "bystander/ping", "-q", "1",
                        "-m", str(cls.pings)], check=True, timeout=10)
        got = cls.bystander.wait_messages(before + 1)
        self.assertEqual(got[-1].payload, str(cls.pings).encode())

    def mosquitto(self, tool, port, *args, timeout=10):
        return subprocess.run([tool, "-h", "127.0.0.1", "-p", str(port), "--cafile", self.certs.ca_cert, *args],
                              capture_output=True, text=True, timeout=timeout)

    def s_client(self, port, *args):
        return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile",
                               self.certs.ca_cert, *args], input="", capture_output=True, text=True, timeout=10)

    # ------------------------------------------------------------------ positive

    def test_mosquitto_clients_over_tls(self):
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.tls_port), "--cafile",
                                self.certs.ca_cert, "-t", "tls/one", "-C", "1", "-q", "1", "-W", "10"],
                               stdout=subprocess.PIPE, text=True)
        self.assertTrue(self.broker.wait_for_log("(127.0.0.1:", 5))
        time.sleep(0.3)  # the subscription is made right after CONNACK
        # Published over plain TCP: one routing core under every transport.
        r = subprocess.run(["mosquitto_pub", "-p", str(self.port), "-t", "tls/one", "-q", "1", "-m", "over tls"],
                           timeout=10)
        self.assertEqual(r.returncode, 0)
        out, _ = sub.communicate(timeout=10)
        self.assertEqual(out.strip(), "over tls")
        self.assertIn("connected over tls", self.broker.log_text())

    def test_client_certificate_common_name_is_the_user_name(self):
        # allow_anonymous is false on this listener: the certificate is what lets it in.
        r = self.mosquitto("mosquitto_pub", self.mtls_port, "--cert", self.certs.client_cert, "--key",
                           self.certs.client_key, "-t", "bystander/cert", "-q", "1", "-m", "signed")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.broker.wait_for_log("user 'device-1' (client certificate)"))
        got = self.bystander.wait_messages(1)
        self.assertIn(b"signed", [m.payload for m in got])

    def test_tls12_and_tls13_are_accepted(self):
        for version, shown in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            r = self.s_client(self.tls_port, version)
            self.assertIn("Server certificate", r.stdout, r.stdout + r.stderr)
            self.assertIn("Verify return code: 0 (ok)", r.stdout)
            self.assertIn(shown, r.stdout)
        # This listener's minimum is 1.3.
        r = self.s_client(self.tls13_port, "-tls1_2")
        self.assertIn("no peer certificate available", r.stdout)
        self.assertTrue(self.broker.wait_for_log(f"on mqtts on 127.0.0.1:{self.tls13_port} failed: unsupported protocol"))

    # ------------------------------------------------------------------ refused

    def test_tls11_is_refused(self):
        # SECLEVEL=0 lets this client offer TLS 1.1 at all; the broker must say no.
        r = self.s_client(self.tls_port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no peer certificate available", r.stdout)
        self.assertTrue(self.broker.wait_for_log(f"on mqtts on 127.0.0.1:{self.tls_port} failed: unsupported protocol"))
        self.assert_bystander_unaffected()

    def test_missing_client_certificate_is_refused(self):
        r = self.mosquitto("mosquitto_pub", self.mtls_port, "-t", "bystander/x", "-m", "no cert")
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(self.broker.wait_for_log("peer did not return a certificate"), self.broker.log_text())
        self.assert_bystander_unaffected()

    def test_untrusted_client_certificate_is_refused(self):
        r = self.mosquitto("mosquitto_pub", self.mtls_port, "--cert", self.certs.untrusted_cert, "--key",
                           self.certs.untrusted_key, "-t", "bystander/x", "-m", "forged")
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(self.broker.wait_for_log("(client certificate: unable to get local issuer certificate)"),
                        self.broker.log_text())
        self.assert_bystander_unaffected()

    def test_plaintext_to_a_tls_port_is_refused_cleanly(self):
        raw = RawClient(self.tls_port)
        raw.send(connect_packet("plain"))
        self.assertTrue(raw.is_closed(5))
        raw.close()
        self.assertTrue(self.broker.wait_for_log("wrong version number"), self.broker.log_text())
        self.assert_bystander_unaffected()

    def test_silent_peer_is_timed_out(self):
        s = socket.create_connection(("127.0.0.1", self.tls_port))
        # connect_timeout (1s) bounds the handshake too; the sweep may add half a second.
        s.settimeout(5)
        try:
            self.assertEqual(s.recv(100), b"")
        except ConnectionResetError:
            pass
        s.close()
        self.assertTrue(self.broker.wait_for_log("failed: timed out"))
        self.assert_bystander_unaffected()

    # ------------------------------------------------------------------ reload

    def test_z_sighup_reloads_the_certificate_for_new_connections(self):
        def served_serial():
            ctx = ssl.create_default_context(cafile=self.certs.ca_cert)
            with socket.create_connection(("127.0.0.1", self.tls_port)) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    return s.getpeercert()["serialNumber"]

        self.assertEqual(int(served_serial(), 16), 1001)
        c = self.certs
        new_cert, new_key = c.make_cert("server2", "localhost", c.ca_cert, c.ca_key, serial=1002, server=True)
        shutil.copy(new_cert, c.server_cert)
        shutil.copy(new_key, c.server_key)
        self.broker.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.broker.wait_for_log("certificate and key reloaded"))
        self.assertEqual(int(served_serial(), 16), 1002)
        # A key that cannot be read: the reload is refused and the last good one stays.
        with open(c.server_key, "w") as f:
            f.write("garbage\n")
        self.broker.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.broker.wait_for_log("certificate and key not reloaded"))
        self.assertIn(c.server_key, self.broker.log_text())
        self.assertEqual(int(served_serial(), 16), 1002)
        # The client connected over TLS before any of this is still there.
        self.assert_bystander_unaffected()


if __name__ == "__main__":
    main()
