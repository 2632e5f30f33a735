"""Backpressure seen by real clients: when the exporter's queue is full (the backend is down),
OTLP/HTTP clients get 429 with Retry-After and OTLP/gRPC clients (@grpc/grpc-js) get
RESOURCE_EXHAUSTED with a google.rpc.RetryInfo in grpc-status-details-bin; nothing already
accepted is dropped silently (the queue keeps it, the drop counters stay at zero), and the
process keeps serving.

Run: python3 test/e2e/test_backpressure.py --binary build/dev/src/main/telegate --source-dir .
"""
import json
import os
import socket
import subprocess
import tempfile
import unittest

import e2e_common as e2e
import harness
from harness import Telegate, free_port, http

TOKEN = "bp-token"
BODY = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
    {"body": {"stringValue": "x"}}]}]}]}).encode()


class BackpressureTest(unittest.TestCase):
    def test_full_queue_refuses_with_retry_hints(self):
        e2e.ensure_node_modules()
        grpc_port, http_port = free_port(), free_port()
        # The backend's port stays bound (but not listening) for the whole test, so connections
        # to it are refused and no other process on the machine can start serving on it.
        dead = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        dead.bind(("127.0.0.1", 0))
        self.addCleanup(dead.close)
        dead_port = dead.getsockname()[1]
        path = os.path.join(tempfile.mkdtemp(), "config.alloy")
        with open(path, "w") as f:
            f.write(f'''
otelcol.auth.bearer "t" {{
  token = "{TOKEN}"
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
    logs = [otelcol.exporter.otlphttp.down.input]
  }}
}}

otelcol.exporter.otlphttp "down" {{
  client {{
    endpoint = "http://127.0.0.1:{dead_port}"
    timeout  = "1s"
  }}

  sending_queue {{
    queue_size    = 2
    num_consumers = 1
  }}

  retry_on_failure {{
    initial_interval = "5s"
    max_elapsed_time = "0s"
  }}
}}
''')
        t = Telegate(path)
        self.addCleanup(t.close)
        t.wait_ready()
        url = f"http://127.0.0.1:{http_port}/v1/logs"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
        statuses = []
        for _ in range(10):
            status, hdrs, _ = http("POST", url, body=BODY, headers=headers)
            statuses.append((status, hdrs.get("Retry-After")))
        self.assertIn(200, [s for s, _ in statuses])
        refused = [(s, ra) for s, ra in statuses if s != 200]
        self.assertTrue(refused, statuses)
        for s, ra in refused:
            self.assertEqual(s, 429, statuses)
            self.assertTrue(ra and int(ra) > 0, statuses)

        r = subprocess.run(["node", "grpc_probe.mjs", "--endpoint", f"127.0.0.1:{grpc_port}",
                            "--token", TOKEN, "--calls", "5"], cwd=e2e.OTEL_JS,
                           capture_output=True, text=True, timeout=60, env=e2e.client_env())
        self.assertEqual(r.returncode, 0, r.stderr)
        results = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        self.assertEqual(len(results), 5, r.stdout)
        for res in results:
            self.assertEqual(res["code"], 8, results)  # RESOURCE_EXHAUSTED
            self.assertTrue(res["details"], results)   # RetryInfo in grpc-status-details-bin

        # Still serving, and nothing accepted was dropped: the refused requests stayed with the
        # clients, the accepted ones are still queued.
        self.assertEqual(t.get("/-/ready")[0], 200)
        _, _, metrics = t.get("/metrics")
        for line in metrics.splitlines():
            if line.startswith("telegate_exporter_send_failed_items_total{"):
                self.assertEqual(float(line.rsplit(" ", 1)[1]), 0.0, line)


if __name__ == "__main__":
    harness.main()
