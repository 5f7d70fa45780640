"""The status page in a real browser: headless Debian chromium loads it from the http
listener while a load runs; the figures it shows are checked against /metrics taken
before and after, and a screenshot is kept (in the build tree, for docs/)."""
import html.parser
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pika  # noqa: E402
from harness import Broker, PahoClient, free_port, password_file  # noqa: E402


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


def received(m):
    return sum(m[f'outpost_messages_received_total{{protocol="{p}"}}'] for p in ("mqtt", "amqp", "plugin"))


class Texts(html.parser.HTMLParser):
    """The text of every element with an id, and the cells of every table row with an id."""

    def __init__(self):
        super().__init__()
        self.by_id = {}
        self.stack = []

    def handle_starttag(self, tag, attrs):
        self.stack.append(dict(attrs).get("id"))

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for i in self.stack:
            if i:
                self.by_id[i] = self.by_id.get(i, "") + data


def number(text):
    return int(text.replace(",", "").strip())


class StatusPage(unittest.TestCase):
    def setUp(self):
        self.chromium = shutil.which("chromium")
        self.assertIsNotNone(self.chromium, "chromium is not installed (scripts/install-deps.sh --test)")
        self.tmp = tempfile.TemporaryDirectory(prefix="outpost-status-")
        self.addCleanup(self.tmp.cleanup)
        self.http_port, self.amqp_port = free_port(), free_port()
        config = ("listeners:\n"
                  "  - {protocol: mqtt, address: 127.0.0.1, port: {port}, allow_anonymous: true}\n"
                  f"  - {{protocol: amqp, address: 127.0.0.1, port: {self.amqp_port}, allow_anonymous: true}}\n"
                  f"  - {{protocol: http, address: 127.0.0.1, port: {self.http_port}}}\n"
                  "sys_interval: 1s\n")
        self.broker = Broker(config=config).start()
        self.addCleanup(self.broker.tmp.cleanup)
        self.addCleanup(self.broker.stop)

    def chromium_run(self, *args, timeout=60):
        profile = os.path.join(self.tmp.name, "profile")
        cmd = [self.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        return out.decode(errors="replace")

    def test_the_page_shows_what_the_metrics_say_under_load(self):
        sub = PahoClient(self.broker.port, client_id="page-sub").connect()
        self.addCleanup(sub.disconnect)
        sub.subscribe("load/#", 0)
        pub = PahoClient(self.broker.port, client_id="page-pub").connect()
        self.addCleanup(pub.disconnect)
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.amqp_port))
        ch = conn.channel()
        ch.queue_declare("orders", durable=True)
        for i in range(5):
            ch.basic_publish("", "orders", b"order", pika.BasicProperties(delivery_mode=2))
        conn.close()

        stop = threading.Event()

        def load():
            while not stop.is_set():
                pub.publish("load/x", b"y" * 64, qos=0, wait=False)
                time.sleep(0.005)

        t = threading.Thread(target=load, daemon=True)
        t.start()
        self.addCleanup(t.join)
        self.addCleanup(stop.set)
        time.sleep(3)
        url = f"http://127.0.0.1:{self.http_port}/"
        before = metrics(self.http_port)
        dom = self.chromium_run("--dump-dom", "--virtual-time-budget=5000", url)
        after = metrics(self.http_port)
        page = Texts()
        page.feed(dom)
        shown = page.by_id
        self.assertIn("messages-received", shown, dom[:2000])
        self.assertEqual(shown.get("error", "").strip(), "", dom[:2000])
        self.assertTrue(shown["version"].startswith("version "), shown["version"])
        # The page's figures come from a snapshot taken between the two scrapes.
        self.assertEqual(number(shown["clients-connected"]), 2)
        self.assertEqual(after["outpost_clients_connected"], 2)
        self.assertLessEqual(received(before), number(shown["messages-received"]))
        self.assertLessEqual(number(shown["messages-received"]), received(after))
        self.assertGreater(number(shown["messages-received"]), 100)
        sent_before = sum(v for k, v in before.items() if k.startswith("outpost_messages_delivered_total{"))
        sent_after = sum(v for k, v in after.items() if k.startswith("outpost_messages_delivered_total{"))
        self.assertLessEqual(sent_before, number(shown["messages-sent"]))
        self.assertLessEqual(number(shown["messages-sent"]), sent_after)
        self.assertGreater(number(shown["rate-received"]), 0)
        self.assertIn("orders5", shown["queue-orders"].replace(" ", "").replace(",", ""))
        self.assertEqual(number(shown["store-messages"]), int(after["outpost_store_messages"]))
        # The clients table: both MQTT clients, with their subscriptions.
        self.assertIn("client-page-sub", shown, dom[:4000])
        self.assertIn("mqtt 3.1.1", shown["client-page-sub"])
        self.assertIn("client-page-pub", shown)

        shot = os.path.join(os.environ.get("OUTPOST_BUILD_DIR", self.tmp.name), "status-page.png")
        self.chromium_run(f"--screenshot={shot}", "--window-size=1280,1000", "--hide-scrollbars",
                          "--virtual-time-budget=5000", url)
        self.assertTrue(os.path.exists(shot) and os.path.getsize(shot) > 10000, shot)

    def test_the_page_works_behind_a_login(self):
        passwd = password_file(os.path.join(self.tmp.name, "passwd"), {"root": "root pw"})
        port = free_port()
        config = ("listeners:\n"
                  "  - {protocol: mqtt, address: 127.0.0.1, port: {port}, allow_anonymous: true}\n"
                  f"  - {{protocol: http, address: 127.0.0.1, port: {port}, password_file: {passwd}, admins: [root]}}\n"
                  "sys_interval: 0\n")
        b = Broker(config=config).start()
        self.addCleanup(b.tmp.cleanup)
        self.addCleanup(b.stop)
        c = PahoClient(b.port, client_id="behind-login").connect()
        self.addCleanup(c.disconnect)
        # The browser keeps the credentials of the page's address for its fetches.
        dom = self.chromium_run("--dump-dom", "--virtual-time-budget=5000", f"http://root:root%20pw@127.0.0.1:{port}/")
        page = Texts()
        page.feed(dom)
        shown = page.by_id
        self.assertEqual(shown.get("error", "").strip(), "", dom[:2000])
        self.assertEqual(number(shown["clients-connected"]), 1, dom[:2000])
        self.assertIn("client-behind-login", shown, dom[:4000])

    def test_the_status_json_and_page_are_served(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/", timeout=5) as r:
            self.assertTrue(r.headers["Content-Type"].startswith("text/html"))
            self.assertIn("default-src 'self'", r.headers["Content-Security-Policy"])
            body = r.read().decode()
        self.assertNotIn("http://", body.replace("http://127.0.0.1", ""))  # nothing from elsewhere
        self.assertNotIn("https://", body)
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/api/v1/status", timeout=5) as r:
            import json
            s = json.loads(r.read())
        self.assertEqual(s["clients_connected"], 0)
        self.assertIn("history", s)
        self.assertEqual([(l["protocol"], l["port"]) for l in s["listeners"]],
                         [("mqtt", self.broker.port), ("amqp", self.amqp_port), ("http", self.http_port)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
