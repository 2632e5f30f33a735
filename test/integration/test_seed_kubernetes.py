"""The seed's whole config.alloy (test/testdata/seed/config.alloy) in the real binary, inside a
pretend cluster:

  fake API server (test/integration/fake_k8s.py, TLS, bearer token) reached through
  KUBERNETES_SERVICE_HOST/PORT and a service-account directory (TELEGATE_K8S_SA_DIR)
    discovery.kubernetes "pods" -> prometheus.scrape -> prometheus.remote_write -> REAL Prometheus
                                -> loki.source.kubernetes -> loki.write -> fake Loki

The pods of the fake cluster run on 127.0.0.1: one serves Prometheus metrics on its container
port, and every container's log is served by the fake's pods/log endpoint.

Changes to the seed text, all for the test environment only: backend URLs and OTLP listen
addresses point at loopback ports, prometheus.scrape gets scrape_interval = "1s" (the default 60s
would make the test slow), and loki.write gets batch_wait = "200ms". Everything is stopped in
tearDown."""
import os
import socket
import shutil
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fake_k8s
import fakes
import harness
from harness import Telegate, free_port, wait_for
from test_prometheus_remote_write import Prometheus
from test_seed_pipeline import decode_loki

TOKEN = "seed-k8s-otlp-token"
SA_TOKEN = "sa-token-1"


class MetricsApp:
    """A pod's metrics endpoint: GET /metrics in the Prometheus text format."""

    def __init__(self):
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path != "/metrics":
                    self.send_response(404)
                    self.end_headers()
                    return
                body = (b"# HELP shop_orders_total Orders placed.\n"
                        b"# TYPE shop_orders_total counter\n"
                        b'shop_orders_total{method="card"} 42\n'
                        b"# TYPE shop_queue_depth gauge\nshop_queue_depth 7\n")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def pod(name, uid, containers):
    """A running pod on 127.0.0.1, shaped like the API server's Pod JSON."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "uid": uid,
                     "labels": {"app": "web"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": "web-5d9c", "uid": "rs-1", "controller": True}]},
        "spec": {"nodeName": "node-1", "restartPolicy": "Always",
                 "containers": [{"name": c, "image": "shop/%s:1.0" % c,
                                 "ports": [{"containerPort": p, "protocol": "TCP", "name": "http"}]
                                 if p else []} for c, p in containers]},
        "status": {"phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": c, "ready": True, "restartCount": 0,
                                          "containerID": "containerd://%s-%s" % (name, c),
                                          "state": {"running": {"startedAt": "2026-11-24T00:00:00Z"}}}
                                         for c, _ in containers]},
    }


class SeedKubernetesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="telegate-seed-k8s-")
        cert, key = fake_k8s.make_tls(self.tmp)
        self.k8s = fake_k8s.FakeK8s(tokens=(SA_TOKEN,), tls=(cert, key), log_interval=0.2)
        self.k8s.start()
        self.sa = os.path.join(self.tmp, "serviceaccount")
        os.makedirs(self.sa)
        shutil.copy(cert, os.path.join(self.sa, "ca.crt"))
        with open(os.path.join(self.sa, "token"), "w") as f:
            f.write(SA_TOKEN)
        with open(os.path.join(self.sa, "namespace"), "w") as f:
            f.write("monitoring")
        self.app = MetricsApp()
        self.loki = fakes.HttpBackend(decode_loki, name="loki")
        self.prom = Prometheus()
        self.prom.wait_ready()
        self.t = None

    def tearDown(self):
        if self.t:
            self.t.close()
        for c in (self.app, self.loki, self.prom):
            c.close()
        self.k8s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def seed_config(self):
        with open(os.path.join(harness.ARGS.source_dir, "test/testdata/seed/config.alloy")) as f:
            text = f.read()
        subs = [
            ('"http://mimir-service.monitoring.svc.cluster.local:8080/api/v1/push"',
             '"http://127.0.0.1:%d/api/v1/write"' % self.prom.port),
            ('"http://loki-service.monitoring.svc.cluster.local:3100/loki/api/v1/push"',
             '"http://127.0.0.1:%d/loki/api/v1/push"\n    batch_wait = "200ms"' % self.loki.port),
            ('"0.0.0.0:4317"', '"127.0.0.1:%d"' % free_port()),
            ('"0.0.0.0:4318"', '"127.0.0.1:%d"' % free_port()),
            ('"http://mimir-service.monitoring.svc.cluster.local:8080"',
             '"http://127.0.0.1:%d"' % free_port()),
            ('"http://tempo-service.monitoring.svc.cluster.local:4317"',
             '"127.0.0.1:%d"' % free_port()),
            ('prometheus.scrape "default" {',
             'prometheus.scrape "default" {\n  scrape_interval = "1s"\n  scrape_timeout = "1s"'),
        ]
        for old, new in subs:
            self.assertIn(old, text)
            text = text.replace(old, new)
        path = os.path.join(self.tmp, "config.alloy")
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self):
        env = {"ALLOY_RECEIVER_TOKEN": TOKEN, "KUBERNETES_SERVICE_HOST": "127.0.0.1",
               "KUBERNETES_SERVICE_PORT": str(self.k8s.port), "TELEGATE_K8S_SA_DIR": self.sa}
        env.update(fake_k8s_env())
        self.t = Telegate(self.seed_config(), env=env)
        self.t.wait_ready()

    def log_lines(self):
        out = []
        for push in self.loki.snapshot():
            for labels, entries in push:
                for _, line in entries:
                    out.append((labels, line))
        return out

    def diag(self):
        return "telegate:\n%s\nk8s stats: %r\nloki errors: %r" % (
            self.t.output() if self.t else "", self.k8s.stats(), self.loki.errors)

    def test_pod_metrics_and_logs_arrive(self):
        self.k8s.put("pods", pod("web-1", "uid-web-1", [("app", self.app.port), ("sidecar", None)]))
        self.start()

        # Metrics: scraped from the pod's port, remote-written into Prometheus with the labels
        # Alloy gives raw pod targets: job = the component ID, instance = the pod address.
        instance = "127.0.0.1:%d" % self.app.port
        want = 'shop_orders_total{job="prometheus.scrape.default",instance="%s",method="card"}' % instance

        def has_metrics():
            r = self.prom.query(want)
            return r and float(r[0]["value"][1]) == 42
        self.assertTrue(wait_for(has_metrics, timeout=40, interval=0.5), self.diag())
        up = self.prom.query('up{job="prometheus.scrape.default",instance="%s"}' % instance)
        self.assertEqual(float(up[0]["value"][1]), 1.0, self.diag())

        # Logs: both containers' logs through pods/log, labelled as Alloy labels raw targets.
        def has_logs():
            labels = {l for l, _ in self.log_lines()}
            return ('{instance="shop/web-1:app", job="loki.source.kubernetes.pods"}' in labels and
                    '{instance="shop/web-1:sidecar", job="loki.source.kubernetes.pods"}' in labels)
        self.assertTrue(wait_for(has_logs, timeout=30, interval=0.2), self.diag())
        lines = [l for lab, l in self.log_lines() if "web-1:app" in lab]
        self.assertTrue(any(l.startswith("web-1/app line") for l in lines), lines[:5])
        self.assertFalse(any(l.endswith("\n") for l in lines))

        # web-1's port-less sidecar is scraped on the bare pod IP (port 80 here: nothing
        # listens), which gives up = 0, as Alloy does.
        self.assertTrue(wait_for(
            lambda: self.prom.query('up{job="prometheus.scrape.default",instance="127.0.0.1"} == 0'),
            timeout=30, interval=0.5), self.diag())

        # A second pod appears: it is discovered, scraped (its port is closed: up = 0) and tailed.
        # Its port stays bound but not listening, so nothing else on the machine can answer.
        dead_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        dead_sock.bind(("127.0.0.1", 0))
        self.addCleanup(dead_sock.close)
        dead = dead_sock.getsockname()[1]
        self.k8s.put("pods", pod("web-2", "uid-web-2", [("app", dead)]))
        web2 = 'up{job="prometheus.scrape.default",instance="127.0.0.1:%d"}' % dead
        self.assertTrue(wait_for(
            lambda: any("web-2:app" in l for l, _ in self.log_lines()), timeout=30, interval=0.2),
            self.diag())
        self.assertTrue(wait_for(lambda: self.prom.query(web2 + " == 0"), timeout=30,
                                 interval=0.5), self.diag())
        # The pod goes away: its target leaves the scrape set and its series go stale (an
        # instant query no longer returns them), as with Alloy.
        self.k8s.delete("pods", "shop", "web-2")
        self.assertTrue(wait_for(lambda: not self.prom.query(web2), timeout=30, interval=0.5),
                        self.diag())
        self.assertTrue(self.prom.query(want), "web-1 is still scraped")
        self.assertEqual(self.loki.errors, [])


def fake_k8s_env():
    """discovery.kubernetes publishes target changes every 5 s by default; faster here."""
    return {"TELEGATE_DISCOVERY_KUBERNETES_UPDATE_INTERVAL_MS": "200"}


if __name__ == "__main__":
    harness.main()
