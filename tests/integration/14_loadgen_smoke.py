#!/usr/bin/python3
"""The benchmark's load generator works against the broker: a one-second run per
scenario delivers messages and, at QoS 1, loses none that were acknowledged. This checks
that the tool works, not how fast anything is."""
import json
import os
import subprocess

from harness import *

LOADGEN = os.environ.get("OUTPOST_LOADGEN", "")


@unittest.skipUnless(LOADGEN and os.path.exists(LOADGEN), "load generator not built")
class LoadgenSmoke(BrokerTestCase):
    def run_loadgen(self, *args):
        r = subprocess.run([LOADGEN, "--port", str(self.port), "--duration", "1", "--warmup", "0.2", *args],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def test_fanin_qos1(self):
        res = self.run_loadgen("--scenario", "fanin", "--publishers", "4", "--qos", "1")
        self.assertGreater(res["delivered"], 0)
        self.assertEqual(res["lost_acked"], 0)
        self.assertEqual(res["duplicates"], 0)

    def test_fanout_qos0(self):
        res = self.run_loadgen("--scenario", "fanout", "--subscribers", "5", "--qos", "0", "--rate", "2000")
        self.assertGreater(res["delivered"], 0)

    def test_topics_qos2(self):
        res = self.run_loadgen("--scenario", "topics", "--publishers", "5", "--subscribers", "2", "--qos", "2")
        self.assertGreater(res["delivered"], 0)
        self.assertEqual(res["lost_acked"], 0)

    def test_connections(self):
        res = self.run_loadgen("--scenario", "connections", "--connections", "200")
        self.assertEqual(res["ready"], 200)


if __name__ == "__main__":
    main()
