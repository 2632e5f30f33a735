"""A 2xx from the bundle's disk-queue gateway means the data is on disk: crash test.

The gateway's own configuration (deploy/kubernetes/gateway/config.alloy) runs in the real binary
with the environment of components/disk-queue (TELEGATE_QUEUE_STORAGE=disk, TELEGATE_LOKI_WAL=true,
read from its kustomization), so the pipeline is the bundle's:

  OTLP/HTTP (bearer token) -> otelcol.receiver.otlp -> otelcol.processor.batch (2000 / 1s)
     metrics -> otelcol.exporter.otlphttp "mimir" (sending_queue on disk) -> fake Mimir
     logs    -> otelcol.exporter.loki -> loki.write (WAL)                 -> fake Loki
     traces  -> otelcol.exporter.otlp "tempo" (sending_queue on disk)     -> "Tempo"

Only the listen addresses (loopback free ports instead of 0.0.0.0:4317/4318), the token file and
the backend URLs differ. The fakes decode the real wire formats (test/integration/wire.py: OTLP
protobuf, Loki snappy protobuf). "Tempo" is a second telegate process: a real OTLP/gRPC server
(otelcol.receiver.otlp) writing what it receives with otelcol.exporter.file.

ROUNDS times in a row: start telegate on the same --storage.path, send one metrics, one logs and
one traces request, and `kill -9` it the moment all three were answered 2xx. At the end telegate runs once more
and every acknowledged record must reach its backend (at least once). Before the batch processor
passed requests through to durable outputs, the data sat in its memory buffer for up to 1 s and
every round lost it."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

import fakes
import harness
from harness import free_port, http, wait_for
from test_seed_pipeline import decode_loki, decode_mimir, kv

TOKEN = "durable-ack-token"
ROUNDS = 20

TEMPO_CONFIG = """
otelcol.receiver.otlp "tempo" {{
  grpc {{
    endpoint = "127.0.0.1:{port}"
  }}
  output {{
    traces = [otelcol.exporter.file.spans.input]
  }}
}}

otelcol.exporter.file "spans" {{
  directory = "{directory}"
}}
"""


def bundle_env(source_dir):
    """The telegate-env literals of the gateway, merged with components/disk-queue's."""
    env = {}
    for rel in ("deploy/kubernetes/gateway/kustomization.yaml",
                "deploy/kubernetes/components/disk-queue/kustomization.yaml"):
        with open(os.path.join(source_dir, rel)) as f:
            for m in re.finditer(r"^\s*-\s*(TELEGATE_[A-Z_]+)=(\S+)\s*$", f.read(), re.M):
                env[m.group(1)] = m.group(2)
    return env


def bundle_config(source_dir, http_port, grpc_port, token_file):
    with open(os.path.join(source_dir, "deploy/kubernetes/gateway/config.alloy")) as f:
        text = f.read()
    for old, new in (('"0.0.0.0:4317"', f'"127.0.0.1:{grpc_port}"'),
                     ('"0.0.0.0:4318"', f'"127.0.0.1:{http_port}"'),
                     ('"/etc/telegate/tokens/tokens"', f'"{token_file}"')):
        assert old in text, old
        text = text.replace(old, new)
    return text


def metrics_request(n):
    return json.dumps({"resourceMetrics": [{
        "resource": {"attributes": [kv("service.name", "crash")]},
        "scopeMetrics": [{"metrics": [{
            "name": f"crash_round_{n}",
            "gauge": {"dataPoints": [{"timeUnixNano": str(time.time_ns()), "asDouble": n}]}}]}]}]}
    ).encode()


def traces_request(n):
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [kv("service.name", "crash")]},
        "scopeSpans": [{"spans": [{
            "traceId": f"{n + 1:032x}", "spanId": f"{n + 1:016x}", "name": f"crash-span-{n}",
            "kind": 2, "startTimeUnixNano": str(time.time_ns()),
            "endTimeUnixNano": str(time.time_ns())}]}]}]}).encode()


def logs_request(n):
    return json.dumps({"resourceLogs": [{
        "resource": {"attributes": [kv("service.name", "crash")]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": str(time.time_ns()), "body": {"stringValue": f"crash-{n}"}}]}]}]}
    ).encode()


class DurableAckCrashTest(unittest.TestCase):
    def setUp(self):
        self.mimir = fakes.HttpBackend(decode_mimir, name="mimir")
        self.loki = fakes.HttpBackend(decode_loki, name="loki")
        for b in (self.mimir, self.loki):  # telegate is killed with connections open: no traces
            b.server.handle_error = lambda *a: None
        self.dir = tempfile.mkdtemp(prefix="telegate-durable-")
        self.storage = os.path.join(self.dir, "data")
        self.http_port, grpc_port, tempo_port = free_port(), free_port(), free_port()
        self.tempo_dir = os.path.join(self.dir, "tempo-spans")
        tempo_config = os.path.join(self.dir, "tempo.alloy")
        with open(tempo_config, "w") as f:
            f.write(TEMPO_CONFIG.format(port=tempo_port, directory=self.tempo_dir))
        self.tempo = harness.Telegate(tempo_config, storage=os.path.join(self.dir, "tempo-data"))
        self.tempo.wait_ready()
        token_file = os.path.join(self.dir, "tokens")
        with open(token_file, "w") as f:
            f.write(f"{TOKEN} tenant=team-a\n")
        self.config = os.path.join(self.dir, "config.alloy")
        with open(self.config, "w") as f:
            f.write(bundle_config(harness.ARGS.source_dir, self.http_port, grpc_port, token_file))
        self.env = dict(os.environ)
        self.env.update(bundle_env(harness.ARGS.source_dir))
        self.env.update({
            "TELEGATE_MIMIR_OTLP_URL": f"http://127.0.0.1:{self.mimir.port}/otlp",
            "TELEGATE_LOKI_PUSH_URL": f"http://127.0.0.1:{self.loki.port}/loki/api/v1/push",
            "TELEGATE_TEMPO_OTLP_GRPC": f"127.0.0.1:{tempo_port}",
        })
        self.assertEqual(self.env.get("TELEGATE_QUEUE_STORAGE"), "disk")
        self.assertEqual(self.env.get("TELEGATE_LOKI_WAL"), "true")
        self.proc = None
        self.log = tempfile.TemporaryFile(mode="w+")

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.tempo.close()
        self.mimir.close()
        self.loki.close()

    def start(self):
        admin = free_port()
        self.proc = subprocess.Popen(
            [harness.ARGS.binary, "run", self.config,
             f"--server.http.listen-addr=127.0.0.1:{admin}", f"--storage.path={self.storage}"],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"telegate exited:\n{self.output()}")
            try:
                return self.send("metrics", b'{"resourceMetrics":[]}')[0] == 200
            except OSError:
                return False
        self.assertTrue(wait_for(up, timeout=20, interval=0.02), self.output())

    def output(self):
        self.log.seek(0)
        return self.log.read()[-6000:]

    def send(self, signal_name, body):
        return http("POST", f"http://127.0.0.1:{self.http_port}/v1/{signal_name}", body=body,
                    headers={"Content-Type": "application/json",
                             "Authorization": f"Bearer {TOKEN}"}, timeout=10)

    def delivered_metrics(self):
        names = set()
        for points in self.mimir.snapshot():
            names.update(points)
        return names

    def delivered_logs(self):
        # otelcol.exporter.loki writes each record as a JSON line with its body.
        return {json.loads(line)["body"] for push in self.loki.snapshot() for _, entries in push
                for _, line in entries}

    def delivered_spans(self):
        names = set()
        path = os.path.join(self.tempo_dir, "traces.jsonl")
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    for rs in json.loads(line).get("resourceSpans", []):
                        for ss in rs.get("scopeSpans", []):
                            names.update(sp.get("name") for sp in ss.get("spans", []))
        return names

    def test_acknowledged_data_survives_kill_9(self):
        started = time.time()
        acked_metrics, acked_logs, acked_spans = set(), set(), set()
        for n in range(ROUNDS):
            self.start()
            status, _, body = self.send("metrics", metrics_request(n))
            if status == 200:
                acked_metrics.add(f"crash_round_{n}")
            status_logs, _, body_logs = self.send("logs", logs_request(n))
            if status_logs == 200:
                acked_logs.add(f"crash-{n}")
            status_traces, _, body_traces = self.send("traces", traces_request(n))
            if status_traces == 200:
                acked_spans.add(f"crash-span-{n}")
            self.proc.send_signal(signal.SIGKILL)  # at once, no flush of anything
            self.proc.wait()
            self.assertEqual(status, 200, body + self.output())
            self.assertEqual(status_logs, 200, body_logs + self.output())
            self.assertEqual(status_traces, 200, body_traces + self.output())
        self.assertLess(time.time() - started, 120)

        self.start()  # what is on disk is sent now
        ok = wait_for(lambda: acked_metrics <= self.delivered_metrics()
                      and acked_logs <= self.delivered_logs()
                      and acked_spans <= self.delivered_spans(), timeout=30, interval=0.1)
        missing_m = sorted(acked_metrics - self.delivered_metrics())
        missing_l = sorted(acked_logs - self.delivered_logs())
        missing_t = sorted(acked_spans - self.delivered_spans())
        self.assertTrue(ok, f"acknowledged but lost: metrics {missing_m}, logs {missing_l}, "
                            f"spans {missing_t}\n"
                            f"mimir errors={self.mimir.errors} loki errors={self.loki.errors}\n"
                            f"{self.output()}")
        self.assertEqual(self.mimir.errors, [])
        self.assertEqual(self.loki.errors, [])
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=30), 0, self.output())


if __name__ == "__main__":
    harness.main()
