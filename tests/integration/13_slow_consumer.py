#!/usr/bin/python3
"""A slow subscriber under fan-in: publishers are paused (backpressure) instead of the
broker dropping acknowledged QoS 1 messages, even with a small queue bound."""
import threading
import time

from harness import *


class SlowConsumer(BrokerTestCase):
    config = broker_config(mqtt={"max_queued_messages": 1000, "max_inflight": 20})

    def test_fan_in_to_a_stalled_subscriber_loses_nothing(self):
        publishers, per_publisher = 4, 3000
        sub = RawClient(self.port, timeout=30)
        sub.connect("slow-sub", keepalive=0)
        sub.send(subscribe_packet(1, [("fanin/#", 1)]))
        sub.expect(SUBACK)

        acked = [0] * publishers

        def publish(i):
            p = PahoClient(self.port, client_id=f"fanin-pub{i}").connect()
            p.client.max_inflight_messages_set(50)
            p.client.max_queued_messages_set(0)
            infos = [p.publish(f"fanin/{i}", f"{i}:{n}".encode(), qos=1, wait=False) for n in range(per_publisher)]
            for info in infos:
                info.wait_for_publish(timeout=60)
            acked[i] = sum(1 for info in infos if info.is_published())
            p.disconnect()

        threads = [threading.Thread(target=publish, args=(i,)) for i in range(publishers)]
        for t in threads:
            t.start()
        time.sleep(3)  # the subscriber reads nothing meanwhile: its queue passes the flow mark

        got = {}
        total = publishers * per_publisher
        deadline = time.time() + 60
        while len(got) < total and time.time() < deadline:
            p = sub.expect(PUBLISH, timeout=30)
            topic, pid, payload = p.publish_fields()
            got[payload] = True
            sub.send(ack_packet("puback", pid))
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(sum(acked), total)
        self.assertEqual(len(got), total)
        for i in range(publishers):
            for n in range(per_publisher):
                self.assertIn(f"{i}:{n}".encode(), got)
        self.assertNotIn("dropped", self.broker.log_text())
        sub.close()


if __name__ == "__main__":
    main()
