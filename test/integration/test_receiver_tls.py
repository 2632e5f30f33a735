"""otelcol.receiver.otlp over TLS in the real binary: mutual TLS refusing bad clients at the
handshake, and certificate rotation through kubelet's atomic `..data` symlink swap while a client
keeps sending (no failed request; a mismatched pair keeps the old certificate and logs why)."""
import hashlib
import http.client
import json
import os
import shutil
import ssl
import tempfile
import threading
import time
import unittest

import certs
import harness
from harness import Telegate, free_port, wait_for

LOG_JSON = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
    {"timeUnixNano": "1700000000000000000", "body": {"stringValue": "over tls"}}]}]}]}).encode()


def config(http_port, grpc_port, cert, key, client_ca):
    return f'''
otelcol.receiver.otlp "default" {{
  grpc {{
    endpoint = "127.0.0.1:{grpc_port}"
    tls {{
      cert_file      = "{cert}"
      key_file       = "{key}"
      client_ca_file = "{client_ca}"
    }}
  }}

  http {{
    endpoint = "127.0.0.1:{http_port}"
    tls {{
      cert_file      = "{cert}"
      key_file       = "{key}"
      client_ca_file = "{client_ca}"
    }}
  }}

  output {{
    logs = [otelcol.exporter.discard.out.input]
  }}
}}

otelcol.exporter.discard "out" {{ }}
'''


class Secret:
    """A directory laid out like a Kubernetes Secret volume: tls.crt and tls.key are symlinks
    through `..data`, which points at a timestamped directory; update() swaps `..data` with one
    rename, as kubelet does."""

    def __init__(self, root):
        self.root = root
        self.gen = 0

    def update(self, cert, key):
        self.gen += 1
        gen = "..gen_%d" % self.gen
        os.mkdir(os.path.join(self.root, gen))
        shutil.copy(cert, os.path.join(self.root, gen, "tls.crt"))
        shutil.copy(key, os.path.join(self.root, gen, "tls.key"))
        data = os.path.join(self.root, "..data")
        old = os.readlink(data) if os.path.islink(data) else None
        os.symlink(gen, data + "_tmp")
        os.rename(data + "_tmp", data)
        for name in ("tls.crt", "tls.key"):
            link = os.path.join(self.root, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)
        if old:
            shutil.rmtree(os.path.join(self.root, old))

    def file(self, name):
        return os.path.join(self.root, name)


def fingerprint(pem_path):
    with open(pem_path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


class ReceiverTlsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.pki = certs.make_pki(self.dir)
        self.ca = self.pki["ca"]
        self.secret = Secret(os.path.join(self.dir, "secret"))
        os.mkdir(self.secret.root)
        self.secret.update(*self.pki["server"])
        self.http_port, self.grpc_port = free_port(), free_port()
        path = os.path.join(self.dir, "config.alloy")
        with open(path, "w") as f:
            f.write(config(self.http_port, self.grpc_port, self.secret.file("tls.crt"),
                           self.secret.file("tls.key"), self.ca.cert))
        self.t = Telegate(path)
        self.t.wait_ready()

    def tearDown(self):
        self.t.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def context(self, client=None, trust=None):
        ctx = ssl.create_default_context(cafile=trust or self.ca.cert)
        if client is not None:
            ctx.load_cert_chain(client.cert, client.key)
        return ctx

    def send(self, ctx, timeout=5):
        """One request on a new connection: (status, sha256 of the server certificate)."""
        conn = http.client.HTTPSConnection("localhost", self.http_port, context=ctx,
                                           timeout=timeout)
        try:
            conn.request("POST", "/v1/logs", body=LOG_JSON,
                         headers={"Content-Type": "application/json"})
            status = conn.getresponse().status
            der = conn.sock.getpeercert(binary_form=True)
            return status, hashlib.sha256(der).hexdigest()
        finally:
            conn.close()

    def test_mutual_tls_refuses_bad_clients_at_the_handshake(self):
        status, _ = self.send(self.context(self.pki["client"]))
        self.assertEqual(status, 200)
        for name in (None, "expired", "other_client"):
            client = self.pki[name] if name else None
            with self.assertRaises((ssl.SSLError, ConnectionError, http.client.HTTPException),
                                   msg=name or "no certificate"):
                self.send(self.context(client))
        # A client that does not trust the CA refuses the server.
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.send(self.context(self.pki["client"], trust=self.pki["other_ca"].cert))
        # The gRPC port serves TLS from the same files.
        with ssl.create_connection(("127.0.0.1", self.grpc_port), timeout=5) as raw:
            ctx = self.context(self.pki["client"])
            ctx.set_alpn_protocols(["h2"])
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                self.assertEqual(hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest(),
                                 fingerprint(self.pki["server"].cert))

    def test_rotation_while_a_client_keeps_sending(self):
        ctx = self.context(self.pki["client"])
        seen, failures, stop = [], [], threading.Event()

        def client():
            while not stop.is_set():
                try:
                    status, fp = self.send(ctx)
                    if status != 200:
                        failures.append("status %d" % status)
                    seen.append(fp)
                except Exception as e:  # noqa: BLE001 - every failure counts
                    failures.append(repr(e))
                time.sleep(0.05)

        thread = threading.Thread(target=client)
        thread.start()
        try:
            first = fingerprint(self.pki["server"].cert)
            self.assertTrue(wait_for(lambda: first in seen, timeout=10))
            renewed = self.ca.server(name="server-renewed")
            self.secret.update(*renewed)
            second = fingerprint(renewed.cert)
            self.assertTrue(wait_for(lambda: seen and seen[-1] == second, timeout=10),
                            "the renewed certificate was not served:\n" + self.t.output())
            # The gRPC port picks it up too (within gRPC's own refresh).
            self.assertTrue(wait_for(lambda: self.grpc_fingerprint() == second, timeout=10))
            # A certificate with another pair's key: refused, the renewed one keeps serving.
            stray = self.ca.server(name="server-stray")
            self.secret.update(stray.cert, renewed.key)
            self.assertTrue(wait_for(lambda: "does not match" in self.t.output(), timeout=10),
                            self.t.output())
            count = len(seen)
            self.assertTrue(wait_for(lambda: len(seen) > count + 20, timeout=20))
            self.assertEqual(seen[-1], second)
            self.assertEqual(self.grpc_fingerprint(), second)
        finally:
            stop.set()
            thread.join()
        self.assertEqual(failures, [])

    def grpc_fingerprint(self):
        with ssl.create_connection(("127.0.0.1", self.grpc_port), timeout=5) as raw:
            ctx = self.context(self.pki["client"])
            ctx.set_alpn_protocols(["h2"])
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


if __name__ == "__main__":
    harness.main()
