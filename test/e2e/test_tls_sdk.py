"""End to end over TLS with real peers: the OpenTelemetry JS SDK's OTLP exporters (HTTP/JSON,
HTTP/protobuf, gRPC) and a Python `ssl` client against otelcol.receiver.otlp's `tls` block.

One telegate runs two receivers, both authenticated by otelcol.auth.bearer and writing to
otelcol.exporter.file:
  "tls"  - gRPC and HTTP with cert_file / key_file (server TLS only);
  "mtls" - the same plus client_ca_file (mutual TLS: Alloy requires and verifies the client's
           certificate when client_ca_file is set);
  "certauth" - mutual TLS with otelcol.auth.client_certificate instead of the bearer token.
Checks (issue 11, Acceptance):
  - each exporter trusting the CA, with the token, delivers, and what the file exporter wrote
    equals what the SDK exported, field by field (e2e_common.compare_summary);
  - an exporter that does not trust the CA (system CAs, or another CA) fails, and so does a
    plaintext exporter against the TLS port; nothing is written;
  - the token is still required over TLS and mTLS (a wrong one: 401 / UNAUTHENTICATED);
  - with otelcol.auth.client_certificate the SDK's mapped client certificate alone delivers (its
    token is not read) and a verified but unmapped one gets 401 / UNAUTHENTICATED;
  - over mTLS a client certificate from another CA, an expired one, or none is refused: every
    SDK export fails and nothing is written, and the Python client shows that the refusal happens
    in the handshake (TLS 1.2: the handshake itself fails; TLS 1.3: the server's alert arrives in
    place of any HTTP or HTTP/2 answer) and, on HTTP, with the alert that says why ("certificate
    required" / "handshake failure", "unknown ca", "certificate expired"; gRPC's TLS layer closes
    the connection without one), while the valid certificate gets an answer from the same probe
    and the SDK delivers with it.

Run: python3 test/e2e/test_tls_sdk.py --binary build/release/src/main/telegate --source-dir .
     (or ctest -R e2e.tls_sdk)."""
import shutil
import time
import unittest
import uuid

import e2e_common as e2e
import harness
import tls_common as tc

TRANSPORTS = ("http-json", "http-protobuf", "grpc")
# A connection ended by the server during the TLS handshake: an alert, or the socket closed before
# any application data.
# Certificate identity as the credential (telegate's otelcol.auth.client_certificate): the client
# certificate with CN=client maps to a tenant; CN=unmapped-client (same CA) maps to nothing.
CERT_AUTH = """
otelcol.auth.client_certificate "c" {
  identity {
    common_name = "client"
    name        = "sdk-client"
    tenant      = "team-sdk"
  }
}
"""
# How the SDK reports a server certificate it does not trust.
UNTRUSTED = r"unable to verify the first certificate|self.signed certificate|UNABLE_TO_VERIFY"
CLOSED_IN_HANDSHAKE = (r"alert|UNEXPECTED_EOF|EOF occurred|Connection reset|"
                       r"no HTTP/2 SETTINGS frame came back: b''")


class TlsSdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        e2e.ensure_node_modules()
        cls.workdir = tc.mkdtemp("telegate-e2e-tls-")
        try:
            pki = tc.Pki(cls.workdir)
            cls.ca = pki.ca("ca")
            cls.other_ca = pki.ca("other-ca")
            cls.server = pki.issue(cls.ca, "server")
            cls.client = pki.issue(cls.ca, "client", client=True)
            cls.expired_client = pki.issue(cls.ca, "expired-client", client=True, expired=True)
            cls.foreign_client = pki.issue(cls.other_ca, "foreign-client", client=True)
            cls.unmapped_client = pki.issue(cls.ca, "unmapped-client", client=True)
            (cls.tls_grpc, cls.tls_http, cls.mtls_grpc, cls.mtls_http, cls.cert_grpc,
             cls.cert_http) = ports = tc.free_ports(6)
            server_tls = tc.tls_block(cls.server.cert, cls.server.key)
            mutual_tls = tc.tls_block(cls.server.cert, cls.server.key, client_ca_file=cls.ca.cert)
            cfg = tc.config(
                tc.receiver_block("tls", cls.tls_grpc, cls.tls_http, server_tls, server_tls),
                tc.receiver_block("mtls", cls.mtls_grpc, cls.mtls_http, mutual_tls, mutual_tls),
                tc.receiver_block("certauth", cls.cert_grpc, cls.cert_http, mutual_tls,
                                  mutual_tls, auth="otelcol.auth.client_certificate.c.handler"),
                CERT_AUTH)
            cls.t = tc.start(cls.workdir, cfg, ports)
        except BaseException:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            tc.stop(cls.t)
        finally:
            shutil.rmtree(cls.workdir, ignore_errors=True)

    def endpoint(self, transport, mutual=False, scheme="https", certauth=False):
        if certauth:
            port = self.cert_grpc if transport == "grpc" else self.cert_http
        elif mutual:
            port = self.mtls_grpc if transport == "grpc" else self.mtls_http
        else:
            port = self.tls_grpc if transport == "grpc" else self.tls_http
        return f"{scheme}://127.0.0.1:{port}"

    def run_id(self, what):
        return f"{what}-{uuid.uuid4().hex[:12]}"

    def tail(self):
        return self.t.output()[-3000:]

    # ------------------------------------------------------------------------------------------
    # Delivery over TLS and mTLS.

    def check_delivers(self, transport, mutual=False, cert=None, certauth=False,
                       token=e2e.TOKEN):
        run_id = self.run_id(transport)
        rc, summary, err = tc.send(transport, self.endpoint(transport, mutual, certauth=certauth),
                                   run_id, ca=self.ca.cert, cert=cert, token=token)
        self.assertIsNotNone(summary, f"send.mjs printed no summary (rc {rc}):\n{err}")
        self.assertEqual(rc, 0, f"the {transport} exporters failed over TLS:\n{err}\nexports: "
                                f"{summary['exports']}\ntelegate:\n{self.tail()}")
        want = {"traces": len(summary["traces"]), "logs": len(summary["logs"])}
        harness.wait_for(lambda: all(e2e.run_items(self.t.storage, run_id)[s] >= n
                                     for s, n in want.items()), timeout=5)
        diffs, counts = e2e.compare_summary(summary, self.t.storage)
        self.assertEqual(diffs, [], f"{transport}: what telegate wrote differs from what the SDK "
                                    f"exported ({counts}):\n{e2e.format_diffs(diffs)}")
        for sig, (n_exp, n_found) in counts.items():
            self.assertEqual(n_exp, n_found, sig)

    def test_sdk_http_json_over_tls(self):
        self.check_delivers("http-json")

    def test_sdk_http_protobuf_over_tls(self):
        self.check_delivers("http-protobuf")

    def test_sdk_grpc_over_tls(self):
        self.check_delivers("grpc")

    def test_sdk_over_mtls_with_valid_certificate(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                self.check_delivers(transport, mutual=True, cert=self.client)

    def test_sdk_client_certificate_alone_authenticates(self):
        # otelcol.auth.client_certificate (mode "certificate"): the verified certificate is the
        # credential; the token the SDK sends is not read.
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                self.check_delivers(transport, cert=self.client, certauth=True,
                                    token="not-a-configured-token")

    def test_sdk_client_certificate_unmapped_is_unauthenticated(self):
        # Verified by the TLS layer but mapped to no identity: the handshake succeeds and the
        # authenticator answers 401 / UNAUTHENTICATED.
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                run_id = self.run_id("unmapped-" + transport)
                rc, summary, err = tc.send(
                    transport, self.endpoint(transport, certauth=True), run_id, ca=self.ca.cert,
                    cert=self.unmapped_client, expect_failure=True, timeout_ms=5000)
                self.assertIsNotNone(summary, f"send.mjs printed no summary (rc {rc}):\n{err}")
                self.assertEqual(rc, 0, f"an unmapped certificate was accepted:\n{err}")
                want = 16 if transport == "grpc" else 401
                for sig, calls in summary["exports"].items():
                    for c in calls:
                        self.assertEqual(c.get("errorCode"), want, f"{sig}: {c}")
                time.sleep(0.2)
                self.assertEqual(e2e.run_items(self.t.storage, run_id),
                                 {"traces": 0, "logs": 0, "metrics": 0})

    # ------------------------------------------------------------------------------------------
    # Clients that must fail.

    def check_fails(self, transport, endpoint, label, ca=None, cert=None, expect=None):
        """Every export fails without an answer from the receiver, nothing is written, and when
        `expect` (a regex) is given, every error (code and message) matches it."""
        run_id = self.run_id("refused-" + transport)
        rc, summary, err = tc.send(transport, endpoint, run_id, ca=ca, cert=cert,
                                   expect_failure=True, timeout_ms=5000)
        self.assertIsNotNone(summary, f"{label}: send.mjs printed no summary (rc {rc}):\n{err}")
        self.assertEqual(rc, 0, f"{label}: the {transport} exporters did not all fail:\n{err}\n"
                                f"telegate:\n{self.tail()}")
        # A transport failure, not an answer from the receiver (401 / UNAUTHENTICATED would mean
        # the request crossed TLS and reached the authenticator).
        for sig, calls in summary["exports"].items():
            for c in calls:
                self.assertNotIn(c.get("errorCode"), (200, 401, 16),
                                 f"{label}: {transport} {sig} was answered by the receiver: {c}")
                if expect:
                    self.assertRegex(f"{c.get('errorCode')} {c.get('error')}", expect,
                                     f"{label}: {transport} {sig}: not the expected failure")
        time.sleep(0.2)
        self.assertEqual(e2e.run_items(self.t.storage, run_id),
                         {"traces": 0, "logs": 0, "metrics": 0},
                         f"{label}: data was written")
        return summary

    def test_sdk_without_the_ca_fails(self):
        for transport in TRANSPORTS:
            # Node: "unable to verify the first certificate" (grpc-js wraps it in UNAVAILABLE).
            with self.subTest(transport=transport, trust="system CAs"):
                self.check_fails(transport, self.endpoint(transport), "system CAs only",
                                 expect=UNTRUSTED)
            with self.subTest(transport=transport, trust="another CA"):
                self.check_fails(transport, self.endpoint(transport), "another CA",
                                 ca=self.other_ca.cert, expect=UNTRUSTED)

    def test_sdk_plaintext_to_tls_port_fails(self):
        # Never silently plain text: a plaintext exporter gets nothing through a TLS port.
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                self.check_fails(transport, self.endpoint(transport, scheme="http"), "plaintext")

    def test_sdk_mtls_refuses_bad_client_certificates(self):
        for transport in TRANSPORTS:
            # HTTP: Node reports the server's alert; gRPC: grpc-js only says UNAVAILABLE (14).
            for label, cert, alert in (("no certificate", None, "CERTIFICATE_REQUIRED"),
                                       ("certificate from another CA", self.foreign_client,
                                        "UNKNOWN_CA"),
                                       ("expired certificate", self.expired_client,
                                        "CERTIFICATE_EXPIRED")):
                with self.subTest(transport=transport, client=label):
                    self.check_fails(transport, self.endpoint(transport, mutual=True), label,
                                     ca=self.ca.cert, cert=cert,
                                     expect=r"^14 " if transport == "grpc"
                                     else rf"^ERR_SSL_\w*ALERT_{alert} ")

    def test_sdk_token_still_required_over_tls_and_mtls(self):
        # TLS (and a valid client certificate) do not replace otelcol.auth.bearer: a wrong token
        # crosses TLS and is refused by the authenticator (401 / UNAUTHENTICATED).
        for mutual in (False, True):
            for transport in TRANSPORTS:
                with self.subTest(transport=transport, mtls=mutual):
                    run_id = self.run_id("token-" + transport)
                    rc, summary, err = tc.send(
                        transport, self.endpoint(transport, mutual), run_id, ca=self.ca.cert,
                        cert=self.client if mutual else None, token="not-the-token",
                        expect_failure=True, timeout_ms=5000)
                    self.assertIsNotNone(summary, f"send.mjs printed no summary (rc {rc}):\n{err}")
                    self.assertEqual(rc, 0, f"a wrong token was accepted:\n{err}")
                    want = 16 if transport == "grpc" else 401
                    for sig, calls in summary["exports"].items():
                        for c in calls:
                            self.assertEqual(c.get("errorCode"), want, f"{sig}: {c}")
                    time.sleep(0.2)
                    self.assertEqual(e2e.run_items(self.t.storage, run_id),
                                     {"traces": 0, "logs": 0, "metrics": 0})

    # ------------------------------------------------------------------------------------------
    # Where the refusal happens: the TLS handshake (Python ssl client).

    def probe(self, port, grpc, cert, version):
        ctx = tc.client_context(ca=self.ca.cert, cert=cert, min_version=version,
                                max_version=version, alpn=["h2"] if grpc else None)
        if grpc:
            request = tc.H2_PREFACE
        else:
            body = tc.log_body(f"mtls probe {uuid.uuid4().hex[:8]}")
            request = tc.http_request("/v1/logs", body)
        return tc.tls_connect(port, ctx, request=request, timeout=10)

    def test_mtls_refusal_is_at_the_handshake(self):
        for server, port, grpc in (("http", self.mtls_http, False),
                                   ("grpc", self.mtls_grpc, True)):
            for version in ("1.2", "1.3"):
                with self.subTest(server=server, version=version, client="valid"):
                    out = self.probe(port, grpc, self.client, version)
                    self.assertTrue(out.ok, f"{server} TLS {version}, valid client certificate: "
                                            f"{out}\ntelegate:\n{self.tail()}")
                    self.assertEqual(out.status, "h2" if grpc else 200, out)
                # The alert an OpenSSL server sends for each (TLS 1.2 / TLS 1.3).
                for label, cert, alert in (
                        ("no certificate", None, "handshake failure" if version == "1.2"
                         else "certificate required"),
                        ("certificate from another CA", self.foreign_client, "unknown ca"),
                        ("expired certificate", self.expired_client, "certificate expired")):
                    with self.subTest(server=server, version=version, client=label):
                        out = self.probe(port, grpc, cert, version)
                        self.assertFalse(out.ok, f"{server} TLS {version} with {label}: "
                                                 f"accepted: {out}")
                        self.assertIsNone(out.status, out)
                        if grpc:
                            # gRPC's TLS layer closes the connection during the handshake, with
                            # or without an alert; no HTTP/2 frame ever comes back.
                            self.assertRegex(out.error or "", CLOSED_IN_HANDSHAKE,
                                             f"{server} TLS {version} with {label}: {out}")
                        else:
                            # The server ends the handshake with the TLS alert that says why.
                            self.assertIn(f"alert {alert}", out.error or "",
                                          f"{server} TLS {version} with {label}: {out}")
                        if version == "1.2":
                            # In TLS 1.2 the server's verdict comes before the client's
                            # handshake completes.
                            self.assertEqual(out.stage, "handshake", out)

if __name__ == "__main__":
    harness.main()
