"""MQTT 5.0 end to end with python3-paho-mqtt (5.0 mode) and hand-built packets: message
properties, message expiry, topic aliases both ways, flow control, maximum packet size,
subscription options and identifiers, will delay, enhanced authentication refused, and
3.1.1 and 5.0 clients on the same topics."""

import time
import unittest

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from harness import PUBACK, Broker, BrokerTestCase, PahoClient, broker_config, main, packet
from mqtt5_raw import (AUTH_METHOD, CONTENT_TYPE, CORRELATION, MAXIMUM_PACKET_SIZE, MESSAGE_EXPIRY,
                       PAYLOAD_FORMAT, REASON_STRING, RECEIVE_MAXIMUM, RESPONSE_TOPIC, SESSION_EXPIRY, SUBSCRIPTION_ID,
                       TOPIC_ALIAS, TOPIC_ALIAS_MAXIMUM, USER_PROPERTY, Raw5, ack5, props, publish5, subscribe5)


def v5(port, client_id="", clean=True, **kw):
    return PahoClient(port, client_id=client_id, clean_session=clean, protocol=mqtt.MQTTv5, **kw)


def publish_props(**values):
    p = Properties(PacketTypes.PUBLISH)
    for k, v in values.items():
        setattr(p, k, v)
    return p


class Mqtt5Test(BrokerTestCase):
    config = broker_config(mqtt={"topic_alias_maximum": 4})

    def raw(self, client_id, properties=b"\x00", **kw):
        c = Raw5(self.port)
        self.addCleanup(c.close)
        present, reason, cprops = c.connect5(client_id, properties=properties, **kw)
        self.assertEqual(reason, 0)
        return c, cprops

    def paho(self, client_id, protocol=mqtt.MQTTv5, **kw):
        c = PahoClient(self.port, client_id=client_id, protocol=protocol, **kw).connect()
        self.addCleanup(c.disconnect)
        return c

    # --- properties pass through, and 3.1.1 <-> 5.0 ------------------------------------

    def test_properties_pass_through_unchanged_and_in_order(self):
        sub = self.paho("props-sub")
        sub.subscribe("props/t", 1)
        old = self.paho("props-old", protocol=mqtt.MQTTv311)
        old.subscribe("props/t", 1)
        pub = self.paho("props-pub")
        users = [("b", "2"), ("a", "1"), ("b", "3")]
        pub.publish("props/t", "héllo", qos=1, properties=publish_props(
            UserProperty=users, ContentType="text/plain", CorrelationData=b"\x00\x01id",
            ResponseTopic="reply/props", PayloadFormatIndicator=1))
        m = sub.wait_messages(1)[0]
        self.assertEqual(m.payload, "héllo".encode())
        self.assertEqual(m.properties.UserProperty, users)
        self.assertEqual(m.properties.ContentType, "text/plain")
        self.assertEqual(m.properties.CorrelationData, b"\x00\x01id")
        self.assertEqual(m.properties.ResponseTopic, "reply/props")
        self.assertEqual(m.properties.PayloadFormatIndicator, 1)
        # The 3.1.1 subscriber gets the same message, without properties.
        self.assertEqual(old.wait_messages(1)[0].payload, "héllo".encode())

    def test_a_311_publisher_reaches_a_50_subscriber(self):
        sub = self.paho("mix-sub")
        sub.subscribe("mix/t", 1)
        old = self.paho("mix-pub", protocol=mqtt.MQTTv311)
        old.publish("mix/t", b"from 3.1.1", qos=1)
        m = sub.wait_messages(1)[0]
        self.assertEqual((m.topic, m.payload, m.qos), ("mix/t", b"from 3.1.1", 1))

    def test_request_response(self):
        responder = self.paho("rr-responder")
        requester = self.paho("rr-requester")
        requester.subscribe("rr/reply/1", 1)
        responder.subscribe("rr/request", 1)
        requester.publish("rr/request", b"ping", qos=1,
                          properties=publish_props(ResponseTopic="rr/reply/1", CorrelationData=b"c-42"))
        req = responder.wait_messages(1)[0]
        responder.publish(req.properties.ResponseTopic, b"pong", qos=1,
                          properties=publish_props(CorrelationData=req.properties.CorrelationData))
        reply = requester.wait_messages(1)[0]
        self.assertEqual((reply.topic, reply.payload, reply.properties.CorrelationData),
                         ("rr/reply/1", b"pong", b"c-42"))

    # --- message expiry ---------------------------------------------------------------

    def test_expired_messages_are_not_delivered_and_the_rest_carry_the_time_left(self):
        s = v5(self.port, "exp-sub", clean=True)
        cp = Properties(PacketTypes.CONNECT)
        cp.SessionExpiryInterval = 300
        s.connect(properties=cp)
        s.subscribe("exp/t", 1)
        s.disconnect()
        pub = self.paho("exp-pub")
        pub.publish("exp/t", b"short", qos=1, properties=publish_props(MessageExpiryInterval=1))
        pub.publish("exp/t", b"long", qos=1, properties=publish_props(MessageExpiryInterval=60))
        time.sleep(2.2)
        c, _ = self.raw("exp-sub", clean=False, properties=props((SESSION_EXPIRY, 300)))
        p = c.next_publish()
        self.assertEqual(p.payload, b"long")
        self.assertTrue(55 <= p.prop(MESSAGE_EXPIRY) <= 58, p.properties)
        c.send(ack5(0x40, p.packet_id))
        with self.assertRaises(TimeoutError):
            c.next_publish(timeout=0.5)

    def test_retained_message_expires(self):
        pub = self.paho("exp-ret-pub")
        pub.publish("exp/retained", b"gone soon", qos=1, retain=True,
                    properties=publish_props(MessageExpiryInterval=1))
        pub.publish("exp/retained2", b"stays", qos=1, retain=True,
                    properties=publish_props(MessageExpiryInterval=100))
        time.sleep(1.5)
        c, _ = self.raw("exp-ret-sub")
        c.send(subscribe5(1, [("exp/#", 1)]))
        c.expect(9)
        p = c.next_publish()
        self.assertEqual((p.topic, p.payload, p.retain), ("exp/retained2", b"stays", True))
        self.assertTrue(97 <= p.prop(MESSAGE_EXPIRY) <= 99)
        with self.assertRaises(TimeoutError):
            c.next_publish(timeout=0.5)

    # --- topic aliases -------------------------------------------------------------------

    def test_inbound_topic_alias(self):
        sub = self.paho("alias-sub")
        sub.subscribe("alias/in/#", 0)
        c, cprops = self.raw("alias-pub")
        self.assertEqual(cprops[TOPIC_ALIAS_MAXIMUM], 4)
        c.send(publish5("alias/in/a", b"1", properties=props((TOPIC_ALIAS, 2))))
        c.send(publish5("", b"2", properties=props((TOPIC_ALIAS, 2))))
        c.send(publish5("alias/in/b", b"3", properties=props((TOPIC_ALIAS, 2))))  # replaced
        c.send(publish5("", b"4", properties=props((TOPIC_ALIAS, 2))))
        got = [(m.topic, m.payload) for m in sub.wait_messages(4)]
        self.assertEqual(got, [("alias/in/a", b"1"), ("alias/in/a", b"2"), ("alias/in/b", b"3"),
                               ("alias/in/b", b"4")])

    def test_inbound_topic_alias_misuse(self):
        bystander = self.paho("alias-bystander")
        for packet_, code in ((publish5("x/y", b"", properties=props((TOPIC_ALIAS, 5))), 0x94),  # above 4
                              (publish5("", b"", properties=props((TOPIC_ALIAS, 3))), 0x82),   # never set
                              (publish5("x/y", b"", properties=props((TOPIC_ALIAS, 0))), 0x94)):
            c, _ = self.raw("alias-bad")
            c.send(packet_)
            self.assertEqual(c.expect_disconnect(), code)
            self.assertTrue(c.is_closed())
        self.assertTrue(bystander.client.is_connected())

    def test_outbound_topic_alias(self):
        c, _ = self.raw("alias-out", properties=props((TOPIC_ALIAS_MAXIMUM, 1)))
        c.send(subscribe5(1, [("alias/out/#", 0)]))
        c.expect(9)
        pub = self.paho("alias-out-pub")
        for t in ("alias/out/a", "alias/out/a", "alias/out/b", "alias/out/b"):
            pub.publish(t, b"x")
        seen = [c.next_publish() for _ in range(4)]
        self.assertEqual([(p.topic, p.prop(TOPIC_ALIAS)) for p in seen],
                         [("alias/out/a", 1), ("", 1), ("alias/out/b", None), ("alias/out/b", None)])

    # --- flow control and packet size ------------------------------------------------------

    def test_receive_maximum_bounds_unacknowledged_deliveries(self):
        c, _ = self.raw("recvmax", properties=props((RECEIVE_MAXIMUM, 2)))
        c.send(subscribe5(1, [("recvmax/t", 1)]))
        c.expect(9)
        pub = self.paho("recvmax-pub")
        for i in range(5):
            pub.publish("recvmax/t", str(i), qos=1)
        first = [c.next_publish(), c.next_publish()]
        with self.assertRaises(TimeoutError):
            c.next_publish(timeout=0.5)
        c.send(ack5(0x40, first[0].packet_id))
        third = c.next_publish()
        self.assertEqual([p.payload for p in first + [third]], [b"0", b"1", b"2"])
        with self.assertRaises(TimeoutError):
            c.next_publish(timeout=0.3)

    def test_message_too_large_for_one_subscriber_is_dropped_for_it_only(self):
        small, _ = self.raw("maxpkt-small", properties=props((MAXIMUM_PACKET_SIZE, 100)))
        small.send(subscribe5(1, [("maxpkt/t", 1)]))
        small.expect(9)
        big = self.paho("maxpkt-big")
        big.subscribe("maxpkt/t", 1)
        pub = self.paho("maxpkt-pub")
        pub.publish("maxpkt/t", b"L" * 300, qos=1)
        pub.publish("maxpkt/t", b"small", qos=1)
        self.assertEqual([m.payload for m in big.wait_messages(2)], [b"L" * 300, b"small"])
        p = small.next_publish()
        self.assertEqual(p.payload, b"small")
        small.send(ack5(0x40, p.packet_id))
        with self.assertRaises(TimeoutError):
            small.next_publish(timeout=0.3)

    # --- subscription options ---------------------------------------------------------------

    def test_no_local(self):
        c = self.paho("nolocal")
        c.subscribe("nolocal/t", options=SubscribeOptions(qos=1, noLocal=True))
        other = self.paho("nolocal-other")
        c.publish("nolocal/t", b"mine", qos=1)
        other.publish("nolocal/t", b"theirs", qos=1)
        msgs = c.wait_messages(1)
        time.sleep(0.3)
        self.assertEqual([m.payload for m in c.messages], [b"theirs"])
        self.assertEqual(len(msgs), 1)

    def test_retain_as_published_and_retain_handling(self):
        pub = self.paho("rh-pub")
        pub.publish("rh/t", b"kept", qos=1, retain=True)
        rap = self.paho("rh-rap")
        rap.subscribe("rh/t", options=SubscribeOptions(qos=1, retainAsPublished=True, retainHandling=2))
        plain = self.paho("rh-plain")
        plain.subscribe("rh/t", options=SubscribeOptions(qos=1, retainHandling=0))
        once = self.paho("rh-once")
        once.subscribe("rh/t", options=SubscribeOptions(qos=1, retainHandling=1))
        once.subscribe("rh/t", options=SubscribeOptions(qos=1, retainHandling=1))  # existing: not again
        # Handling 2 sends nothing on subscribe; 0 and 1 send the retained message once.
        self.assertEqual([(m.payload, m.retain) for m in plain.wait_messages(1)], [(b"kept", True)])
        self.assertEqual([(m.payload, m.retain) for m in once.wait_messages(1)], [(b"kept", True)])
        pub.publish("rh/t", b"live", qos=1, retain=True)
        self.assertEqual([(m.payload, m.retain) for m in rap.wait_messages(1)], [(b"live", True)])
        self.assertEqual(plain.wait_messages(2)[1].retain, False)
        time.sleep(0.2)
        self.assertEqual(len(once.messages), 2)
        self.assertEqual(len(rap.messages), 1)

    def test_subscription_identifiers(self):
        c, _ = self.raw("subid")
        c.send(subscribe5(1, [("subid/+", 1)], properties=props((SUBSCRIPTION_ID, 7))))
        c.expect(9)
        c.send(subscribe5(2, [("subid/#", 0)], properties=props((SUBSCRIPTION_ID, 300))))
        c.expect(9)
        c.send(subscribe5(3, [("subid/x", 0)]))
        c.expect(9)
        self.paho("subid-pub").publish("subid/x", b"m", qos=1)
        p = c.next_publish()
        ids = sorted(v for k, v in p.properties if k == SUBSCRIPTION_ID)
        self.assertEqual(ids, [7, 300])
        self.assertEqual(p.qos, 1)

    # --- will ------------------------------------------------------------------------------

    def test_will_delay_and_will_properties(self):
        watcher = self.paho("will-watch")
        watcher.subscribe("will/#", 1)
        will = {"topic": "will/delayed", "payload": b"gone", "qos": 1,
                "properties": props((0x18, 2), (USER_PROPERTY, ("why", "power")), (CONTENT_TYPE, "text/plain"))}
        c = Raw5(self.port)
        c.connect5("will-delay", properties=props((SESSION_EXPIRY, 60)), will=will)
        start = time.time()
        c.close()
        msgs = watcher.wait_messages(1, timeout=5)
        elapsed = time.time() - start
        self.assertEqual([m.payload for m in msgs], [b"gone"])
        self.assertGreaterEqual(elapsed, 1.5)
        self.assertEqual(msgs[0].properties.UserProperty, [("why", "power")])
        self.assertEqual(msgs[0].properties.ContentType, "text/plain")

    def test_will_delay_cancelled_by_resuming_the_session(self):
        watcher = self.paho("will-watch2")
        watcher.subscribe("will2/#", 1)
        will = {"topic": "will2/cancelled", "payload": b"x", "qos": 1, "properties": props((0x18, 2))}
        c = Raw5(self.port)
        c.connect5("will-cancel", properties=props((SESSION_EXPIRY, 60)), will=will)
        c.close()
        time.sleep(0.3)
        again, _ = self.raw("will-cancel", clean=False, properties=props((SESSION_EXPIRY, 60)))
        time.sleep(3.0)
        self.assertEqual(watcher.messages, [])

    def test_will_without_delay_when_the_session_ends_at_disconnect(self):
        watcher = self.paho("will-watch3")
        watcher.subscribe("will3/#", 1)
        will = {"topic": "will3/now", "payload": b"y", "qos": 1, "properties": props((0x18, 30))}
        c = Raw5(self.port)
        c.connect5("will-now", will=will)  # session expiry 0: the session ends with the connection
        c.close()
        self.assertEqual([m.payload for m in watcher.wait_messages(1, timeout=3)], [b"y"])

    # --- refusals --------------------------------------------------------------------------

    def test_authentication_method_refused(self):
        c = Raw5(self.port)
        self.addCleanup(c.close)
        _, reason, _ = c.connect5("auth", properties=props((AUTH_METHOD, "SCRAM-SHA-1")))
        self.assertEqual(reason, 0x8C)
        self.assertTrue(c.is_closed())

    def test_payload_not_utf8_as_claimed(self):
        c, _ = self.raw("pfi")
        c.send(publish5("pfi/t", b"\xff\xfe", qos=1, packet_id=9, properties=props((PAYLOAD_FORMAT, 1))))
        p = c.expect(PUBACK)
        self.assertEqual((p.packet_id(), p.body[2]), (9, 0x99))
        c.send(publish5("pfi/t", b"\xff", qos=0, properties=props((PAYLOAD_FORMAT, 1))))
        self.assertEqual(c.expect_disconnect(), 0x99)

    def test_subscription_identifier_from_a_client_publish_is_a_protocol_error(self):
        c, _ = self.raw("subid-bad")
        c.send(publish5("a/b", b"", properties=props((SUBSCRIPTION_ID, 3))))
        self.assertEqual(c.expect_disconnect(), 0x82)


class ConnackFlagsTest(BrokerTestCase):
    config = broker_config(mqtt={"maximum_qos": 1, "retain_available": "false", "wildcard_subscriptions": "false",
                                 "shared_subscriptions": "false", "subscription_identifiers": "false",
                                 "receive_maximum": 10, "max_keepalive": 30})

    def test_connack_reflects_the_configuration(self):
        c = Raw5(self.port)
        self.addCleanup(c.close)
        _, reason, p = c.connect5("", keepalive=120)
        self.assertEqual(reason, 0)
        self.assertEqual(p[0x24], 1)     # maximum QoS
        self.assertEqual(p[0x25], 0)     # retain available
        self.assertEqual(p[0x28], 0)     # wildcard subscriptions
        self.assertEqual(p[0x2A], 0)     # shared subscriptions
        self.assertEqual(p[0x29], 0)     # subscription identifiers
        self.assertEqual(p[RECEIVE_MAXIMUM], 10)
        self.assertEqual(p[0x13], 30)    # server keep alive
        self.assertTrue(p[0x12].startswith("outpost-"))  # assigned client identifier


class ServerDisconnectTest(BrokerTestCase):
    """Each server-initiated DISCONNECT carries its reason code and a reason string."""

    config = broker_config(mqtt={"max_packet_size": "1KiB", "receive_maximum": 3})

    def client(self, client_id, **kw):
        c = Raw5(self.port)
        self.addCleanup(c.close)
        self.assertEqual(c.connect5(client_id, **kw)[1], 0)
        return c

    def expect_reason(self, c, code):
        p = c.recv_packet()
        self.assertEqual((p.type, p.body[0]), (14, code), p)
        from mqtt5_raw import parse_props
        plist, _ = parse_props(p.body[1:])
        self.assertTrue(dict(plist).get(REASON_STRING), "no reason string")
        self.assertTrue(c.is_closed())

    def test_session_taken_over(self):
        first = self.client("dup-id")
        self.client("dup-id")
        self.expect_reason(first, 0x8E)

    def test_keep_alive_timeout(self):
        c = self.client("ka", keepalive=1)
        self.expect_reason(c, 0x8D)

    def test_packet_too_large(self):
        c = self.client("big")
        c.send(publish5("big/t", b"x" * 2000))
        self.expect_reason(c, 0x95)

    def test_receive_maximum_exceeded(self):
        c = self.client("recvmax-exceeded")
        for i in range(1, 4):
            c.send(publish5("rm/t", b"x", qos=2, packet_id=i))  # three held until PUBREL: allowed
            self.assertEqual(c.expect(5).packet_id(), i)
        c.send(publish5("rm/t", b"x", qos=2, packet_id=4))
        self.expect_reason(c, 0x93)

    def test_malformed(self):
        c = self.client("malformed")
        c.send(packet(0x30, b"\x00\x10ab"))  # topic length past the end of the packet
        self.expect_reason(c, 0x81)

    def test_protocol_error(self):
        c = self.client("second-connect")
        from mqtt5_raw import connect5
        c.send(connect5("second-connect"))
        self.expect_reason(c, 0x82)

    def test_session_expiry_changed_on_disconnect(self):
        c = self.client("expiry-change", properties=props((SESSION_EXPIRY, 60)))
        c.send(subscribe5(1, [("ec/t", 1)]))
        c.expect(9)
        c.send(packet(0xE0, bytes([0]) + props((SESSION_EXPIRY, 0))))
        self.assertTrue(c.is_closed())
        again = Raw5(self.port)
        self.addCleanup(again.close)
        present, reason, _ = again.connect5("expiry-change", clean=False, properties=props((SESSION_EXPIRY, 60)))
        self.assertEqual((present, reason), (0, 0))

    def test_disconnect_may_not_give_an_expiry_when_connect_gave_none(self):
        c = self.client("expiry-none")
        c.send(packet(0xE0, bytes([0]) + props((SESSION_EXPIRY, 30))))
        self.expect_reason(c, 0x82)


class ShutdownTest(unittest.TestCase):
    def test_server_shutting_down(self):
        with Broker(config=broker_config()) as b:
            c = Raw5(b.port)
            self.addCleanup(c.close)
            c.connect5("bye")
            b.stop()
            p = c.recv_packet()
            self.assertEqual((p.type, p.body[0]), (14, 0x8B))


class SharedSubscriptionTest(BrokerTestCase):
    def member(self, client_id, filter_, protocol=mqtt.MQTTv5, qos=1):
        c = PahoClient(self.port, client_id=client_id, protocol=protocol).connect()
        self.addCleanup(c.disconnect)
        c.subscribe(filter_, qos)
        return c

    def test_each_message_reaches_one_member(self):
        members = [self.member("sh-a", "$share/g/sh/+"), self.member("sh-b", "$share/g/sh/+"),
                   self.member("sh-old", "$share/g/sh/+", protocol=mqtt.MQTTv311)]  # 3.1.1 may share too
        other_group = self.member("sh-other", "$share/h/sh/+")
        plain = self.member("sh-plain", "sh/#")
        pub = self.paho_pub("sh-pub")
        for i in range(30):
            pub.publish(f"sh/{i % 2}", str(i), qos=1)
        self.assertEqual(len(plain.wait_messages(30)), 30)
        self.assertEqual(len(other_group.wait_messages(30)), 30)
        deadline = time.time() + 5
        while time.time() < deadline and sum(len(m.messages) for m in members) < 30:
            time.sleep(0.05)
        time.sleep(0.3)
        got = [int(m.payload) for c in members for m in c.messages]
        self.assertEqual(sorted(got), list(range(30)))  # each exactly once
        for c in members:
            self.assertTrue(c.messages, "a member received nothing")

    def paho_pub(self, client_id):
        c = PahoClient(self.port, client_id=client_id, protocol=mqtt.MQTTv5).connect()
        self.addCleanup(c.disconnect)
        return c

    def test_unacknowledged_messages_go_to_another_member(self):
        lazy = Raw5(self.port)
        self.addCleanup(lazy.close)
        lazy.connect5("sh-lazy")
        lazy.send(subscribe5(1, [("$share/r/shr/t", 1)]))
        lazy.expect(9)
        pub = self.paho_pub("shr-pub")
        for i in range(4):
            pub.publish("shr/t", str(i), qos=1)
        held = [lazy.next_publish() for _ in range(4)]  # received, never acknowledged
        self.assertEqual([p.payload for p in held], [b"0", b"1", b"2", b"3"])
        other = self.member("sh-other-member", "$share/r/shr/t")
        time.sleep(0.2)
        self.assertEqual(other.messages, [])
        lazy.close()  # gone without PUBACK
        msgs = other.wait_messages(4)
        self.assertEqual([m.payload for m in msgs], [b"0", b"1", b"2", b"3"])

    def test_no_retained_messages_on_a_shared_subscription(self):
        pub = self.paho_pub("shret-pub")
        pub.publish("shret/t", b"r", qos=1, retain=True)
        c = self.member("shret-member", "$share/g/shret/t")
        time.sleep(0.4)
        self.assertEqual(c.messages, [])

    def test_invalid_shared_filters(self):
        c, _ = Raw5(self.port), None
        self.addCleanup(c.close)
        c.connect5("sh-invalid")
        c.send(subscribe5(1, [("$share/ok/t", 1)]))
        p = c.expect(9)
        self.assertEqual(list(p.body[3:]), [1])
        c.send(subscribe5(2, [("$share/g/t", 1 | 0x04)]))  # no local on a shared subscription
        self.assertEqual(c.expect_disconnect(), 0x82)
        # A share name or filter that breaks section 4.8.2 is a malformed filter: 0x81.
        for bad in ("$share/a+b/t", "$share/g", "$share//t"):
            c = Raw5(self.port)
            self.addCleanup(c.close)
            c.connect5("sh-invalid")
            c.send(subscribe5(3, [(bad, 1)]))
            self.assertEqual(c.expect_disconnect(), 0x81, bad)

    def test_unsubscribe_leaves_the_group(self):
        a = self.member("shu-a", "$share/u/shu/t")
        b = self.member("shu-b", "$share/u/shu/t")
        b.client.unsubscribe("$share/u/shu/t")
        time.sleep(0.2)
        pub = self.paho_pub("shu-pub")
        for i in range(6):
            pub.publish("shu/t", str(i), qos=1)
        self.assertEqual(len(a.wait_messages(6)), 6)
        self.assertEqual(b.messages, [])


if __name__ == "__main__":
    main()
