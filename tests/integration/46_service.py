#!/usr/bin/python3
"""Running as a system service: the sd_notify messages of a Type=notify unit (READY=1 once
the listeners accept, RELOADING=1 and READY=1 around SIGHUP, STOPPING=1), logging.file
reopened on SIGHUP (logrotate), syslog priorities on lines that go to the journal, and the
configuration the Debian package installs."""
import os
import signal
import socket
import subprocess
import time

from harness import *


class NotifySocket:
    """The service manager's end of sd_notify(3): a datagram socket collecting messages."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages = []

    def wait_for(self, field, count=1, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if sum(field in m.split("\n") for m in self.messages) >= count:
                return True
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return False

    def close(self):
        self.sock.close()


class WithEnvironment:
    def __init__(self, **values):
        self.values = values
        self.saved = {}

    def __enter__(self):
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            os.environ[k] = v

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Service(unittest.TestCase):
    def test_notify_ready_reload_stopping(self):
        broker = Broker(broker_config())
        notify = NotifySocket(broker.tmp.name)
        try:
            with WithEnvironment(NOTIFY_SOCKET=notify.path):
                broker.start()
            self.assertTrue(notify.wait_for("READY=1"), notify.messages)
            ready = next(m for m in notify.messages if "READY=1" in m.split("\n"))
            self.assertIn("STATUS=1 listener(s)", ready)
            # READY=1 comes after the listeners accept.
            with socket.create_connection(("127.0.0.1", broker.port), timeout=2):
                pass
            broker.proc.send_signal(signal.SIGHUP)
            self.assertTrue(notify.wait_for("RELOADING=1"), notify.messages)
            self.assertTrue(notify.wait_for("READY=1", count=2), notify.messages)
            reloading = next(m for m in notify.messages if "RELOADING=1" in m.split("\n"))
            self.assertRegex(reloading, r"MONOTONIC_USEC=\d+")
            self.assertEqual(broker.stop(), 0)
            self.assertTrue(notify.wait_for("STOPPING=1"), notify.messages)
        finally:
            broker.stop()
            notify.close()
            broker.tmp.cleanup()

    def test_log_file_reopened_on_sighup(self):
        broker = Broker()
        log = os.path.join(broker.tmp.name, "outpost.log")
        broker.config_text = broker_config(extra=f"logging:\n  file: {log}\n")
        try:
            broker.start()
            deadline = time.time() + 5
            while time.time() < deadline and "running with" not in open(log).read():
                time.sleep(0.05)
            self.assertIn("running with", open(log).read())
            os.rename(log, log + ".1")  # what logrotate does
            broker.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 5
            while time.time() < deadline and not os.path.exists(log):
                time.sleep(0.05)
            self.assertTrue(os.path.exists(log), "the log file was not opened again")
            self.assertEqual(broker.stop(), 0)
            # The last lines go to the new file, the earlier ones stay in the moved one.
            self.assertRegex(open(log).read(), r"(?m) info stopped$")
            self.assertNotRegex(open(log + ".1").read(), r"(?m) info stopped$")
            self.assertIn("running with", open(log + ".1").read())
        finally:
            broker.stop()
            broker.tmp.cleanup()

    def test_journal_lines_carry_priorities(self):
        broker = Broker(broker_config())
        try:
            open(broker.log_path, "wb").close()
            st = os.stat(broker.log_path)
            with WithEnvironment(JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}"):
                broker.start()
            self.assertTrue(broker.wait_for_log("running with"))
            broker.stop()
            first = broker.log_text().splitlines()[0]
            self.assertRegex(first, r"^<6>info ")
        finally:
            broker.stop()
            broker.tmp.cleanup()

    def test_packaged_config_checks(self):
        path = os.path.join(ROOT, "packaging", "config", "outpost.yaml")
        r = subprocess.run([outpost_bin(), "--check-config", "-c", path], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(path) as f:
            text = f.read()
        # Loopback only until the administrator opens a field-network listener.
        for line in text.splitlines():
            if line.strip().startswith("address:"):
                self.assertIn("127.0.0.1", line)


if __name__ == "__main__":
    unittest.main()
