"""MQTT 5 with Node's MQTT.js (npm `mqtt` 5): properties, topic aliases in both
directions, subscription identifiers and no local, next to a 3.1.1 MQTT.js client."""

import json

from harness import BrokerTestCase, broker_config, main, run_node


class NodeMqtt5Test(BrokerTestCase):
    config = broker_config(mqtt={"topic_alias_maximum": 8})

    def test_mqttjs_v5_and_v311(self):
        proc = run_node("mqtt5.js", self.port)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        r = json.loads(proc.stdout)
        self.assertEqual(r["connack"]["topicAliasMaximum"], 8)
        self.assertEqual(r["connack"]["receiveMaximum"], 100)
        sub = r["sub"]
        self.assertEqual([m["payload"] for m in sub], ['{"i":0}', '{"i":1}', '{"i":2}'])
        for m in sub:
            # Aliases resolved by the client: every message shows its topic.
            self.assertEqual(m["topic"], "node/a/t")
            p = m["properties"]
            self.assertEqual(p["userProperties"], {"z": "last", "a": ["one", "two"]})
            self.assertEqual(p["contentType"], "application/json")
            self.assertEqual(p["responseTopic"], "node/reply")
            self.assertEqual(bytes(p["correlationData"]["data"]), b"corr-1")
            self.assertTrue(115 <= p["messageExpiryInterval"] <= 120)
            self.assertEqual(p["subscriptionIdentifier"], 42)
            self.assertTrue(p["payloadFormatIndicator"])
        # The broker gave the subscriber topic aliases after the first message.
        self.assertIn("topicAlias", sub[1]["properties"])
        # The 3.1.1 client saw all four messages (node/self too), without properties.
        self.assertEqual(sorted(m["topic"] for m in r["old"]), ["node/a/t"] * 3 + ["node/self"])
        self.assertTrue(all(m["properties"] is None for m in r["old"]))


if __name__ == "__main__":
    main()
