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


def log_records(path):
    """(offset, length) of each record of an operation log: u32 body length, u32 CRC."""
    out, pos = [], 0
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        return out
    while pos + 8 <= len(data):
        n = int.from_bytes(data[pos:pos + 4], "little")
        if pos + 8 + n > len(data):
            break
        out.append((pos, 8 + n))
        pos += 8 + n
    return out


def queued_after_start(data_dir, client_id):
    """Starts the broker on `data_dir` and drains the session: the payloads it held."""
    b = Broker()
    b.data_dir = data_dir
    try:
        b.start()
        c = PahoClient(b.port, client_id=client_id, clean_session=False).connect()
        harness.time.sleep(0.5)
        c.disconnect()
        return [m.payload for m in c.messages]
    finally:
        assert b.stop() == 0, b.log_text()
        b.tmp.cleanup()


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

        cls.logged = os.path.join(cls.tmp.name, "logged")
        cls.make_logged_store(cls.logged)

    @classmethod
    def make_logged_store(cls, target):
        """A store of `sync: normal` killed while its operation log holds records: the QoS 1
        messages of a burst, each acknowledged after its append, not yet folded (a fold
        comes every 50 ms)."""
        for _ in range(5):
            b = Broker(config="""
listeners:
  - {protocol: mqtt, address: 127.0.0.1, port: {port}, allow_anonymous: true}
persistence: {sync: normal}
""").start()
            try:
                offline_subscription(b.port, "log-sub", "q/#", 1)
                pub = PahoClient(b.port).connect()
                pub.publish("r/0", b"retained", qos=1, retain=True)
                for i in range(20):
                    pub.publish("q/t", b"logged-%d" % i, qos=1).wait_for_publish(5)
                b.kill()
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(b.data_dir, target)
            finally:
                b.stop()
                b.tmp.cleanup()
            if len(log_records(os.path.join(target, "outpost.db-log"))) >= 3:
                return
        raise AssertionError("the operation log never held 3 records at the kill")

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

    def test_an_operation_log_left_by_a_kill_is_applied(self):
        d = self.copy(self.logged)
        records = len(log_records(os.path.join(d, "outpost.db-log")))
        code, text = tool("check", "--data-dir", d)
        self.assertEqual(code, 0, text)
        self.assertIn("operation log: %d records" % records, text)
        got = queued_after_start(d, "log-sub")
        self.assertEqual(got, [b"logged-%d" % i for i in range(20)])

    def test_a_torn_last_log_record_is_dropped(self):
        d = self.copy(self.logged)
        log = os.path.join(d, "outpost.db-log")
        os.truncate(log, os.path.getsize(log) - 3)  # the last append did not finish
        code, text = tool("check", "--data-dir", d)
        self.assertEqual(code, 0, text)
        self.assertIn("incomplete record", text)
        got = queued_after_start(d, "log-sub")
        self.assertEqual(got, [b"logged-%d" % i for i in range(19)])

    def test_a_damaged_log_record_before_others(self):
        d = self.copy(self.logged)
        log = os.path.join(d, "outpost.db-log")
        first, second = log_records(log)[:2]
        flip(log, second[0] + second[1] - 2)  # inside the second record's last operation
        self.start_fails(d, log, "a later record follows")
        code, text = tool("check", "--data-dir", d)
        self.assertEqual(code, 1, text)
        self.assertIn("operation log", text)
        code, text = tool("recover", "--data-dir", d)
        self.assertEqual(code, 0, text)
        print(text.strip())
        self.assertTrue(glob.glob(os.path.join(d, "outpost.db-log.damaged-*")), os.listdir(d))
        code, text = tool("check", "--data-dir", d)
        self.assertEqual(code, 0, text)
        got = queued_after_start(d, "log-sub")
        # What the database held, and the log's first record: nothing after the damage.
        self.assertGreater(len(got), 0)
        self.assertEqual(got, [b"logged-%d" % i for i in range(len(got))])
        self.assertLess(len(got), 20)

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
