"""Hand-built MQTT 5.0 packets and a property parser, for tests that must see exactly
what the broker sends (topic aliases, flow control, reason codes) or send what
ordinary clients refuse to."""

import struct

from harness import CONNACK, PUBLISH, RawClient, mqtt_str, packet, varint

DISCONNECT_TYPE = 14

# Property identifiers used by the tests (MQTT 5.0 table 2-4).
PAYLOAD_FORMAT, MESSAGE_EXPIRY, CONTENT_TYPE, RESPONSE_TOPIC, CORRELATION = 0x01, 0x02, 0x03, 0x08, 0x09
SUBSCRIPTION_ID, SESSION_EXPIRY, AUTH_METHOD, REASON_STRING = 0x0B, 0x11, 0x15, 0x1F
RECEIVE_MAXIMUM, TOPIC_ALIAS_MAXIMUM, TOPIC_ALIAS, USER_PROPERTY, MAXIMUM_PACKET_SIZE = 0x21, 0x22, 0x23, 0x26, 0x27

_U8 = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A}
_U16 = {0x13, 0x21, 0x22, 0x23}
_U32 = {0x02, 0x11, 0x18, 0x27}
_STR = {0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F}
_BIN = {0x09, 0x16}


def props(*items):
    """Encodes (id, value) pairs; user properties are (0x26, (key, value))."""
    body = b""
    for pid, value in items:
        body += varint(pid)
        if pid in _U8:
            body += bytes([value])
        elif pid in _U16:
            body += struct.pack("!H", value)
        elif pid in _U32:
            body += struct.pack("!I", value)
        elif pid == SUBSCRIPTION_ID:
            body += varint(value)
        elif pid in _STR:
            body += mqtt_str(value)
        elif pid in _BIN:
            body += struct.pack("!H", len(value)) + value
        elif pid == USER_PROPERTY:
            body += mqtt_str(value[0]) + mqtt_str(value[1])
        else:
            raise ValueError(pid)
    return varint(len(body)) + body


def parse_props(data):
    """(properties as a list of (id, value), bytes after them)."""
    length, i, mult = 0, 0, 1
    while True:
        b = data[i]
        length += (b & 0x7F) * mult
        mult *= 128
        i += 1
        if not b & 0x80:
            break
    block, rest = data[i:i + length], data[i + length:]
    out, j = [], 0
    while j < len(block):
        pid = block[j]
        j += 1
        if pid in _U8:
            out.append((pid, block[j]))
            j += 1
        elif pid in _U16:
            out.append((pid, struct.unpack("!H", block[j:j + 2])[0]))
            j += 2
        elif pid in _U32:
            out.append((pid, struct.unpack("!I", block[j:j + 4])[0]))
            j += 4
        elif pid == SUBSCRIPTION_ID:
            v, m = 0, 1
            while True:
                b = block[j]
                j += 1
                v += (b & 0x7F) * m
                m *= 128
                if not b & 0x80:
                    break
            out.append((pid, v))
        elif pid in _STR or pid in _BIN:
            n = struct.unpack("!H", block[j:j + 2])[0]
            raw = block[j + 2:j + 2 + n]
            out.append((pid, raw.decode() if pid in _STR else raw))
            j += 2 + n
        elif pid == USER_PROPERTY:
            n = struct.unpack("!H", block[j:j + 2])[0]
            k = block[j + 2:j + 2 + n].decode()
            j += 2 + n
            n = struct.unpack("!H", block[j:j + 2])[0]
            v = block[j + 2:j + 2 + n].decode()
            j += 2 + n
            out.append((pid, (k, v)))
        else:
            raise ValueError(f"unknown property {pid:#x}")
    return out, rest


def connect5(client_id="raw5", clean=True, keepalive=60, properties=b"\x00", will=None):
    flags = 0x02 if clean else 0
    payload = mqtt_str(client_id)
    if will:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
        payload += will.get("properties", b"\x00") + mqtt_str(will["topic"]) + mqtt_str(will.get("payload", b""))
    body = mqtt_str("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive) + properties + payload
    return packet(0x10, body)


def publish5(topic, payload=b"", qos=0, retain=False, packet_id=1, properties=b"\x00"):
    first = 0x30 | (qos << 1) | (1 if retain else 0)
    body = mqtt_str(topic) + (struct.pack("!H", packet_id) if qos else b"") + properties + payload
    return packet(first, body)


def subscribe5(packet_id, filters, properties=b"\x00"):
    """filters: (filter, options byte) pairs."""
    body = struct.pack("!H", packet_id) + properties
    for f, o in filters:
        body += mqtt_str(f) + bytes([o])
    return packet(0x82, body)


def ack5(first, packet_id, reason=0):
    return packet(first, struct.pack("!H", packet_id) + bytes([reason]) + b"\x00")


class Publish5:
    def __init__(self, p):
        tlen = struct.unpack("!H", p.body[:2])[0]
        self.topic = p.body[2:2 + tlen].decode()
        rest = p.body[2 + tlen:]
        self.qos = p.qos
        self.retain = p.retain
        self.dup = p.dup
        self.packet_id = None
        if self.qos:
            self.packet_id = struct.unpack("!H", rest[:2])[0]
            rest = rest[2:]
        self.properties, self.payload = parse_props(rest)

    def prop(self, pid, default=None):
        for k, v in self.properties:
            if k == pid:
                return v
        return default


class Raw5(RawClient):
    def connect5(self, client_id="raw5", clean=True, keepalive=60, properties=b"\x00", will=None):
        """Returns (session present, reason code, CONNACK properties)."""
        self.send(connect5(client_id, clean, keepalive, properties, will))
        p = self.expect(CONNACK)
        plist, _ = parse_props(p.body[2:]) if len(p.body) > 2 else ([], b"")
        return p.body[0] & 1, p.body[1], dict(plist)

    def next_publish(self, timeout=5.0):
        return Publish5(self.expect(PUBLISH, timeout))

    def expect_disconnect(self, timeout=5.0):
        """The reason code of the DISCONNECT the broker sends."""
        p = self.recv_packet(timeout)
        if p.type != DISCONNECT_TYPE:
            raise AssertionError(f"expected DISCONNECT, got {p}")
        return p.body[0] if p.body else 0
