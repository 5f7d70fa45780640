#!/usr/bin/python3
"""Debian's mosquitto_pub / mosquitto_sub against the broker."""
import subprocess
import time

from harness import *


class MosquittoClients(BrokerTestCase):
    def sub(self, topic, count, qos=0, extra=()):
        return subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-V", "mqttv311", "-t", topic,
             "-q", str(qos), "-C", str(count), "-W", "10", "-v", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def pub(self, topic, message, qos=0, extra=()):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-V", "mqttv311", "-t", topic,
                        "-m", message, "-q", str(qos), *extra], check=True, timeout=10)

    def test_qos_levels(self):
        for qos in (0, 1, 2):
            with self.subTest(qos=qos):
                s = self.sub(f"mc/q{qos}", 1, qos)
                time.sleep(0.5)
                self.pub(f"mc/q{qos}", f"hello {qos}", qos)
                out, err = s.communicate(timeout=15)
                self.assertEqual(s.returncode, 0, err)
                self.assertEqual(out.strip(), f"mc/q{qos} hello {qos}")

    def test_retained(self):
        self.pub("mc/ret", "kept", 1, ["-r"])
        s = self.sub("mc/#", 1, 1)
        out, err = s.communicate(timeout=15)
        self.assertEqual(out.strip(), "mc/ret kept")
        self.pub("mc/ret", "", 1, ["-r", "-n"] if False else ["-r"])

    def test_many_messages(self):
        s = self.sub("mc/many", 100, 1)
        time.sleep(0.5)
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", "mc/many", "-q", "1", "-l"],
                       input="".join(f"m{i}\n" for i in range(100)), text=True, check=True, timeout=20)
        out, err = s.communicate(timeout=20)
        self.assertEqual(out.split("\n")[:100], [f"mc/many m{i}" for i in range(100)])


if __name__ == "__main__":
    main()
