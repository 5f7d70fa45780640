#!/usr/bin/python3
"""Will messages: published on an abnormal end (socket dropped, keepalive expired) with
their QoS and retain flag; never after DISCONNECT."""
import time

from harness import *


class Will(BrokerTestCase):
    def watcher(self, topic, cid):
        w = PahoClient(self.port, client_id=cid).connect()
        w.subscribe(topic, 2)
        return w

    def test_will_on_dropped_socket(self):
        w = self.watcher("will/drop", "will-w1")
        c = RawClient(self.port)
        c.connect("will-c1", will={"topic": "will/drop", "payload": b"gone", "qos": 1})
        c.close()  # no DISCONNECT
        msgs = w.wait_messages(1)
        self.assertEqual([(m.payload, m.qos) for m in msgs], [(b"gone", 1)])
        w.disconnect()

    def test_no_will_after_disconnect(self):
        w = self.watcher("will/clean", "will-w2")
        c = RawClient(self.port)
        c.connect("will-c2", will={"topic": "will/clean", "payload": b"nope"})
        c.send(DISCONNECT)
        c.close()
        time.sleep(1.0)
        self.assertEqual(w.messages, [])
        w.disconnect()

    def test_will_on_keepalive_expiry(self):
        w = self.watcher("will/ka", "will-w3")
        c = RawClient(self.port)
        c.connect("will-c3", keepalive=1, will={"topic": "will/ka", "payload": b"silent"})
        msgs = w.wait_messages(1, timeout=5)  # 1.5 s
        self.assertEqual([m.payload for m in msgs], [b"silent"])
        self.assertTrue(c.is_closed(timeout=2))
        w.disconnect()

    def test_retained_will(self):
        c = RawClient(self.port)
        c.connect("will-c4", will={"topic": "will/ret", "payload": b"kept", "qos": 1, "retain": True})
        c.close()
        time.sleep(0.5)
        s = PahoClient(self.port, client_id="will-s4").connect()
        s.subscribe("will/ret", 1)
        msgs = s.wait_messages(1)
        self.assertEqual([(m.payload, m.retain) for m in msgs], [(b"kept", True)])
        s.disconnect()

    def test_paho_will(self):
        w = self.watcher("will/paho", "will-w5")
        p = PahoClient(self.port, client_id="will-p5", will={"topic": "will/paho", "payload": b"bye", "qos": 2})
        p.connect()
        p.drop()
        msgs = w.wait_messages(1)
        self.assertEqual([(m.payload, m.qos) for m in msgs], [(b"bye", 2)])
        w.disconnect()


if __name__ == "__main__":
    main()
