#!/usr/bin/python3
"""`outpost -p PORT` without -c and without --data-dir is a throwaway broker: it keeps
nothing (no ./outpost-data is created), says so in its start line, and a retained message
or a persistent session of one run is not there in the next run in the same folder. With
--data-dir it keeps state as before."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import PahoClient, outpost_bin, wait_for_port


class Throwaway(unittest.TestCase):
    def run_broker(self, cwd, *args):
        port = harness.free_port()
        log = open(os.path.join(self.tmp.name, f"broker-{port}.log"), "wb")
        proc = subprocess.Popen([outpost_bin(), "-p", str(port), *args], cwd=cwd, stdout=log,
                                stderr=subprocess.STDOUT)
        self.assertTrue(wait_for_port(port, proc=proc), "broker did not start")
        return proc, port, log

    def stop(self, proc, log):
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=10), 0)
        log.close()
        with open(log.name, errors="replace") as f:
            return f.read()

    def retained(self, port):
        c = PahoClient(port).connect()
        c.subscribe("keep/#", 1)
        time.sleep(0.3)
        c.disconnect()
        return [m.payload for m in c.messages]

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="outpost-it-")
        self.addCleanup(self.tmp.cleanup)

    def test_p_alone_keeps_nothing(self):
        cwd = os.path.join(self.tmp.name, "cwd")
        os.mkdir(cwd)
        for run in range(2):
            proc, port, log = self.run_broker(cwd)
            try:
                self.assertEqual(self.retained(port), [], f"run {run}: a retained message of an earlier run")
                pub = PahoClient(port).connect()
                pub.publish("keep/t", b"from-run-%d" % run, qos=1, retain=True)
                pub.disconnect()
                self.assertEqual(self.retained(port), [b"from-run-%d" % run])
            finally:
                text = self.stop(proc, log)
            self.assertIn("store: in memory (nothing persisted): a throwaway broker", text)
            self.assertEqual(os.listdir(cwd), [], "the throwaway broker left files behind")

    def test_data_dir_keeps_state(self):
        cwd = os.path.join(self.tmp.name, "cwd")
        os.mkdir(cwd)
        proc, port, log = self.run_broker(cwd, "--data-dir", "state")
        try:
            pub = PahoClient(port).connect()
            pub.publish("keep/t", b"kept", qos=1, retain=True)
            pub.disconnect()
        finally:
            text = self.stop(proc, log)
        self.assertIn("store: SQLite state/outpost.db", text)
        proc, port, log = self.run_broker(cwd, "--data-dir", "state")
        try:
            self.assertEqual(self.retained(port), [b"kept"])
        finally:
            self.stop(proc, log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
