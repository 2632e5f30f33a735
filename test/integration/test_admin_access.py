"""The admin server's access control: the root `http` block (Alloy's auth { basic, filter }),
probes left open, /-/reload only on POST, refusals judged at the request head, and a reload
applying a changed http block."""
import base64
import os
import signal
import socket
import tempfile
import unittest

import harness
from harness import Telegate, wait_for

PIPELINE = """
otelcol.exporter.discard "d" { }
"""

AUTH = """
http {
  auth {
    basic {
      username = sys.env("ADMIN_USER")
      password = sys.env("ADMIN_PASSWORD")
    }
    filter {
      paths                       = ["/metrics"]
      authenticate_matching_paths = false
    }
  }
}
"""


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class AdminAccessTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="telegate-admin-")
        self.config = os.path.join(self.dir, "config.alloy")
        self.write(AUTH + PIPELINE)
        self.t = Telegate(self.config, env={"ADMIN_USER": "ops", "ADMIN_PASSWORD": "pa:ss"})
        self.t.wait_ready()
        self.good = basic("ops", "pa:ss")

    def tearDown(self):
        self.t.close()

    def write(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def test_probes_and_metrics_open_everything_else_needs_the_credential(self):
        self.assertEqual(self.t.get("/-/ready")[0], 200)
        self.assertEqual(self.t.get("/-/healthy")[0], 200)
        self.assertEqual(self.t.get("/metrics")[0], 200)
        for path in ("/api/v0/web/components", "/", "/api/v0/web/components/otelcol.exporter.discard.d"):
            status, headers, body = self.t.get(path)
            self.assertEqual(status, 401, path)
            self.assertEqual(headers.get("WWW-Authenticate"), 'Basic realm="telegate", charset="UTF-8"')
            self.assertNotIn("discard", body)
            self.assertEqual(self.t.get(path, headers=basic("ops", "wrong"))[0], 401, path)
            self.assertEqual(self.t.get(path, headers=self.good)[0], 200, path)
        status, _, metrics = self.t.get("/metrics")
        self.assertIn('telegate_admin_refused_requests_total{reason="unauthorized"} 6', metrics)

    def test_reload_only_on_post_with_the_credential(self):
        status, headers, _ = self.t.get("/-/reload", headers=self.good)
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("Allow"), "POST")
        self.assertEqual(self.t.post("/-/reload")[0], 401)
        self.assertNotIn("configuration reloaded", self.t.output())
        status, _, body = self.t.post("/-/reload", headers=self.good)
        self.assertEqual(status, 200, body)
        self.assertIn("configuration reloaded", self.t.output())

    def test_refused_before_the_body_is_read(self):
        # An unauthenticated reload announcing a body gets 401 instead of 100 Continue.
        with socket.create_connection(("127.0.0.1", self.t.port), timeout=5) as s:
            s.sendall(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Length: 1000\r\n\r\n")
            head = s.recv(4096).decode("latin-1")
            self.assertTrue(head.startswith("HTTP/1.1 401"), head)

    def test_reload_applies_a_changed_http_block(self):
        self.write(PIPELINE)
        self.t.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: self.t.get("/api/v0/web/components")[0] == 200))
        # Back again with a catch-all filter: "/" covers everything but the probes.
        self.write(AUTH.replace('["/metrics"]', '["/"]').replace("false", "true") + PIPELINE)
        status, _, body = self.t.post("/-/reload")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.t.get("/metrics")[0], 401)
        self.assertEqual(self.t.get("/-/ready")[0], 200)
        self.assertEqual(self.t.get("/-/healthy")[0], 200)

    def test_tls_block_is_refused_with_a_clear_error(self):
        self.write('http {\n  tls {\n    cert_file = "c.pem"\n    key_file = "k.pem"\n  }\n}\n' + PIPELINE)
        status, _, body = self.t.post("/-/reload", headers=self.good)
        self.assertEqual(status, 400)
        self.assertIn("restart telegate to apply it", body)
        # The running policy stays.
        self.assertEqual(self.t.get("/api/v0/web/components")[0], 401)


if __name__ == "__main__":
    harness.main()
