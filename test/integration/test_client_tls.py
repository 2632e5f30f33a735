"""Client TLS of the exporters, end to end with the real binary: otelcol.exporter.otlphttp,
loki.write and prometheus.remote_write send to a loopback HTTPS server (Python's ssl module) that
requires and verifies a client certificate. Certificates come from certs.py (openssl CLI, made at
test time).

Checked: every exporter presents its client certificate, sends `server_name` as SNI while the
Host header stays the URL's, and after the certificate files are swapped the way kubelet swaps a
Secret (new directory, `..data` symlink renamed over) the next connection presents the new
certificate with no restart. `telegate validate` refuses TLS settings it cannot honour with a
positioned diagnostic."""
import http.server as httpserver
import json
import os
import shutil
import socketserver
import ssl
import tempfile
import threading
import time
import unittest

import certs
import harness
from harness import Telegate, free_port, run_cli, wait_for

TOKEN = "client-tls-token"


class KubeletDir:
    """DIR/..data -> ..<n>, DIR/tls.crt -> ..data/tls.crt, as kubelet mounts a Secret."""

    def __init__(self, path):
        self.path = path
        self.n = 0
        os.makedirs(path)

    def swap(self, cert, key):
        self.n += 1
        version = "..v%d" % self.n
        os.makedirs(os.path.join(self.path, version))
        shutil.copy(cert, os.path.join(self.path, version, "tls.crt"))
        shutil.copy(key, os.path.join(self.path, version, "tls.key"))
        tmp = os.path.join(self.path, "..data_tmp")
        os.symlink(version, tmp)
        os.rename(tmp, os.path.join(self.path, "..data"))
        for name in ("tls.crt", "tls.key"):
            link = os.path.join(self.path, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)


class MtlsServer:
    """HTTPS/1.1 with keep-alive; records (path, client CN, SNI, Host) of every request."""

    def __init__(self, pki):
        self.requests = []
        self.lock = threading.Lock()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki["server"].cert, pki["server"].key)
        ctx.load_verify_locations(pki["ca"].cert)
        ctx.verify_mode = ssl.CERT_REQUIRED

        def on_sni(sock, name, _ctx):
            sock.telegate_sni = name or ""

        ctx.sni_callback = on_sni
        outer = self

        class Handler(httpserver.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(n)
                peer = self.connection.getpeercert() or {}
                cn = ""
                for rdn in peer.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            cn = v
                with outer.lock:
                    outer.requests.append((self.path, cn, getattr(self.connection, "telegate_sni", ""),
                                           self.headers.get("Host", "")))
                self.send_response(204 if "/loki/" in self.path else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        class Server(socketserver.ThreadingMixIn, httpserver.HTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = self.socket.accept()
                return ctx.wrap_socket(sock, server_side=True), addr

        self.port = free_port()
        self.httpd = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def seen(self, path_part, cn):
        with self.lock:
            return [r for r in self.requests if path_part in r[0] and r[1] == cn]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def config(otlp_port, srv_port, ca, cert, key):
    tls_attrs = f'''ca_file = "{ca}"
      cert_file = "{cert}"
      key_file = "{key}"
      server_name = "localhost"'''
    base = f"https://127.0.0.1:{srv_port}"
    return f'''
otelcol.auth.bearer "in" {{
  token = "{TOKEN}"
}}

otelcol.receiver.otlp "default" {{
  http {{
    endpoint = "127.0.0.1:{otlp_port}"
    auth     = otelcol.auth.bearer.in.handler
  }}
  output {{
    logs    = [otelcol.exporter.otlphttp.o.input, otelcol.exporter.loki.l.input]
    metrics = [otelcol.exporter.prometheus.p.input]
  }}
}}

otelcol.exporter.otlphttp "o" {{
  client {{
    endpoint = "{base}/otlp"
    tls {{
      {tls_attrs}
      min_version = "1.2"
    }}
  }}
  retry_on_failure {{
    initial_interval = "100ms"
    max_interval     = "500ms"
  }}
}}

otelcol.exporter.loki "l" {{
  forward_to = [loki.write.l.receiver]
}}

loki.write "l" {{
  endpoint {{
    url        = "{base}/loki/api/v1/push"
    batch_wait = "100ms"
    min_backoff_period = "100ms"
    max_backoff_period = "500ms"
    tls_config {{
      {tls_attrs}
    }}
  }}
}}

otelcol.exporter.prometheus "p" {{
  forward_to = [prometheus.remote_write.r.receiver]
}}

prometheus.remote_write "r" {{
  endpoint {{
    url = "{base}/api/v1/write"
    queue_config {{
      batch_send_deadline = "200ms"
      min_backoff         = "100ms"
      max_backoff         = "500ms"
    }}
    tls_config {{
      {tls_attrs}
    }}
  }}
}}
'''


def kv(k, v):
    return {"key": k, "value": {"stringValue": v}}


def send(otlp_port, n):
    now = str(time.time_ns())
    logs = {"resourceLogs": [{"resource": {"attributes": [kv("service.name", "svc")]},
                              "scopeLogs": [{"logRecords": [{"timeUnixNano": now,
                                                             "body": {"stringValue": "l%d" % n}}]}]}]}
    metrics = {"resourceMetrics": [{"resource": {"attributes": [kv("service.name", "svc")]},
                                    "scopeMetrics": [{"metrics": [{"name": "tls_probe_%d" % n, "gauge": {
                                        "dataPoints": [{"timeUnixNano": now, "asDouble": 1.5}]}}]}]}]}
    headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
    for path, body in (("/v1/logs", logs), ("/v1/metrics", metrics)):
        status, _, text = harness.http("POST", f"http://127.0.0.1:{otlp_port}{path}",
                               json.dumps(body).encode(), headers)
        assert status == 200, (path, status, text)


class ClientTlsTest(unittest.TestCase):
    def test_client_certificates_server_name_and_rotation(self):
        tmp = tempfile.mkdtemp(prefix="telegate-client-tls-")
        pki = certs.make_pki(tmp)
        secret = KubeletDir(os.path.join(tmp, "secret"))
        secret.swap(pki["client"].cert, pki["client"].key)
        server = MtlsServer(pki)
        self.addCleanup(server.close)
        otlp_port = free_port()
        path = os.path.join(tmp, "config.alloy")
        with open(path, "w") as f:
            f.write(config(otlp_port, server.port, pki["ca"].cert,
                           os.path.join(secret.path, "tls.crt"), os.path.join(secret.path, "tls.key")))
        t = Telegate(path)
        self.addCleanup(t.close)
        t.wait_ready()
        paths = ("/otlp/v1/logs", "/loki/api/v1/push", "/api/v1/write")

        send(otlp_port, 1)
        for p in paths:
            self.assertTrue(wait_for(lambda: server.seen(p, "team-a"), timeout=20),
                            "%s: %s\n%s" % (p, server.requests, t.output()))
        for p in paths:
            _, _, sni, host = server.seen(p, "team-a")[0]
            self.assertEqual(sni, "localhost", p)
            self.assertEqual(host, "127.0.0.1:%d" % server.port, p)

        # kubelet swaps the Secret: the next connections present team-b, with no restart.
        secret.swap(pki["client_b"].cert, pki["client_b"].key)
        time.sleep(1.2)  # telegate checks the files once a second
        for i in range(2, 12):
            send(otlp_port, i)
            if all(server.seen(p, "team-b") for p in paths):
                break
            time.sleep(0.5)
        for p in paths:
            self.assertTrue(wait_for(lambda: server.seen(p, "team-b"), timeout=10),
                            "%s: %s\n%s" % (p, server.requests, t.output()))

    def test_validate_refuses_what_clients_cannot_do(self):
        tmp = tempfile.mkdtemp(prefix="telegate-client-tls-")
        path = os.path.join(tmp, "config.alloy")
        with open(path, "w") as f:
            f.write('''loki.write "l" {
  endpoint {
    url = "https://loki:3100/loki/api/v1/push"
    tls_config {
      min_version = "1.4"
    }
  }
}

otelcol.exporter.otlp "t" {
  client {
    endpoint = "tempo:4317"
    tls {
      max_version = "1.2"
    }
  }
}

otelcol.exporter.otlphttp "m" {
  client {
    endpoint = "https://mimir/otlp"
    tls {
      curve_preferences = ["X25519"]
    }
  }
}
''')
        r = run_cli("validate", path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        out = r.stdout + r.stderr
        self.assertIn("config.alloy:4:5", out)
        self.assertIn("min_version", out)
        self.assertIn('max_version "1.2" is not supported by the gRPC client', out)
        self.assertIn("curve_preferences is not supported", out)


if __name__ == "__main__":
    harness.main()
