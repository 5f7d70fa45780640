#!/usr/bin/python3
"""Logs: AMQP connection and disconnection lines shaped like MQTT's, logging.connections,
ISO 8601 time stamps with an offset, logging.format json (one object per line), the log
file reopened after logrotate's rename, --check-config opening every named file, SIGHUP
naming what it applied and what needs a restart, and the queue-full warning naming the
subscriber's queue and the publisher, rate limited per queue for the whole broker."""
import json
import os
import re
import signal
import subprocess
import time

import pika

from amqp_raw import RawAmqp
from harness import *

ISO_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:[+-]\d\d:\d\d|Z)"


def position(text, needle):
    """line:column (1-based) of the first character of `needle` in `text`."""
    index = text.index(needle)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{column}"


def pika_params(port, name=None):
    props = {"connection_name": name} if name else None
    return pika.ConnectionParameters(host="127.0.0.1", port=port, client_properties=props,
                                     credentials=pika.PlainCredentials("guest", "guest"))


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def wait_until(predicate, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class AmqpConnectionLines(BrokerTestCase):
    config = amqp_config(mqtt_port=free_port())

    def test_client_close_names_the_client_and_the_reason(self):
        conn = pika.BlockingConnection(pika_params(self.port, "billing-svc"))
        self.assertTrue(self.broker.wait_for_log("amqp client 'billing-svc' 127.0.0.1:"))
        log = self.broker.log_text()
        line = next(l for l in log.splitlines() if "'billing-svc'" in l and "connected over" in l)
        self.assertRegex(line, r"^" + ISO_TIME + r" info amqp client 'billing-svc' 127\.0\.0\.1:\d+ \(guest\) "
                               r"connected over tcp: AMQP 0-9-1, vhost '/', user 'guest', heartbeat \d+s")
        conn.close()
        self.assertTrue(self.broker.wait_for_log("'billing-svc'"))
        self.assertTrue(wait_until(lambda: re.search(
            r"amqp client 'billing-svc' 127\.0\.0\.1:\d+ \(guest\) disconnected: closed by the client \(200 [^)]*\)",
            self.broker.log_text())), self.broker.log_text()[-2000:])

    def test_socket_closed(self):
        raw = RawAmqp(self.port)
        raw.open(user="sock")
        raw.open_ok()
        raw.close()
        self.assertTrue(wait_until(lambda: re.search(r"\(sock\) disconnected: socket closed",
                                                     self.broker.log_text())), self.broker.log_text()[-2000:])

    def test_connection_error_with_its_code(self):
        raw = RawAmqp(self.port)
        raw.open(user="err")
        raw.open_ok()
        raw.open_channel(1)
        raw.method(1, 90, 10)  # tx.select: transactions are not supported
        self.assertEqual(raw.expect_connection_close()[0], 540)
        raw.close()
        self.assertTrue(wait_until(lambda: re.search(r"\(err\) disconnected: connection error 540 NOT_IMPLEMENTED",
                                                     self.broker.log_text())), self.broker.log_text()[-2000:])


class AmqpShutdownLine(unittest.TestCase):
    def test_shutdown_is_the_reason(self):
        broker = Broker(amqp_config())
        try:
            broker.start()
            conn = pika.BlockingConnection(pika_params(broker.port, "until-stop"))
            self.assertTrue(broker.wait_for_log("'until-stop'"))
            self.assertEqual(broker.stop(), 0)
            self.assertRegex(broker.log_text(), r"amqp client 'until-stop' \S+ \(guest\) disconnected: broker shutdown")
            try:
                conn.close()
            except Exception:
                pass
        finally:
            broker.stop()
            broker.tmp.cleanup()


class ConnectionsOff(unittest.TestCase):
    def test_no_connection_lines_for_either_protocol(self):
        mqtt_port = free_port()
        broker = Broker(amqp_config(mqtt_port=mqtt_port, extra="logging:\n  connections: false\n"))
        try:
            broker.start()
            c = PahoClient(mqtt_port, client_id="quiet-device").connect()
            c.disconnect()
            conn = pika.BlockingConnection(pika_params(broker.port, "quiet-svc"))
            conn.close()
            time.sleep(0.5)
            self.assertEqual(broker.stop(), 0)
            log = broker.log_text()
            self.assertIn("running with", log)
            self.assertNotIn("connected over", log)
            self.assertNotIn("disconnected:", log)
            self.assertNotIn("quiet-", log)
        finally:
            broker.stop()
            broker.tmp.cleanup()


class JsonFormat(unittest.TestCase):
    def test_every_line_is_a_json_object(self):
        broker = Broker(broker_config(extra="logging:\n  format: json\n"))
        try:
            broker.start()
            c = PahoClient(broker.port, client_id='dev"ice\\1').connect()
            c.disconnect()
            self.assertTrue(broker.wait_for_log("disconnected"))
            self.assertEqual(broker.stop(), 0)
            lines = broker.log_text().splitlines()
            self.assertGreater(len(lines), 3)
            records = [json.loads(line) for line in lines]
            for r in records:
                self.assertRegex(r["time"], "^" + ISO_TIME + "$")
                self.assertIn(r["level"], ("trace", "debug", "info", "warning", "error", "critical"))
                self.assertIsInstance(r["thread"], int)
                self.assertIsInstance(r["message"], str)
            messages = [r["message"] for r in records]
            self.assertTrue(any(m.startswith("client 'dev\"ice\\1' (127.0.0.1:") and "connected over tcp" in m
                                for m in messages), messages)
            self.assertEqual(messages[-1], "stopped")
        finally:
            broker.stop()
            broker.tmp.cleanup()


class LogFile(unittest.TestCase):
    def test_reopened_after_rename_and_sighup(self):
        broker = Broker()
        log = os.path.join(broker.tmp.name, "logs", "outpost.log")
        broker.config_text = broker_config(extra=f"logging:\n  file: {log}\n")
        try:
            broker.start()
            self.assertTrue(wait_until(lambda: os.path.exists(log) and "running with" in read(log)))
            first = read(log).splitlines()[0]
            self.assertRegex(first, "^" + ISO_TIME + " info ")
            os.rename(log, log + ".1")  # logrotate
            broker.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_until(lambda: os.path.exists(log)), "the log file was not opened again")
            c = PahoClient(broker.port, client_id="after-rotate").connect()
            c.disconnect()
            self.assertTrue(wait_until(lambda: "after-rotate" in read(log)))
            self.assertEqual(broker.stop(), 0)
            self.assertNotIn("after-rotate", read(log + ".1"))
            self.assertIn("running with", read(log + ".1"))
            self.assertRegex(read(log), r"(?m) info stopped$")
        finally:
            broker.stop()
            broker.tmp.cleanup()


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="outpost-it-")
        self.path = os.path.join(self.tmp.name, "outpost.yaml")

    def tearDown(self):
        self.tmp.cleanup()

    def check(self, text):
        with open(self.path, "w") as f:
            f.write(text)
        return subprocess.run([outpost_bin(), "--check-config", "-c", self.path], capture_output=True, text=True,
                              timeout=20)

    def test_missing_certificate_file(self):
        missing = os.path.join(self.tmp.name, "nowhere", "server.pem")
        text = ("listeners:\n  - protocol: mqtt\n    port: 1883\n    allow_anonymous: true\n"
                "  - protocol: mqtts\n    port: 8883\n    allow_anonymous: true\n    tls:\n"
                f"      cert_file: {missing}\n      key_file: {missing}.key\n")
        r = self.check(text)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{self.path}:{position(text, missing)}: listeners[1].tls.cert_file: {missing}", r.stderr)
        self.assertNotIn("configuration OK", r.stdout)

    def test_unwritable_log_path_at_check_and_at_start(self):
        blocker = os.path.join(self.tmp.name, "a-file")
        open(blocker, "w").close()
        log = os.path.join(blocker, "outpost.log")  # under a regular file: never writable
        text = ("listeners:\n  - protocol: mqtt\n    port: 0\n    allow_anonymous: true\n"
                f"logging:\n  level: info\n  file: {log}\n")
        r = self.check(text)
        self.assertEqual(r.returncode, 1, r.stderr)
        where = f"{self.path}:{position(text, log)}: logging.file: {log}"
        self.assertIn(where, r.stderr)
        started = subprocess.run([outpost_bin(), "-c", self.path, "--data-dir", os.path.join(self.tmp.name, "d")],
                                 capture_output=True, text=True, timeout=20)
        self.assertEqual(started.returncode, 1, started.stderr)
        self.assertIn(f"{self.path}:{position(text, log)}: logging.file:", started.stderr)

    def test_missing_password_file_names_the_setting(self):
        missing = os.path.join(self.tmp.name, "passwd")
        text = ("listeners:\n  - protocol: mqtt\n    port: 1883\n    allow_anonymous: false\n"
                f"auth:\n  password_file: {missing}\n")
        r = self.check(text)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{self.path}:{position(text, missing)}: auth.password_file: ", r.stderr)

    def test_good_files_pass(self):
        log = os.path.join(self.tmp.name, "logs", "outpost.log")
        r = self.check(f"listeners:\n  - {{protocol: mqtt, port: 1883, allow_anonymous: true}}\n"
                       f"logging:\n  file: {log}\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)


class Reload(unittest.TestCase):
    def test_sighup_names_applied_and_restart_needed_changes(self):
        broker = Broker()
        passwd = password_file(os.path.join(broker.tmp.name, "passwd"), {"alice": "secret"})
        auth = f"auth:\n  password_file: {passwd}\n"
        broker.config_text = broker_config(extra="logging:\n  level: info\n" + auth)
        try:
            broker.start()
            password_file(passwd, {"bob": "secret", "carol": "secret"}, create=False)
            path = os.path.join(broker.tmp.name, "outpost.yaml")
            text = broker_config(mqtt={"max_inflight": 20}, extra="logging:\n  level: debug\n" + auth)
            other = free_port()
            with open(path, "w") as f:
                f.write(text.replace("{port}", str(other)))
            broker.proc.send_signal(signal.SIGHUP)
            self.assertTrue(broker.wait_for_log("reload: logging.level info -> debug"), broker.log_text())
            self.assertTrue(broker.wait_for_log("reload: listeners changed: needs a restart, not applied"))
            self.assertTrue(broker.wait_for_log("reload: mqtt.max_inflight 65535 -> 20: needs a restart, not applied"))
            self.assertTrue(broker.wait_for_log(f"reload: password file {passwd} re-read (3 user(s) with a password"),
                            broker.log_text())
            # The level is in force now: a second SIGHUP with the same file names only what waits.
            broker.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_until(lambda: broker.log_text().count("reload: listeners changed") == 2))
            self.assertEqual(broker.log_text().count("reload: logging.level"), 1)
            # The old port still serves: listeners were not touched.
            c = PahoClient(broker.port, client_id="still-here").connect()
            c.disconnect()
        finally:
            broker.stop()
            broker.tmp.cleanup()


class QueueFull(BrokerTestCase):
    # No store: acknowledgements do not wait for fsync, so the publishes take well under a second.
    config = broker_config(mqtt={"max_queued_messages": 5}, extra="persistence:\n  enabled: false\n")

    def full_lines(self):
        return [l for l in self.broker.log_text().splitlines() if "subscriber queue 'mqtt/qf-sub' is full" in l]

    def test_warning_names_subscriber_and_publisher_and_is_rate_limited(self):
        s = PahoClient(self.port, client_id="qf-sub", clean_session=False).connect()
        s.subscribe("qf/t", 1)
        s.disconnect()
        # Two publishers on two connections: one limit for the queue, not one per connection.
        a = PahoClient(self.port, client_id="qf-pub-a").connect()
        b = PahoClient(self.port, client_id="qf-pub-b").connect()
        for i in range(8):
            a.publish("qf/t", b"x" * 100, qos=1)
        for i in range(4):
            b.publish("qf/t", b"y" * 100, qos=1)
        self.assertTrue(wait_until(lambda: len(self.full_lines()) >= 1))
        time.sleep(0.2)
        lines = self.full_lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r" warning delivery refused: subscriber queue 'mqtt/qf-sub' is full \(5 messages, "
                                   r"[\d.]+ [KM]?i?B; limits 5 messages, 64 MiB\): message on 'qf/t' \(QoS 1, 100 B\) "
                                   r"from mqtt client 'qf-pub-a' 127\.0\.0\.1:\d+$")
        time.sleep(1.1)
        b.publish("qf/t", b"z", qos=1)
        self.assertTrue(wait_until(lambda: len(self.full_lines()) == 2))
        self.assertRegex(self.full_lines()[1], r"from mqtt client 'qf-pub-b' 127\.0\.0\.1:\d+; 6 more refused "
                                               r"deliveries to this queue not logged$")
        a.disconnect()
        b.disconnect()


if __name__ == "__main__":
    main()
