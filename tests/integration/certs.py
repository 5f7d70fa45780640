"""Throwaway certificates made with the openssl command at test time: a CA, a server
certificate for 127.0.0.1 and localhost, client certificates signed by that CA, and an
unrelated CA with a client certificate of its own (untrusted by the broker)."""

import os
import subprocess


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Certs:
    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_cert, self.ca_key = self.make_ca("ca", "Outpost Test CA")
        self.server_cert, self.server_key = self.make_cert("server", "localhost", self.ca_cert, self.ca_key,
                                                           serial=1001, server=True)
        self.client_cert, self.client_key = self.make_cert("client", "device-1", self.ca_cert, self.ca_key,
                                                           serial=2001)
        other_cert, other_key = self.make_ca("other-ca", "Someone Else's CA")
        self.other_ca_cert = other_cert
        self.untrusted_cert, self.untrusted_key = self.make_cert("untrusted", "intruder", other_cert, other_key,
                                                                 serial=3001)

    def path(self, name):
        return os.path.join(self.dir, name)

    def make_ca(self, name, cn):
        cert, key = self.path(name + ".crt"), self.path(name + ".key")
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
             "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=self.dir)
        return cert, key

    def make_cert(self, name, cn, ca_cert, ca_key, serial, server=False):
        """A certificate signed by ca; `serial` lets a test tell two server certificates apart."""
        cert, key, csr, ext = (self.path(name + s) for s in (".crt", ".key", ".csr", ".ext"))
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=" + cn, cwd=self.dir)
        with open(ext, "w") as f:
            if server:
                f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        _run("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-set_serial", str(serial), "-days", "2",
             "-out", cert, "-extfile", ext, cwd=self.dir)
        return cert, key
