#!/usr/bin/python3
"""The example plugin (plugins/example_auth) deciding for real clients: users, passwords
and topic rules from its config section applied to MQTT (paho 3.1.1 and 5.0, raw MQTT 5
for the reason codes paho 1.6 does not show) and AMQP (pika) clients; users it does not
list left to the broker's password file; its section read again on SIGHUP."""
import os
import signal
import struct
import subprocess
import tempfile
import time
import unittest

import paho.mqtt.client as mqtt
import pika

import harness
from harness import CONNACK, PUBACK, SUBACK, PahoClient, mqtt_str, packet
from mqtt5_raw import Raw5, publish5, subscribe5

USERS = """      users:
        - {user: sensor1, password: s3cret, publish: ["sensors/sensor1/#"], subscribe: ["cmd/sensor1/#"]}
        - {user: dashboard, password: view, publish: ["cmd/#"], subscribe: ["sensors/#"]}
        - {user: service, password: "svc pass", publish: ["sensors/service/#"], subscribe: ["sensors/#", "$SYS/#"]}
        - {user: reader, password: r, subscribe: ["#"]}
"""
# Failed logins are many here; the per-address limit would refuse the good ones after them.
NO_LOGIN_LIMIT = "  max_failed_logins_per_minute: 1000000\n"


def plugin_section(users=USERS, extra=""):
    return ("plugins:\n  - name: devices\n    library: example_auth\n    config:\n" + users + extra)


def no_sanitizer_report(test, text):
    """The broker's output holds no ASan/UBSan report (plugins built with OUTPOST_SANITIZE)."""
    test.assertNotIn("AddressSanitizer", text)
    test.assertNotIn("runtime error:", text)


def position(text, needle, skip=0):
    """"LINE:COLUMN" (1-based) of the first `needle` in `text`, `skip` characters into it:
    where a node starts."""
    before = text[:text.index(needle) + skip]
    return f"{before.count(chr(10)) + 1}:{len(before) - (before.rfind(chr(10)) + 1) + 1}"


def connect5_auth(client_id, user, password):
    """An MQTT 5 CONNECT with a user name and password (mqtt5_raw's has neither)."""
    flags = 0x02 | 0x80 | 0x40
    body = (mqtt_str("MQTT") + bytes([5, flags]) + struct.pack("!H", 60) + b"\x00" + mqtt_str(client_id) +
            mqtt_str(user) + mqtt_str(password))
    return packet(0x10, body)


class ExampleAuth(harness.BrokerTestCase):
    """MQTT and AMQP listeners without anonymous access; a password file with a user the
    plugin does not list; no ACL file (so what the plugin defers is allowed)."""

    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.TemporaryDirectory(prefix="outpost-exauth-")
        cls.passwd = harness.password_file(os.path.join(cls.files.name, "passwd"), {"fileuser": "filepass"})
        cls.aport = harness.free_port()
        cls.config = (harness.broker_config(anonymous=False) +
                      f"  - {{protocol: amqp, address: 127.0.0.1, port: {cls.aport}, allow_anonymous: false}}\n"
                      f"auth:\n  password_file: {cls.passwd}\n" + NO_LOGIN_LIMIT + plugin_section(extra="      defer_unknown: true\n"))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.files.cleanup()

    # ------------------------------------------------------------ helpers

    def paho(self, user=None, password=None, v5=False, client_id=""):
        c = PahoClient(self.port, client_id=client_id, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        if user is not None:
            c.client.username_pw_set(user, password)
        return c

    def connected(self, user, password, v5=False, client_id=""):
        c = self.paho(user, password, v5, client_id).connect()
        self.assertEqual(c.connack, 0, f"{user} refused")
        self.addCleanup(c.disconnect)
        return c

    def refused(self, user, password, v5=False):
        c = self.paho(user, password, v5).connect()
        c.client.loop_stop()
        return c.connack

    def raw5(self, user, password, client_id):
        r = Raw5(self.port)
        self.addCleanup(r.close)
        r.send(connect5_auth(client_id, user, password))
        p = r.expect(CONNACK)
        self.assertEqual(p.body[1], 0, f"{user} refused: {p.body[1]:#x}")
        return r

    def puback_reason(self, raw, topic, packet_id):
        raw.send(publish5(topic, b"x", qos=1, packet_id=packet_id))
        ack = raw.expect(PUBACK)
        self.assertEqual(ack.packet_id(), packet_id)
        return ack.body[2] if len(ack.body) > 2 else 0

    def amqp(self, user, password):
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", self.aport, credentials=pika.PlainCredentials(user, password), connection_attempts=1))
        self.addCleanup(lambda: conn.is_open and conn.close())
        return conn

    # ------------------------------------------------------------ authentication

    def test_mqtt_311_login(self):
        self.assertEqual(self.connected("sensor1", "s3cret").connack, 0)
        self.assertEqual(self.refused("sensor1", "wrong"), 4)       # bad user name or password
        self.assertEqual(self.refused("sensor1", None), 4)          # a listed user needs a password
        self.assertEqual(self.refused("sensor1", "s3cre"), 4)       # a prefix is not the password
        self.assertEqual(self.refused("sensor1", "s3cret!"), 4)
        self.assertEqual(self.refused("SENSOR1", "s3cret"), 4)      # names are exact: unknown, deferred, not in the file

    def test_mqtt_5_login(self):
        self.assertEqual(self.connected("dashboard", "view", v5=True).connack, 0)
        self.assertEqual(self.refused("dashboard", "nope", v5=True), 0x86)

    def test_password_with_spaces_from_quoted_yaml(self):
        self.assertEqual(self.connected("service", "svc pass").connack, 0)

    def test_unknown_users_are_left_to_the_password_file(self):
        self.assertEqual(self.connected("fileuser", "filepass").connack, 0)
        self.assertEqual(self.refused("fileuser", "wrong"), 4)
        self.assertEqual(self.refused("stranger", "x"), 4)
        # anonymous: deferred to the listener, which accepts nobody without credentials
        self.assertNotEqual(self.refused(None, None), 0)

    def test_amqp_login(self):
        self.assertTrue(self.amqp("service", "svc pass").is_open)
        self.assertTrue(self.amqp("fileuser", "filepass").is_open)  # deferred to the password file
        for user, password in (("service", "wrong"), ("stranger", "x")):
            with self.assertRaises((pika.exceptions.ProbableAuthenticationError,
                                    pika.exceptions.AuthenticationError)):
                self.amqp(user, password)

    # ------------------------------------------------------------ MQTT topic rules

    def test_publish_allowed_and_denied_mqtt5_reason_codes(self):
        watcher = self.connected("dashboard", "view", client_id="watch-5")
        self.assertEqual(watcher.subscribe("sensors/#", 1), [1])
        raw = self.raw5("sensor1", "s3cret", "sensor1-raw")
        self.assertEqual(self.puback_reason(raw, "sensors/sensor1/temp", 1), 0)
        self.assertEqual(self.puback_reason(raw, "sensors/sensor2/temp", 2), 0x87)
        self.assertEqual(self.puback_reason(raw, "sensors/sensor10/temp", 3), 0x87)  # levels, not prefixes
        self.assertEqual(self.puback_reason(raw, "cmd/sensor1/x", 4), 0x87)
        watcher.wait_messages(1)
        time.sleep(0.3)
        self.assertEqual([m.topic for m in watcher.messages], ["sensors/sensor1/temp"])

    def test_denied_publish_311_is_acknowledged_and_dropped(self):
        watcher = self.connected("dashboard", "view", client_id="watch-311")
        watcher.subscribe("sensors/#", 1)
        s = self.connected("sensor1", "s3cret", client_id="sensor1-311")
        s.publish("sensors/sensor2/temp", b"forged", qos=1)  # PUBACK arrives (publish asserts it)
        s.publish("sensors/sensor1/temp", b"real", qos=1)
        watcher.wait_messages(1)
        time.sleep(0.3)
        self.assertEqual([m.payload for m in watcher.messages], [b"real"])

    def test_subscribe_covered_filters_only(self):
        s = self.connected("sensor1", "s3cret", client_id="sensor1-sub")
        self.assertEqual(s.subscribe("cmd/sensor1/#", 1), [1])
        self.assertEqual(s.subscribe("cmd/sensor1/+/set", 1), [1])   # narrower: covered
        self.assertEqual(s.subscribe("cmd/#", 1), [0x80])            # wider: refused
        self.assertEqual(s.subscribe("cmd/+/#", 0), [0x80])
        self.assertEqual(s.subscribe("sensors/sensor1/#", 0), [0x80])  # may publish there, not read
        self.assertEqual(s.subscribe("$share/g/cmd/sensor1/#", 0), [0])  # the group is not part of the check
        raw = self.raw5("sensor1", "s3cret", "sensor1-sub5")
        raw.send(subscribe5(7, [("cmd/#", 1), ("cmd/sensor1/a", 1)]))
        suback = raw.expect(SUBACK)
        self.assertEqual(list(suback.body[3:]), [0x87, 1])  # packet id, empty properties, reason codes

    def test_dollar_topics_need_an_explicit_filter(self):
        r = self.connected("reader", "r", client_id="reader-sys")
        self.assertEqual(r.subscribe("#", 0), [0])
        self.assertEqual(r.subscribe("$SYS/#", 0), [0x80])      # "#" does not match $-topics
        self.assertEqual(r.subscribe("+/broker/#", 0), [0])
        svc = self.connected("service", "svc pass", client_id="svc-sys")
        self.assertEqual(svc.subscribe("$SYS/broker/#", 0), [0])

    def test_delivery_from_device_to_dashboard_and_command_back(self):
        dash = self.connected("dashboard", "view", client_id="dash")
        dev = self.connected("sensor1", "s3cret", client_id="dev")
        dash.subscribe("sensors/+/temp", 1)
        dev.subscribe("cmd/sensor1/#", 1)
        dev.publish("sensors/sensor1/temp", b"21.5", qos=1)
        dash.publish("cmd/sensor1/led", b"on", qos=1)
        self.assertEqual([(m.topic, m.payload) for m in dash.wait_messages(1)], [("sensors/sensor1/temp", b"21.5")])
        self.assertEqual([(m.topic, m.payload) for m in dev.wait_messages(1)], [("cmd/sensor1/led", b"on")])

    def test_users_the_plugin_does_not_list_are_left_to_the_broker(self):
        # No ACL file: what the plugin defers is allowed.
        f = self.connected("fileuser", "filepass", client_id="fileuser")
        self.assertEqual(f.subscribe("anything/#", 0), [0])
        f.publish("anything/at/all", b"1", qos=1)
        self.assertEqual(f.wait_messages(1)[0].topic, "anything/at/all")

    def test_plugin_users_survive_a_password_file_reload(self):
        # The password file does not know sensor1: its reload must not revoke a user the
        # plugin accepted.
        s = self.connected("sensor1", "s3cret", client_id="sensor1-hup")
        s.subscribe("cmd/sensor1/#", 1)
        before = self.broker.log_text().count("SIGHUP")
        self.broker.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and self.broker.log_text().count("SIGHUP") == before:
            time.sleep(0.05)
        time.sleep(0.5)
        self.assertFalse(s.disconnected.is_set(), self.broker.log_text()[-2000:])
        dash = self.connected("dashboard", "view", client_id="dash-hup")
        dash.publish("cmd/sensor1/x", b"still here", qos=1)
        self.assertEqual([m.payload for m in s.wait_messages(1)], [b"still here"])

    # ------------------------------------------------------------ AMQP topic rules

    def test_amqp_publish_on_amq_topic(self):
        ch = self.amqp("service", "svc pass").channel()
        ch.confirm_delivery()
        ch.basic_publish("amq.topic", "sensors.service.temp", b"ok")  # confirmed
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as e:
            ch.basic_publish("amq.topic", "sensors.sensor1.temp", b"forged")
        self.assertEqual(e.exception.reply_code, 403)

    def test_amqp_bindings_on_amq_topic(self):
        ch = self.amqp("service", "svc pass").channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, "amq.topic", "sensors.*.temp")  # covered by sensors/#
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as e:
            ch.queue_bind(q, "amq.topic", "cmd.#")
        self.assertEqual(e.exception.reply_code, 403)

    def test_mqtt_device_to_amqp_service(self):
        ch = self.amqp("service", "svc pass").channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, "amq.topic", "sensors.#")
        dev = self.connected("sensor1", "s3cret", client_id="dev-amqp")
        dev.publish("sensors/sensor1/humidity", b"40", qos=1)
        body = None
        for _ in range(100):
            method, _, body = ch.basic_get(q, auto_ack=True)
            if method:
                break
            time.sleep(0.02)
        self.assertEqual(body, b"40")

    def test_queues_by_name_are_left_to_the_broker(self):
        ch = self.amqp("service", "svc pass").channel()
        ch.confirm_delivery()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_publish("", q, b"direct")  # the default exchange: not amq.topic, deferred
        body = None
        for _ in range(100):
            method, _, body = ch.basic_get(q, auto_ack=True)  # consume by name: deferred
            if method:
                break
            time.sleep(0.02)
        self.assertEqual(body, b"direct")


class RefuseUnknown(harness.BrokerTestCase):
    """defer_unknown: false: a user the plugin does not list is refused even though the
    password file knows it; anonymous clients are still the listener's business."""

    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.TemporaryDirectory(prefix="outpost-exauth-strict-")
        passwd = harness.password_file(os.path.join(cls.files.name, "passwd"), {"fileuser": "filepass"})
        cls.config = harness.broker_config(anonymous=True, extra=(
            f"auth:\n  password_file: {passwd}\n" + NO_LOGIN_LIMIT +
            plugin_section(extra="      defer_unknown: false\n")))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.files.cleanup()

    def login(self, user, password):
        c = PahoClient(self.port)
        if user is not None:
            c.client.username_pw_set(user, password)
        c.connect()
        c.client.loop_stop()
        c.client.disconnect()
        return c.connack

    def test_unknown_user_refused_listed_and_anonymous_accepted(self):
        self.assertEqual(self.login("fileuser", "filepass"), 4)
        self.assertEqual(self.login("sensor1", "s3cret"), 0)
        self.assertEqual(self.login(None, None), 0)


class Reload(unittest.TestCase):
    """SIGHUP hands the plugin its section as read again: a good one replaces the users and
    rules (subscriptions already made are filtered by the new rules at delivery), a bad one
    is logged with its position and changes nothing."""

    NARROW = USERS.replace('subscribe: ["sensors/#"]', 'subscribe: ["sensors/sensor1/#"]').replace(
        'password: s3cret', 'password: n3w')

    def setUp(self):
        self.broker = harness.Broker(config=self.config_text(plugin_section()))
        self.broker.start()
        self.addCleanup(self.broker.tmp.cleanup)
        self.addCleanup(lambda: no_sanitizer_report(self, self.broker.log_text()))
        self.addCleanup(self.broker.stop)
        self.config_path = os.path.join(self.broker.tmp.name, "outpost.yaml")

    @staticmethod
    def config_text(plugins):
        return harness.broker_config(anonymous=False, extra="auth:\n" + NO_LOGIN_LIMIT + plugins)

    def reload_with(self, plugin_config):
        text = self.config_text(plugin_config).replace("{port}", str(self.broker.port))
        with open(self.config_path, "w") as f:
            f.write(text)
        before = self.broker.log_text()
        self.broker.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and len(self.broker.log_text()) == len(before):
            time.sleep(0.05)
        time.sleep(0.3)
        return self.broker.log_text()[len(before):]

    def login(self, user, password, client_id=""):
        c = PahoClient(self.broker.port, client_id=client_id)
        c.client.username_pw_set(user, password)
        c.connect()
        if c.connack == 0:
            self.addCleanup(c.disconnect)
        else:
            c.client.loop_stop()
        return c

    def test_new_rules_and_passwords_apply(self):
        dash = self.login("dashboard", "view", "dash")
        self.assertEqual(dash.subscribe("sensors/#", 1), [1])
        self.assertEqual(self.login("sensor1", "s3cret").connack, 0)
        log = self.reload_with(plugin_section(self.NARROW))
        self.assertIn("reloaded: 4 users", log)
        self.assertEqual(self.login("sensor1", "s3cret").connack, 4)
        self.assertEqual(self.login("sensor1", "n3w").connack, 0)
        # Delivery is checked against the new rules: dashboard may read sensor1 only now.
        svc = self.login("service", "svc pass", "svc")
        svc.publish("sensors/service/temp", b"hidden", qos=1)
        dev = self.login("sensor1", "n3w", "dev")
        dev.publish("sensors/sensor1/temp", b"seen", qos=1)
        dash.wait_messages(1)
        time.sleep(0.3)
        self.assertEqual([m.payload for m in dash.messages], [b"seen"])

    def test_a_bad_section_keeps_the_previous_users(self):
        bad = plugin_section(USERS + "      defer_unknwon: true\n")
        log = self.reload_with(bad)
        self.assertIn("unknown key 'defer_unknwon'", log)
        self.assertIn(f"{self.config_path}:{position(self.config_text(bad), 'defer_unknwon: true', skip=15)}", log)
        self.assertIn("keeping the previous configuration", log)
        self.assertEqual(self.login("sensor1", "s3cret").connack, 0)
        self.assertEqual(self.broker.stop(), 0, self.broker.log_text())


class ConfigErrors(unittest.TestCase):
    """A section the plugin cannot use stops the start (exit code 1), and the error names
    the instance and the offending node's file:line:column."""

    def start(self, users, extra=""):
        b = harness.Broker(config=harness.broker_config(anonymous=False) + plugin_section(users, extra))
        self.addCleanup(b.tmp.cleanup)
        r = subprocess.run(b.command(), capture_output=True, text=True, timeout=30)
        path = os.path.join(b.tmp.name, "outpost.yaml")
        with open(path) as f:
            text = f.read()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("devices", r.stderr)
        no_sanitizer_report(self, r.stdout + r.stderr)
        return r.stderr, path, text

    def test_unknown_key(self):
        err, path, text = self.start(USERS, "      defer_unknwon: false\n")
        self.assertIn(f"{path}:{position(text, 'defer_unknwon: false', skip=15)}", err)
        self.assertIn("unknown key 'defer_unknwon' in config (allowed: users, defer_unknown)", err)

    def test_bad_filter(self):
        err, path, text = self.start('      users:\n        - {user: a, password: b, publish: ["x/#/y"]}\n')
        self.assertIn(f"{path}:{position(text, chr(34) + 'x/#/y')}", err)
        self.assertIn("users[0].publish[0]: 'x/#/y' is not a valid MQTT topic filter", err)

    def test_missing_password_and_duplicate_user(self):
        err, path, text = self.start("      users:\n        - {user: a}\n")
        self.assertIn(f"{path}:{position(text, '{user: a}')}", err)
        self.assertIn("users[0]: missing required key 'password'", err)
        err, path, text = self.start("      users:\n        - {user: a, password: b}\n        - {user: a, password: c}\n")
        self.assertIn("users[1].user: 'a' is listed twice", err)

    def test_not_a_mapping(self):
        err, _, _ = self.start("      [sensor1, s3cret]\n")
        self.assertIn("config: expected a mapping with 'users'", err)

    def test_no_config_at_all(self):
        b = harness.Broker(config=harness.broker_config(anonymous=False) +
                           "plugins:\n  - name: devices\n    library: example_auth\n")
        self.addCleanup(b.tmp.cleanup)
        r = subprocess.run(b.command(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("devices", r.stderr)
        self.assertIn("expected a mapping with 'users'", r.stderr)


if __name__ == "__main__":
    unittest.main()
