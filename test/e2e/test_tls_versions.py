"""TLS protocol versions and cipher suites of otelcol.receiver.otlp's `tls` block, checked with
`openssl s_client` and curl against the real binary (issue 11, Acceptance: "curl and openssl
s_client tests for versions and ciphers (TLS 1.0/1.1 refused by default)").

Receivers (one telegate per server kind, HTTP and gRPC), each with a server certificate for
127.0.0.1 signed by a test CA:
  default  - no version settings: TLS 1.2 and 1.3 accepted, 1.0 and 1.1 refused;
  min11    - min_version = "1.1" (HTTP only): the control case that shows the 1.0/1.1 refusal is
             the server's, not the client's;
  min13    - min_version = "1.3": TLS 1.2 refused;
  max12    - max_version = "1.2": TLS 1.3 refused;
  ciphers  - cipher_suites = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]: TLS 1.2 negotiates only
             that suite (a client offering only AES-256-GCM is refused, and is accepted by the
             default receiver); TLS 1.3 is unaffected (its suites are not configurable, as in Go).
min13, max12 and ciphers are HTTP only: on the gRPC server those settings are refused by
`telegate validate` with a positioned diagnostic (gRPC 1.51 cannot apply them).
Debian's OpenSSL client refuses TLS 1.0/1.1 at its default security level, so the old-version
probes use `-cipher DEFAULT@SECLEVEL=0`; a refusal counts only when it is the server's
"protocol version" alert. Whether this machine's OpenSSL can speak TLS 1.1 at all is first checked
against a local `openssl s_server`; the control case is skipped (with the reason) if it cannot.

Run: python3 test/e2e/test_tls_versions.py --binary build/release/src/main/telegate --source-dir .
     (or ctest -R e2e.tls_versions)."""
import os
import re
import shutil
import subprocess
import unittest
import uuid

import e2e_common as e2e
import harness
import tls_common as tc

SUITE = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"   # the one suite the "ciphers" receiver allows
SUITE_OPENSSL = "ECDHE-RSA-AES128-GCM-SHA256"
OTHER_OPENSSL = "ECDHE-RSA-AES256-GCM-SHA384"     # OpenSSL's first choice otherwise
OLD = {"1.0": "-tls1", "1.1": "-tls1_1"}


class SClient:
    """The result of one `openssl s_client` handshake."""

    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err
        # "New, <version of the suite's definition>, Cipher is <suite>" (a TLS 1.1 connection
        # with a TLS 1.0 suite says TLSv1.0 there), then the session's "Protocol  : TLSv1.x".
        m = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
        established = bool(m) and m.group(1) != "(NONE)"
        self.cipher = m.group(2) if established else None
        p = re.search(r"^\s*Protocol\s*: (\S+)", out, re.M)
        self.protocol = (p.group(1) if p else m.group(1)) if established else None
        self.verified = "Verify return code: 0 (ok)" in out
        self.ok = rc == 0 and established and self.verified

    def text(self):
        return f"rc {self.rc}\nstdout:\n{self.out[-2500:]}\nstderr:\n{self.err[-1500:]}"


def s_client(port, ca, *flags, alpn=None):
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
            "-CAfile", ca, "-verify_return_error", *flags]
    if alpn:
        args += ["-alpn", alpn]
    r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=20)
    return SClient(r.returncode, r.stdout, r.stderr)


def curl(port, ca, *flags, token=e2e.TOKEN):
    """POSTs a log record over https with curl; returns (exit code, HTTP status, stderr)."""
    body, _ = e2e.seed_log_body(f"tls versions {uuid.uuid4().hex[:8]}", service="tls-e2e")
    args = ["curl", "-sS", "-v", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
            "--cacert", ca, "-H", "Content-Type: application/json", "-H",
            f"Authorization: Bearer {token}", "-d", body, *flags,
            f"https://127.0.0.1:{port}/v1/logs"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout.strip(), r.stderr


class Base:
    """The checks shared by the HTTP and gRPC servers (a mixin: not collected on its own)."""
    GRPC = False
    RECEIVERS = ("default",)
    # How s_client reports the server's refusal of a protocol version: OpenSSL servers send a
    # protocol_version alert; gRPC's TLS layer may close the connection instead. Either way the
    # client did offer the version (a client-side refusal says "no protocols available").
    VERSION_REFUSED = r"alert protocol version"
    CIPHER_REFUSED = r"alert handshake failure"

    @classmethod
    def setUpClass(cls):
        cls.workdir = tc.mkdtemp("telegate-e2e-tlsver-")
        try:
            pki = tc.Pki(cls.workdir)
            cls.ca = pki.ca("ca")
            cls.server = pki.issue(cls.ca, "server")
            extra = {"default": "", "min11": 'min_version = "1.1"', "min13": 'min_version = "1.3"',
                     "max12": 'max_version = "1.2"', "ciphers": f'cipher_suites = ["{SUITE}"]'}
            cls.ports = dict(zip(cls.RECEIVERS, tc.free_ports(len(cls.RECEIVERS))))
            blocks = []
            for name, port in cls.ports.items():
                tls = tc.tls_block(cls.server.cert, cls.server.key, extra=extra[name])
                if cls.GRPC:
                    blocks.append(tc.receiver_block(name, grpc_port=port, grpc_tls=tls))
                else:
                    blocks.append(tc.receiver_block(name, http_port=port, http_tls=tls))
            cls.t = tc.start(cls.workdir, tc.config(*blocks), list(cls.ports.values()))
        except BaseException:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            tc.stop(cls.t)
        finally:
            shutil.rmtree(cls.workdir, ignore_errors=True)

    def handshake(self, receiver, *flags):
        return s_client(self.ports[receiver], self.ca.cert, *flags,
                        alpn="h2" if self.GRPC else None)

    def assertAccepted(self, r, protocol, what):
        self.assertTrue(r.ok, f"{what}: handshake failed:\n{r.text()}")
        self.assertEqual(r.protocol, protocol, f"{what}:\n{r.text()}")

    def assertServerRefusedVersion(self, r, what):
        self.assertFalse(r.ok, f"{what}: accepted ({r.protocol}, {r.cipher})")
        self.assertNotIn("no protocols available", r.err, f"{what}: the client refused:\n"
                                                          f"{r.text()}")
        self.assertRegex(r.err, self.VERSION_REFUSED,
                         f"{what}: not refused by the server's protocol_version alert:\n{r.text()}")

    def test_tls10_and_tls11_refused_by_default(self):
        for version, flag in OLD.items():
            with self.subTest(version=version):
                r = self.handshake("default", flag, "-cipher", "DEFAULT@SECLEVEL=0")
                self.assertServerRefusedVersion(r, f"TLS {version} to the default receiver")

    def test_tls12_and_tls13_accepted_by_default(self):
        for version, flag in (("1.2", "-tls1_2"), ("1.3", "-tls1_3")):
            with self.subTest(version=version):
                self.assertAccepted(self.handshake("default", flag), f"TLSv{version}",
                                    f"TLS {version} to the default receiver")


class HttpVersionsTest(Base, unittest.TestCase):
    """The OTLP/HTTP server, with openssl s_client and curl."""
    RECEIVERS = ("default", "min11", "min13", "max12", "ciphers")

    def test_min_version_13_refuses_tls12(self):
        self.assertServerRefusedVersion(self.handshake("min13", "-tls1_2"),
                                        'TLS 1.2 to min_version = "1.3"')
        self.assertAccepted(self.handshake("min13", "-tls1_3"), "TLSv1.3",
                            'TLS 1.3 to min_version = "1.3"')

    def test_max_version_12_refuses_tls13(self):
        r = self.handshake("max12", "-tls1_3")
        self.assertServerRefusedVersion(r, 'TLS 1.3 to max_version = "1.2"')
        self.assertAccepted(self.handshake("max12", "-tls1_2"), "TLSv1.2",
                            'TLS 1.2 to max_version = "1.2"')

    def test_cipher_suites_restrict_tls12(self):
        # A client offering everything gets the one listed suite, not OpenSSL's first choice.
        r = self.handshake("ciphers", "-tls1_2")
        self.assertAccepted(r, "TLSv1.2", "TLS 1.2 to the cipher_suites receiver")
        self.assertEqual(r.cipher, SUITE_OPENSSL, r.text())
        # A client offering only another suite is refused...
        r = self.handshake("ciphers", "-tls1_2", "-cipher", OTHER_OPENSSL)
        self.assertFalse(r.ok, f"{OTHER_OPENSSL} accepted by a receiver listing only {SUITE}:\n"
                               f"{r.text()}")
        self.assertRegex(r.err, self.CIPHER_REFUSED, r.text())
        # ... while the default receiver accepts that same client (control).
        r = self.handshake("default", "-tls1_2", "-cipher", OTHER_OPENSSL)
        self.assertAccepted(r, "TLSv1.2", f"TLS 1.2 with {OTHER_OPENSSL} to the default receiver")
        self.assertEqual(r.cipher, OTHER_OPENSSL)
        # TLS 1.3 suites are not configurable: TLS 1.3 still works.
        self.assertAccepted(self.handshake("ciphers", "-tls1_3"), "TLSv1.3",
                            "TLS 1.3 to the cipher_suites receiver")

    def test_tls11_accepted_when_min_version_is_1_1(self):
        # The control case for the default refusal: the same client command succeeds once the
        # server allows TLS 1.1, so the refusal above was the server's.
        if not local_openssl_speaks_tls11(self.server, self.workdir):
            self.skipTest("this machine's OpenSSL cannot complete a TLS 1.1 handshake even "
                          "against a local openssl s_server at SECLEVEL=0")
        r = self.handshake("min11", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        self.assertAccepted(r, "TLSv1.1", 'TLS 1.1 (client at SECLEVEL=0) to min_version = "1.1"')

    def test_curl_versions(self):
        for label, receiver, flags, want in (
                ("TLS 1.2", "default", ("--tlsv1.2", "--tls-max", "1.2"), "200"),
                ("TLS 1.3", "default", ("--tlsv1.3",), "200"),
                ("TLS 1.1", "default", ("--tlsv1.1", "--tls-max", "1.1", "--ciphers",
                                        "DEFAULT@SECLEVEL=0"), None),
                ("TLS 1.2 to min 1.3", "min13", ("--tlsv1.2", "--tls-max", "1.2"), None),
                ("TLS 1.3 to min 1.3", "min13", ("--tlsv1.3",), "200"),
                ("TLS 1.3 to max 1.2", "max12", ("--tlsv1.3",), None),
                (f"TLS 1.2 {OTHER_OPENSSL} to cipher_suites", "ciphers",
                 ("--tls-max", "1.2", "--ciphers", OTHER_OPENSSL), None),
                ("TLS 1.2 to cipher_suites", "ciphers", ("--tls-max", "1.2"), "200")):
            with self.subTest(case=label):
                rc, status, err = curl(self.ports[receiver], self.ca.cert, *flags)
                if want:
                    self.assertEqual((rc, status), (0, want), f"{label}: curl failed:\n{err}")
                else:
                    # curl 35: the TLS handshake failed; no HTTP answer.
                    self.assertEqual(rc, 35, f"{label}: expected a failed handshake, got rc "
                                             f"{rc} status {status}:\n{err}")
        # The negotiated suite as curl reports it.
        rc, _, err = curl(self.ports["ciphers"], self.ca.cert, "--tls-max", "1.2")
        self.assertIn(f"TLSv1.2 / {SUITE_OPENSSL}", err)

    def test_curl_without_token_still_401_over_tls(self):
        rc, status, err = curl(self.ports["default"], self.ca.cert, token="wrong")
        self.assertEqual((rc, status), (0, "401"), err)


class GrpcVersionsTest(Base, unittest.TestCase):
    """The OTLP/gRPC server (ALPN h2), with openssl s_client. gRPC 1.51 always negotiates TLS 1.2
    or 1.3 with its own suites, so telegate refuses min_version other than "1.2", max_version
    other than "1.3" and cipher_suites there with a positioned diagnostic rather than ignore them
    (Alloy, on Go, honours them on gRPC too)."""
    GRPC = True
    VERSION_REFUSED = r"alert protocol version|unexpected eof while reading"

    def validate(self, extra):
        port = harness.free_port()
        tls = tc.tls_block(self.server.cert, self.server.key, extra=extra)
        path = os.path.join(self.workdir, "grpc-settings.alloy")
        with open(path, "w") as f:
            f.write(tc.config(tc.receiver_block("g", grpc_port=port, grpc_tls=tls)))
        return harness.run_cli("validate", path, timeout=30), path

    def check_refused(self, extra, attribute):
        r, path = self.validate(extra)
        text = r.stdout + r.stderr
        self.assertNotEqual(r.returncode, 0, f"{extra} on the gRPC server accepted:\n{text}")
        # Positioned (file:line:col) and naming the attribute.
        self.assertRegex(text, re.escape(path) + r":\d+:\d+:", text)
        self.assertIn(attribute, text)

    def test_unsupported_settings_refused_with_a_diagnostic(self):
        for extra, attribute in (('min_version = "1.3"', "min_version"),
                                 ('max_version = "1.2"', "max_version"),
                                 (f'cipher_suites = ["{SUITE}"]', "cipher_suites")):
            with self.subTest(setting=extra):
                self.check_refused(extra, attribute)
        for extra in ('min_version = "1.2"', 'max_version = "1.3"'):
            with self.subTest(setting=extra):
                r, _ = self.validate(extra)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


def local_openssl_speaks_tls11(server, workdir):
    """Whether this machine's openssl completes a TLS 1.1 handshake with itself (both sides at
    SECLEVEL=0) on loopback."""
    port = harness.free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
                            server.cert, "-key", server.key, "-tls1_1", "-cipher",
                            "DEFAULT@SECLEVEL=0", "-www"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    try:
        if not harness.wait_for(lambda: e2e.port_open(port), timeout=10):
            return False
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_1",
                            "-cipher", "DEFAULT@SECLEVEL=0"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=20)
        c = SClient(r.returncode, r.stdout, r.stderr)
        return c.rc == 0 and c.protocol == "TLSv1.1"
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


if __name__ == "__main__":
    harness.main()
