#!/usr/bin/python3
"""Authentication and authorization for MQTT clients: a password file written by Debian's
mosquitto_passwd, an ACL file in Mosquitto's format, mosquitto_pub/sub and paho (3.1.1 and
5.0) with good and bad credentials, each ACL rule positive and negative."""
import os
import subprocess
import tempfile
import time
import unittest

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

import harness
from harness import PahoClient

USERS = {"alice": "wonderland", "bob": "builder", "dev1": "device-secret", "eve": "x"}

ACL = """
# anonymous clients (rules before any user line)
topic read public/#

user alice
topic readwrite sensors/#
topic deny sensors/secret/#
topic write cmd/alice

user bob
topic read sensors/+/temp
topic write sensors/bob/temp
topic write will/bob

# every client: its own folders
pattern readwrite devices/%c/#
pattern read users/%u/inbox
"""


def mosquitto_pub(port, topic, message, user=None, password=None, qos=1, extra=()):
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m", message, "-q", str(qos)]
    if user is not None:
        args += ["-u", user]
    if password is not None:
        args += ["-P", password]
    return subprocess.run(args + list(extra), capture_output=True, text=True, timeout=10)


class AuthBroker(harness.BrokerTestCase):
    """One MQTT listener with anonymous access (read-only by the ACL) and a password file."""

    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.TemporaryDirectory(prefix="outpost-auth-")
        cls.passwd = os.path.join(cls.files.name, "passwd")
        cls.acl = os.path.join(cls.files.name, "acl")
        harness.password_file(cls.passwd, USERS)
        with open(cls.acl, "w") as f:
            f.write(ACL)
        cls.config = harness.broker_config(anonymous=True, extra=(
            f"auth:\n  password_file: {cls.passwd}\n  acl_file: {cls.acl}\n"))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.files.cleanup()

    def client(self, user=None, password=None, v5=False, client_id="", **kw):
        c = PahoClient(self.port, client_id=client_id, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, **kw)
        if user is not None:
            c.client.username_pw_set(user, password)
        return c

    def connected(self, user=None, password=None, v5=False, client_id="", **kw):
        c = self.client(user, password, v5, client_id, **kw).connect()
        self.assertEqual(c.connack, 0, f"{user} refused")
        self.addCleanup(c.disconnect)
        return c


class Credentials(AuthBroker):
    def test_mosquitto_clients_with_good_and_bad_credentials(self):
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-u", "alice", "-P",
                                "wonderland", "-t", "sensors/room1/temp", "-C", "1", "-W", "10"],
                               stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        ok = mosquitto_pub(self.port, "sensors/room1/temp", "21.5", "alice", "wonderland")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        out, _ = sub.communicate(timeout=10)
        self.assertEqual(out.strip(), "21.5")
        bad = mosquitto_pub(self.port, "sensors/room1/temp", "x", "alice", "wrong")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("bad user name or password", (bad.stderr + bad.stdout).lower())
        unknown = mosquitto_pub(self.port, "sensors/room1/temp", "x", "mallory", "wonderland")
        self.assertNotEqual(unknown.returncode, 0)

    def test_paho_311_return_codes(self):
        self.assertEqual(self.connected("bob", "builder").connack, 0)
        bad = self.client("bob", "nope").connect()
        self.assertEqual(bad.connack, 4)  # bad user name or password
        bad.client.loop_stop()
        no_password = self.client("bob", None).connect()
        self.assertEqual(no_password.connack, 4)
        no_password.client.loop_stop()

    def test_paho_5_reason_codes(self):
        self.assertEqual(self.connected("alice", "wonderland", v5=True).connack, 0)
        bad = self.client("alice", "nope", v5=True).connect()
        self.assertEqual(bad.connack, 0x86)
        bad.client.loop_stop()

    def test_binary_password_bytes_are_compared_exactly(self):
        # (A trailing NUL would not do: HMAC pads its key with zeros, so PBKDF2 cannot tell.)
        bad = self.client("alice", b"wonder\x00land", v5=True).connect()
        self.assertEqual(bad.connack.value, 0x86, str(bad.connack))
        bad.client.loop_stop()

    def test_failed_login_is_logged_with_client_address_and_user(self):
        bad = self.client("eve", "wrong", client_id="eve-client").connect()
        bad.client.loop_stop()
        self.assertTrue(self.broker.wait_for_log("eve-client"))
        line = [l for l in self.broker.log_text().splitlines() if "login failed" in l and "eve-client" in l][0]
        self.assertIn("127.0.0.1:", line)
        self.assertIn("'eve'", line)


class TopicRules(AuthBroker):
    def test_user_rules_publish_and_subscribe(self):
        a = self.connected("alice", "wonderland", client_id="a1")
        self.assertEqual(a.subscribe("sensors/#", 1), [1])
        a.publish("sensors/room1/temp", b"20", qos=1)
        self.assertEqual([m.topic for m in a.wait_messages(1)], ["sensors/room1/temp"])

    def test_denied_subscription_gets_0x80_and_0x87(self):
        b = self.connected("bob", "builder")
        self.assertEqual(b.subscribe("cmd/#", 1), [0x80])
        b5 = self.connected("bob", "builder", v5=True)
        granted = b5.subscribe("cmd/#", 1)
        self.assertEqual(granted[0].value, 0x87)
        # Write-only topics cannot be read either.
        self.assertEqual(b.subscribe("sensors/bob/temp/x", 0), [0x80])

    def test_wider_filter_partly_readable_is_granted_and_filtered(self):
        bob = self.connected("bob", "builder", client_id="bob-wide")
        self.assertEqual(bob.subscribe("sensors/#", 1), [1])  # partly readable: granted
        alice = self.connected("alice", "wonderland", client_id="alice-pub")
        alice.publish("sensors/hall/humidity", b"no", qos=1)  # bob may not read this
        alice.publish("sensors/hall/temp", b"yes", qos=1)     # but this
        msgs = bob.wait_messages(1)
        time.sleep(0.3)
        self.assertEqual([(m.topic, m.payload) for m in bob.messages], [("sensors/hall/temp", b"yes")])
        self.assertEqual(len(msgs), 1)

    def test_denied_publish_311_is_acknowledged_and_dropped(self):
        watcher = self.connected("alice", "wonderland", client_id="watch-311")
        watcher.subscribe("sensors/#", 1)
        bob = self.connected("bob", "builder", client_id="bob-pub")
        bob.publish("sensors/alice/temp", b"forged", qos=1)  # acknowledged (wait=True asserts the PUBACK)
        bob.publish("sensors/bob/temp", b"real", qos=1)
        watcher.wait_messages(1)
        time.sleep(0.3)
        self.assertEqual([m.payload for m in watcher.messages], [b"real"])

    def test_denied_publish_5_gets_puback_0x87(self):
        bob = self.connected("bob", "builder", v5=True, client_id="bob5")
        acks = []
        bob.client.on_publish = lambda c, u, mid, *rest: acks.append(mid)
        info = bob.client.publish("cmd/alice", b"x", qos=1)
        info.wait_for_publish(timeout=5)
        # paho 1.6 reports the PUBACK; its reason code shows in the log line of the broker.
        self.assertTrue(info.is_published())
        self.assertTrue(self.broker.wait_for_log("not authorized"))

    def test_deny_wins_over_a_wider_grant(self):
        a = self.connected("alice", "wonderland", client_id="alice-deny")
        self.assertEqual(a.subscribe("sensors/secret/#", 0), [0x80])
        self.assertEqual(a.subscribe("sensors/+/temp", 0), [0])
        a.publish("sensors/secret/temp", b"hidden", qos=1)
        a.publish("sensors/open/temp", b"seen", qos=1)
        a.wait_messages(1)
        time.sleep(0.3)
        self.assertEqual([m.payload for m in a.messages], [b"seen"])

    def test_patterns_with_client_id_and_user(self):
        d = self.connected("dev1", "device-secret", client_id="pump-7")
        self.assertEqual(d.subscribe("devices/pump-7/#", 1), [1])
        self.assertEqual(d.subscribe("devices/pump-8/#", 1), [0x80])
        d.publish("devices/pump-7/state", b"on", qos=1)
        self.assertEqual(d.wait_messages(1)[0].topic, "devices/pump-7/state")
        self.assertEqual(d.subscribe("users/dev1/inbox", 0), [0])
        self.assertEqual(d.subscribe("users/alice/inbox", 0), [0x80])

    def test_anonymous_rules(self):
        anon = self.connected(client_id="anon-reader")
        self.assertEqual(anon.subscribe("public/#", 0), [0])
        self.assertEqual(anon.subscribe("sensors/#", 0), [0x80])
        alice = self.connected("alice", "wonderland", client_id="alice-nopublic")
        self.assertEqual(alice.subscribe("public/#", 0), [0x80])  # anonymous rules are not alice's

    def test_retained_messages_obey_read_rules(self):
        alice = self.connected("alice", "wonderland", client_id="alice-ret")
        alice.publish("sensors/vault/humidity", b"r1", qos=1, retain=True)
        alice.publish("sensors/vault/temp", b"r2", qos=1, retain=True)
        self.addCleanup(lambda: (alice.publish("sensors/vault/humidity", b"", qos=1, retain=True),
                                 alice.publish("sensors/vault/temp", b"", qos=1, retain=True)))
        bob = self.connected("bob", "builder", client_id="bob-ret")
        bob.subscribe("sensors/vault/#", 1)
        bob.wait_messages(1)
        time.sleep(0.3)
        self.assertEqual([(m.topic, m.payload, m.retain) for m in bob.messages], [("sensors/vault/temp", b"r2", True)])

    def test_will_topic_must_be_writable(self):
        bad = self.client("bob", "builder", client_id="bob-badwill", will={"topic": "sensors/alice/temp",
                                                                           "payload": b"gone"}).connect()
        self.assertEqual(bad.connack, 5)
        bad.client.loop_stop()
        bad5 = self.client("bob", "builder", v5=True, client_id="bob-badwill5",
                           will={"topic": "cmd/x", "payload": b"gone"}).connect()
        self.assertEqual(bad5.connack, 0x87)
        bad5.client.loop_stop()
        watcher = self.connected("alice", "wonderland", client_id="will-watch")
        watcher.subscribe("sensors/#", 1)
        good = self.client("bob", "builder", client_id="bob-goodwill",
                           will={"topic": "sensors/bob/temp", "payload": b"bob gone", "qos": 1}).connect()
        self.assertEqual(good.connack, 0)
        good.drop()
        msgs = watcher.wait_messages(1)
        self.assertEqual(msgs[0].payload, b"bob gone")


class BurstOfBadLogins(AuthBroker):
    def test_bad_logins_do_not_delay_a_good_client(self):
        good = self.connected("alice", "wonderland", client_id="steady")
        good.subscribe("sensors/steady", 1)
        import socket
        connect = harness.connect_packet("burst", username="alice", password="wrong")
        socks = []
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", self.port))
            s.sendall(connect)
            socks.append(s)
        start = time.time()
        good.publish("sensors/steady", b"ping", qos=1)
        good.wait_messages(1, timeout=5)
        elapsed = time.time() - start
        for s in socks:
            s.close()
        self.assertEqual(len(good.messages), 1)
        self.assertLess(elapsed, 1.0)
        # The failures are counted per address: most were refused without a check, and the
        # log says so once instead of 200 times.
        self.assertTrue(self.broker.wait_for_log("refused without a check"))
        self.assertLess(self.broker.log_text().count("login failed"), 20)


class SlowHashesOffTheIoThreads(harness.BrokerTestCase):
    """Every one of 200 wrong passwords is really checked (no per-address limit here) against
    a deliberately slow hash, while a connected client's QoS 1 round trip stays fast."""

    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.TemporaryDirectory(prefix="outpost-slow-")
        cls.passwd = os.path.join(cls.files.name, "passwd")
        harness.password_file(cls.passwd, {"fast": "f"})
        subprocess.run(["mosquitto_passwd", "-I", "20000", "-b", cls.passwd, "slow", "s"], check=True,
                       capture_output=True)
        cls.config = harness.broker_config(anonymous=False, extra=(
            f"auth:\n  password_file: {cls.passwd}\n  max_failed_logins_per_minute: 100000\n"))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.files.cleanup()

    def test_round_trip_during_a_burst_of_slow_checks(self):
        import socket
        good = PahoClient(self.port, client_id="steady")
        good.client.username_pw_set("fast", "f")
        good.connect()
        self.assertEqual(good.connack, 0)
        self.addCleanup(good.disconnect)
        good.subscribe("steady", 1)
        connect = harness.connect_packet("burst", username="slow", password="wrong")
        socks = []
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", self.port))
            s.sendall(connect)
            socks.append(s)
        self.addCleanup(lambda: [s.close() for s in socks])
        time.sleep(0.2)  # the checks are under way
        start = time.time()
        good.publish("steady", b"ping", qos=1)
        good.wait_messages(1, timeout=5)
        elapsed = time.time() - start
        self.assertEqual(len(good.messages), 1)
        self.assertLess(elapsed, 1.0)
        # The burst is still being worked through (or has just been): every attempt is checked.
        deadline = time.time() + 60
        while time.time() < deadline and self.broker.log_text().count("login failed") < 200:
            time.sleep(0.2)
        self.assertEqual(self.broker.log_text().count("login failed"), 200)


class PerListenerFiles(harness.BrokerTestCase):
    """Each listener may name its own password and ACL files (Mosquitto's
    per_listener_settings); the others keep the global ones."""

    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.TemporaryDirectory(prefix="outpost-per-listener-")
        d = cls.files.name
        harness.password_file(f"{d}/global", {"staff": "s"})
        harness.password_file(f"{d}/devices", {"dev": "d"})
        with open(f"{d}/devices.acl", "w") as f:
            f.write("user dev\ntopic write telemetry/#\n")
        cls.devport = harness.free_port()
        cls.config = (f"auth:\n  password_file: {d}/global\nlisteners:\n"
                      "  - {protocol: mqtt, address: 127.0.0.1, port: {port}}\n"
                      f"  - {{protocol: mqtt, address: 127.0.0.1, port: {cls.devport}, "
                      f"password_file: {d}/devices, acl_file: {d}/devices.acl}}\n")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.files.cleanup()

    def login(self, port, user, password):
        c = PahoClient(port, client_id=f"{user}-{port}")
        c.client.username_pw_set(user, password)
        c.connect()
        c.client.loop_stop()
        c.client.disconnect()
        return c.connack

    def test_each_listener_its_own_users_and_rules(self):
        self.assertEqual(self.login(self.port, "staff", "s"), 0)
        self.assertEqual(self.login(self.port, "dev", "d"), 4)
        self.assertEqual(self.login(self.devport, "dev", "d"), 0)
        self.assertEqual(self.login(self.devport, "staff", "s"), 4)
        dev = PahoClient(self.devport, client_id="dev-acl")
        dev.client.username_pw_set("dev", "d")
        dev.connect()
        self.addCleanup(dev.disconnect)
        self.assertEqual(dev.subscribe("telemetry/#", 0), [0x80])  # write-only on this listener
        staff = PahoClient(self.port, client_id="staff-all")
        staff.client.username_pw_set("staff", "s")
        staff.connect()
        self.addCleanup(staff.disconnect)
        self.assertEqual(staff.subscribe("telemetry/#", 0), [0])  # no ACL on the other listener
        dev.publish("telemetry/t", b"1", qos=1)
        self.assertEqual(staff.wait_messages(1)[0].payload, b"1")


class Configuration(unittest.TestCase):
    def check(self, text):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "outpost.yaml")
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run([harness.outpost_bin(), "--check-config", "-c", path], capture_output=True, text=True)
            return r, path

    def test_a_listener_that_accepts_nobody_is_an_error(self):
        r, path = self.check("listeners:\n  - protocol: mqtt\n    address: 0.0.0.0\n    port: 1883\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"{path}:2:5: listeners[0]", r.stderr)
        self.assertIn("would accept no client", r.stderr)

    def test_a_password_file_makes_it_valid(self):
        with tempfile.TemporaryDirectory() as d:
            harness.password_file(f"{d}/passwd", {"alice": "x"})
            r, _ = self.check(f"auth:\n  password_file: {d}/passwd\nlisteners:\n"
                              "  - {protocol: mqtt, address: 0.0.0.0, port: 1883}\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        # The file must exist: the broker could not start without it.
        r, _ = self.check("auth:\n  password_file: /nonexistent/passwd\nlisteners:\n"
                          "  - {protocol: mqtt, address: 0.0.0.0, port: 1883}\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/passwd", r.stderr)

    def test_listen_on_all_addresses_without_credentials_says_so(self):
        port = harness.free_port()
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([harness.outpost_bin(), "--listen", f"mqtt://0.0.0.0:{port}", "--data-dir", d],
                               capture_output=True, text=True, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"--listen mqtt://0.0.0.0:{port}", r.stderr)
        self.assertIn("password file", r.stderr)

    def test_check_config_reads_the_password_and_acl_files(self):
        with tempfile.TemporaryDirectory() as d:
            harness.password_file(f"{d}/passwd", {"alice": "x"})
            with open(f"{d}/passwd", "a") as f:
                f.write("bob$7$101$broken\n")
            with open(f"{d}/acl", "w") as f:
                f.write("user alice\ntopic reed a/b\n")
            r, _ = self.check(f"auth:\n  password_file: {d}/passwd\n  acl_file: {d}/acl\n"
                              "listeners:\n  - {protocol: mqtt, port: 1883}\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{d}/passwd:2:", r.stderr)
        self.assertIn(f"{d}/acl:2: unknown access 'reed'", r.stderr)

    def test_unreadable_password_file_stops_the_start(self):
        port = harness.free_port()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "outpost.yaml")
            with open(path, "w") as f:
                f.write(f"auth:\n  password_file: {d}/missing\nlisteners:\n  - {{protocol: mqtt, port: {port}}}\n"
                        f"persistence:\n  dir: {d}/data\n")
            r = subprocess.run([harness.outpost_bin(), "-c", path], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"{d}/missing", r.stderr)


@unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
class RunsAsItsUser(unittest.TestCase):
    def test_root_gives_way_to_the_configured_user(self):
        import shutil
        d = tempfile.mkdtemp(prefix="outpost-user-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)  # the data directory's parent must be reachable for the user
        port = harness.free_port()
        config = (f"user: nobody\nlisteners:\n  - {{protocol: mqtt, address: 127.0.0.1, port: {port}, "
                  f"allow_anonymous: true}}\npersistence:\n  dir: {d}/data\n")
        b = harness.Broker(config=config, port=port)
        b.data_dir = f"{d}/data"
        self.addCleanup(b.tmp.cleanup)
        self.addCleanup(b.stop)
        b.start()
        # The listening sockets accept (into their backlog) before root is given up.
        self.assertTrue(b.wait_for_log("running as user 'nobody'"))
        with open(f"/proc/{b.proc.pid}/status") as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        self.assertEqual(set(uids), {"65534"})
        # The store stays writable: a persistent session keeps a QoS 1 message.
        harness.offline_subscription(port, "keeps", "t/keep")
        p = PahoClient(port, client_id="pub").connect()
        p.publish("t/keep", b"kept", qos=1)
        p.disconnect()
        s = PahoClient(port, client_id="keeps", clean_session=False).connect()
        self.assertEqual([m.payload for m in s.wait_messages(1)], [b"kept"])
        s.disconnect()
        self.assertEqual(b.stop(), 0, b.log_text())


if __name__ == "__main__":
    unittest.main()
