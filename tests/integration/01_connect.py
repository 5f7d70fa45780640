#!/usr/bin/python3
"""CONNECT validation, CONNACK return codes and the session present flag (MQTT 3.1 / 3.1.1)."""
import os
import tempfile
import time

from harness import *


class Connect(BrokerTestCase):
    config = broker_config(mqtt={"connect_timeout": "2s"})

    def test_valid_connect_accepted(self):
        c = RawClient(self.port)
        present, code = c.connect("c-valid")
        self.assertEqual(code, 0)
        self.assertEqual(present, 0)
        c.close()

    def test_mqtt31_accepted(self):
        c = RawClient(self.port)
        c.send(connect_packet("c-v31", proto_name="MQIsdp", level=3))
        p = c.expect(CONNACK)
        self.assertEqual(p.body[1], 0)
        c.close()

    def test_mqtt31_long_client_id_refused(self):
        c = RawClient(self.port)
        c.send(connect_packet("x" * 24, proto_name="MQIsdp", level=3))
        p = c.expect(CONNACK)
        self.assertEqual(p.body[1], 0x02)
        self.assertTrue(c.is_closed())

    def test_unacceptable_protocol_level(self):
        c = RawClient(self.port)
        c.send(connect_packet("c-level", level=7))
        p = c.expect(CONNACK)
        self.assertEqual(p.body[1], 0x01)  # [MQTT-3.1.2-2]
        self.assertTrue(c.is_closed())

    def test_wrong_protocol_name_closed(self):
        c = RawClient(self.port)
        c.send(connect_packet("c-name", proto_name="MQTX"))
        self.assertTrue(c.is_closed())

    def test_reserved_flag_closes_without_connack(self):
        c = RawClient(self.port)
        c.send(connect_packet("c-reserved", flags_override=0x03))
        self.assertTrue(c.is_closed())  # [MQTT-3.1.2-3]
        self.assertEqual(c.buf, b"")

    def test_will_qos3_closed(self):
        c = RawClient(self.port)
        c.send(connect_packet("c-wq3", flags_override=0x02 | 0x04 | (3 << 3)))
        self.assertTrue(c.is_closed())

    def test_will_retain_without_will_flag_closed(self):
        c = RawClient(self.port)
        c.send(connect_packet("c-wr", flags_override=0x02 | 0x20))
        self.assertTrue(c.is_closed())

    def test_password_without_username_closed(self):
        c = RawClient(self.port)
        c.send(connect_packet("c-pw", password=b"secret"))
        self.assertTrue(c.is_closed())  # [MQTT-3.1.2-22]

    def test_empty_client_id_clean_session_assigned(self):
        c = RawClient(self.port)
        present, code = c.connect("", clean=True)
        self.assertEqual(code, 0)
        c.send(subscribe_packet(1, [("assigned/t", 0)]))
        c.expect(SUBACK)
        c.close()
        self.assertTrue(self.broker.wait_for_log("client 'outpost-"))

    def test_empty_client_id_persistent_refused(self):
        c = RawClient(self.port)
        present, code = c.connect("", clean=False)
        self.assertEqual(code, 0x02)  # [MQTT-3.1.3-8]
        self.assertTrue(c.is_closed())

    def test_second_connect_closes(self):
        c = RawClient(self.port)
        c.connect("c-twice")
        c.send(connect_packet("c-twice"))
        self.assertTrue(c.is_closed())  # [MQTT-3.1.0-2]

    def test_first_packet_not_connect_closes(self):
        c = RawClient(self.port)
        c.send(PINGREQ)
        self.assertTrue(c.is_closed())  # [MQTT-3.1.0-1]

    def test_no_connect_within_timeout_closes(self):
        c = RawClient(self.port)
        start = time.time()
        self.assertTrue(c.is_closed(timeout=6))
        self.assertGreaterEqual(time.time() - start, 1.5)

    def test_session_present_flag(self):
        c = RawClient(self.port)
        present, _ = c.connect("c-present", clean=False)
        self.assertEqual(present, 0)  # new persistent session
        c.send(DISCONNECT)
        c.close()
        time.sleep(0.2)
        c = RawClient(self.port)
        present, _ = c.connect("c-present", clean=False)
        self.assertEqual(present, 1)  # resumed
        c.send(DISCONNECT)
        c.close()
        time.sleep(0.2)
        c = RawClient(self.port)
        present, _ = c.connect("c-present", clean=True)
        self.assertEqual(present, 0)  # [MQTT-3.2.2-1] clean session: 0
        c.close()

    def test_paho_connects(self):
        p = PahoClient(self.port, client_id="paho-basic").connect()
        self.assertEqual(p.connack, 0)
        p.disconnect()


# user "device", password "secret", as mosquitto_passwd writes it
PASSWORD_FILE = os.path.join(tempfile.mkdtemp(prefix="outpost-01-"), "passwd")
with open(PASSWORD_FILE, "w") as f:
    f.write("device:$7$101$MzL2Fb1obKH/7nDN$Evw9kx/N5KsZp6homEv6+OTJ4wL+PJ9ASC0PHdL8n6mSbBShJG+84nMdjxlYABt3A6iNkwU3"
            "bBSMpF4WHv+baQ==\n")


class AnonymousRefused(BrokerTestCase):
    config = broker_config(anonymous=False, extra=f"auth:\n  password_file: {PASSWORD_FILE}\n")

    def test_anonymous_not_authorized(self):
        c = RawClient(self.port)
        _, code = c.connect("anon")
        self.assertEqual(code, 0x05)
        self.assertTrue(c.is_closed())

    def test_password_file_user_connects(self):
        c = RawClient(self.port)
        _, code = c.connect("dev", username="device", password="secret")
        self.assertEqual(code, 0)
        c.close()
        c = RawClient(self.port)
        _, code = c.connect("dev", username="device", password="wrong")
        self.assertEqual(code, 0x04)


if __name__ == "__main__":
    main()
