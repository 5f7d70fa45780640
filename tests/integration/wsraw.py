"""A WebSocket client built from a socket (RFC 6455), for what client libraries do not
let a test choose: how MQTT bytes are cut into frames, pings, close frames, text frames,
and upgrade requests the broker must refuse."""

import base64
import os
import socket
import ssl
import struct
import time

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def upgrade_request(path="/mqtt", protocols="mqtt", origin=None, host="127.0.0.1"):
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if protocols is not None:
        lines.append(f"Sec-WebSocket-Protocol: {protocols}")
    if origin is not None:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class WsClient:
    def __init__(self, port, path="/mqtt", protocols="mqtt", origin=None, cafile=None, timeout=5.0):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if cafile:
            ctx = ssl.create_default_context(cafile=cafile)
            raw = ctx.wrap_socket(raw, server_hostname="localhost")
        self.sock = raw
        self.buf = b""
        self.mbuf = b""  # MQTT bytes taken from binary frames and not yet returned
        self.sock.sendall(upgrade_request(path, protocols, origin))
        head = self._read_until(b"\r\n\r\n")
        self.status_line, *headers = head.decode("latin-1").split("\r\n")
        self.status = int(self.status_line.split()[1])
        self.headers = {}
        for h in headers:
            if ":" in h:
                k, v = h.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        self.body = b""
        if self.status != 101:
            n = int(self.headers.get("content-length", "0"))
            self._fill(n)
            self.body, self.buf = self.buf[:n], self.buf[n:]

    def _fill(self, n, deadline=None):
        deadline = deadline or time.time() + 5
        while len(self.buf) < n:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by broker")
            self.buf += chunk

    def _read_until(self, marker):
        deadline = time.time() + 5
        while marker not in self.buf:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the HTTP response ended")
            self.buf += chunk
        i = self.buf.index(marker)
        head, self.buf = self.buf[:i], self.buf[i + len(marker):]
        return head

    def send_frame(self, opcode, payload=b"", fin=True):
        """A masked frame, as every client frame must be (RFC 6455 5.3)."""
        first = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", first, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", first, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", first, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_binary(self, payload):
        self.send_frame(OP_BINARY, payload)

    def recv_frame(self, timeout=5.0):
        deadline = time.time() + timeout
        self._fill(2, deadline)
        first, second = self.buf[0], self.buf[1]
        if second & 0x80:
            raise AssertionError("a server frame must not be masked")
        n, i = second & 0x7F, 2
        if n == 126:
            self._fill(4, deadline)
            n, i = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._fill(10, deadline)
            n, i = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._fill(i + n, deadline)
        payload, self.buf = self.buf[i:i + n], self.buf[i + n:]
        return first & 0x0F, bool(first & 0x80), payload

    def _mqtt_fill(self, n, deadline):
        while len(self.mbuf) < n:
            op, _, payload = self.recv_frame(max(0.01, deadline - time.time()))
            if op not in (OP_BINARY, OP_CONT):
                raise AssertionError(f"expected a binary frame, got opcode {op}")
            self.mbuf += payload

    def recv_packet(self, timeout=5.0):
        """The next MQTT packet, whatever frames carried it, as (first byte, body)."""
        deadline = time.time() + timeout
        self._mqtt_fill(2, deadline)
        length, mult, i = 0, 1, 1
        while True:
            self._mqtt_fill(i + 1, deadline)
            b = self.mbuf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        self._mqtt_fill(i + length, deadline)
        first, body = self.mbuf[0], self.mbuf[i:i + length]
        self.mbuf = self.mbuf[i + length:]
        return first, body

    def is_closed(self, timeout=3.0):
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.time()))
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, ssl.SSLError):
            return False
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
