"""The cloud side of bridge tests: a real Debian mosquitto on a free loopback port with a
configuration file of its own, started and stopped by its process id; and helpers for an
Outpost configured with a bridge_mqtt instance."""

import os
import signal
import subprocess
import tempfile
import time

import harness


class Mosquitto:
    """mosquitto on 127.0.0.1:<port>; `extra` is appended to its configuration. With
    persistence its database lives in its own directory, so a stop and start keeps
    persistent sessions and their queued messages."""

    def __init__(self, port=None, extra="", persistence=True, tls=None):
        self.port = port or harness.free_port()
        self.tmp = tempfile.TemporaryDirectory(prefix="outpost-cloud-")
        self.extra = extra
        self.persistence = persistence
        self.tls = tls  # {cafile, certfile, keyfile, require_certificate}
        self.proc = None
        self.log_path = os.path.join(self.tmp.name, "mosquitto.log")

    def config(self):
        text = f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
        if self.tls:
            text += "".join(f"{k} {v}\n" for k, v in self.tls.items())
        text += (f"persistence {'true' if self.persistence else 'false'}\n"
                 f"persistence_location {self.tmp.name}/\n"
                 "autosave_interval 0\n"
                 # Offline persistent sessions keep everything the tests send them.
                 "max_queued_messages 0\nmax_queued_bytes 0\n"
                 f"log_dest file {self.log_path}\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
                 # Run as the test's user: its own would not read the test's key files.
                 "user root\n")
        return text + self.extra

    def start(self):
        path = os.path.join(self.tmp.name, "mosquitto.conf")
        with open(path, "w") as f:
            f.write(self.config())
        self.proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", path], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        if not harness.wait_for_port(self.port, proc=self.proc):
            raise RuntimeError("mosquitto did not listen:\n" + self.log_text())
        return self

    def stop(self):
        """SIGTERM: mosquitto writes its persistence database and exits."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        self.tmp.cleanup()


def bridge_config(remote, topics, protocol_version=5, name="cloud", extra_bridge="", extra=""):
    """An Outpost configuration (one MQTT listener on {port}) with one bridge_mqtt instance.
    `topics` is a list of dicts written as YAML flow maps."""
    def flow(d):
        return "{" + ", ".join(f"{k}: {v!r}" if isinstance(v, str) else f"{k}: {v}" for k, v in d.items()) + "}"
    topic_lines = "".join(f"          - {flow(t)}\n" for t in topics)
    return harness.broker_config(extra=(
        "plugins:\n"
        f"  - name: {name}\n"
        "    library: bridge_mqtt\n"
        "    config:\n"
        f"      remote: {remote}\n"
        f"      client_id: edge-{name}\n"
        f"      protocol_version: {protocol_version}\n"
        "      reconnect: {min_delay: 100ms, max_delay: 1s}\n"
        "      topics:\n" + topic_lines + extra_bridge) + extra)


class SysWatcher:
    """A local subscriber to $SYS/broker/bridge/<name>/# keeping the latest value of each."""

    def __init__(self, port, name="cloud"):
        self.name = name
        self.client = harness.PahoClient(port, client_id=f"sys-watch-{name}-{time.time()}").connect()
        self.client.subscribe(f"$SYS/broker/bridge/{name}/#", 0)

    def value(self, key):
        prefix = f"$SYS/broker/bridge/{self.name}/"
        with self.client.cond:
            for msg in reversed(self.client.messages):
                if msg.topic == prefix + key:
                    return msg.payload.decode(errors="replace")
        return None

    def wait(self, key, predicate, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.value(key)
            if v is not None and predicate(v):
                return v
            time.sleep(0.05)
        return self.value(key)

    def close(self):
        self.client.disconnect()
