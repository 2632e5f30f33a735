"""The reference stack's pipeline (test/testdata/seed/config.alloy) end to end in the real binary,
against three fake backends that decode the real wire formats (test/integration/wire.py):

  OTLP/HTTP (bearer token) -> otelcol.receiver.otlp -> otelcol.processor.batch
     metrics -> otelcol.exporter.otlphttp "mimir" -> fake Mimir  POST /otlp/v1/metrics (gzip protobuf)
     logs    -> otelcol.exporter.loki -> loki.write -> fake Loki POST /loki/api/v1/push
                                                       (snappy protobuf logproto.PushRequest)
     traces  -> otelcol.exporter.otlphttp "tempo" (traces_endpoint) -> fake Tempo
                                                       POST /v1/traces (gzip protobuf)

Differences from the seed, on purpose:
  * Traces go through otelcol.exporter.otlphttp instead of the seed's otelcol.exporter.otlp:
    that exporter speaks OTLP/gRPC (HTTP/2), and a Python stdlib HTTP/2 server is out of scope.
    otelcol.exporter.otlp is covered by its C++ tests against a real gRPC server.
  * No discovery.kubernetes / prometheus.scrape / loki.source.kubernetes (no Kubernetes here).
  * Short timers (batch timeout 200ms, loki.write batch_wait and backoff) so the test is quick.

Everything listens on 127.0.0.1 free ports; every process and server is stopped in tearDown."""
import json
import os
import re
import tempfile
import time
import unittest

import fakes
import harness
from harness import Telegate, free_port, http, wait_for

TOKEN = "seed-test-token"


def decode_mimir(path, headers, body):
    assert path == "/otlp/v1/metrics", path
    assert headers.get("Content-Type") == "application/x-protobuf", headers.get("Content-Type")
    return fakes.otlp_metric_points(path, headers, body)


def decode_tempo(path, headers, body):
    assert path == "/v1/traces", path
    return fakes.otlp_spans(path, headers, body)


def decode_loki(path, headers, body):
    assert path == "/loki/api/v1/push", path
    assert headers.get("Content-Type") == "application/x-protobuf", headers.get("Content-Type")
    return fakes.loki_push(path, headers, body)


def config(grpc_port, http_port, mimir, loki, tempo):
    return f'''
logging {{
  level  = "info"
  format = "logfmt"
}}

loki.write "loki" {{
  endpoint {{
    url                = "http://127.0.0.1:{loki}/loki/api/v1/push"
    batch_wait         = "200ms"
    min_backoff_period = "200ms"
    max_backoff_period = "1s"
    max_backoff_retries = 0
  }}
}}

otelcol.auth.bearer "receiver_token" {{
  token = env("ALLOY_RECEIVER_TOKEN")
}}

otelcol.receiver.otlp "default" {{
  grpc {{
    endpoint = "127.0.0.1:{grpc_port}"
    auth = otelcol.auth.bearer.receiver_token.handler
  }}
  http {{
    endpoint = "127.0.0.1:{http_port}"
    auth = otelcol.auth.bearer.receiver_token.handler
  }}

  output {{
    metrics = [otelcol.processor.batch.default.input]
    logs    = [otelcol.processor.batch.default.input]
    traces  = [otelcol.processor.batch.default.input]
  }}
}}

otelcol.processor.batch "default" {{
  send_batch_size = 2000
  send_batch_max_size = 3000
  timeout = "200ms"

  output {{
    metrics = [otelcol.exporter.otlphttp.mimir.input]
    logs    = [otelcol.exporter.loki.default.input]
    traces  = [otelcol.exporter.otlphttp.tempo.input]
  }}
}}

otelcol.exporter.otlphttp "mimir" {{
  client {{
    endpoint = "http://127.0.0.1:{mimir}/otlp"
  }}
}}

otelcol.exporter.loki "default" {{
  forward_to = [loki.write.loki.receiver]
}}

otelcol.exporter.otlphttp "tempo" {{
  client {{
    endpoint = "http://127.0.0.1:{tempo}"
  }}
  traces_endpoint = "http://127.0.0.1:{tempo}/v1/traces"
}}
'''


def kv(k, v):
    return {"key": k, "value": {"stringValue": v}}


def logs_json(body):
    # The seed's curl example.
    return json.dumps({"resourceLogs": [{
        "resource": {"attributes": [kv("service.name", "django-app")]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": f"{time.time_ns()}",
            "body": {"stringValue": body}}]}]}]}).encode()


def metrics_json():
    ts = str(time.time_ns())
    return json.dumps({"resourceMetrics": [{
        "resource": {"attributes": [kv("service.name", "django-app")]},
        "scopeMetrics": [{"metrics": [
            {"name": "http_requests_total",
             "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                     "dataPoints": [
                         {"timeUnixNano": ts, "asInt": "42", "attributes": [kv("code", "200")]},
                         {"timeUnixNano": ts, "asInt": "3", "attributes": [kv("code", "500")]}]}},
            {"name": "process_memory_bytes",
             "gauge": {"dataPoints": [{"timeUnixNano": ts, "asDouble": 1048576.5}]}}]}]}]}).encode()


TRACE_ID = "5b8efff798038103d269b633813fc60c"


def traces_json():
    now = time.time_ns()
    spans = [{"traceId": TRACE_ID, "spanId": f"eee19b7ec3c1b17{i}", "name": f"GET /api/{i}",
              "kind": 2, "startTimeUnixNano": str(now - 1_000_000), "endTimeUnixNano": str(now)}
             for i in range(3)]
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [kv("service.name", "django-app")]},
        "scopeSpans": [{"spans": spans}]}]}).encode()


class SeedPipelineTest(unittest.TestCase):
    def setUp(self):
        self.mimir = fakes.FakeOtlpHttp(decode_mimir, name="mimir")
        self.loki = fakes.FakeLoki(decode_loki)
        self.tempo = fakes.FakeOtlpHttp(decode_tempo, name="tempo")
        self.http_port, grpc_port = free_port(), free_port()
        self.dir = tempfile.mkdtemp(prefix="telegate-seed-")
        path = os.path.join(self.dir, "config.alloy")
        with open(path, "w") as f:
            f.write(config(grpc_port, self.http_port, self.mimir.port, self.loki.port,
                           self.tempo.port))
        self.t = Telegate(path, env={"ALLOY_RECEIVER_TOKEN": TOKEN})
        try:
            self.t.wait_ready()
        except Exception:
            self.tearDown()
            raise

    def tearDown(self):
        try:
            self.t.close()
            self.t.log.close()
        finally:
            for b in (self.mimir, self.loki, self.tempo):
                b.close()

    def send(self, signal, body, token=TOKEN):
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return http("POST", f"http://127.0.0.1:{self.http_port}/v1/{signal}", body=body,
                    headers=headers)

    def loki_lines(self):
        return [(labels, line) for push in self.loki.snapshot() for labels, entries in push
                for _, line in entries]

    def diag(self):
        return (f"\nmimir={self.mimir.snapshot()} errors={self.mimir.errors}"
                f"\nloki={self.loki.snapshot()} errors={self.loki.errors}"
                f"\ntempo={self.tempo.snapshot()} errors={self.tempo.errors}"
                f"\ntelegate output:\n{self.t.output()[-4000:]}")

    def test_all_signals_reach_their_backends(self):
        # Without the token nothing gets in.
        self.assertEqual(self.send("logs", logs_json("nope"), token=None)[0], 401)
        self.assertEqual(self.send("logs", logs_json("nope"), token="wrong")[0], 401)

        self.assertEqual(self.send("logs", logs_json("Application log message"))[0], 200)
        self.assertEqual(self.send("metrics", metrics_json())[0], 200)
        self.assertEqual(self.send("traces", traces_json())[0], 200)

        # Loki: one stream labelled like Alloy's otelcol.exporter.loki does, JSON line with the body.
        self.assertTrue(wait_for(lambda: self.loki_lines(), timeout=15), self.diag())
        labels, line = self.loki_lines()[0]
        self.assertIn('service_name="django-app"', labels)
        self.assertIn('job="django-app"', labels)
        self.assertIn('exporter="OTLP"', labels)
        self.assertEqual(json.loads(line)["body"], "Application log message", line)
        self.assertFalse(any("nope" in l for _, l in self.loki_lines()))

        # Mimir: both metrics with their points.
        def mimir_points():
            merged = {}
            for req in self.mimir.snapshot():
                for name, pts in req.items():
                    merged.setdefault(name, []).extend(pts)
            return merged
        self.assertTrue(wait_for(lambda: "process_memory_bytes" in mimir_points(), timeout=15),
                        self.diag())
        pts = mimir_points()
        self.assertEqual(sorted(pts["http_requests_total"]), [3, 42])
        self.assertEqual(pts["process_memory_bytes"], [1048576.5])

        # Tempo: the three spans, ids intact.
        self.assertTrue(wait_for(lambda: sum(map(len, self.tempo.snapshot())) >= 3, timeout=15),
                        self.diag())
        spans = [s for req in self.tempo.snapshot() for s in req]
        self.assertEqual(len(spans), 3)
        self.assertEqual({s["trace_id"] for s in spans}, {TRACE_ID})
        self.assertEqual(sorted(s["name"] for s in spans), [f"GET /api/{i}" for i in range(3)])
        self.assertTrue(all(s["service"] == "django-app" for s in spans))

        for b in (self.mimir, self.loki, self.tempo):
            self.assertEqual(b.errors, [], b.name)

        # telegate's own metrics count what each exporter delivered. The logs path ends in
        # loki.write, which counts delivered entries in its own family (as Alloy's does).
        self.assertTrue(wait_for(
            lambda: self.metric("telegate_exporter_sent_items_total",
                                'component_id="otelcol.exporter.otlphttp.mimir",signal="metrics"')
            == 3, timeout=5), self.t.get("/metrics")[2])
        self.assertEqual(self.metric("telegate_exporter_sent_items_total",
                                     'component_id="otelcol.exporter.otlphttp.tempo",'
                                     'signal="traces"'), 3)
        self.assertEqual(self.metric("telegate_loki_write_sent_entries_total",
                                     'component_id="loki.write.loki"'), 1)

    def metric(self, name, labels):
        _, _, text = self.t.get("/metrics")
        m = re.search(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
        return float(m.group(1)) if m else None

    def test_loki_outage_is_retried(self):
        outage_end = time.time() + 3
        self.loki.status = lambda: 503 if time.time() < outage_end else 204
        self.assertEqual(self.send("logs", logs_json("sent during the outage"))[0], 200)
        self.assertTrue(wait_for(lambda: self.loki_lines(), timeout=20), self.diag())
        bodies = [json.loads(line)["body"] for _, line in self.loki_lines()]
        self.assertEqual(bodies, ["sent during the outage"], self.diag())
        statuses = [s for _, _, s in self.loki.hits]
        self.assertIn(503, statuses)
        self.assertEqual(statuses[-1], 204)
        self.assertGreaterEqual(self.loki.hits[-1][0], outage_end)
        self.assertGreaterEqual(self.metric("telegate_loki_write_batch_retries_total",
                                            'component_id="loki.write.loki"'), 1)
        self.assertEqual(self.metric("telegate_loki_write_sent_entries_total",
                                     'component_id="loki.write.loki"'), 1)


if __name__ == "__main__":
    harness.main()
