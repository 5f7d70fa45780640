#!/usr/bin/python3
"""Packet-level strictness, table-driven: hex in, hex out.

Each row names the rule (an OASIS conformance statement id, or the section that gives the
rule), the protocol level, the bytes a client sends and what the broker must answer:

- `in`: the packet(s) sent, in hex. Unless the row says `connect=False`, a valid CONNECT of
  the row's level is sent first and its CONNACK read, so `in` arrives on an open session.
- `out`: the packets the broker must send, in order, separated by `|`, each written as the
  packet with its property block left out (the broker may add a Reason String; the
  remaining length is recomputed without it) and, last, `close` when the broker must
  close the connection. A bare `close` means: closed without sending anything (3.1.1 has
  no DISCONNECT from the server).

Where the specifications leave a choice, the row makes the one Mosquitto 2.0 makes; those
rows say `(as Mosquitto)`. docs/mqtt.md lists the choices.
"""
import socket
import time
import unittest

from harness import *
from mqtt5_raw import parse_props

V4_CONNECT = "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 78"
V5_CONNECT = "10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 78"

# (rule, level, in, out[, options]); options: connect=False, broker="limits" or "qos1"
ROWS = [
    # ---- MQTT 5.0: fixed header
    ("MQTT-2.1.3-1 reserved flags on PINGREQ", 5, "c1 00", "e0 01 81 | close"),
    ("MQTT-3.8.1-1 SUBSCRIBE flags other than 0010", 5, "80 07 00 01 00 00 01 61 00", "e0 01 81 | close"),
    ("MQTT-3.10.1-1 UNSUBSCRIBE flags other than 0010", 5, "a0 06 00 01 00 00 01 61", "e0 01 81 | close"),
    ("MQTT-3.6.1-1 PUBREL flags other than 0010", 5, "60 02 00 07", "e0 01 81 | close"),
    ("MQTT-3.14.1-1 DISCONNECT flags not 0", 5, "e1 00", "e0 01 81 | close"),
    ("2.1.2 packet type 0 is reserved", 5, "00 00", "e0 01 81 | close"),
    ("MQTT-1.5.5-1 remaining length in five bytes", 5, "30 ff ff ff ff 01", "e0 01 81 | close"),
    ("3.12 PINGREQ with a remaining length of 1", 5, "c0 01 00", "e0 01 81 | close"),
    ("3.4.2 PUBACK shorter than its packet identifier", 5, "40 01 00", "e0 01 81 | close"),
    ("1.5.4 topic length past the end of the packet", 5, "30 03 00 05 61", "e0 01 81 | close"),
    # ---- MQTT 5.0: properties
    ("2.2.2.2 unknown property identifier 0x7f", 5, "30 07 00 01 61 02 7f 00 78", "e0 01 81 | close"),
    ("2.2.2.2 Session Expiry Interval is not a PUBLISH property", 5,
     "30 0a 00 01 61 05 11 00 00 00 05 78", "e0 01 81 | close"),
    ("2.2.2.2 Message Expiry Interval is not a SUBSCRIBE property", 5,
     "82 0c 00 01 05 02 00 00 00 05 00 01 61 00", "e0 01 81 | close"),
    ("3.3.2.3.3 Message Expiry Interval twice", 5,
     "30 0f 00 01 61 0a 02 00 00 00 05 02 00 00 00 06 78", "e0 01 82 | close"),
    ("3.3.2.3.2 Payload Format Indicator 2 (as Mosquitto)", 5, "30 07 00 01 61 02 01 02 78", "e0 01 82 | close"),
    ("MQTT-3.3.2-14 wildcard in a Response Topic", 5,
     "30 0b 00 01 61 06 08 00 03 72 2f 23 78", "e0 01 82 | close"),
    ("MQTT-3.3.2-8 Topic Alias 0", 5, "30 08 00 01 61 03 23 00 00 78", "e0 01 94 | close"),
    ("MQTT-3.3.2-9 Topic Alias above Topic Alias Maximum (10)", 5, "30 08 00 01 61 03 23 00 0b 78",
     "e0 01 94 | close"),
    ("3.3.2.1 empty Topic Name without a Topic Alias", 5, "30 04 00 00 00 78", "e0 01 82 | close"),
    ("3.3.2.3.4 empty Topic Name with an alias never set", 5, "30 07 00 00 03 23 00 03 78", "e0 01 82 | close"),
    ("MQTT-3.3.4-6 Subscription Identifier in a client's PUBLISH", 5, "30 07 00 01 61 02 0b 01 78",
     "e0 01 82 | close"),
    # ---- MQTT 5.0: PUBLISH
    ("MQTT-3.3.1-4 QoS 3", 5, "36 07 00 01 61 00 01 00 78", "e0 01 81 | close"),
    ("MQTT-3.3.1-2 DUP set on QoS 0 (as Mosquitto)", 5, "38 05 00 01 61 00 78", "e0 01 81 | close"),
    ("MQTT-3.3.2-2 '+' in a Topic Name (as Mosquitto)", 5, "30 07 00 03 61 2f 2b 00 78", "e0 01 81 | close"),
    ("MQTT-3.3.2-2 '#' in a Topic Name (as Mosquitto)", 5, "30 07 00 03 61 2f 23 00 78", "e0 01 81 | close"),
    ("MQTT-1.5.4-2 U+0000 in a Topic Name", 5, "30 07 00 03 61 00 62 00 78", "e0 01 81 | close"),
    ("MQTT-1.5.4-1 ill-formed UTF-8 in a Topic Name", 5, "30 06 00 02 c0 af 00 78", "e0 01 81 | close"),
    ("MQTT-1.5.4-1 UTF-16 surrogate in a Topic Name", 5, "30 07 00 03 ed a0 80 00 78", "e0 01 81 | close"),
    ("MQTT-2.2.1-3 packet identifier 0 on QoS 1 (as Mosquitto)", 5, "32 07 00 01 61 00 00 00 78",
     "e0 01 82 | close"),
    ("3.3.2.3.2 payload not UTF-8 under Payload Format Indicator 1", 5,
     "32 0a 00 01 61 00 05 02 01 01 ff fe", "40 03 00 05 99"),
    ("2.2.2.2 User Property may repeat", 5,
     "32 15 00 01 61 00 06 0e 26 00 01 6b 00 01 76 26 00 01 6b 00 01 77 78", "40 03 00 06 10"),
    # ---- MQTT 5.0: SUBSCRIBE / UNSUBSCRIBE
    ("MQTT-3.8.3-2 SUBSCRIBE without a Topic Filter", 5, "82 03 00 01 00", "e0 01 82 | close"),
    ("MQTT-3.8.3-5 reserved bits in Subscription Options", 5, "82 07 00 01 00 00 01 61 c0", "e0 01 81 | close"),
    ("3.8.3.1 QoS 3 in Subscription Options", 5, "82 07 00 01 00 00 01 61 03", "e0 01 81 | close"),
    ("3.8.3.1 Retain Handling 3", 5, "82 07 00 01 00 00 01 61 30", "e0 01 82 | close"),
    ("3.8.2.1.2 Subscription Identifier 0", 5, "82 09 00 01 02 0b 00 00 01 61 00", "e0 01 82 | close"),
    ("MQTT-3.8.3-4 No Local on a Shared Subscription", 5,
     "82 10 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 61 04", "e0 01 82 | close"),
    ("MQTT-4.7.1-1 '#' not last in a Topic Filter (as Mosquitto)", 5,
     "82 0b 00 01 00 00 05 61 2f 23 2f 62 00", "e0 01 81 | close"),
    ("MQTT-4.7.1-2 '+' not alone in its level (as Mosquitto)", 5,
     "82 0a 00 01 00 00 04 61 2f 62 2b 00", "e0 01 81 | close"),
    ("MQTT-2.2.1-3 SUBSCRIBE packet identifier 0 (as Mosquitto)", 5, "82 07 00 00 00 00 01 61 00",
     "e0 01 81 | close"),
    ("MQTT-3.10.3-2 UNSUBSCRIBE without a Topic Filter", 5, "a2 03 00 01 00", "e0 01 82 | close"),
    ("3.11.3 UNSUBACK for a filter never subscribed", 5, "a2 06 00 01 00 00 01 61", "b0 03 00 01 11"),
    # ---- MQTT 5.0: packets in the wrong direction or order
    ("3.2 CONNACK from a client", 5, "20 03 00 00 00", "e0 01 82 | close"),
    ("3.9 SUBACK from a client", 5, "90 04 00 01 00 00", "e0 01 82 | close"),
    ("3.11 UNSUBACK from a client", 5, "b0 04 00 01 00 00", "e0 01 82 | close"),
    ("3.13 PINGRESP from a client", 5, "d0 00", "e0 01 82 | close"),
    ("MQTT-3.1.0-2 a second CONNECT", 5, V5_CONNECT, "e0 01 82 | close"),
    ("4.12 AUTH when no Authentication Method was agreed", 5, "f0 02 18 00", "e0 01 82 | close"),
    ("3.7.2.1 PUBREL for a packet identifier not in use", 5, "62 02 00 07", "70 03 00 07 92"),
    # ---- MQTT 5.0: limits the broker announced (the 'limits' broker below)
    ("MQTT-3.3.4-9 more QoS 2 publishes in flight than Receive Maximum (2)", 5,
     "34 06 00 01 61 00 01 00 34 06 00 01 61 00 02 00 34 06 00 01 61 00 03 00",
     "50 03 00 01 10 | 50 03 00 02 10 | e0 01 93 | close", {"broker": "limits"}),
    ("MQTT-3.1.2-24 a packet above Maximum Packet Size (256)", 5,
     "30 ac 02 00 01 61 00" + " 78" * 296, "e0 01 95 | close", {"broker": "limits"}),
    ("MQTT-3.2.2-14 RETAIN when Retain Available is 0", 5, "31 05 00 01 61 00 78", "e0 01 9a | close",
     {"broker": "limits"}),
    ("MQTT-3.2.2-11 QoS above Maximum QoS (1)", 5, "34 07 00 01 61 00 01 00 78", "e0 01 9b | close",
     {"broker": "qos1"}),
    # ---- MQTT 5.0: CONNECT. A malformed CONNECT or one that breaks a rule is closed without a
    # CONNACK (section 3.1.4 allows either; Mosquitto closes); refusals the client can act
    # on (protocol level, Retain Available) get their CONNACK reason code.
    ("MQTT-3.1.2-3 reserved Connect Flag set (as Mosquitto)", 5, "10 0e 00 04 4d 51 54 54 05 03 00 3c 00 00 01 78",
     "close", {"connect": False}),
    ("3.1.2.11.3 Receive Maximum 0", 5, "10 11 00 04 4d 51 54 54 05 02 00 3c 03 21 00 00 00 01 78",
     "close", {"connect": False}),
    ("3.1.2.11.4 Maximum Packet Size 0", 5,
     "10 13 00 04 4d 51 54 54 05 02 00 3c 05 27 00 00 00 00 00 01 78", "close",
     {"connect": False}),
    ("3.1.2.11.2 Session Expiry Interval twice", 5,
     "10 18 00 04 4d 51 54 54 05 02 00 3c 0a 11 00 00 00 01 11 00 00 00 02 00 01 78", "close",
     {"connect": False}),
    ("2.2.2.2 Topic Alias is not a CONNECT property", 5,
     "10 11 00 04 4d 51 54 54 05 02 00 3c 03 23 00 01 00 01 78", "close", {"connect": False}),
    ("3.1.2.11.10 Authentication Data without an Authentication Method", 5,
     "10 13 00 04 4d 51 54 54 05 02 00 3c 05 16 00 02 7a 7a 00 01 78", "close",
     {"connect": False}),
    ("MQTT-3.1.2-12 Will QoS 3", 5,
     "10 15 00 04 4d 51 54 54 05 1e 00 3c 00 00 01 78 00 00 01 77 00 01 70", "close",
     {"connect": False}),
    ("MQTT-3.1.2-11 Will QoS without the Will Flag", 5, "10 0e 00 04 4d 51 54 54 05 0a 00 3c 00 00 01 78",
     "close", {"connect": False}),
    ("MQTT-3.1.2-13 Will Retain without the Will Flag", 5, "10 0e 00 04 4d 51 54 54 05 22 00 3c 00 00 01 78",
     "close", {"connect": False}),
    ("MQTT-3.2.2-12 Will Retain when Retain Available is 0", 5,
     "10 15 00 04 4d 51 54 54 05 26 00 3c 00 00 01 78 00 00 01 77 00 01 70", "20 02 00 9a | close",
     {"connect": False, "broker": "limits"}),
    ("MQTT-3.1.2-2 protocol level 6 (as Mosquitto: a 3.1.1 CONNACK)", 5,
     "10 0e 00 04 4d 51 54 54 06 02 00 3c 00 00 01 78", "20 02 00 01 | close", {"connect": False}),
    ("MQTT-3.1.2-1 protocol name other than MQTT", 5, "10 0e 00 04 4d 51 54 58 05 02 00 3c 00 00 01 78",
     "close", {"connect": False}),
    ("MQTT-3.1.0-1 first packet not a CONNECT", 5, "30 04 00 01 61 78", "close", {"connect": False}),
    # ---- MQTT 3.1.1: the connection is closed, nothing is sent
    ("MQTT-2.2.2-2 reserved flags on PINGREQ", 4, "c1 00", "close"),
    ("MQTT-3.8.1-1 SUBSCRIBE flags other than 0010", 4, "80 06 00 01 00 01 61 00", "close"),
    ("MQTT-1.5.5-1 remaining length in five bytes", 4, "30 ff ff ff ff 01", "close"),
    ("MQTT-3.3.1-4 QoS 3", 4, "36 06 00 01 61 00 01 78", "close"),
    ("MQTT-3.3.2-2 wildcard in a Topic Name", 4, "30 06 00 03 61 2f 2b 78", "close"),
    ("MQTT-4.7.3-1 empty Topic Name", 4, "30 03 00 00 78", "close"),
    ("MQTT-3-8.3-4 QoS 3 in SUBSCRIBE", 4, "82 06 00 01 00 01 61 03", "close"),
    ("MQTT-3-8.3-4 reserved bits in SUBSCRIBE's QoS byte", 4, "82 06 00 01 00 01 61 04", "close"),
    ("MQTT-3.8.3-3 SUBSCRIBE without a Topic Filter", 4, "82 02 00 01", "close"),
    ("MQTT-4.7.1-1 '#' not last in a Topic Filter (as Mosquitto)", 4, "82 0a 00 01 00 05 61 2f 23 2f 62 00",
     "close"),
    ("MQTT-3.10.3-2 UNSUBSCRIBE without a Topic Filter", 4, "a2 02 00 01", "close"),
    ("MQTT-3.1.0-2 a second CONNECT", 4, V4_CONNECT, "close"),
    ("2.2.1 CONNACK from a client", 4, "20 02 00 00", "close"),
    ("2.2.1 packet type 15 is reserved in 3.1.1", 4, "f0 00", "close"),
    ("2.2.1 packet type 0 is reserved", 4, "00 00", "close"),
    ("MQTT-3.1.2-3 reserved Connect Flag set", 4, "10 0d 00 04 4d 51 54 54 04 03 00 3c 00 01 78", "close",
     {"connect": False}),
    ("MQTT-2.2.2-2 CONNECT flags not 0", 4, "11 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 78", "close",
     {"connect": False}),
    ("MQTT-3.1.2-22 Password Flag without the User Name Flag", 4,
     "10 11 00 04 4d 51 54 54 04 42 00 3c 00 01 78 00 02 70 77", "close", {"connect": False}),
    ("MQTT-3.1.2-19 User Name Flag without a User Name", 4, "10 0d 00 04 4d 51 54 54 04 82 00 3c 00 01 78",
     "close", {"connect": False}),
    ("MQTT-3.1.2-2 protocol level 6", 4, "10 0d 00 04 4d 51 54 54 06 02 00 3c 00 01 78", "20 02 00 01 | close",
     {"connect": False}),
    ("MQTT-3.1.3-8 empty ClientId with CleanSession 0", 4, "10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00",
     "20 02 00 02 | close", {"connect": False}),
    ("MQTT-3.1.0-1 first packet not a CONNECT", 4, "30 04 00 01 61 78", "close", {"connect": False}),
]

# Packets whose property block the comparison leaves out, by packet type: the offset of the
# block in the body (5.0 only; a body that ends before it has none).
_PROPS_AT = {2: 2, 4: 3, 5: 3, 6: 3, 7: 3, 9: 2, 11: 2, 14: 1, 15: 1}
_ACKS = {4, 5, 6, 7}


def _normalise(level, first, body):
    ptype = first >> 4
    if level == 5 and ptype in _PROPS_AT:
        at = _PROPS_AT[ptype]
        if ptype in _ACKS and len(body) == 2:
            body = body + b"\x00"  # reason code omitted: Success
        if len(body) > at:
            _, rest = parse_props(body[at:])
            body = body[:at] + rest
    return (bytes([first]) + varint(len(body)) + body).hex(" ")


def _expected(out):
    return [part.strip() for part in out.split("|")]


class Strictness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.brokers = {
            "default": Broker(config=broker_config()).start(),
            "limits": Broker(config=broker_config(mqtt={
                "receive_maximum": 2, "max_packet_size": 256, "retain_available": "false"})).start(),
            "qos1": Broker(config=broker_config(mqtt={"maximum_qos": 1})).start(),
        }

    @classmethod
    def tearDownClass(cls):
        for b in cls.brokers.values():
            code = b.stop()
            text = b.log_text()
            b.tmp.cleanup()
            if "AddressSanitizer" in text or "runtime error:" in text:
                raise AssertionError("sanitizer report in broker log:\n" + text)
            if code not in (0, None):
                raise AssertionError(f"broker exited with {code}:\n" + text)

    def exchange(self, n, row):
        rule, level, data, out = row[:4]
        opts = row[4] if len(row) > 4 else {}
        broker = self.brokers[opts.get("broker", "default")]
        c = RawClient(broker.port, timeout=5.0)
        try:
            if opts.get("connect", True):
                connect = V5_CONNECT if level == 5 else V4_CONNECT
                c.send(bytes.fromhex(connect))
                ack = c.expect(CONNACK)
                self.assertEqual(ack.body[1], 0, f"{rule}: CONNACK {ack}")
            c.send(bytes.fromhex(data))
            want = _expected(out)
            got = []
            for item in want:
                if item == "close":
                    try:
                        extra = c.recv_packet(timeout=5.0)
                        got.append(_normalise(level, extra.first, extra.body))
                    except ConnectionError:
                        got.append("close")
                    except TimeoutError:
                        got.append("(still open)")
                    break
                try:
                    p = c.recv_packet(timeout=5.0)
                    got.append(_normalise(level, p.first, p.body))
                except ConnectionError:
                    got.append("close")
                    break
                except TimeoutError:
                    got.append("(nothing)")
                    break
            return got, want
        finally:
            c.close()

    def test_table(self):
        failures = []
        for n, row in enumerate(ROWS):
            got, want = self.exchange(n, row)
            if got != want:
                failures.append(f"[{row[1]}] {row[0]}\n    in:   {row[2]}\n    want: {' | '.join(want)}"
                                f"\n    got:  {' | '.join(got)}")
        self.assertFalse(failures, f"{len(failures)} of {len(ROWS)} rows differ:\n" + "\n".join(failures))
        # Every rule broken above cost its offender the connection, nothing else: both brokers
        # still serve a well-behaved client.
        for b in self.brokers.values():
            sub = PahoClient(b.port, client_id="after-sub").connect()
            sub.subscribe("after/t", 1)
            pub = PahoClient(b.port, client_id="after-pub").connect()
            pub.publish("after/t", b"ok", qos=1)
            self.assertEqual(sub.wait_messages(1)[0].payload, b"ok")
            pub.disconnect()
            sub.disconnect()


if __name__ == "__main__":
    main()
