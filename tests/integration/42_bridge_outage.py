"""The issue's outage test: the cloud (a real mosquitto) is stopped; 10,000 QoS 1 messages
are published locally on 10 topics; Outpost is SIGKILLed halfway and restarted on the same
data directory; the cloud is started again: a persistent cloud subscriber (clean session
false, subscribed before the outage) gets all 10,000, in order per topic.

Also the outbox's bound: refuse (an MQTT 5 publisher gets 0x97) and drop_oldest (counted)."""

import collections
import threading
import time
import unittest

import paho.mqtt.client as mqtt

import cloud
import harness
import mqtt5_raw
from harness import PahoClient

N_TOPICS = 10
TOTAL = 10_000
TOPICS = [{"pattern": "sensors/#", "direction": "out", "qos": 1, "local_prefix": "", "remote_prefix": "edge-1/"}]


def publish_all(port, start, stop, client_id):
    """Publishes messages start..stop-1 (QoS 1) round-robin over the topics, many in
    flight; returns once the broker acknowledged every one."""
    c = mqtt.Client(client_id=client_id, clean_session=True)
    c.max_inflight_messages_set(200)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = []
    for i in range(start, stop):
        infos.append(c.publish(f"sensors/t{i % N_TOPICS}", str(i), qos=1))
    deadline = time.time() + 60
    for info in infos:
        info.wait_for_publish(timeout=max(0.1, deadline - time.time()))
        assert info.is_published(), "publish not acknowledged"
    c.disconnect()
    c.loop_stop()


class Outage(unittest.TestCase):
    def test_outage_with_sigkill(self):
        # A Receive Maximum of 1000 (mosquitto sends its max_inflight_messages): the bridge's
        # full default window of 1000 messages in flight.
        cl = cloud.Mosquitto(persistence=True, extra="max_inflight_messages 1000\n").start()
        self.addCleanup(cl.cleanup)
        # The persistent cloud subscriber, subscribed before the outage.
        received = []
        cond = threading.Condition()

        def on_message(client, userdata, msg):
            with cond:
                received.append((msg.topic, int(msg.payload)))
                cond.notify_all()

        sub = mqtt.Client(client_id="cloud-app", clean_session=False)
        sub.on_message = on_message
        sub.connect("127.0.0.1", cl.port)
        sub.loop_start()
        r, mid = sub.subscribe("edge-1/sensors/#", 1)
        time.sleep(0.3)
        sub.disconnect()
        sub.loop_stop()
        cl.stop()

        broker = harness.Broker(config=cloud.bridge_config(f"mqtt://127.0.0.1:{cl.port}", TOPICS, 5)).start()
        self.addCleanup(lambda: (broker.stop(), broker.tmp.cleanup()))
        publish_all(broker.port, 0, TOTAL // 2, "dev-a")
        broker.kill()  # SIGKILL, halfway
        broker.start()  # the same data directory
        publish_all(broker.port, TOTAL // 2, TOTAL, "dev-b")
        sys = cloud.SysWatcher(broker.port)
        self.addCleanup(sys.close)
        queued = sys.wait("queued", lambda v: int(v) == TOTAL, timeout=5)
        self.assertEqual(queued, str(TOTAL), broker.log_text()[-3000:])

        started = time.time()
        cl.start()
        sub.connect("127.0.0.1", cl.port)
        sub.loop_start()
        self.addCleanup(sub.loop_stop)

        def complete():
            return len({p for _, p in received}) >= TOTAL
        with cond:
            cond.wait_for(complete, timeout=40)
        elapsed = time.time() - started
        sub.disconnect()
        payloads = {p for _, p in received}
        self.assertEqual(len(payloads), TOTAL, f"missing {TOTAL - len(payloads)}\n" + broker.log_text()[-3000:])
        per_topic = collections.defaultdict(list)
        for topic, p in received:
            per_topic[topic].append(p)
        self.assertEqual(len(per_topic), N_TOPICS)
        for topic, seq in per_topic.items():
            # QoS 1 may repeat a message after the SIGKILL (sent, not yet acknowledged):
            # order is judged on first arrivals.
            seen, firsts = set(), []
            for p in seq:
                if p not in seen:
                    seen.add(p)
                    firsts.append(p)
            self.assertEqual(firsts, sorted(firsts), f"order broken on {topic}")
        duplicates = len(received) - TOTAL
        print(f"\n  outage: {TOTAL} delivered in {elapsed:.2f}s after the cloud came back, {duplicates} duplicates")
        # Nothing was sent before the cloud came back, and one connection carried it all.
        self.assertEqual(duplicates, 0)
        log = broker.log_text()
        self.assertEqual(log.count("plugin cloud: connected to"), 1, log[-3000:])
        self.assertIn("window 1000", log)
        self.assertEqual(sys.wait("queued", lambda v: v == "0", timeout=5), "0")
        broker.stop()
        text = broker.log_text()
        self.assertNotIn("AddressSanitizer", text)
        self.assertNotIn("runtime error:", text)


class Bound(unittest.TestCase):
    def bounded_broker(self, on_full):
        # The remote is a port nobody listens on: everything stays in the outbox.
        dead = harness.free_port()
        config = cloud.bridge_config(f"mqtt://127.0.0.1:{dead}", TOPICS, 5,
                                     extra_bridge=f"      queue: {{max_bytes: 20KiB, on_full: {on_full}}}\n")
        b = harness.Broker(config=config).start()
        self.addCleanup(lambda: (b.stop(), b.tmp.cleanup()))
        return b

    def test_refuse_gives_0x97(self):
        b = self.bounded_broker("refuse")
        raw = mqtt5_raw.Raw5(b.port)
        self.addCleanup(raw.close)
        self.assertEqual(raw.connect5("dev-refuse")[1], 0)
        codes = []
        for i in range(1, 60):
            raw.send(mqtt5_raw.publish5("sensors/full", b"x" * 1000, qos=1, packet_id=i))
            ack = raw.expect(harness.PUBACK)
            codes.append(ack.body[2] if len(ack.body) > 2 else 0)
            if codes[-1] == 0x97:
                break
        self.assertIn(0x97, codes, codes)
        self.assertGreaterEqual(codes.index(0x97), 10, codes)  # about 20 KiB went in first

    def test_drop_oldest_is_counted(self):
        b = self.bounded_broker("drop_oldest")
        pub = PahoClient(b.port, client_id="dev-drop").connect()
        self.addCleanup(pub.disconnect)
        for i in range(60):
            pub.publish("sensors/drop", b"y" * 1000, qos=1)
        sys = cloud.SysWatcher(b.port)
        self.addCleanup(sys.close)
        dropped = sys.wait("dropped", lambda v: int(v) >= 30, timeout=5)
        self.assertGreaterEqual(int(dropped), 30, b.log_text()[-2000:])
        self.assertLessEqual(int(sys.wait("queued", lambda v: int(v) <= 21, timeout=5)), 21)


if __name__ == "__main__":
    harness.main()
