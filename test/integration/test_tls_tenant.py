"""Client certificate identity -> tenant, through the real binary.

Two client certificates signed by the receiver's client CA, one mapped by its subject CN and one
by a DNS SAN to two tenants by otelcol.auth.client_certificate, send OTLP/HTTP (JSON) logs over
mutual TLS to one otelcol.receiver.otlp, through one otelcol.processor.batch, to a fake OTLP/HTTP
backend (otelcol.exporter.otlphttp). Every request the backend receives must carry the
X-Scope-OrgID of the certificate that sent its records, and every record must arrive. A
certificate of the same CA that no identity maps is refused with 401 and counted as
unknown_identity. A second configuration requires certificate and bearer token together: a
token bound to another tenant than the certificate is refused (tenant_conflict).

Certificates are made at test time with the openssl CLI (certs.py); everything listens on
127.0.0.1 ports chosen at random."""
import collections
import gzip
import http.client
import json
import os
import re
import ssl
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import certs
import harness
from harness import Telegate, free_port, wait_for

COMPONENT = "otelcol.auth.client_certificate.certs"
PER_CLIENT = 25  # requests per client certificate


class Backend:
    """A fake OTLP/HTTP logs endpoint: records (X-Scope-OrgID, [log bodies]) per request."""

    def __init__(self):
        self.mu = threading.Lock()
        self.requests = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                doc = json.loads(body or b"{}")
                ids = [rec.get("body", {}).get("stringValue", "")
                       for rl in doc.get("resourceLogs", [])
                       for sl in rl.get("scopeLogs", [])
                       for rec in sl.get("logRecords", [])]
                with backend.mu:
                    backend.requests.append((self.headers.get("X-Scope-OrgID"), ids))
                out = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self):
        with self.mu:
            return list(self.requests)

    def records(self):
        return collections.Counter(i for _, ids in self.snapshot() for i in ids)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def logs_json(ids):
    recs = [{"timeUnixNano": "1700000000000000000", "body": {"stringValue": i}} for i in ids]
    return json.dumps({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "tls"}}]},
        "scopeLogs": [{"logRecords": recs}]}]}).encode()


def config(recv_port, backend_port, pki, mode="certificate"):
    bearer = ""
    bearer_ref = ""
    if mode != "certificate":
        bearer = '''
otelcol.auth.bearer "tokens" {
  credential {
    token  = "token-a"
    tenant = "tenant-a"
    name   = "token-a"
  }
  credential {
    token  = "token-b"
    tenant = "tenant-b"
    name   = "token-b"
  }
}
'''
        bearer_ref = "bearer = otelcol.auth.bearer.tokens.handler"
    return f'''{bearer}
otelcol.auth.client_certificate "certs" {{
  identity {{
    common_name = "team-a"
    name        = "team-a"
    tenant      = "tenant-a"
  }}
  identity {{
    dns    = "team-b.example"
    name   = "team-b"
    tenant = "tenant-b"
  }}
  mode = "{mode}"
  {bearer_ref}
}}

otelcol.receiver.otlp "in" {{
  http {{
    endpoint = "127.0.0.1:{recv_port}"
    auth     = otelcol.auth.client_certificate.certs.handler
    tls {{
      cert_file      = "{pki["server"].cert}"
      key_file       = "{pki["server"].key}"
      client_ca_file = "{pki["ca"].cert}"
    }}
  }}
  output {{
    logs = [otelcol.processor.batch.b.input]
  }}
}}

otelcol.processor.batch "b" {{
  timeout         = "200ms"
  send_batch_size = 1000
  output {{
    logs = [otelcol.exporter.otlphttp.out.input]
  }}
}}

otelcol.exporter.otlphttp "out" {{
  client {{
    endpoint = "http://127.0.0.1:{backend_port}"
  }}
  encoding = "json"
}}
'''


class TlsTenantBase(unittest.TestCase):
    mode = "certificate"

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="telegate-tls-tenant-")
        self.pki = certs.make_pki(self.tmp.name)
        # Signed by the receiver's client CA, but mapped by no identity.
        self.pki["unmapped"] = self.pki["ca"].client("team-z", dns=["team-z.example"])
        self.backend = Backend()
        self.recv_port = free_port()
        path = os.path.join(self.tmp.name, "config.alloy")
        with open(path, "w") as f:
            f.write(config(self.recv_port, self.backend.port, self.pki, self.mode))
        self.tg = Telegate(path)
        self.tg.wait_ready()

    def tearDown(self):
        self.tg.close()
        self.backend.close()
        self.tmp.cleanup()

    def post(self, client, ids, token=None):
        """POSTs logs over mutual TLS as `client` (a key of self.pki); returns (status, body)."""
        ctx = ssl.create_default_context(cafile=self.pki["ca"].cert)
        ctx.load_cert_chain(self.pki[client].cert, self.pki[client].key)
        conn = http.client.HTTPSConnection("127.0.0.1", self.recv_port, context=ctx, timeout=10)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        try:
            conn.request("POST", "/v1/logs", body=logs_json(ids), headers=headers)
            r = conn.getresponse()
            return r.status, r.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def failures(self, reason):
        _, _, text = self.tg.get("/metrics")
        m = re.search(r'^telegate_auth_failures_total\{component_id="%s",reason="%s"\} (\S+)$'
                      % (re.escape(COMPONENT), reason), text, re.M)
        return float(m.group(1)) if m else 0.0


class CertificateTenantTest(TlsTenantBase):
    def test_two_certificates_reach_the_backend_with_their_own_tenant(self):
        statuses = collections.Counter()
        mu = threading.Lock()

        def client(name, prefix):
            for i in range(PER_CLIENT):
                status, body = self.post(name, [f"{prefix}-{i}-0", f"{prefix}-{i}-1"])
                with mu:
                    statuses[(name, status)] += 1
                    if status != 200:
                        statuses[(name, body)] += 1

        threads = [threading.Thread(target=client, args=("client", "a")),
                   threading.Thread(target=client, args=("client_b", "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(statuses[("client", 200)], PER_CLIENT, statuses)
        self.assertEqual(statuses[("client_b", 200)], PER_CLIENT, statuses)

        want = {f"{p}-{i}-{j}" for p in "ab" for i in range(PER_CLIENT) for j in range(2)}
        self.assertTrue(wait_for(lambda: set(self.backend.records()) >= want, timeout=20),
                        "not every record arrived: missing %s"
                        % sorted(want - set(self.backend.records()))[:10])
        tenants = collections.Counter()
        for org, ids in self.backend.snapshot():
            prefixes = {i.split("-")[0] for i in ids}
            # One request, one tenant: the certificate's, never a mix.
            self.assertEqual(len(prefixes), 1, (org, ids))
            self.assertEqual(org, {"a": "tenant-a", "b": "tenant-b"}[prefixes.pop()], (org, ids))
            tenants[org] += len(ids)
        self.assertEqual(tenants, {"tenant-a": 2 * PER_CLIENT, "tenant-b": 2 * PER_CLIENT})

        _, _, text = self.tg.get("/metrics")
        for name in ("team-a", "team-b"):
            self.assertRegex(
                text, r'telegate_auth_certificate_identity_requests_total\{component_id="%s",'
                      r'name="%s"\} %d' % (re.escape(COMPONENT), name, PER_CLIENT))

    def test_unmapped_certificate_is_refused_and_counted(self):
        status, body = self.post("unmapped", ["z-0"])
        self.assertEqual(status, 401, body)
        self.assertIn("not mapped", body)
        self.assertEqual(self.failures("unknown_identity"), 1.0)
        # A mapped certificate on the same receiver still gets through.
        self.assertEqual(self.post("client", ["a-after"])[0], 200)
        self.assertTrue(wait_for(lambda: self.backend.records()["a-after"] == 1, timeout=20))
        self.assertNotIn("z-0", self.backend.records())


class CertificateAndTokenTest(TlsTenantBase):
    mode = "certificate_and_token"

    def test_certificate_and_token_of_the_same_tenant_are_both_required(self):
        self.assertEqual(self.post("client", ["a-ok"], token="token-a")[0], 200)
        self.assertEqual(self.post("client_b", ["b-ok"], token="token-b")[0], 200)
        status, body = self.post("client", ["a-conflict"], token="token-b")
        self.assertEqual(status, 401, body)
        self.assertEqual(self.failures("tenant_conflict"), 1.0)
        status, body = self.post("client", ["a-no-token"])
        self.assertEqual(status, 401, body)
        self.assertEqual(self.failures("missing"), 1.0)
        status, body = self.post("unmapped", ["z-token"], token="token-a")
        self.assertEqual(status, 401, body)
        self.assertEqual(self.failures("unknown_identity"), 1.0)

        self.assertTrue(wait_for(
            lambda: {"a-ok", "b-ok"} <= set(self.backend.records()), timeout=20))
        for org, ids in self.backend.snapshot():
            for i in ids:
                self.assertEqual(org, {"a-ok": "tenant-a", "b-ok": "tenant-b"}[i], (org, ids))


if __name__ == "__main__":
    harness.main()
