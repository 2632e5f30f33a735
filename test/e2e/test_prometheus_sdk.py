"""End to end with two real peers: the OpenTelemetry JS SDK's OTLP/HTTP metrics exporter sends
to telegate (bearer auth), which converts OTLP metrics to Prometheus series
(otelcol.exporter.prometheus) and remote-writes them (prometheus.remote_write) into a real
Prometheus from Debian started with --web.enable-remote-write-receiver. The series are then
found through Prometheus's query API with the expected names, labels and values.

Run: python3 test/e2e/test_prometheus_sdk.py --binary build/dev/src/main/telegate --source-dir .
"""
import os
import sys
import tempfile
import unittest
import uuid

import e2e_common as e2e
import harness
from harness import Telegate, free_port, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from test_prometheus_remote_write import Prometheus  # noqa: E402

TOKEN = "e2e-prom-token"


def config(http_port, prom_port):
    return f'''
otelcol.auth.bearer "in" {{
  token = "{TOKEN}"
}}

otelcol.receiver.otlp "default" {{
  http {{
    endpoint = "127.0.0.1:{http_port}"
    auth     = otelcol.auth.bearer.in.handler
  }}

  output {{
    metrics = [otelcol.processor.batch.default.input]
    logs    = [otelcol.exporter.discard.rest.input]
    traces  = [otelcol.exporter.discard.rest.input]
  }}
}}

otelcol.exporter.discard "rest" {{ }}

otelcol.processor.batch "default" {{
  timeout = "200ms"

  output {{
    metrics = [otelcol.exporter.prometheus.default.input]
  }}
}}

otelcol.exporter.prometheus "default" {{
  forward_to = [prometheus.remote_write.prom.receiver]
}}

prometheus.remote_write "prom" {{
  endpoint {{
    url = "http://127.0.0.1:{prom_port}/api/v1/write"

    queue_config {{
      batch_send_deadline = "500ms"
    }}
  }}
}}
'''


class PrometheusSdkTest(unittest.TestCase):
    def test_sdk_metrics_reach_prometheus(self):
        e2e.ensure_node_modules()
        prom = Prometheus()
        self.addCleanup(prom.close)
        prom.wait_ready()
        workdir = tempfile.mkdtemp(prefix="telegate-e2e-prom-")
        http_port = free_port()
        path = os.path.join(workdir, "config.alloy")
        with open(path, "w") as f:
            f.write(config(http_port, prom.port))
        t = Telegate(path)
        self.addCleanup(t.close)
        t.wait_ready()

        run_id = uuid.uuid4().hex[:12]
        rc, summary, err = e2e.send("http-protobuf", f"http://127.0.0.1:{http_port}", TOKEN,
                                    run_id, count=2)
        self.assertEqual(rc, 0, err)
        sel = f'e2e_run_id="{run_id}"'

        def values(query):
            return {r["metric"].get("route"): float(r["value"][1]) for r in prom.query(query)}

        # Monotonic cumulative sum with unit {request}: the annotation is dropped, _total added.
        self.assertTrue(wait_for(lambda: len(values(f"e2e_requests_total{{{sel}}}")) == 2,
                                 timeout=30, interval=0.5), t.output()[-3000:])
        self.assertEqual(values(f"e2e_requests_total{{{sel}}}"), {"/a": 7.0, "/b": 11.0})
        # Non-monotonic sum: a gauge without _total.
        self.assertEqual(values(f"e2e_inflight{{{sel}}}"), {"/a": 7.0, "/b": -4.0})
        # Histogram in ms: _milliseconds suffix, classic buckets, count and sum.
        self.assertEqual(values(f"e2e_latency_milliseconds_count{{{sel}}}"),
                         {"/a": 6.0, "/b": 1.0})
        buckets = {r["metric"]["le"]: float(r["value"][1]) for r in
                   prom.query(f'e2e_latency_milliseconds_bucket{{{sel},route="/a"}}')}
        self.assertEqual(buckets, {"1": 1.0, "5": 3.0, "10": 4.0, "50": 5.0, "+Inf": 6.0})
        # The gauge is there under its converted name, with the SDK's values.
        gauge = prom.query(f'{{__name__=~"e2e_temperature.*",{sel}}}')
        self.assertEqual(sorted(float(r["value"][1]) for r in gauge), [-3.75, 21.5])
        # job comes from service.name; resource attributes land on target_info.
        series = prom.query(f"e2e_requests_total{{{sel}}}")
        self.assertEqual({r["metric"]["job"] for r in series}, {"e2e-http-protobuf"})
        self.assertTrue(prom.query('target_info{job="e2e-http-protobuf"}'))


if __name__ == "__main__":
    harness.main()
