"""loki.source.kubernetes in the real binary against the fake API server's pods/log streams
(test/integration/fake_k8s.py, recorded logs): every line arrives once with Alloy's labels and
the container's timestamps, a restart resumes from the positions under --storage.path with no
duplicate and no gap (also for lines of the same second, which the API resends because
sinceTime has second precision), and a deleted pod stops its tailer. Loopback only; everything
is stopped in tearDown."""
import os
import re
import shutil
import tempfile
import time
import unittest

import fake_k8s
import fakes
import harness
from harness import Telegate, wait_for
from test_seed_kubernetes import pod
from test_seed_pipeline import decode_loki

SA_TOKEN = "logs-token"


class K8sLogsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="telegate-k8s-logs-")
        self.storage = os.path.join(self.tmp, "storage")
        self.k8s = fake_k8s.FakeK8s(tokens=(SA_TOKEN,), log_interval=0.05)
        self.k8s.start()
        self.k8s.put("pods", pod("web-1", "uid-web-1", [("app", None)]))
        self.loki = fakes.HttpBackend(decode_loki, name="loki")
        self.cfg = os.path.join(self.tmp, "config.alloy")
        with open(self.cfg, "w") as f:
            f.write(f"""
loki.source.kubernetes "pods" {{
  targets = [{{
    "__meta_kubernetes_namespace"          = "shop",
    "__meta_kubernetes_pod_name"           = "web-1",
    "__meta_kubernetes_pod_container_name" = "app",
    "__meta_kubernetes_pod_uid"            = "uid-web-1",
    "__address__"                          = "127.0.0.1",
  }}]
  forward_to = [loki.write.loki.receiver]
  client {{
    api_server   = "{self.k8s.url}"
    bearer_token = "{SA_TOKEN}"
  }}
}}

loki.write "loki" {{
  endpoint {{
    url        = "http://127.0.0.1:{self.loki.port}/loki/api/v1/push"
    batch_wait = "100ms"
  }}
}}
""")
        self.t = None

    def tearDown(self):
        if self.t:
            self.t.close()
        self.loki.close()
        self.k8s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self):
        self.t = Telegate(self.cfg, storage=self.storage)
        self.t.wait_ready()

    def lines(self):
        return [(labels, ts, line) for push in self.loki.snapshot()
                for labels, entries in push for ts, line in entries]

    def texts(self):
        return [l for _, _, l in self.lines()]

    def diag(self):
        return "%s\nk8s: %r\nloki errors: %r" % (self.t.output() if self.t else "",
                                                  self.k8s.stats(), self.loki.errors)

    def test_tail_restart_and_pod_deletion(self):
        # All lines inside one second, so every reopen with sinceTime resends all of them.
        base = int(time.time()) - 5 + 0.001
        for i in range(5):
            self.k8s.append_log("shop", "web-1", "app", "line %d" % i, t=base + i * 0.01)
        self.start()
        self.assertTrue(wait_for(lambda: len(self.lines()) >= 5, timeout=15), self.diag())
        labels, ts, _ = self.lines()[0]
        self.assertEqual(labels, '{instance="shop/web-1:app", job="loki.source.kubernetes.pods"}')
        self.assertLess(abs(ts / 1e9 - base), 1e-5)  # the container's time, not the read time
        # A line written while following arrives too.
        self.k8s.append_log("shop", "web-1", "app", "line 5", t=base + 0.05)
        self.assertTrue(wait_for(lambda: len(self.lines()) >= 6, timeout=15), self.diag())

        # Stop (positions are written at shutdown), write more in the same second, restart.
        self.assertEqual(self.t.close(), 0)
        self.t = None
        positions = os.path.join(self.storage, "loki.source.kubernetes.pods", "positions.json")
        self.assertTrue(os.path.exists(positions))
        for i in range(6, 9):
            self.k8s.append_log("shop", "web-1", "app", "line %d" % i, t=base + i * 0.01)
        self.start()
        want = ["line %d" % i for i in range(9)]
        self.assertTrue(wait_for(lambda: len(self.lines()) >= 9, timeout=15), self.diag())
        time.sleep(1.0)  # any duplicate would have arrived by now
        self.assertEqual(self.texts(), want, self.diag())
        logs_requests = self.k8s.stats().get("log", 0)

        # The pod is deleted: its stream ends, the pod is gone, the tailer stops for good.
        self.k8s.delete("pods", "shop", "web-1")
        time.sleep(1.5)
        self.assertLessEqual(self.k8s.stats().get("log", 0), logs_requests + 1, self.diag())
        _, _, metrics = self.t.get("/metrics")
        m = re.search(r'telegate_loki_source_kubernetes_entries_total\{component_id="loki.source.kubernetes.pods"\} (\S+)', metrics)
        self.assertIsNotNone(m, metrics)
        self.assertEqual(float(m.group(1)), 3.0)  # this process delivered lines 6..8


if __name__ == "__main__":
    harness.main()
