"""Integration test harness: starts the real outpost binary on a free loopback port
and talks to it with real clients (paho-mqtt, mosquitto_pub/sub) or with raw sockets
for the cases a well-behaved client library cannot produce.

Only for /usr/bin/python3 (Debian's python3-paho-mqtt 1.6)."""

import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import paho.mqtt.client as mqtt

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def outpost_bin():
    path = os.environ.get("OUTPOST_BIN") or os.path.join(ROOT, "build", "src", "outpost")
    if not os.path.exists(path):
        raise RuntimeError(f"outpost binary not found at {path}; set OUTPOST_BIN")
    return path


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(v) for v in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


_rng = __import__("random").SystemRandom()


def free_port():
    """A loopback port free now, chosen below the kernel's ephemeral range. A port the
    kernel hands out for port 0 is an ephemeral one: once a broker on it is killed, any
    client's outgoing connection (a test's reconnect loop can even connect to itself) may
    take it before the broker restarts, and the restart fails with "Address already in
    use"."""
    low, _ = _ephemeral_range()
    top = low - 1 if low > 12000 else 65535
    for _ in range(200):
        port = _rng.randint(10000, top)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def broker_config(mqtt=None, anonymous=True, extra=""):
    """A configuration with one MQTT listener on the test's port plus `mqtt:` settings."""
    text = ("listeners:\n  - protocol: mqtt\n    address: 127.0.0.1\n    port: {port}\n"
            f"    allow_anonymous: {'true' if anonymous else 'false'}\n")
    if mqtt:
        text += "mqtt:\n" + "".join(f"  {k}: {v}\n" for k, v in mqtt.items())
    return text + extra


def amqp_config(amqp=None, anonymous=True, extra="", mqtt_port=None):
    """A configuration with one AMQP listener on the test's port plus `amqp:` settings
    (and an MQTT listener on `mqtt_port` when given)."""
    text = ("listeners:\n  - protocol: amqp\n    address: 127.0.0.1\n    port: {port}\n"
            f"    allow_anonymous: {'true' if anonymous else 'false'}\n")
    if mqtt_port:
        text += f"  - protocol: mqtt\n    address: 127.0.0.1\n    port: {mqtt_port}\n    allow_anonymous: true\n"
    if amqp:
        text += "amqp:\n" + "".join(f"  {k}: {v}\n" for k, v in amqp.items())
    return text + extra


def password_file(path, users, create=True):
    """Users and passwords written to `path` by Debian's mosquitto_passwd (the format
    Outpost reads); create=False adds to an existing file."""
    for user, password in users.items():
        subprocess.run(["mosquitto_passwd"] + (["-c"] if create else []) + ["-b", path, user, password], check=True,
                       capture_output=True)
        create = False
    return path


class Broker:
    """The real broker on a free loopback port, stopped by its process id."""

    def __init__(self, config=None, args=(), port=None):
        self.port = port or free_port()
        self.tmp = tempfile.TemporaryDirectory(prefix="outpost-it-")
        self.data_dir = os.path.join(self.tmp.name, "data")
        self.config_text = config
        self.args = list(args)
        self.proc = None
        self.log_path = os.path.join(self.tmp.name, "broker.log")
        self.log_file = None

    def command(self):
        cmd = [outpost_bin()]
        if self.config_text is not None:
            path = os.path.join(self.tmp.name, "outpost.yaml")
            with open(path, "w") as f:
                f.write(self.config_text.replace("{port}", str(self.port)).replace("{data}", self.data_dir))
            cmd += ["-c", path]
        else:
            cmd += ["-p", str(self.port)]
        cmd += ["--data-dir", self.data_dir] + self.args
        return cmd

    def listener_ports(self):
        """Every port the broker is told to listen on: the test's, those of the config's
        listeners and of --listen arguments."""
        ports = [self.port]
        if any(a in self.args for a in ("--listen", "-p", "--port")):
            # The command line's listeners replace the configuration's.
            ports += [int(p) for a in self.args for p in re.findall(r"^[a-z]+://[^/\s]*:(\d+)", a)]
        else:
            text = (self.config_text or "").replace("{port}", str(self.port))
            ports += [int(p) for p in re.findall(r"\bport:\s*(\d+)", text)]
        return sorted(set(ports))

    def start(self):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log_file, stderr=subprocess.STDOUT)
        # Listeners open one after another (a TLS one loads its certificates first): the
        # broker is ready when every one of them accepts.
        for port in self.listener_ports():
            if not wait_for_port(port, proc=self.proc):
                self.stop()
                raise RuntimeError(f"broker did not listen on {port}:\n" + self.log_text())
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        if self.log_file:
            self.log_file.close()
            self.log_file = None
        return code

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def log_text(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_for_log(self, needle, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.log_text():
                return True
            time.sleep(0.05)
        return False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.tmp.cleanup()


class BrokerTestCase(unittest.TestCase):
    """A test case with one broker for the whole class; its log is printed on failure."""

    config = None
    broker_args = ()

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(config=cls.config, args=cls.broker_args).start()
        cls.port = cls.broker.port

    @classmethod
    def tearDownClass(cls):
        code = cls.broker.stop()
        text = cls.broker.log_text()
        cls.broker.tmp.cleanup()
        if "AddressSanitizer" in text or "runtime error:" in text:
            raise AssertionError("sanitizer report in broker log:\n" + text)
        if code not in (0, None):
            raise AssertionError(f"broker exited with {code}:\n" + text)

    def run(self, result=None):
        result = super().run(result)
        if result is not None and (result.failures or result.errors):
            last = (result.failures + result.errors)[-1][0]
            if last is self:
                print("\n--- broker log ---\n" + self.broker.log_text()[-6000:])
        return result


# ---------------------------------------------------------------- paho helpers

class PahoClient:
    """paho-mqtt 1.6 client with thread-safe message collection."""

    def __init__(self, port, client_id="", clean_session=True, protocol=mqtt.MQTTv311, keepalive=30,
                 will=None, userdata=None, transport="tcp", ca_file=None, cert=None, key=None, ws_path=None):
        self.port = port
        self.v5 = protocol == mqtt.MQTTv5
        self.clean = clean_session
        # paho refuses clean_session for 5.0: there it is clean_start, given at connect.
        kw = {} if self.v5 else {"clean_session": clean_session}
        self.client = mqtt.Client(client_id=client_id, protocol=protocol, transport=transport, **kw)
        if ca_file:
            self.client.tls_set(ca_certs=ca_file, certfile=cert, keyfile=key)
        if ws_path:
            self.client.ws_set_options(path=ws_path)
        self.connack_properties = None
        self.disconnect_rc = None
        self.messages = []
        self.cond = threading.Condition()
        self.connack = None
        self.flags = None
        self.disconnected = threading.Event()
        self.subacks = {}
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.keepalive = keepalive
        if will:
            self.client.will_set(**will)

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        with self.cond:
            self.connack = rc
            self.connack_properties = properties
            self.flags = flags
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append(msg)
            self.cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        with self.cond:
            self.subacks[mid] = list(granted)
            self.cond.notify_all()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        self.disconnect_rc = rc
        self.disconnected.set()

    def connect(self, timeout=5, properties=None):
        if self.v5:
            self.client.connect("127.0.0.1", self.port, keepalive=self.keepalive, clean_start=self.clean,
                                properties=properties)
        else:
            self.client.connect("127.0.0.1", self.port, keepalive=self.keepalive)
        self.client.loop_start()
        with self.cond:
            if not self.cond.wait_for(lambda: self.connack is not None, timeout):
                raise AssertionError("no CONNACK")
        return self

    def subscribe(self, topic, qos=0, timeout=5, options=None, properties=None):
        if options is not None:
            rc, mid = self.client.subscribe(topic, options=options, properties=properties)
        else:
            rc, mid = self.client.subscribe(topic, qos, properties=properties)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        with self.cond:
            if not self.cond.wait_for(lambda: mid in self.subacks, timeout):
                raise AssertionError("no SUBACK")
            return self.subacks[mid]

    def publish(self, topic, payload, qos=0, retain=False, wait=True, properties=None):
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if wait and qos > 0:
            info.wait_for_publish(timeout=10)
            assert info.is_published(), "publish not acknowledged"
        return info

    def wait_messages(self, n, timeout=5):
        with self.cond:
            self.cond.wait_for(lambda: len(self.messages) >= n, timeout)
            return list(self.messages)

    def disconnect(self):
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self):
        """End the network connection without DISCONNECT (abnormal close)."""
        self.client.loop_stop()
        self.client.socket().close()


def offline_subscription(port, client_id, topic, qos=1):
    """A persistent session subscribed to `topic` whose client has gone: the broker keeps
    what arrives for it.

    The client sends DISCONNECT and waits for the broker to close the connection, so the
    session is offline when this returns: a publish made next, on another connection the
    broker may serve on another thread, cannot overtake the DISCONNECT and reach the
    session while it is still online."""
    c = RawClient(port)
    try:
        c.connect(client_id, clean=False, keepalive=30)
        c.send(subscribe_packet(1, [(topic, qos)]))
        c.expect(SUBACK)
        c.send(packet(0xE0, b""))
        if not c.is_closed(timeout=10):
            raise AssertionError(f"the broker did not close {client_id}'s connection after DISCONNECT")
    finally:
        c.close()


# ---------------------------------------------------------------- raw MQTT client

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def mqtt_str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack("!H", len(s)) + s


def packet(first_byte, body):
    return bytes([first_byte]) + varint(len(body)) + body


def connect_packet(client_id="", clean=True, keepalive=60, will=None, username=None, password=None,
                   proto_name="MQTT", level=4, flags_override=None):
    flags = 0x02 if clean else 0
    payload = mqtt_str(client_id)
    if will:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
        payload += mqtt_str(will["topic"]) + mqtt_str(will.get("payload", b""))
    if username is not None:
        flags |= 0x80
        payload += mqtt_str(username)
    if password is not None:
        flags |= 0x40
        payload += mqtt_str(password)
    if flags_override is not None:
        flags = flags_override
    body = mqtt_str(proto_name) + bytes([level, flags]) + struct.pack("!H", keepalive) + payload
    return packet(0x10, body)


def publish_packet(topic, payload=b"", qos=0, retain=False, dup=False, packet_id=1):
    first = 0x30 | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = mqtt_str(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return packet(first, body)


def subscribe_packet(packet_id, filters):
    body = struct.pack("!H", packet_id)
    for f, q in filters:
        body += mqtt_str(f) + bytes([q])
    return packet(0x82, body)


def unsubscribe_packet(packet_id, filters):
    body = struct.pack("!H", packet_id) + b"".join(mqtt_str(f) for f in filters)
    return packet(0xA2, body)


def ack_packet(kind, packet_id):
    first = {"puback": 0x40, "pubrec": 0x50, "pubrel": 0x62, "pubcomp": 0x70}[kind]
    return bytes([first, 2]) + struct.pack("!H", packet_id)


PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


class Packet:
    def __init__(self, first, body):
        self.first = first
        self.type = first >> 4
        self.flags = first & 0x0F
        self.body = body

    # PUBLISH fields
    @property
    def qos(self):
        return (self.flags >> 1) & 3

    @property
    def dup(self):
        return bool(self.flags & 0x08)

    @property
    def retain(self):
        return bool(self.flags & 0x01)

    def publish_fields(self):
        tlen = struct.unpack("!H", self.body[:2])[0]
        topic = self.body[2:2 + tlen].decode()
        rest = self.body[2 + tlen:]
        pid = None
        if self.qos:
            pid = struct.unpack("!H", rest[:2])[0]
            rest = rest[2:]
        return topic, pid, rest

    def packet_id(self):
        return struct.unpack("!H", self.body[:2])[0]

    def __repr__(self):
        return f"Packet(type={self.type}, flags={self.flags:#x}, body={self.body[:40]!r})"


CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP = 2, 3, 4, 5, 6, 7, 9, 11, 13


class RawClient:
    """A socket speaking hand-built MQTT bytes."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("timed out waiting for data")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by broker")
            self.buf += chunk

    def recv_packet(self, timeout=5.0):
        deadline = time.time() + timeout
        self._fill(2, deadline)
        length, mult, i = 0, 1, 1
        while True:
            self._fill(i + 1, deadline)
            b = self.buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        self._fill(i + length, deadline)
        first, body = self.buf[0], self.buf[i:i + length]
        self.buf = self.buf[i + length:]
        return Packet(first, body)

    def expect(self, ptype, timeout=5.0):
        p = self.recv_packet(timeout)
        if p.type != ptype:
            raise AssertionError(f"expected packet type {ptype}, got {p}")
        return p

    def connect(self, client_id="raw", clean=True, keepalive=60, **kw):
        self.send(connect_packet(client_id, clean, keepalive, **kw))
        p = self.expect(CONNACK)
        return p.body[0] & 1, p.body[1]

    def is_closed(self, timeout=3.0):
        """True if the broker closes the connection within `timeout` (other packets are skipped)."""
        deadline = time.time() + timeout
        try:
            while True:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- Node clients

NODE_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


def node_modules():
    """The directory holding the Node test clients (npm packages pinned by
    tests/integration/node/package-lock.json), installed with `npm ci` on first use into
    $OUTPOST_NODE_CACHE (the build tree) and shared by the tests that run in parallel."""
    import fcntl
    import hashlib
    import shutil
    cache = os.environ.get("OUTPOST_NODE_CACHE") or os.path.join(tempfile.gettempdir(), "outpost-node")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(NODE_SOURCE, "package-lock.json"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(cache, ".installed")
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(stamp) or open(stamp).read() != digest:
            for name in ("package.json", "package-lock.json"):
                shutil.copy(os.path.join(NODE_SOURCE, name), cache)
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=cache, check=True,
                           stdout=subprocess.DEVNULL)
            with open(stamp, "w") as f:
                f.write(digest)
    return cache


def run_node(script, *args, timeout=60, env=None):
    """Runs tests/integration/node/<script> with the Node clients on NODE_PATH; returns the
    completed process (stdout and stderr as text)."""
    e = dict(os.environ, NODE_PATH=os.path.join(node_modules(), "node_modules"))
    if env:
        e.update(env)
    return subprocess.run(["node", os.path.join(NODE_SOURCE, script), *map(str, args)], env=e, timeout=timeout,
                          capture_output=True, text=True)


def main():
    unittest.main(verbosity=2)


def drain_sequences(port, client_id, quiet=2.0):
    """Connects the persistent session `client_id` with a raw client (nothing is lost
    client-side), acknowledges everything it is sent until `quiet` seconds pass without a
    message, and disconnects. Returns the CONNACK's (session present, code) and the 8-byte
    big-endian sequence numbers of the payloads received."""
    sub = RawClient(port, timeout=5.0)
    connack = sub.connect(client_id, clean=False)
    got = set()
    while True:
        try:
            p = sub.recv_packet(timeout=quiet)
        except (socket.timeout, TimeoutError, AssertionError, OSError):
            break
        if p.type != PUBLISH:
            continue
        _, pid, payload = p.publish_fields()
        got.add(struct.unpack("!Q", payload)[0])
        if pid:
            sub.send(ack_packet("puback", pid))
    sub.send(DISCONNECT)
    sub.close()
    return connack, got

