#!/usr/bin/python3
"""`outpost passwd` and Debian's mosquitto share one password file: what outpost writes,
Debian's mosquitto 2 broker accepts (and refuses what it should), and a file written by
mosquitto_passwd keeps its lines when outpost edits it.

mosquitto runs on a free loopback port with its own config and is stopped by its process id."""
import os
import signal
import subprocess
import tempfile
import unittest

import harness

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"


def outpost_passwd(*args, input=None):
    return subprocess.run([harness.outpost_bin(), "passwd", *args], input=input, capture_output=True, timeout=30)


class Mosquitto:
    """Debian's broker with anonymous clients refused and `password_file` set."""

    def __init__(self, tmp, password_file):
        self.tmp = tmp
        self.password_file = password_file
        self.port = None
        self.proc = None
        self.log_path = os.path.join(tmp, "mosquitto.log")

    def start(self):
        self.port = harness.free_port()
        conf = os.path.join(self.tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {self.password_file}\n")
            if os.geteuid() == 0:
                # Run as root, mosquitto would switch to its own user, who cannot read our
                # 0600 file in a private temporary directory; "root" tells it to stay.
                f.write("user root\n")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if not harness.wait_for_port(self.port, proc=self.proc):
            self.stop()
            raise RuntimeError("mosquitto did not start:\n" + self.log())
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def pub(self, user, password, topic="it/passwd", message="hello", retain=False):
        cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic, "-m", message, "-q", "1"]
        if user is not None:
            cmd += ["-u", user]
        if password is not None:
            cmd += ["-P", password]
        if retain:
            cmd += ["-r"]
        return subprocess.run(cmd, capture_output=True, timeout=15).returncode

    def sub_one(self, user, password, topic="it/passwd"):
        """One message (a retained one) or None; -W 5 bounds the wait."""
        r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-u", user, "-P", password,
                            "-t", topic, "-C", "1", "-W", "5"], capture_output=True, timeout=15)
        return r.stdout.decode().strip() if r.returncode == 0 else None


class PasswdInterop(unittest.TestCase):
    def setUp(self):
        for tool in (MOSQUITTO, MOSQUITTO_PASSWD, "/usr/bin/mosquitto_pub", "/usr/bin/mosquitto_sub"):
            self.assertTrue(os.access(tool, os.X_OK), f"{tool} is missing (apt-get install mosquitto mosquitto-clients)")
        tmp = tempfile.TemporaryDirectory(prefix="outpost-passwd-it-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.file = os.path.join(self.tmp, "passwd")

    def broker(self):
        m = Mosquitto(self.tmp, self.file)
        self.addCleanup(m.stop)
        return m

    def check(self, result):
        self.assertEqual(result.returncode, 0, result.stderr.decode() + result.stdout.decode())

    def test_mosquitto_accepts_what_outpost_passwd_writes(self):
        self.check(outpost_passwd("-c", "-b", self.file, "alice", "open sesame"))
        self.check(outpost_passwd("-H", "sha512", "-b", self.file, "bob", "b0b"))
        self.check(outpost_passwd("-I", "1000", "-b", self.file, "carol", "c4rol"))
        self.assertEqual(os.stat(self.file).st_mode & 0o777, 0o600)
        m = self.broker().start()
        self.assertEqual(m.pub("alice", "open sesame", message="from alice", retain=True), 0, m.log())
        self.assertEqual(m.sub_one("alice", "open sesame"), "from alice")
        self.assertEqual(m.sub_one("bob", "b0b"), "from alice")
        self.assertEqual(m.sub_one("carol", "c4rol"), "from alice")
        self.assertNotEqual(m.pub("alice", "open sesame!"), 0)
        self.assertNotEqual(m.pub("alice", "b0b"), 0)
        self.assertNotEqual(m.pub("bob", "hunter2"), 0)
        self.assertNotEqual(m.pub("mallory", "open sesame"), 0)
        self.assertNotEqual(m.pub(None, None), 0)
        self.assertIsNone(m.sub_one("alice", "wrong"))

    def test_deleted_user_is_refused_after_restart(self):
        self.check(outpost_passwd("-c", "-b", self.file, "alice", "a"))
        self.check(outpost_passwd("-b", self.file, "bob", "b"))
        m = self.broker().start()
        self.assertEqual(m.pub("bob", "b"), 0, m.log())
        m.stop()
        self.check(outpost_passwd("-D", self.file, "bob"))
        m.start()
        self.assertNotEqual(m.pub("bob", "b"), 0)
        self.assertEqual(m.pub("alice", "a"), 0, m.log())
        # Deleting again: mosquitto_passwd's warning and exit code 1.
        again = outpost_passwd("-D", self.file, "bob")
        self.assertEqual(again.returncode, 1)
        self.assertIn(b"not found", again.stderr)

    def test_outpost_update_keeps_a_mosquitto_passwd_line_byte_for_byte(self):
        r = subprocess.run([MOSQUITTO_PASSWD, "-c", "-b", self.file, "ann", "first"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([MOSQUITTO_PASSWD, "-H", "sha512", "-b", self.file, "old", "legacy"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.file, "rb") as f:
            before = f.read()
        self.check(outpost_passwd("-b", self.file, "ben", "second"))
        with open(self.file, "rb") as f:
            after = f.read()
        self.assertTrue(after.startswith(before), (before, after))
        new_lines = after[len(before):].splitlines()
        self.assertEqual(len(new_lines), 1)
        self.assertTrue(new_lines[0].startswith(b"ben:$7$101$"), new_lines[0])
        # ...and mosquitto_passwd can edit outpost's result in turn.
        r = subprocess.run([MOSQUITTO_PASSWD, "-b", self.file, "cid", "third"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = self.broker().start()
        for user, password in (("ann", "first"), ("old", "legacy"), ("ben", "second"), ("cid", "third")):
            self.assertEqual(m.pub(user, password), 0, f"{user}\n{m.log()}")
        self.assertNotEqual(m.pub("ben", "first"), 0)

    def test_converted_plain_text_file(self):
        with open(self.file, "w") as f:
            f.write("dora:explorer\neve: spaced out \n")
        self.check(outpost_passwd("-U", self.file))
        with open(self.file) as f:
            self.assertNotIn("explorer", f.read())
        m = self.broker().start()
        self.assertEqual(m.pub("dora", "explorer"), 0, m.log())
        self.assertEqual(m.pub("eve", "spaced out"), 0, m.log())
        self.assertNotEqual(m.pub("dora", "explorer "), 0)

    def test_prompted_password_from_a_pipe(self):
        self.check(outpost_passwd("-c", self.file, "pat", input=b"piped pw\npiped pw\n"))
        m = self.broker().start()
        self.assertEqual(m.pub("pat", "piped pw"), 0, m.log())
        differ = outpost_passwd(self.file, "pat", input=b"one\ntwo\n")
        self.assertEqual(differ.returncode, 2)
        self.assertEqual(m.pub("pat", "piped pw"), 0)

    def test_bad_usage(self):
        r = outpost_passwd()
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"Usage: outpost passwd", r.stdout)
        r = outpost_passwd("-c", "-D", self.file, "x")
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(self.file))


if __name__ == "__main__":
    unittest.main()
