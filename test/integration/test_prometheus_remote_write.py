"""End to end with the real Prometheus (Debian's prometheus package): OTLP/HTTP metrics ->
otelcol.receiver.otlp -> otelcol.exporter.prometheus -> prometheus.remote_write -> Prometheus'
remote-write receiver; the series are then read back with Prometheus' query API.

Prometheus runs on a free loopback port with its own temporary TSDB and no scrape jobs; a system
Prometheus service (port 9090) is neither used nor disturbed."""
import json
import os
import shutil
import tempfile
import time
import unittest

import harness
from fakes import Prometheus  # also imported from here by test/e2e/test_prometheus_sdk.py
from harness import Telegate, free_port, http, wait_for

TOKEN = "e2e-token"


def config(otlp_port, prom_port):
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
    metrics = [otelcol.exporter.prometheus.default.input]
  }}
}}

otelcol.exporter.prometheus "default" {{
  forward_to = [prometheus.remote_write.prom.receiver]
}}

prometheus.remote_write "prom" {{
  external_labels = {{ cluster = "e2e" }}

  endpoint {{
    url = "http://127.0.0.1:{prom_port}/api/v1/write"

    queue_config {{
      batch_send_deadline = "1s"
      min_backoff         = "50ms"
      max_backoff         = "1s"
    }}
  }}
}}
'''


def kv(k, v):
    return {"key": k, "value": {"stringValue": v}}


def metrics_json(now_ns):
    ts = str(now_ns)
    return json.dumps({"resourceMetrics": [{
        "resource": {"attributes": [kv("service.name", "e2e-svc"),
                                    kv("service.instance.id", "inst-1"),
                                    kv("host.name", "e2e-host")]},
        "scopeMetrics": [{
            "scope": {"name": "e2e-scope", "version": "0.1"},
            "metrics": [
                {"name": "http_requests", "unit": "{request}",
                 "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                         "dataPoints": [{"timeUnixNano": ts, "asInt": "42",
                                         "attributes": [kv("http.method", "GET")]}]}},
                {"name": "process.memory.usage", "unit": "By",
                 "gauge": {"dataPoints": [{"timeUnixNano": ts, "asDouble": 1048576}]}},
                {"name": "http.server.duration", "unit": "s",
                 "histogram": {"aggregationTemporality": 2,
                               "dataPoints": [{"timeUnixNano": ts, "count": "6", "sum": 4.5,
                                               "bucketCounts": ["1", "2", "3"],
                                               "explicitBounds": [0.1, 1]}]}},
            ]}]}]}).encode()


class PrometheusRemoteWriteTest(unittest.TestCase):
    def setUp(self):
        self.prom = None
        self.otlp_port = free_port()

    def start_prometheus(self, port=None):
        self.prom = Prometheus(port)
        self.addCleanup(self.prom.close)
        self.prom.wait_ready()

    def start_telegate(self, prom_port):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "config.alloy")
        with open(path, "w") as f:
            f.write(config(self.otlp_port, prom_port))
        self.t = Telegate(path)
        self.addCleanup(self.t.close)
        self.t.wait_ready()

    def send(self):
        status, _, body = http(
            "POST", f"http://127.0.0.1:{self.otlp_port}/v1/metrics",
            body=metrics_json(time.time_ns()),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 200, body)

    def wait_series(self, q, n=1, timeout=30):
        found = []

        def check():
            found[:] = self.prom.query(q)
            return len(found) >= n
        ok = wait_for(check, timeout=timeout, interval=0.25)
        self.assertTrue(ok, f"{q} not in Prometheus: {found}\ntelegate:\n{self.t.output()}\n"
                            f"prometheus:\n{self.prom.output()}")
        return found

    def test_otlp_metrics_reach_prometheus(self):
        self.start_prometheus()
        self.start_telegate(self.prom.port)
        self.send()
        counter = self.wait_series('http_requests_total{job="e2e-svc"}')
        self.assertEqual(len(counter), 1)
        m = counter[0]["metric"]
        self.assertEqual(m["instance"], "inst-1")
        self.assertEqual(m["http_method"], "GET")
        self.assertEqual(m["otel_scope_name"], "e2e-scope")
        self.assertEqual(m["otel_scope_version"], "0.1")
        self.assertEqual(m["cluster"], "e2e")  # external_labels
        self.assertEqual(float(counter[0]["value"][1]), 42)

        gauge = self.wait_series('process_memory_usage_bytes{job="e2e-svc"}')
        self.assertEqual(float(gauge[0]["value"][1]), 1048576)

        buckets = self.wait_series('http_server_duration_seconds_bucket{job="e2e-svc"}', n=3)
        by_le = {b["metric"]["le"]: float(b["value"][1]) for b in buckets}
        self.assertEqual(by_le, {"0.1": 1, "1": 3, "+Inf": 6})
        count = self.wait_series('http_server_duration_seconds_count{job="e2e-svc"}')
        self.assertEqual(float(count[0]["value"][1]), 6)
        total = self.wait_series('http_server_duration_seconds_sum{job="e2e-svc"}')
        self.assertEqual(float(total[0]["value"][1]), 4.5)

        info = self.wait_series('target_info{job="e2e-svc"}')
        self.assertEqual(info[0]["metric"]["host_name"], "e2e-host")
        self.assertEqual(info[0]["metric"]["instance"], "inst-1")

        # The exporter and the queue account for what they did.
        status, _, text = self.t.get("/metrics")
        self.assertEqual(status, 200)
        sent = [l for l in text.splitlines()
                if l.startswith("telegate_remote_write_sent_samples_total{")]
        self.assertTrue(sent and float(sent[0].split()[-1]) >= 8, sent)
        self.assertNotIn("telegate_remote_write_dropped_samples_total{", text)

    def test_samples_wait_for_prometheus_to_come_up(self):
        # Prometheus is not running yet: the request is accepted (queued) and retried on
        # connection errors until Prometheus starts on that port.
        port = free_port()
        self.start_telegate(port)
        self.send()
        time.sleep(1.5)
        self.start_prometheus(port)
        counter = self.wait_series('http_requests_total{job="e2e-svc"}')
        self.assertEqual(float(counter[0]["value"][1]), 42)
        status, _, text = self.t.get("/metrics")
        failed = [l for l in text.splitlines()
                  if l.startswith("telegate_remote_write_failed_requests_total{")]
        self.assertTrue(failed and float(failed[0].split()[-1]) >= 1, failed)


if __name__ == "__main__":
    harness.main()
