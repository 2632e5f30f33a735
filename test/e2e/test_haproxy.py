"""End to end through a real HAProxy set up like the seed guide's ingress: `/observability`
goes to telegate's OTLP/HTTP port with the path unchanged (telegate accepts the prefix),
`/grafana` and `/` go to a stand-in for Grafana (a tiny Python HTTP server answering "grafana").

Run: python3 test/e2e/test_haproxy.py --binary build/dev/src/main/telegate --source-dir .
     (or ctest -R e2e.haproxy). Needs haproxy (scripts/setup.sh installs it); nothing is
     installed at test time. The SDK cases also need node and npm (see test_otlp_sdk.py)."""
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
import uuid

import e2e_common as e2e
import harness

HAPROXY_CFG = """global
  maxconn 256

defaults
  mode http
  timeout connect 5s
  timeout client  30s
  timeout server  30s

frontend ingress
  bind 127.0.0.1:{front}
  acl is_observability path_beg /observability
  acl is_grafana       path_beg /grafana
  use_backend alloy   if is_observability
  use_backend grafana if is_grafana
  default_backend grafana

backend alloy
  server telegate 127.0.0.1:{otlp_http}

backend grafana
  server grafana 127.0.0.1:{grafana}
"""


class GrafanaStandIn(http.server.BaseHTTPRequestHandler):
    seen = []  # (method, path) of every request, to check the routing

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        GrafanaStandIn.seen.append((self.command, self.path))
        body = b"grafana"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


class HaproxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.haproxy_bin = shutil.which("haproxy") or (
            "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
        if cls.haproxy_bin is None:
            raise AssertionError("haproxy is not installed: run scripts/setup.sh")
        cls.workdir = tempfile.mkdtemp(prefix="telegate-e2e-haproxy-")
        cls.grafana = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GrafanaStandIn)
        cls.grafana_thread = threading.Thread(target=cls.grafana.serve_forever, daemon=True)
        cls.grafana_thread.start()
        cls.haproxy = None
        cls.t, cls.grpc_port, cls.http_port = e2e.start_telegate(cls.workdir)
        try:
            cls.front = harness.free_port()
            cfg = os.path.join(cls.workdir, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(HAPROXY_CFG.format(front=cls.front, otlp_http=cls.http_port,
                                           grafana=cls.grafana.server_address[1]))
            check = subprocess.run([cls.haproxy_bin, "-c", "-f", cfg], capture_output=True,
                                   text=True, timeout=30)
            if check.returncode != 0:
                raise AssertionError(f"haproxy -c failed:\n{check.stdout}{check.stderr}")
            cls.haproxy_log = open(os.path.join(cls.workdir, "haproxy.log"), "w+")
            cls.haproxy = subprocess.Popen([cls.haproxy_bin, "-f", cfg, "-db"],
                                           stdout=cls.haproxy_log, stderr=subprocess.STDOUT)
            if not harness.wait_for(lambda: cls.haproxy.poll() is not None
                                    or e2e.port_open(cls.front), timeout=15):
                raise AssertionError("haproxy did not listen:\n" + cls.haproxy_output())
            if cls.haproxy.poll() is not None:
                raise AssertionError(f"haproxy exited with {cls.haproxy.returncode}:\n"
                                     + cls.haproxy_output())
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def haproxy_output(cls):
        cls.haproxy_log.flush()
        cls.haproxy_log.seek(0)
        return cls.haproxy_log.read()

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.haproxy is not None and cls.haproxy.poll() is None:
                cls.haproxy.terminate()
                try:
                    cls.haproxy.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    cls.haproxy.kill()
                    cls.haproxy.wait(timeout=10)
            cls.grafana.shutdown()
            cls.grafana.server_close()
            cls.t.close()
        finally:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            shutil.rmtree(cls.t.storage, ignore_errors=True)

    def url(self, path):
        return f"http://127.0.0.1:{self.front}{path}"

    def find_log(self, message):
        return [(r, s, rec) for r, s, rec in e2e.flatten(self.t.storage, "logs")
                if (rec.get("body") or {}).get("stringValue") == message]

    def test_seed_curl_via_haproxy_with_token(self):
        message = f"Application log message via haproxy {uuid.uuid4().hex[:8]}"
        body, t_ns = e2e.seed_log_body(message)
        before = len(GrafanaStandIn.seen)
        status, ctype, text = e2e.curl(self.url("/observability/v1/logs"), body, token=e2e.TOKEN)
        self.assertEqual(status, 200, f"{text}\nhaproxy:\n{self.haproxy_output()}")
        self.assertIn("application/json", ctype)
        got = self.find_log(message)
        self.assertEqual(len(got), 1, f"record written {len(got)} times")
        r, _, rec = got[0]
        self.assertEqual(e2e.attr_map(r.get("attributes")).get("service.name"),
                         {"stringValue": "django-app"})
        self.assertEqual(rec.get("timeUnixNano"), str(t_ns))
        self.assertEqual(GrafanaStandIn.seen[before:], [], "an OTLP request reached Grafana")

    def test_seed_curl_via_haproxy_without_or_with_wrong_token(self):
        for label, token in (("no token", None), ("wrong token", "nope")):
            with self.subTest(label):
                message = f"Rejected via haproxy {uuid.uuid4().hex[:8]}"
                body, _ = e2e.seed_log_body(message)
                status, _, text = e2e.curl(self.url("/observability/v1/logs"), body, token=token)
                self.assertEqual(status, 401, f"{label}: {status} {text}")
                self.assertEqual(self.find_log(message), [], f"{label}: written")

    def test_grafana_routes(self):
        for path in ("/grafana", "/grafana/login", "/"):
            with self.subTest(path=path):
                before = len(GrafanaStandIn.seen)
                status, _, body = harness.http("GET", self.url(path))
                self.assertEqual((status, body), (200, "grafana"), path)
                self.assertEqual(GrafanaStandIn.seen[before:], [("GET", path)],
                                 "Grafana stand-in did not get the path unchanged")

    def test_sdk_through_haproxy(self):
        # The SDK's HTTP exporters with the ingress URL, as an application would use it.
        e2e.ensure_node_modules()
        for transport in ("http-protobuf", "http-json"):
            with self.subTest(transport=transport):
                run_id = f"haproxy-{transport}-{uuid.uuid4().hex[:8]}"
                rc, summary, err = e2e.send(transport, self.url("/observability"), e2e.TOKEN,
                                            run_id)
                self.assertIsNotNone(summary, f"no summary (rc {rc}):\n{err}")
                self.assertEqual(rc, 0, f"{transport} via haproxy failed:\n{err}")
                diffs, counts = e2e.compare_summary(summary, self.t.storage)
                self.assertEqual(diffs, [], f"{transport} via haproxy: {counts}\n"
                                            f"{e2e.format_diffs(diffs)}")


if __name__ == "__main__":
    harness.main()
