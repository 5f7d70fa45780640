"""A real browser: headless Debian chromium loads a page (served here over HTTP) that uses
MQTT.js (npm package mqtt, its browser build) to connect to the broker over ws and over
wss, subscribe, publish, and report each round trip on a topic this test watches.

MQTT.js is installed with npm into a cache under the build directory on first use.
Chromium trusts the test's throwaway server key through
--ignore-certificate-errors-spki-list (the SHA-256 of that one public key), so nothing
else about certificate checking is relaxed."""

import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest

from certs import Certs
from harness import HERE, Broker, PahoClient, free_port, main

BROWSER_DIR = os.path.join(HERE, "browser")


def mqtt_js():
    """dist/mqtt.min.js of the npm package mqtt, installed into the build directory's cache."""
    cache = os.environ.get("OUTPOST_NPM_DIR") or os.path.join(
        os.environ.get("OUTPOST_BUILD_DIR") or tempfile.gettempdir(), "npm-test-clients")
    path = os.path.join(cache, "node_modules", "mqtt", "dist", "mqtt.min.js")
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", cache, "--no-audit", "--no-fund", "--silent", "mqtt@5"],
                       check=True, timeout=300)
    return path


def spki_pin(cert):
    """base64(SHA-256(SubjectPublicKeyInfo)) of a certificate, as chromium takes it."""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"], capture_output=True, check=True)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub.stdout, capture_output=True,
                         check=True)
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der.stdout, capture_output=True,
                            check=True)
    return subprocess.run(["base64"], input=digest.stdout, capture_output=True, check=True).stdout.decode().strip()


class BrowserTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="outpost-browser-")
        self.addCleanup(self.tmp.cleanup)
        chromium = shutil.which("chromium")
        self.assertIsNotNone(chromium, "chromium is not installed (scripts/install-deps.sh installs it)")
        self.chromium = chromium
        # The page and MQTT.js, served over HTTP from one directory.
        site = os.path.join(self.tmp.name, "site")
        os.makedirs(site)
        shutil.copy(os.path.join(BROWSER_DIR, "mqtt_page.html"), site)
        shutil.copy(mqtt_js(), site)
        handler = functools.partial(QuietHandler, directory=site)
        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.addCleanup(self.http.server_close)
        self.addCleanup(self.http.shutdown)

        self.certs = Certs(os.path.join(self.tmp.name, "certs"))
        self.ws_port, self.wss_port = free_port(), free_port()
        c = self.certs
        config = f"""
listeners:
  - {{protocol: mqtt, address: 127.0.0.1, port: {{port}}, allow_anonymous: true}}
  - {{protocol: ws, address: 127.0.0.1, port: {self.ws_port}, allow_anonymous: true}}
  - protocol: wss
    address: 127.0.0.1
    port: {self.wss_port}
    allow_anonymous: true
    tls: {{cert_file: {c.server_cert}, key_file: {c.server_key}}}
persistence: {{enabled: false}}
"""
        self.broker = Broker(config=config).start()
        self.addCleanup(self.broker.tmp.cleanup)
        self.addCleanup(self.broker.stop)

    def start_chromium(self, url):
        profile = os.path.join(self.tmp.name, "profile")
        cmd = [self.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}",
               f"--ignore-certificate-errors-spki-list={spki_pin(self.certs.server_cert)}", url]
        log = open(os.path.join(self.tmp.name, "chromium.log"), "wb")
        self.addCleanup(log.close)
        # Its own process group, so its helper processes are stopped with it (by that id).
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(self.stop_chromium, proc)
        return proc

    @staticmethod
    def stop_chromium(proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def test_mqtt_js_in_chromium_over_ws_and_wss(self):
        watcher = PahoClient(self.broker.port).connect()
        self.addCleanup(watcher.disconnect)
        watcher.subscribe("browser/report", qos=1)
        urls = [f"ws://127.0.0.1:{self.ws_port}/mqtt", f"wss://localhost:{self.wss_port}/mqtt"]
        page = (f"http://127.0.0.1:{self.http.server_address[1]}/mqtt_page.html"
                f"?run=1&urls={','.join(urls)}")
        self.start_chromium(page)
        got = watcher.wait_messages(2, timeout=30)
        reports = sorted((json.loads(m.payload) for m in got), key=lambda r: r["url"])
        self.assertEqual(len(reports), 2, self.broker.log_text())
        for report, url in zip(reports, sorted(urls)):
            self.assertEqual(report["url"], url)
            self.assertEqual(report["received"], report["sent"])
        log = self.broker.log_text()
        self.assertIn("connected over ws:", log)
        self.assertIn("connected over wss:", log)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


if __name__ == "__main__":
    main()
