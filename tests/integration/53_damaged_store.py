#!/usr/bin/python3
"""A damaged store never gives a silent empty start. The test makes a store with the real
broker (retained messages, a persistent MQTT session with queued messages, a durable AMQP
queue with persistent messages), stops it (cleanly or with SIGKILL), damages a copy
(truncation, a flipped bit in the WAL or in the database file, the WAL removed), and then:
the broker refuses to start with a message naming the file and `outpost store recover`;
`outpost store check` exits 1 and says what it found; `outpost store recover` keeps what
can be read, moves the damaged files aside and says how much it kept; the broker then
starts on the recovered store."""
import glob
import os
import shutil
import subprocess
import unittest

import pika

import harness
from harness import Broker, PahoClient, offline_subscription, outpost_bin

WAL_HEADER, FRAME_HEADER = 32, 24


def page_size(db):
    """The database's page size, from its header (bytes 16-17; 1 means 65536)."""
    with open(db, "rb") as f:
        f.seek(16)
        n = int.from_bytes(f.read(2), "big")
    return 65536 if n == 1 else n


def tool(*args):
    p = subprocess.run([outpost_bin(), "store", *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def flip(path, offset, mask=0x10):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([b ^ mask]))


class DamagedStore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        """Two stores made by the real broker: one stopped cleanly, one killed."""
        cls.tmp = harness.tempfile.TemporaryDirectory(prefix="outpost-it-damage-")
        cls.clean = os.path.join(cls.tmp.name, "clean")
        cls.killed = os.path.join(cls.tmp.name, "killed")
        for target, kill in ((cls.clean, False), (cls.killed, True)):
            aport = harness.free_port()
            b = Broker(config=f"""
listeners:
  - {{protocol: mqtt, address: 127.0.0.1, port: {{port}}, allow_anonymous: true}}
  - {{protocol: amqp, address: 127.0.0.1, port: {aport}, allow_anonymous: true}}
""").start()
            try:
                harness.wait_for_port(aport, proc=b.proc)
                offline_subscription(b.port, "dmg-sub", "q/#", 1)
                pub = PahoClient(b.port).connect()
                for i in range(30):
                    pub.publish(f"r/{i}", b"retained-%d" % i + b"x" * 3000, qos=1, retain=True)
                for i in range(30):
                    pub.publish("q/t", b"queued-%d" % i + b"y" * 3000, qos=1)
                pub.disconnect()
                conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", aport))
                ch = conn.channel()
                ch.confirm_delivery()
                ch.queue_declare("dmg-q", durable=True)
                for i in range(20):
                    ch.basic_publish("", "dmg-q", b"amqp-%d" % i, pika.BasicProperties(delivery_mode=2))
                conn.close()
                if kill:
                    b.kill()
                else:
                    assert b.stop() == 0, b.log_text()
                shutil.copytree(b.data_dir, target)
            finally:
                b.stop()
                b.tmp.cleanup()
        assert os.path.getsize(os.path.join(cls.killed, "outpost.db-wal")) > \
            10 * page_size(os.path.join(cls.killed, "outpost.db"))
        assert not os.path.exists(os.path.join(cls.clean, "outpost.db-wal"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def copy(self, source):
        d = os.path.join(self.tmp.name, self.id().rsplit(".", 1)[-1])
        shutil.copytree(source, d)
        return d

    def start_fails(self, data_dir, *names):
        """The broker exits at once with status 1 and a message naming the file."""
        port = harness.free_port()
        p = subprocess.run([outpost_bin(), "-p", str(port), "--data-dir", data_dir], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        for name in names:
            self.assertIn(name, p.stderr)
        self.assertIn("outpost store recover", p.stderr)
        return p.stderr

    def retained_after_start(self, data_dir):
        b = Broker()
        b.data_dir = data_dir
        try:
            b.start()
            c = PahoClient(b.port).connect()
            c.subscribe("r/#", 0)
            harness.time.sleep(0.5)
            c.disconnect()
            self.assertIn("restored in", b.log_text())
            return len(c.messages)
        finally:
            self.assertEqual(b.stop(), 0, b.log_text())
            b.tmp.cleanup()

    def check_recover_start(self, d, expect_problem):
        code, text = tool("check", "--data-dir", d)
        self.assertEqual(code, 1, text)
        self.assertIn("DAMAGED", text)
        self.assertIn(expect_problem, text)
        code, text = tool("recover", "--data-dir", d)
        self.assertEqual(code, 0, text)
        self.assertRegex(text, r"kept \d+ messages \(\d+ queued deliveries\), \d+ sessions \(\d+ subscriptions\), "
                               r"\d+ retained")
        print(text.strip())
        self.assertTrue(glob.glob(os.path.join(d, "outpost.db.damaged-*")), os.listdir(d))
        code, text = tool("check", "--data-dir", d)
        self.assertEqual(code, 0, text)
        return self.retained_after_start(d)

    def test_sound_stores_check_ok(self):
        for source in (self.clean, self.killed):
            d = self.copy(source)
            code, text = tool("check", "--data-dir", d)
            self.assertEqual(code, 0, text)
            self.assertIn("30 retained", text)
            self.assertEqual(sorted(os.listdir(d)), sorted(os.listdir(source)), "check changed the directory")
            self.assertEqual(self.retained_after_start(d), 30)
            shutil.rmtree(d)

    def test_truncated_database(self):
        d = self.copy(self.clean)
        db = os.path.join(d, "outpost.db")
        os.truncate(db, os.path.getsize(db) // 2)
        self.start_fails(d, db)
        kept = self.check_recover_start(d, "malformed")
        self.assertLess(kept, 30)

    def test_flipped_bit_in_a_database_page(self):
        d = self.copy(self.clean)
        db = os.path.join(d, "outpost.db")
        flip(db, 2 * page_size(db) + 0, 0x40)  # the b-tree page type of page 3
        self.start_fails(d, db)
        self.check_recover_start(d, "integrity check")

    def test_flipped_bit_in_the_wal(self):
        d = self.copy(self.killed)
        wal = os.path.join(d, "outpost.db-wal")
        page = page_size(os.path.join(d, "outpost.db"))
        flip(wal, WAL_HEADER + 2 * (FRAME_HEADER + page) + FRAME_HEADER + 100)  # frame 3's page
        self.start_fails(d, wal, "frame 3")
        self.check_recover_start(d, "write-ahead log")

    def test_flipped_bit_in_the_wal_header(self):
        d = self.copy(self.killed)
        wal = os.path.join(d, "outpost.db-wal")
        flip(wal, 17)
        self.start_fails(d, wal, "header")
        self.check_recover_start(d, "header fails its checksum")

    def test_missing_wal_after_a_kill(self):
        d = self.copy(self.killed)
        os.unlink(os.path.join(d, "outpost.db-wal"))
        err = self.start_fails(d, os.path.join(d, "outpost.db-wal"), "not closed cleanly")
        self.assertFalse(os.path.exists(os.path.join(d, "outpost.db-wal")), "a failed start made up a log")
        self.start_fails(d, "not closed cleanly")  # and again: nothing changed
        self.check_recover_start(d, "is missing")

    def test_emptied_database(self):
        d = self.copy(self.clean)
        os.truncate(os.path.join(d, "outpost.db"), 0)
        port = harness.free_port()
        p = subprocess.run([outpost_bin(), "-p", str(port), "--data-dir", d], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is empty (0 bytes)", p.stderr)
        code, text = tool("check", "--data-dir", d)
        self.assertEqual(code, 1, text)

    def test_check_finds_the_store_of_a_configuration(self):
        d = self.copy(self.clean)
        config = os.path.join(self.tmp.name, "check.yaml")
        with open(config, "w") as f:
            f.write(f"persistence:\n  dir: {d}\n")
        code, text = tool("check", "-c", config)
        self.assertEqual(code, 0, text)
        self.assertIn(os.path.join(d, "outpost.db") + ": OK", text)
        code, text = tool("check", "--data-dir", os.path.join(self.tmp.name, "nowhere"))
        self.assertEqual(code, 1, text)
        self.assertIn("no store database", text)
        code, text = tool("check", "-c", config, "--data-dir", d)
        self.assertEqual(code, 2, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
