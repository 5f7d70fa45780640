"""Hand-built AMQP 0-9-1 frames for tests that must send what pika refuses to (bad
frames, methods out of order, AMQPLAIN) or see exactly what the broker answers
(connection.close and channel.close with their codes, class and method ids)."""

import socket
import struct
import time

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT = 1, 2, 3, 8
FRAME_END = 0xCE

# Argument types of the methods the tests send or read (AMQP 0-9-1 protocol reference):
# o octet, s short, l long, L long-long, S short string, X long string, b bit, T table.
METHODS = {
    (10, 10): "ooTXX", (10, 11): "TSXS", (10, 30): "sls", (10, 31): "sls", (10, 40): "SSb",
    (10, 41): "S", (10, 50): "sSss", (10, 51): "",
    (20, 10): "S", (20, 11): "X", (20, 20): "b", (20, 21): "b", (20, 40): "sSss", (20, 41): "",
    (40, 10): "sSSbbbbbT", (40, 11): "", (40, 20): "sSbb", (40, 21): "",
    (50, 10): "sSbbbbbT", (50, 11): "Sll", (50, 20): "sSSSbT", (50, 21): "", (50, 40): "sSbbb", (50, 41): "l",
    (60, 10): "lsb", (60, 11): "", (60, 20): "sSSbbbbT", (60, 21): "S", (60, 40): "sSSbb",
    (60, 60): "SLbSS", (60, 70): "sSb", (60, 71): "LbSSl", (60, 72): "S", (60, 80): "Lb",
    (85, 10): "b", (85, 11): "", (90, 10): "",
}


def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return bytes([len(b)]) + b


def longstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!I", len(b)) + b


def field_value(v):
    if isinstance(v, bool):
        return b"t" + bytes([1 if v else 0])
    if isinstance(v, int):
        return b"l" + struct.pack("!q", v)
    if isinstance(v, (str, bytes)):
        return b"S" + longstr(v)
    if isinstance(v, dict):
        return b"F" + table(v)
    if v is None:
        return b"V"
    raise TypeError(type(v))


def table_body(d):
    return b"".join(shortstr(k) + field_value(v) for k, v in d.items())


def table(d):
    body = table_body(d)
    return struct.pack("!I", len(body)) + body


def encode_args(types, args):
    out, bits, nbits = b"", 0, 0
    for t, a in zip(types, args):
        if t != "b" and nbits:
            out += bytes([bits])
            bits, nbits = 0, 0
        if t == "o":
            out += bytes([a])
        elif t == "s":
            out += struct.pack("!H", a)
        elif t == "l":
            out += struct.pack("!I", a)
        elif t == "L":
            out += struct.pack("!Q", a)
        elif t == "S":
            out += shortstr(a)
        elif t == "X":
            out += longstr(a)
        elif t == "T":
            out += table(a or {})
        elif t == "b":
            if nbits == 8:
                out += bytes([bits])
                bits, nbits = 0, 0
            bits |= (1 if a else 0) << nbits
            nbits += 1
    if nbits:
        out += bytes([bits])
    return out


def frame(ftype, channel, payload, end=FRAME_END):
    return struct.pack("!BHI", ftype, channel, len(payload)) + payload + bytes([end])


def method_frame(channel, class_id, method_id, *args, raw_args=None):
    payload = struct.pack("!HH", class_id, method_id)
    payload += raw_args if raw_args is not None else encode_args(METHODS[(class_id, method_id)], args)
    return frame(FRAME_METHOD, channel, payload)


def header_frame(channel, body_size, class_id=60, flags=0, props=b""):
    return frame(FRAME_HEADER, channel, struct.pack("!HHQH", class_id, 0, body_size, flags) + props)


def body_frame(channel, data):
    return frame(FRAME_BODY, channel, data)


def decode_args(types, data):
    out, i, bit = [], 0, 8
    for t in types:
        if t != "b":
            bit = 8
        if t == "o":
            out.append(data[i]); i += 1
        elif t == "s":
            out.append(struct.unpack_from("!H", data, i)[0]); i += 2
        elif t == "l":
            out.append(struct.unpack_from("!I", data, i)[0]); i += 4
        elif t == "L":
            out.append(struct.unpack_from("!Q", data, i)[0]); i += 8
        elif t == "S":
            n = data[i]; out.append(data[i + 1:i + 1 + n].decode()); i += 1 + n
        elif t in "XT":
            n = struct.unpack_from("!I", data, i)[0]
            out.append(data[i + 4:i + 4 + n]); i += 4 + n
        elif t == "b":
            if bit == 8:
                byte, bit = data[i], 0
                i += 1
            out.append(bool(byte >> bit & 1)); bit += 1
    return out


class Frame:
    def __init__(self, ftype, channel, payload):
        self.type, self.channel, self.payload = ftype, channel, payload
        self.class_id = self.method_id = None
        self.args = None
        if ftype == FRAME_METHOD:
            self.class_id, self.method_id = struct.unpack_from("!HH", payload)
            types = METHODS.get((self.class_id, self.method_id))
            if types is not None:
                self.args = decode_args(types, payload[4:])

    def is_method(self, class_id, method_id):
        return self.type == FRAME_METHOD and (self.class_id, self.method_id) == (class_id, method_id)

    def __repr__(self):
        if self.type == FRAME_METHOD:
            return f"<method {self.class_id}.{self.method_id} ch{self.channel} {self.args}>"
        return f"<frame type {self.type} ch{self.channel} {len(self.payload)} octets>"


class RawAmqp:
    """One raw connection. `open()` runs the handshake; `expect()` reads frames until one
    matches, skipping heartbeats."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.tune = None

    def send(self, data):
        self.sock.sendall(data)

    def read_exact(self, n, timeout=5.0):
        deadline = time.time() + timeout
        while len(self.buf) < n:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the broker")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_frame(self, timeout=5.0):
        head = self.read_exact(7, timeout)
        ftype, channel, size = struct.unpack("!BHI", head)
        rest = self.read_exact(size + 1, timeout)
        assert rest[-1] == FRAME_END, "frame without 0xCE end octet from the broker"
        return Frame(ftype, channel, rest[:-1])

    def expect(self, class_id, method_id, timeout=5.0):
        deadline = time.time() + timeout
        while True:
            f = self.read_frame(max(0.01, deadline - time.time()))
            if f.type == FRAME_HEARTBEAT:
                continue
            if f.is_method(class_id, method_id):
                return f
            raise AssertionError(f"expected {class_id}.{method_id}, got {f!r}")

    def method(self, channel, class_id, method_id, *args):
        self.send(method_frame(channel, class_id, method_id, *args))

    def open(self, mechanism="PLAIN", user="guest", password="guest", vhost="/", heartbeat=0,
             frame_max=None, channel_max=0):
        self.send(PROTOCOL_HEADER)
        start = self.expect(10, 10)
        if mechanism == "PLAIN":
            response = b"\x00" + user.encode() + b"\x00" + password.encode()
        else:
            response = table_body({"LOGIN": user, "PASSWORD": password})
        self.method(0, 10, 11, {"product": "raw"}, mechanism, response, "en_US")
        self.tune = self.expect(10, 30).args
        self.method(0, 10, 31, channel_max or self.tune[0], frame_max or self.tune[1], heartbeat)
        self.method(0, 10, 40, vhost, "", False)
        return start

    def open_ok(self):
        return self.expect(10, 41)

    def open_channel(self, channel):
        self.method(channel, 20, 10, "")
        return self.expect(20, 11)

    def expect_connection_close(self, timeout=5.0):
        """Reads up to connection.close; answers close-ok; returns (code, text, class, method)."""
        f = self.expect(10, 50, timeout)
        self.send(method_frame(0, 10, 51))
        return tuple(f.args)

    def is_closed(self, timeout=5.0):
        """True when the broker closes the socket within `timeout` (data before is skipped)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                return False
            except OSError:
                return True
        return False

    def close(self):
        self.sock.close()
