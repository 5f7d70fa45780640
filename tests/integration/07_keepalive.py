#!/usr/bin/python3
"""Keepalive: enforced at one and a half times the client's value; PINGREQ keeps a
connection alive."""
import time

from harness import *


class Keepalive(BrokerTestCase):
    def test_silent_client_dropped_after_one_and_a_half(self):
        c = RawClient(self.port)
        c.connect("ka-silent", keepalive=2)
        start = time.time()
        self.assertTrue(c.is_closed(timeout=6))
        elapsed = time.time() - start
        self.assertGreaterEqual(elapsed, 2.5)
        self.assertLess(elapsed, 5.0)
        self.assertTrue(self.broker.wait_for_log("keepalive of 2s expired"))

    def test_pings_keep_connection(self):
        c = RawClient(self.port)
        c.connect("ka-ping", keepalive=1)
        for _ in range(5):
            time.sleep(0.7)
            c.send(PINGREQ)
            c.expect(PINGRESP)
        c.send(DISCONNECT)
        c.close()

    def test_zero_keepalive_never_expires(self):
        c = RawClient(self.port)
        c.connect("ka-zero", keepalive=0)
        self.assertFalse(c.is_closed(timeout=2))
        c.close()


if __name__ == "__main__":
    main()
