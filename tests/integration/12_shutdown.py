#!/usr/bin/python3
"""Signals: SIGTERM / SIGINT shut down promptly and cleanly with clients connected;
SIGHUP reloads without dropping clients; wills are not sent on shutdown."""
import signal
import time

from harness import *


class Signals(unittest.TestCase):
    def test_sigterm_with_clients(self):
        b = Broker().start()
        try:
            clients = [RawClient(b.port) for _ in range(20)]
            for i, c in enumerate(clients):
                c.connect(f"sd{i}", will={"topic": "sd/will", "payload": b"x"})
            start = time.time()
            code = b.stop(signal.SIGTERM)
            self.assertEqual(code, 0)
            self.assertLess(time.time() - start, 5)
            for c in clients:
                self.assertTrue(c.is_closed(timeout=1))
            self.assertIn("shutting down", b.log_text())
        finally:
            b.stop()
            b.tmp.cleanup()

    def test_sigint(self):
        b = Broker().start()
        try:
            self.assertEqual(b.stop(signal.SIGINT), 0)
        finally:
            b.tmp.cleanup()

    def test_sighup_keeps_clients(self):
        b = Broker(config=broker_config(extra="logging:\n  level: info\n")).start()
        try:
            c = RawClient(b.port)
            c.connect("hup")
            b.proc.send_signal(signal.SIGHUP)
            self.assertTrue(b.wait_for_log("configuration reloaded"))
            c.send(PINGREQ)
            c.expect(PINGRESP)
            c.close()
        finally:
            self.assertEqual(b.stop(), 0)
            b.tmp.cleanup()


if __name__ == "__main__":
    main()
