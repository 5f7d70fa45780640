#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (seed-*), from the packets,
frames and files the unit tests use. Run from anywhere; rewrites only seed-* files, so
crash-* regression inputs stay. Each seed's first bytes are the target's mode bytes
(see the target's header comment)."""
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent
REPO = ROOT.parent.parent


def varint(n):
    out = b""
    while True:
        b = n % 128
        n //= 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(b)) + b


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def props(b):
    return varint(len(b)) + b


def connect(level, client_id, clean=True, will=None, user=None, password=None, keepalive=60, p=b""):
    name = "MQIsdp" if level == 3 else "MQTT"
    flags = 0x02 if clean else 0
    payload = s(client_id)
    if will:
        flags |= 0x04 | (will[2] << 3)
        if level == 5:
            payload += props(b"\x18\x00\x00\x00\x00")
        payload += s(will[0]) + s(will[1])
    if user is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    if user is not None:
        payload += s(user)
    if password is not None:
        payload += s(password)
    vh = s(name) + bytes([level, flags]) + struct.pack(">H", keepalive)
    if level == 5:
        vh += props(p)
    return packet(0x10, vh + payload)


def publish(level, topic, payload, qos=0, pid=1, retain=False, dup=False, p=b""):
    first = 0x30 | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = s(topic)
    if qos:
        body += struct.pack(">H", pid)
    if level == 5:
        body += props(p)
    return packet(first, body + payload)


def ack(level, kind, pid, reason=None):
    first = {4: 0x40, 5: 0x50, 6: 0x62, 7: 0x70}[kind]
    body = struct.pack(">H", pid)
    if level == 5 and reason is not None:
        body += bytes([reason]) + props(b"")
    return packet(first, body)


def subscribe(level, pid, filters, p=b""):
    body = struct.pack(">H", pid)
    if level == 5:
        body += props(p)
    for f, o in filters:
        body += s(f) + bytes([o])
    return packet(0x82, body)


def unsubscribe(level, pid, filters):
    body = struct.pack(">H", pid)
    if level == 5:
        body += props(b"")
    for f in filters:
        body += s(f)
    return packet(0xA2, body)


def disconnect(level, reason=None):
    if level == 5 and reason is not None:
        return packet(0xE0, bytes([reason]) + props(b""))
    return b"\xe0\x00"


PING = b"\xc0\x00"
V5_PUB_PROPS = (b"\x01\x01" + b"\x02\x00\x00\x00\x3c" + b"\x03" + s("text/plain") + b"\x08" + s("reply/to") +
                b"\x09" + s("corr") + b"\x26" + s("k") + s("v"))
V5_CONNECT_PROPS = b"\x11\x00\x00\x0e\x10" + b"\x21\x00\x0a" + b"\x22\x00\x05" + b"\x27\x00\x01\x00\x00" + b"\x17\x01"


def mqtt_sessions():
    """Client byte streams: what the session tests send."""
    out = {}
    for level in (3, 4, 5):
        cid = "client-%d" % level
        p = V5_CONNECT_PROPS if level == 5 else b""
        out["connect-%d" % level] = connect(level, cid, p=p)
        out["qos-%d" % level] = (connect(level, cid, p=p) + subscribe(level, 1, [("a/#", 2)]) +
                                 publish(level, "a/b", b"zero") + publish(level, "a/b", b"one", qos=1, pid=1) +
                                 publish(level, "a/c", b"two", qos=2, pid=2) + ack(level, 6, 2) +
                                 ack(level, 4, 1) + PING + disconnect(level))
        out["will-%d" % level] = (connect(level, cid, clean=False, will=("will/t", b"bye", 1), user="u",
                                          password=b"p", p=p) + publish(level, "x", b"y", qos=1, pid=7))
        out["unsub-%d" % level] = (connect(level, cid, p=p) + subscribe(level, 3, [("+/b", 1), ("$share/g/s", 1)]) +
                                   unsubscribe(level, 4, ["+/b", "$share/g/s"]) + disconnect(level, 0))
    out["v5-props"] = (connect(5, "", p=V5_CONNECT_PROPS) +
                       publish(5, "p/q", b"payload", qos=1, pid=9, p=V5_PUB_PROPS + b"\x23\x00\x01") +
                       publish(5, "", b"aliased", qos=1, pid=10, p=b"\x23\x00\x01") +
                       subscribe(5, 5, [("p/#", 0x2e)], p=b"\x0b\x07") + ack(5, 5, 1, 0) +
                       packet(0xF0, b"\x18" + props(b"\x15" + s("PLAIN"))) + disconnect(5, 4))
    out["retained"] = (connect(4, "r") + publish(4, "r/1", b"keep", retain=True, qos=1, pid=1) +
                       subscribe(4, 2, [("r/#", 1)]) + publish(4, "r/1", b"", retain=True))
    out["qos2-dup"] = (connect(4, "d") + publish(4, "d/1", b"a", qos=2, pid=5) +
                       publish(4, "d/1", b"a", qos=2, pid=5, dup=True) + ack(4, 6, 5) + publish(4, "d/1", b"b", qos=2, pid=5))
    out["second-connect"] = connect(4, "twice") + connect(4, "twice")
    out["bad-first"] = PING + connect(4, "late")
    return out


def mqtt_codec_seeds():
    out = {}
    level_byte = {3: 0, 4: 1, 5: 2}
    for level in (3, 4, 5):
        m = bytes([level_byte[level]])
        out["stream-%d" % level] = m + mqtt_sessions()["qos-%d" % level]
        out["server-%d" % level] = m + (packet(0x20, b"\x00\x00" + (props(b"\x21\x00\x0a\x24\x01") if level == 5 else b"")) +
                                        packet(0x90, struct.pack(">H", 1) + (props(b"") if level == 5 else b"") + b"\x00\x01\x02\x80") +
                                        packet(0xB0, struct.pack(">H", 4) + (props(b"") + b"\x00\x11" if level == 5 else b"")) +
                                        b"\xd0\x00" + ack(level, 5, 3, 0x10) + ack(level, 7, 3, 0x92))
    out["v5-props"] = b"\x02" + mqtt_sessions()["v5-props"]
    out["will"] = b"\x02" + mqtt_sessions()["will-5"]
    out["limit"] = b"\x82" + publish(5, "a", b"x" * 80)
    out["auth"] = b"\x02" + packet(0xF0, b"\x19" + props(b"\x15" + s("SCRAM") + b"\x16" + s(b"\x00\x01") + b"\x1f" + s("why")))
    return out


def frame(kind, channel, payload):
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


def shortstr(t):
    b = t.encode()
    return bytes([len(b)]) + b


def longstr(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack(">I", len(b)) + b


def table(entries):
    body = b""
    for name, value in entries:
        body += shortstr(name) + value
    return struct.pack(">I", len(body)) + body


def method(channel, cls, mid, args=b""):
    return frame(1, channel, struct.pack(">HH", cls, mid) + args)


def content(channel, body, flags=0x9000, props=b""):
    header = struct.pack(">HHQH", 60, 0, len(body), flags) + props
    return frame(2, channel, header) + (frame(3, channel, body) if body else b"")


CAPS = table([("capabilities", b"F" + table([("publisher_confirms", b"t\x01"), ("basic.nack", b"t\x01")])),
              ("product", b"S" + longstr("pika")), ("n", b"I\x00\x00\x00\x05"), ("d", b"d" + struct.pack(">d", 1.5)),
              ("a", b"A" + longstr(b"t\x01S" + longstr("x"))), ("ts", b"T" + struct.pack(">Q", 1700000000)),
              ("dec", b"D\x02\x00\x00\x01\x00"), ("v", b"V"), ("f", b"f" + struct.pack(">f", 0.5)),
              ("bytes", b"x" + longstr(b"\x00\x01"))])


def amqp_client(publish_key="a.b", confirm=True):
    c = b"AMQP\x00\x00\x09\x01"
    c += method(0, 10, 11, CAPS + shortstr("PLAIN") + longstr("\x00guest\x00guest") + shortstr("en_US"))
    c += method(0, 10, 31, struct.pack(">HIH", 2047, 131072, 60))
    c += method(0, 10, 40, shortstr("/") + shortstr("") + b"\x00")
    c += method(1, 20, 10, shortstr(""))
    if confirm:
        c += method(1, 85, 10, b"\x00")
    c += method(1, 50, 10, b"\x00\x00" + shortstr("q1") + b"\x02" + table([("x-message-ttl", b"I\x00\x00\xea\x60")]))
    c += method(1, 50, 20, b"\x00\x00" + shortstr("q1") + shortstr("amq.topic") + shortstr("a.*") + b"\x00" + table([]))
    c += method(1, 60, 40, b"\x00\x00" + shortstr("amq.topic") + shortstr(publish_key) + b"\x00")
    c += content(1, b"hello", 0x9800, shortstr("text/plain") + b"\x02" )
    c += method(1, 60, 20, b"\x00\x00" + shortstr("q1") + shortstr("ctag") + b"\x00" + table([]))
    c += method(1, 60, 80, struct.pack(">Q", 1) + b"\x00")
    c += method(1, 60, 70, b"\x00\x00" + shortstr("q1") + b"\x01")
    c += method(1, 50, 30, b"\x00\x00" + shortstr("q1") + b"\x00")
    c += method(1, 20, 40, struct.pack(">H", 200) + shortstr("bye") + b"\x00\x00\x00\x00")
    c += method(0, 10, 50, struct.pack(">H", 200) + shortstr("bye") + b"\x00\x00\x00\x00")
    return c


def amqp_sessions():
    out = {"full": amqp_client(), "no-confirm": amqp_client("x.y", confirm=False)}
    base = amqp_client()
    cut = base.index(method(1, 85, 10, b"\x00"))
    out["declare-exchange"] = (base[:cut] + method(1, 40, 10, b"\x00\x00" + shortstr("ex") + shortstr("fanout") + b"\x02" + table([])) +
                               method(1, 50, 10, b"\x00\x00" + shortstr("") + b"\x08" + table([("x-max-length", b"I\x00\x00\x00\x02"), ("x-overflow", b"S" + longstr("drop-head"))])) +
                               method(1, 40, 20, b"\x00\x00" + shortstr("ex") + b"\x00") + method(1, 90, 10))
    out["bad-header"] = b"AMQP\x00\x00\x08\x00"
    out["heartbeat"] = base[:cut] + frame(8, 0, b"") + method(1, 60, 10, struct.pack(">IHB", 0, 10, 0))
    out["tx"] = base[:cut] + method(1, 90, 10) + method(1, 60, 40, b"\x00\x00" + shortstr("") + shortstr("q") + b"\x03") + content(1, b"") + method(1, 90, 20) + method(1, 90, 30)
    out["confirms"] = amqp_confirms(base[:base.index(method(1, 20, 10, shortstr("")))])
    return out


def amqp_confirms(opened):
    """Publisher confirms on two channels, for the held-message invariant of amqp_session_fuzz:
    amq.topic with keys the observer must get (empty, split body, mandatory) and keys it need
    not (expiration, '$'), the default exchange, a channel error, a channel reopened, and a
    durable queue that holds the confirms of persistent messages until the store commits."""
    def pub(ch, exchange, key, bits=0):
        return method(ch, 60, 40, b"\x00\x00" + shortstr(exchange) + shortstr(key) + bytes([bits]))
    persistent = (0x1000, b"\x02")  # delivery-mode 2
    c = opened
    for ch in (1, 2):
        c += method(ch, 20, 10, shortstr("")) + method(ch, 85, 10, b"\x00")
    # A durable queue on amq.topic: confirms of persistent messages wait for the commit.
    c += method(1, 50, 10, b"\x00\x00" + shortstr("held") + b"\x02" + table([]))
    c += method(1, 50, 20, b"\x00\x00" + shortstr("held") + shortstr("amq.topic") + shortstr("s.#") + b"\x00" + table([]))
    c += pub(1, "amq.topic", "a.b") + content(1, b"one", *persistent)
    c += pub(1, "amq.topic", "") + content(1, b"", 0)
    c += pub(2, "amq.topic", "s.1", 1) + content(2, b"two", *persistent)
    c += pub(1, "amq.topic", "t.x") + content(1, b"ttl", 0x1100, b"\x02" + shortstr("60000"))
    c += pub(1, "amq.topic", "$x.y") + content(1, b"dollar", 0)
    c += pub(2, "", "nowhere") + content(2, b"default", 0)
    head = struct.pack(">HHQH", 60, 0, 6, 0x1000) + b"\x02"
    c += pub(1, "amq.topic", "split") + frame(2, 1, head) + frame(3, 1, b"spl") + frame(3, 1, b"it!")
    c += pub(2, "missing", "k") + content(2, b"404", 0)  # channel error: 2 is closed
    c += pub(2, "amq.topic", "a.b") + content(2, b"discarded", 0)
    c += method(2, 20, 41) + method(2, 20, 10, shortstr("")) + method(2, 85, 10, b"\x01")
    c += pub(2, "amq.topic", "again") + content(2, b"after reopen", 0)
    c += method(1, 20, 40, struct.pack(">H", 200) + shortstr("bye") + b"\x00\x00\x00\x00")
    c += method(0, 10, 50, struct.pack(">H", 200) + shortstr("bye") + b"\x00\x00\x00\x00")
    return c


def amqp_codec_seeds():
    out = {}
    sessions = amqp_sessions()
    for name, data in sessions.items():
        body = data[8:] if data.startswith(b"AMQP\x00\x00\x09\x01") else data
        out[name] = b"\x00" + body
    out["framemax"] = b"\x01" + method(1, 60, 40, b"\x00\x00" + shortstr("amq.topic") + shortstr("k") + b"\x00") + frame(3, 1, b"x" * 5000)
    out["table"] = b"\x02" + CAPS[4:]
    out["header-all"] = b"\x00" + content(1, b"b", 0xFFFC, shortstr("ct") + shortstr("ce") + CAPS + b"\x02\x05" + shortstr("c") + shortstr("r") + shortstr("60000") + shortstr("m") + struct.pack(">Q", 1) + shortstr("t") + shortstr("u") + shortstr("a") + shortstr("cl"))
    out["deep"] = b"\x02" + (shortstr("n") + b"F") * 10 + struct.pack(">I", 0)
    return out


def ws_frame(payload, opcode=2, fin=True, mask=b"\x01\x02\x03\x04"):
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def websocket_seeds():
    good = ("GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: mqtt\r\n\r\n")
    out = {
        "upgrade": b"\x00" + good.encode(),
        "upgrade-origin": b"\x00" + good.replace("\r\n\r\n", "\r\nOrigin: https://example.com\r\n\r\n").replace("/mqtt", "/ws?x=1").encode(),
        "upgrade-v31": b"\x00" + good.replace("Protocol: mqtt", "Protocol: mqttv3.1, mqtt").encode(),
        "upgrade-bad-version": b"\x00" + good.replace("Version: 13", "Version: 8").encode(),
        "upgrade-no-key": b"\x00" + good.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "").encode(),
        "upgrade-post": b"\x00" + good.replace("GET", "POST").encode(),
        "frames": b"\x01" + ws_frame(connect(4, "ws")) + ws_frame(PING),
        "frames-split": b"\x01" + ws_frame(b"\x10\x0c", fin=False) + ws_frame(b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x00", opcode=0),
        "frames-ping-close": b"\x01" + ws_frame(b"hi", opcode=9) + ws_frame(b"\x03\xe8", opcode=8),
        "frames-text": b"\x01" + ws_frame(b"text", opcode=1),
        "frames-unmasked": b"\x01\x82\x02\xc0\x00",
        "frames-long": b"\x01" + ws_frame(b"x" * 300),
    }
    return out


def auth_seeds():
    text = (REPO / "tests/unit/auth/password_file_test.cpp").read_text()
    lines = [l.strip().strip('";') for l in text.splitlines() if ":$" in l and l.strip().startswith('"')]
    passwd = "\n".join(lines[:4]) + "\n# comment\n\nbad line\nnocolon\nx:$7$0$abc$def\ndup:$6$x$y\n"
    acl = (REPO / "config/examples/gateway.acl").read_text()
    return {
        "passwd": b"\x00" + passwd.encode(),
        "passwd-crlf": b"\x00" + passwd.replace("\n", "\r\n").encode(),
        "acl-gateway": b"\x01" + acl.encode(),
        "acl-rules": b"\x01" + (b"topic read $SYS/#\ntopic a/b\n\nuser alice\ntopic write alice/#\ntopic deny secret/#\n"
                                b"user bob smith\ntopic readwrite +/x\npattern read devices/%u/%c/#\npattern write %c/up\n"
                                b"topic bogus a\nuser\nfoo bar\ntopic read a/#/b\n"),
    }


def yaml_seeds():
    out = {}
    for path in [REPO / "config/outpost.yaml", *sorted((REPO / "config/examples").glob("*.yaml"))]:
        out[path.stem] = path.read_bytes()
    out["errors"] = b"listeners:\n  - port: 99999\n    protocol: mqtt\n    bogus: 1\nthreads: many\n"
    out["anchors"] = b"a: &x {b: 1}\nc: *x\nlisteners: [{port: 1883, protocol: mqtt}, {port: 5672, protocol: amqp}]\n---\nb: 2\n"
    out["flow"] = b"{listeners: [{port: 1, protocol: ws, path: /mqtt}], mqtt: {max_packet_size: 1kB}}"
    return out


def op_log_seeds():
    """Operation logs (src/store/op_log.cpp): u32 body length, u32 CRC-32 of the body, body
    = u64 sequence, u32 operation count, operations; little-endian."""
    import zlib

    def s(b):
        return struct.pack("<I", len(b)) + b

    def record(seq, ops):
        body = struct.pack("<QI", seq, len(ops)) + b"".join(ops)
        return struct.pack("<II", len(body), zlib.crc32(body)) + body

    put_message = (b"\x01" + struct.pack("<Q", 7) + s(b"sensors/room1/temp") + s(b"21.5") + b"\x01\x00" +
                   struct.pack("<q", 0) + s(b""))
    put_entry = (b"\x02" + s(b"mqtt:dev1") + struct.pack("<QQ", 1, 7) + b"\x01\x00\x00" + struct.pack("<H", 0) +
                 struct.pack("<I", 1) + struct.pack("<I", 42))
    update = b"\x03" + s(b"mqtt:dev1") + struct.pack("<Q", 1) + b"\x01" + struct.pack("<H", 5)
    delete = b"\x04" + s(b"mqtt:dev1") + struct.pack("<Q", 1)
    qos2 = b"\x05" + s(b"dev1") + struct.pack("<H", 9), b"\x06" + s(b"dev1") + struct.pack("<H", 9)
    one = record(1, [put_message, put_entry])
    many = one + record(2, [update]) + record(3, [delete]) + record(4, list(qos2))
    return {
        "one-publish": one,
        "publish-ack": many,
        "torn": many[:-3],
        "damaged-middle": one[:12] + bytes([one[12] ^ 1]) + one[13:] + record(2, [delete]),
        "empty-record": record(9, []),
        # sync full rewrites the file in place: a floor record, the newest records, an end
        # marker, then what is left of older records (lower sequence numbers).
        "in-place": record(4, []) + record(5, [put_message, put_entry]) + bytes(8) + many[30:],
        "in-place-torn": record(4, []) + record(5, [put_message, put_entry])[:-6] + many[50:],
    }


def write(target, seeds, prefix=b""):
    d = ROOT / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed-*"):
        old.unlink()
    for name, data in seeds.items():
        (d / ("seed-" + name)).write_bytes(prefix + data)


def main():
    write("mqtt_codec", mqtt_codec_seeds())
    # The session targets' first two bytes seed the splitting (session_steps.hpp): one seed
    # whole (0x0000 splits at random), the others at fixed seeds.
    sessions = mqtt_sessions()
    write("mqtt_session", {n: bytes([i % 256, 7]) + d for i, (n, d) in enumerate(sessions.items())})
    write("amqp_session", {n: bytes([i % 256, 11]) + d for i, (n, d) in enumerate(amqp_sessions().items())})
    write("amqp_codec", amqp_codec_seeds())
    write("websocket", websocket_seeds())
    write("auth_files", auth_seeds())
    write("settings_yaml", yaml_seeds())
    write("op_log", op_log_seeds())


if __name__ == "__main__":
    main()
