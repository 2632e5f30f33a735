"""otelcol.receiver.otlp in the real binary: token rotation through a token file while a client
keeps sending, and bad input answered correctly while the process keeps serving."""
import gzip
import json
import os
import socket
import tempfile
import threading
import time
import unittest
import zlib

import harness
from harness import Telegate, free_port, http, wait_for

LOG_JSON = json.dumps({"resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "django-app"}}]},
    "scopeLogs": [{"logRecords": [{"timeUnixNano": "1700000000000000000",
                                   "body": {"stringValue": "Application log message"}}]}]}]}).encode()


def config(http_port, grpc_port, auth_block):
    return f'''
otelcol.auth.bearer "t" {{
{auth_block}
}}

otelcol.receiver.otlp "default" {{
  grpc {{
    endpoint = "127.0.0.1:{grpc_port}"
    auth     = otelcol.auth.bearer.t.handler
  }}

  http {{
    endpoint = "127.0.0.1:{http_port}"
    auth     = otelcol.auth.bearer.t.handler
  }}

  output {{
    logs    = [otelcol.exporter.file.out.input]
    metrics = [otelcol.exporter.file.out.input]
    traces  = [otelcol.exporter.file.out.input]
  }}
}}

otelcol.exporter.file "out" {{ }}
'''


class ReceiverBase(unittest.TestCase):
    auth_block = '  token = "good-token"'

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.http_port, self.grpc_port = free_port(), free_port()
        self.prepare()
        path = os.path.join(self.dir, "config.alloy")
        with open(path, "w") as f:
            f.write(config(self.http_port, self.grpc_port, self.auth_block))
        self.t = Telegate(path)
        self.t.wait_ready()
        self.url = f"http://127.0.0.1:{self.http_port}"

    def prepare(self):
        pass

    def tearDown(self):
        self.t.close()

    def post(self, path, body, token="good-token", ctype="application/json", extra=None):
        headers = {"Content-Type": ctype}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra or {})
        return http("POST", self.url + path, body=body, headers=headers)

    def logs_file(self):
        return os.path.join(self.t.storage, "otelcol.exporter.file.out", "logs.jsonl")


class TokenRotationTest(ReceiverBase):
    def prepare(self):
        self.token_file = os.path.join(self.dir, "tokens")
        with open(self.token_file, "w") as f:
            f.write("old-token tenant=team-a\n")
        self.auth_block = (f'  token_file = "{self.token_file}"\n'
                           '  token_file_refresh_interval = "100ms"')

    def test_rotation_without_restart_or_failed_requests(self):
        self.assertEqual(self.post("/v1/logs", LOG_JSON, token="old-token")[0], 200)
        self.assertEqual(self.post("/v1/logs", LOG_JSON, token="new-token")[0], 401)
        results = []
        stop = threading.Event()

        def client(token):
            while not stop.is_set():
                sent = time.time()
                status = self.post("/v1/logs", LOG_JSON, token=token)[0]
                results.append((sent, time.time(), token, status))
                time.sleep(0.01)

        threads = [threading.Thread(target=client, args=(t,)) for t in ("old-token", "new-token")]
        for th in threads:
            th.start()
        time.sleep(0.3)
        # Kubernetes updates a mounted Secret by swapping a symlinked directory; an atomic
        # rename gives the same effect here.
        tmp = self.token_file + ".new"
        with open(tmp, "w") as f:
            f.write("new-token tenant=team-b\n")
        os.replace(tmp, self.token_file)
        self.assertTrue(wait_for(lambda: any(t == "new-token" and s == 200
                                             for _, _, t, s in results), timeout=10))
        # The first answer that accepted the new token; requests sent after it must see the new
        # credential set (requests already in flight may still have been judged by the old one).
        switched = min(done for _, done, t, s in results if t == "new-token" and s == 200)
        time.sleep(0.5)
        stop.set()
        for th in threads:
            th.join(10)
        after = [(t, s) for sent, _, t, s in results if sent > switched]
        self.assertTrue(after)
        self.assertTrue(all(s == 200 for t, s in after if t == "new-token"), after)
        self.assertTrue(all(s == 401 for t, s in after if t == "old-token"), after)
        # The process was never restarted, and tenants were counted per credential.
        _, _, metrics = self.t.get("/metrics")
        self.assertIn('tenant="team-a"', metrics)
        self.assertIn('tenant="team-b"', metrics)

    def test_missing_file_fails_closed(self):
        os.remove(self.token_file)
        self.assertTrue(wait_for(lambda: self.post("/v1/logs", LOG_JSON, token="old-token")[0] == 401))
        status, _, body = self.t.get("/-/healthy")
        self.assertEqual(status, 500)
        self.assertIn("otelcol.auth.bearer.t: token_file", body)


class BadInputTest(ReceiverBase):
    def assert_still_serving(self):
        self.assertEqual(self.post("/v1/logs", LOG_JSON)[0], 200)

    def test_seed_curl_example_both_paths(self):
        for path in ("/v1/logs", "/observability/v1/logs"):
            self.assertEqual(self.post(path, LOG_JSON)[0], 200, path)
            status, _, body = self.post(path, LOG_JSON, token=None)
            self.assertEqual(status, 401, path)
            status, _, body = self.post(path, LOG_JSON, token="wrong-token-value")
            self.assertEqual(status, 401, path)
            self.assertNotIn("wrong-token-value", body)
            self.assertEqual(json.loads(body)["code"], 16)

    def test_malformed_bodies(self):
        status, _, body = self.post("/v1/logs", b"\x0a\xff\xff\xff", ctype="application/x-protobuf")
        self.assertEqual(status, 400)
        status, _, body = self.post("/v1/logs", b"{not json")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["code"], 3)
        self.assertEqual(self.post("/v1/logs", LOG_JSON, ctype="text/plain")[0], 415)
        self.assertEqual(self.post("/v1/nope", LOG_JSON)[0], 404)
        self.assert_still_serving()

    def test_compression_and_limits(self):
        self.assertEqual(self.post("/v1/logs", gzip.compress(LOG_JSON),
                                   extra={"Content-Encoding": "gzip"})[0], 200)
        self.assertEqual(self.post("/v1/logs", zlib.compress(LOG_JSON),
                                   extra={"Content-Encoding": "deflate"})[0], 200)
        self.assertEqual(self.post("/v1/logs", LOG_JSON, extra={"Content-Encoding": "br"})[0], 400)
        # A gzip bomb: 1 GiB of zeros compresses to about 1 MiB.
        bomb = gzip.compress(b"\0" * (1 << 30), compresslevel=9)
        start = time.time()
        status = self.post("/v1/logs", bomb, extra={"Content-Encoding": "gzip"})[0]
        self.assertEqual(status, 413)
        self.assertLess(time.time() - start, 20)
        # A body over the 20 MiB limit is refused from its declared length, before it is read.
        with socket.create_connection(("127.0.0.1", self.http_port), timeout=10) as s:
            s.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good-token\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (21 << 20))
            s.sendall(b" " * 65536)
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 413"))
        with open(f"/proc/{self.t.proc.pid}/status") as f:
            rss_kb = next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))
        self.assertLess(rss_kb, 400 * 1024, "peak RSS grew past the limits")
        self.assert_still_serving()

    def test_slow_client_does_not_block_others(self):
        slow = socket.create_connection(("127.0.0.1", self.http_port))
        slow.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Le")
        try:
            start = time.time()
            for _ in range(5):
                self.assert_still_serving()
            self.assertLess(time.time() - start, 5)
        finally:
            slow.close()

    def test_data_arrives(self):
        self.assertEqual(self.post("/v1/logs", LOG_JSON)[0], 200)
        with open(self.logs_file()) as f:
            line = json.loads(f.readline())
        rec = line["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
        self.assertEqual(rec["body"]["stringValue"], "Application log message")
        self.assertEqual(rec["timeUnixNano"], "1700000000000000000")


if __name__ == "__main__":
    harness.main()
