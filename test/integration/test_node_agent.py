"""The deployment bundle's node agent configuration (deploy/kubernetes/node-agent/config.alloy) in
the real binary against the fake API server (test/integration/fake_k8s.py, TLS, service account):

  * it discovers only the pods of its own node (field selector spec.nodeName=$NODE_NAME);
  * it tails their logs into a fake Loki with namespace/pod/container/app/job labels, and skips
    pods annotated telegate.io/logs = "false";
  * it scrapes only pods annotated prometheus.io/scrape = "true", on the prometheus.io/port port,
    into a real Prometheus.

Test-only change to the file: scrape_interval "30s" becomes "1s" (with scrape_timeout "1s"). Everything listens on loopback
and is stopped in tearDown."""
import os
import shutil
import tempfile
import unittest

import fake_k8s
import fakes
import harness
from harness import Telegate, wait_for
from test_prometheus_remote_write import Prometheus
from test_seed_kubernetes import MetricsApp, pod
from test_seed_pipeline import decode_loki

SA_TOKEN = "node-agent-token"


def on_node(p, node, annotations=None, app=None):
    p["spec"]["nodeName"] = node
    if annotations:
        p["metadata"]["annotations"] = annotations
    if app:
        p["metadata"]["labels"] = {"app.kubernetes.io/name": app}
    return p


class NodeAgentTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="telegate-node-agent-")
        cert, key = fake_k8s.make_tls(self.tmp)
        self.k8s = fake_k8s.FakeK8s(tokens=(SA_TOKEN,), tls=(cert, key), log_interval=0.2)
        self.k8s.start()
        self.sa = os.path.join(self.tmp, "sa")
        os.makedirs(self.sa)
        shutil.copy(cert, os.path.join(self.sa, "ca.crt"))
        with open(os.path.join(self.sa, "token"), "w") as f:
            f.write(SA_TOKEN)
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

    def log_labels(self):
        return {labels for push in self.loki.snapshot() for labels, _ in push}

    def test_node_local_logs_and_annotated_scrapes(self):
        port = str(self.app.port)
        self.k8s.put("pods", on_node(pod("api-1", "uid-api-1", [("api", self.app.port)]), "node-1",
                                     {"prometheus.io/scrape": "true", "prometheus.io/port": port},
                                     app="api"))
        self.k8s.put("pods", on_node(pod("quiet-1", "uid-quiet-1", [("worker", None)]), "node-1",
                                     {"telegate.io/logs": "false"}))
        self.k8s.put("pods", on_node(pod("other-1", "uid-other-1", [("web", None)]), "node-2"))
        src = os.path.join(harness.ARGS.source_dir, "deploy/kubernetes/node-agent/config.alloy")
        with open(src) as f:
            text = f.read()
        self.assertIn('scrape_interval = "30s"', text)
        cfg = os.path.join(self.tmp, "config.alloy")
        with open(cfg, "w") as f:
            f.write(text.replace('scrape_interval = "30s"', 'scrape_interval = "1s"\n\tscrape_timeout  = "1s"'))
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.k8s.port),
               "TELEGATE_K8S_SA_DIR": self.sa, "NODE_NAME": "node-1",
               "TELEGATE_LOKI_PUSH_URL": "http://127.0.0.1:%d/loki/api/v1/push" % self.loki.port,
               "TELEGATE_MIMIR_PUSH_URL": "http://127.0.0.1:%d/api/v1/write" % self.prom.port,
               "TELEGATE_DISCOVERY_KUBERNETES_UPDATE_INTERVAL_MS": "200"}
        self.t = Telegate(cfg, env=env)
        self.t.wait_ready()
        diag = lambda: "%s\nk8s: %r" % (self.t.output(), self.k8s.stats())  # noqa: E731

        want = ('{app="api", container="api", instance="shop/api-1:api", job="shop/api", '
                'namespace="shop", pod="api-1"}')
        self.assertTrue(wait_for(lambda: want in self.log_labels(), timeout=30, interval=0.2),
                        diag() + "\nlabels: %r" % self.log_labels())
        q = 'shop_orders_total{namespace="shop",pod="api-1",app="api",instance="127.0.0.1:%s"}' % port
        self.assertTrue(wait_for(lambda: self.prom.query(q), timeout=40, interval=0.5), diag())
        # Only node-1's pods, only the annotated one scraped, the opted-out one not tailed.
        labels = self.log_labels()
        self.assertFalse(any("other-1" in l for l in labels), labels)
        self.assertFalse(any("quiet-1" in l for l in labels), labels)
        ups = self.prom.query("up")
        self.assertEqual([u["metric"].get("pod") for u in ups], ["api-1"], ups)


if __name__ == "__main__":
    harness.main()
