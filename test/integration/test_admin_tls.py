"""The admin server over TLS, from the root `http { tls { ... } }` block.

Starts the real binary on loopback ports with certificates made at test time
(test/integration/certs.py) and checks: with client_auth_type = "RequireAndVerifyClientCert" a
client without a certificate, or with one from another CA, is refused at the handshake and gets
no HTTP answer, while a client with a valid certificate gets /-/ready 200; plain HTTP to the TLS
port gets no answer; with "RequestClientCert" a client without a certificate gets in; a reload
that changes the tls block is refused (the listener's TLS is fixed at startup); a certificate file
that cannot be loaded stops telegate at startup with a positioned error.
"""
import http.client
import os
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import certs
import harness

PIPELINE = '''
otelcol.exporter.discard "sink" { }
'''


def tls_block(pki, client_auth, with_ca=True):
    ca = f'\n    client_ca_file   = "{pki["ca"].cert}"' if with_ca else ""
    return (f'http {{\n  tls {{\n    cert_file        = "{pki["server"].cert}"\n'
            f'    key_file         = "{pki["server"].key}"{ca}\n'
            f'    client_auth_type = "{client_auth}"\n  }}\n}}\n')


def context(pki, client=None, trust=True, max_version=None):
    ctx = ssl.create_default_context(cafile=pki["ca"].cert if trust else None)
    if not trust:
        ctx.load_verify_locations(cafile=pki["other_ca"].cert)
    if client is not None:
        ctx.load_cert_chain(client.cert, client.key)
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


def get(port, path, ctx, method="GET", timeout=5):
    """(status, body) of one request over TLS; raises on a refused handshake or connection."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Server:
    def __init__(self, config_text):
        self.dir = tempfile.mkdtemp(prefix="telegate-admin-tls-")
        self.config = os.path.join(self.dir, "config.alloy")
        self.write(config_text)
        self.t = harness.Telegate(self.config)
        self.port = self.t.port

    def write(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def wait_ready(self, ctx, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.t.proc.poll() is not None:
                raise AssertionError(f"telegate exited with {self.t.proc.returncode}:\n"
                                     f"{self.t.output()}")
            try:
                if get(self.port, "/-/ready", ctx, timeout=2)[0] == 200:
                    return
            except (OSError, ssl.SSLError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise AssertionError("telegate did not become ready over TLS:\n" + self.t.output())

    def close(self):
        return self.t.close()


class AdminTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pki = certs.make_pki(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def start(self, config_text, ready_ctx):
        s = Server(config_text)
        self.addCleanup(s.close)
        s.wait_ready(ready_ctx)
        return s

    def assertRefused(self, port, ctx):
        """No HTTP answer: the handshake fails (TLS 1.2), or the server's alert arrives at the
        first read (TLS 1.3, where the client finishes its side before the server has checked
        the certificate)."""
        with self.assertRaises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            get(port, "/-/ready", ctx)

    def test_require_and_verify_client_cert(self):
        p = self.pki
        good = context(p, client=p["client"])
        s = self.start(tls_block(p, "RequireAndVerifyClientCert") + PIPELINE, good)
        self.assertEqual(get(s.port, "/-/ready", good), (200, "telegate is ready.\n"))
        self.assertEqual(get(s.port, "/-/healthy", good)[0], 200)

        # No certificate: refused at the handshake, in both TLS versions.
        self.assertRefused(s.port, context(p))
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
            ctx12 = context(p, max_version=ssl.TLSVersion.TLSv1_2)
            with self.assertRaises(ssl.SSLError) as e:
                ctx12.wrap_socket(raw, server_hostname="127.0.0.1")
            self.assertIn("alert", str(e.exception).lower())
        # A certificate from another CA, an expired one: refused too.
        self.assertRefused(s.port, context(p, client=p["other_client"]))
        self.assertRefused(s.port, context(p, client=p["expired"]))
        # A client that does not trust the server's CA refuses the server.
        with self.assertRaises(ssl.SSLCertVerificationError):
            get(s.port, "/-/ready", context(p, client=p["client"], trust=False))

        # Plain HTTP to the TLS port gets no HTTP answer.
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
            raw.sendall(b"GET /-/ready HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            try:
                while len(got) < 4096:
                    chunk = raw.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except (ConnectionError, socket.timeout):
                pass
            self.assertFalse(got.startswith(b"HTTP/"), got)
        with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
            harness.http("GET", f"http://127.0.0.1:{s.port}/-/ready", timeout=5)

        # The whole admin API is behind the same handshake; the TLS metrics are exported.
        status, body = get(s.port, "/metrics", good)
        self.assertEqual(status, 200)
        self.assertIn('telegate_tls_certificate_expiry_timestamp_seconds{server="admin"}', body)
        failures = [l for l in body.splitlines()
                    if l.startswith("telegate_http_server_tls_handshake_failures_total{")
                    and 'server="admin"' in l]
        self.assertTrue(any('reason="client_certificate"' in l for l in failures), failures)
        self.assertTrue(any('reason="plain_http"' in l for l in failures), failures)

        # A reload with the same tls block is applied; one that changes it is refused.
        self.assertEqual(get(s.port, "/-/reload", good, method="POST")[0], 200)
        s.write(tls_block(p, "VerifyClientCertIfGiven") + PIPELINE)
        status, body = get(s.port, "/-/reload", good, method="POST")
        self.assertEqual(status, 400, body)
        self.assertIn("changes the http.tls block", body)
        self.assertIn("restart telegate", body)
        self.assertRefused(s.port, context(p))  # the running policy stays

    def test_request_client_cert_lets_a_client_without_one_in(self):
        p = self.pki
        anon = context(p)
        s = self.start(tls_block(p, "RequestClientCert", with_ca=False) + PIPELINE, anon)
        self.assertEqual(get(s.port, "/-/ready", anon)[0], 200)
        # A certificate is asked for but not verified: any client certificate is accepted.
        self.assertEqual(get(s.port, "/-/ready", context(p, client=p["other_client"]))[0], 200)
        # Removing the block on a reload is refused as well: the server stays TLS.
        s.write(PIPELINE)
        status, body = get(s.port, "/-/reload", anon, method="POST")
        self.assertEqual(status, 400, body)
        self.assertIn("removes the http.tls block", body)

    def test_unloadable_certificate_stops_startup_with_a_positioned_error(self):
        p = self.pki
        text = tls_block(p, "NoClientCert", with_ca=False).replace(
            p["server"].key, os.path.join(self.tmp.name, "missing.key")) + PIPELINE
        s = Server(text)
        try:
            code = s.t.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            s.close()
            self.fail("telegate started with a missing key file:\n" + s.t.output())
        self.assertEqual(code, 1, s.t.output())
        self.assertIn("config.alloy:2:3: http.tls: ", s.t.output())
        self.assertIn("missing.key", s.t.output())


if __name__ == "__main__":
    harness.main()
