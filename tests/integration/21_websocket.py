"""MQTT over WebSocket (ws) and secure WebSocket (wss): paho with transport="websockets"
on both, MQTT packets split across frames and several in one frame, ping/pong, the close
handshake both ways, text frames refused, upgrades refused with an HTTP error (wrong
path, no mqtt subprotocol, an Origin not on the list) while a bystander stays connected,
takeover of one client id from TCP to WSS, and --listen ws://ADDR:PORT/PATH."""

import os
import struct
import subprocess
import tempfile
import unittest

import paho.mqtt.client as mqtt

from certs import Certs
from harness import (Broker, PahoClient, connect_packet, free_port, main, publish_packet, subscribe_packet,
                     CONNACK, PUBLISH, SUBACK, PINGREQ, DISCONNECT)
from wsraw import WsClient, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT


class WebSocketTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="outpost-ws-")
        cls.certs = Certs(os.path.join(cls.tmp.name, "certs"))
        c = cls.certs
        cls.ws_port, cls.wss_port, cls.origin_port = free_port(), free_port(), free_port()
        config = f"""
listeners:
  - {{protocol: mqtt, address: 127.0.0.1, port: {{port}}, allow_anonymous: true}}
  - {{protocol: ws, address: 127.0.0.1, port: {cls.ws_port}, allow_anonymous: true}}
  - protocol: wss
    address: 127.0.0.1
    port: {cls.wss_port}
    path: /secure
    allow_anonymous: true
    tls: {{cert_file: {c.server_cert}, key_file: {c.server_key}}}
  - protocol: ws
    address: 127.0.0.1
    port: {cls.origin_port}
    allowed_origins: [https://dashboard.example]
    allow_anonymous: true
persistence: {{enabled: false}}
"""
        cls.broker = Broker(config=config).start()
        cls.port = cls.broker.port
        cls.bystander = PahoClient(cls.ws_port, client_id="ws-bystander", transport="websockets").connect()
        cls.bystander.subscribe("bystander/#", qos=1)
        cls.pings = 0

    @classmethod
    def tearDownClass(cls):
        cls.bystander.disconnect()
        code = cls.broker.stop()
        text = cls.broker.log_text()
        cls.broker.tmp.cleanup()
        cls.tmp.cleanup()
        if "AddressSanitizer" in text or "runtime error:" in text:
            raise AssertionError("sanitizer report in broker log:\n" + text)
        if code not in (0, None):
            raise AssertionError(f"broker exited with {code}:\n" + text)

    def run(self, result=None):
        result = super().run(result)
        if result is not None and (result.failures or result.errors):
            if (result.failures + result.errors)[-1][0] is self:
                print("\n--- broker log ---\n" + self.broker.log_text()[-6000:])
        return result

    def assert_bystander_unaffected(self):
        cls = type(self)
        cls.pings += 1
        before = len(cls.bystander.messages)
        self.assertFalse(cls.bystander.disconnected.is_set(), "the bystander was disconnected")
        subprocess.run(["mosquitto_pub", "-p", str(self.port), "-t", "bystander/ping", "-q", "1",
                        "-m", str(cls.pings)], check=True, timeout=10)
        got = cls.bystander.wait_messages(before + 1)
        self.assertEqual(got[-1].payload, str(cls.pings).encode())

    def raw(self, **kw):
        ws = WsClient(self.ws_port, **kw)
        self.assertEqual(ws.status, 101, ws.status_line + str(ws.body))
        return ws

    # ------------------------------------------------------------------ paho

    def test_paho_over_ws_and_wss(self):
        for port, kw in ((self.ws_port, {}), (self.wss_port, {"ca_file": self.certs.ca_cert, "ws_path": "/secure"})):
            sub = PahoClient(port, transport="websockets", **kw).connect()
            self.assertEqual(sub.connack, 0)
            sub.subscribe("ws/+/data", qos=1)
            pub = PahoClient(port, transport="websockets", **kw).connect()
            big = os.urandom(200_000)  # many frames' worth, in one PUBLISH
            pub.publish("ws/a/data", b"small", qos=1)
            pub.publish("ws/b/data", big, qos=1)
            got = sub.wait_messages(2)
            self.assertEqual([m.payload for m in got], [b"small", big])
            pub.disconnect()
            sub.disconnect()
        log = self.broker.log_text()
        self.assertIn("connected over ws:", log)
        self.assertIn("connected over wss:", log)

    def test_takeover_from_tcp_to_wss(self):
        first = PahoClient(self.port, client_id="roamer", clean_session=False).connect()
        first.subscribe("roam/#", qos=1)
        second = PahoClient(self.wss_port, client_id="roamer", clean_session=False, transport="websockets",
                            ca_file=self.certs.ca_cert, ws_path="/secure").connect()
        self.assertTrue(first.disconnected.wait(5), "the TCP connection was not taken over")
        first.client.loop_stop()  # no reconnect: it would take the session back
        self.assertEqual(second.flags["session present"], 1)
        subprocess.run(["mosquitto_pub", "-p", str(self.port), "-t", "roam/x", "-q", "1", "-m", "found"],
                       check=True, timeout=10)
        self.assertEqual([m.payload for m in second.wait_messages(1)], [b"found"])
        # And back: a TCP client takes the session over from the WSS one.
        third = PahoClient(self.port, client_id="roamer", clean_session=True).connect()
        self.assertTrue(second.disconnected.wait(5), "the WSS connection was not taken over")
        second.client.loop_stop()
        third.disconnect()
        self.assertIn("client 'roamer' (127.0.0.1:", self.broker.log_text())

    # ------------------------------------------------------------------ framing

    def test_packets_split_across_frames_and_several_in_one_frame(self):
        ws = self.raw()
        connect = connect_packet("framed")
        # CONNECT in three messages, the last one itself fragmented into two frames.
        ws.send_binary(connect[:3])
        ws.send_binary(connect[3:9])
        ws.send_frame(OP_BINARY, connect[9:12], fin=False)
        ws.send_frame(OP_CONT, connect[12:], fin=True)
        first, body = ws.recv_packet()
        self.assertEqual(first >> 4, CONNACK)
        self.assertEqual(body, b"\x00\x00")
        # SUBSCRIBE, PUBLISH to itself and PINGREQ in one frame.
        ws.send_binary(subscribe_packet(1, [("framed/t", 0)]) + publish_packet("framed/t", b"one frame") + PINGREQ)
        kinds = []
        payload = None
        while len(kinds) < 3:
            first, body = ws.recv_packet()
            kinds.append(first >> 4)
            if first >> 4 == PUBLISH:
                payload = body[2 + len("framed/t"):]
        self.assertEqual(sorted(kinds), sorted([SUBACK, PUBLISH, 13]))
        self.assertEqual(payload, b"one frame")
        ws.send_binary(DISCONNECT)
        ws.close()

    def test_ping_is_answered_and_close_handshake_from_the_client(self):
        ws = self.raw()
        ws.send_binary(connect_packet("pinger"))
        self.assertEqual(ws.recv_packet()[0] >> 4, CONNACK)
        ws.send_frame(OP_PING, b"are you there")
        op, fin, payload = ws.recv_frame()
        self.assertEqual((op, fin, payload), (OP_PONG, True, b"are you there"))
        ws.send_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye")
        op, _, payload = ws.recv_frame()
        self.assertEqual(op, OP_CLOSE)
        self.assertEqual(struct.unpack("!H", payload[:2])[0], 1000)
        self.assertTrue(ws.is_closed())
        ws.close()
        self.assertTrue(self.broker.wait_for_log("client 'pinger' (127.0.0.1:"))

    def test_close_handshake_from_the_broker(self):
        ws = self.raw()
        ws.send_binary(connect_packet("closer"))
        self.assertEqual(ws.recv_packet()[0] >> 4, CONNACK)
        # A second CONNECT is a protocol violation: the broker closes [MQTT-3.1.0-2].
        ws.send_binary(connect_packet("closer"))
        op, _, payload = ws.recv_frame()
        self.assertEqual(op, OP_CLOSE)
        self.assertEqual(struct.unpack("!H", payload[:2])[0], 1000)
        ws.send_frame(OP_CLOSE, struct.pack("!H", 1000))
        self.assertTrue(ws.is_closed())
        ws.close()
        self.assert_bystander_unaffected()

    def test_text_frames_close_the_connection(self):
        ws = self.raw()
        ws.send_frame(OP_TEXT, connect_packet("texter"))
        self.assertTrue(ws.is_closed())
        ws.close()
        self.assert_bystander_unaffected()

    # ------------------------------------------------------------------ refused upgrades

    def test_wrong_path_is_not_found(self):
        ws = WsClient(self.ws_port, path="/elsewhere")
        self.assertEqual(ws.status, 404)
        self.assertEqual(ws.body, b"no WebSocket endpoint at /elsewhere\n")
        self.assertTrue(ws.is_closed())
        ws.close()
        self.assertTrue(self.broker.wait_for_log("refused with HTTP 404: no WebSocket endpoint at /elsewhere"))
        self.assert_bystander_unaffected()

    def test_no_mqtt_subprotocol_is_a_bad_request(self):
        for offered in ("chat", None):
            ws = WsClient(self.ws_port, protocols=offered)
            self.assertEqual(ws.status, 400)
            self.assertTrue(ws.is_closed())
            ws.close()
        self.assertTrue(self.broker.wait_for_log("refused with HTTP 400: no acceptable subprotocol in 'chat'"))
        ws = self.raw(protocols="mqttv3.1")
        self.assertEqual(ws.headers["sec-websocket-protocol"], "mqttv3.1")
        ws.close()
        self.assert_bystander_unaffected()

    def test_origin_not_on_the_list_is_forbidden(self):
        ws = WsClient(self.origin_port, origin="https://evil.example")
        self.assertEqual(ws.status, 403)
        ws.close()
        ok = WsClient(self.origin_port, origin="https://dashboard.example")
        self.assertEqual(ok.status, 101)
        self.assertEqual(ok.headers["sec-websocket-protocol"], "mqtt")
        ok.close()
        self.assert_bystander_unaffected()

    def test_plain_http_is_told_to_upgrade(self):
        import socket
        s = socket.create_connection(("127.0.0.1", self.ws_port), timeout=5)
        s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 426 Upgrade Required"))
        s.close()
        self.assert_bystander_unaffected()


class ListenOnTheCommandLine(unittest.TestCase):
    def test_listen_ws_url_with_a_path(self):
        ws_port = free_port()
        broker = Broker(config="persistence: {enabled: false}\n", args=["--listen", f"ws://127.0.0.1:{ws_port}/custom"],
                        port=ws_port)
        with broker:
            c = PahoClient(ws_port, transport="websockets", ws_path="/custom").connect()
            self.assertEqual(c.connack, 0)
            c.disconnect()
            wrong = WsClient(ws_port)
            self.assertEqual(wrong.status, 404)
            wrong.close()
            self.assertIn(f"listening for ws on 127.0.0.1:{ws_port}", broker.log_text())

    def test_listen_wss_url_takes_tls_from_the_configuration(self):
        with tempfile.TemporaryDirectory(prefix="outpost-ws-cli-") as tmp:
            c = Certs(tmp)
            wss_port = free_port()
            config = (f"listeners:\n  - protocol: wss\n    port: 1\n    allow_anonymous: true\n"
                      f"    tls: {{cert_file: {c.server_cert}, key_file: {c.server_key}}}\n"
                      "persistence: {enabled: false}\n")
            broker = Broker(config=config, args=["--listen", f"wss://127.0.0.1:{wss_port}/secure"], port=wss_port)
            with broker:
                client = PahoClient(wss_port, transport="websockets", ca_file=c.ca_cert, ws_path="/secure").connect()
                self.assertEqual(client.connack, 0)
                client.disconnect()
                self.assertIn(f"listening for wss on 127.0.0.1:{wss_port}", broker.log_text())


if __name__ == "__main__":
    main()
