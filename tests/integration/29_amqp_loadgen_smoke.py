#!/usr/bin/python3
"""The benchmark's AMQP load generator (outpost-loadgen --protocol amqp) works against the
broker's AMQP listener: a one-second run per mode delivers messages and, with publisher
confirms, loses none that were confirmed. This checks that the tool works, not how fast
anything is."""
import json
import os
import subprocess

from harness import *

LOADGEN = os.environ.get("OUTPOST_LOADGEN", "")

CONFIG = """listeners:
  - protocol: amqp
    address: 127.0.0.1
    port: {port}
    allow_anonymous: true
persistence:
  enabled: true
  dir: {data}
"""


@unittest.skipUnless(LOADGEN and os.path.exists(LOADGEN), "load generator not built")
class AmqpLoadgenSmoke(BrokerTestCase):
    config = CONFIG

    def run_loadgen(self, *args):
        r = subprocess.run([LOADGEN, "--protocol", "amqp", "--port", str(self.port), "--duration", "1",
                            "--warmup", "0.2", *args], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def test_transient_autoack(self):
        res = self.run_loadgen("--publishers", "2", "--no-ack", "--rate", "5000")
        self.assertGreater(res["delivered"], 0)
        self.assertEqual(res["duplicates"], 0)
        self.assertEqual(res["failed"], 0)

    def test_transient_acks_prefetch(self):
        res = self.run_loadgen("--publishers", "2", "--prefetch", "10", "--rate", "5000")
        self.assertGreater(res["delivered"], 0)
        self.assertEqual(res["duplicates"], 0)

    def test_persistent_confirms(self):
        res = self.run_loadgen("--publishers", "2", "--persistent", "--confirm", "--window", "20",
                               "--prefetch", "20")
        self.assertGreater(res["acked"], 0)
        self.assertEqual(res["nacked"], 0)
        # Everything confirmed reached a consumer, once.
        self.assertEqual(res["lost_acked"], 0)
        self.assertEqual(res["duplicates"], 0)
        self.assertGreater(res["ack_p50_us"], 0)


if __name__ == "__main__":
    main()
