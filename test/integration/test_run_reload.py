"""`telegate run`: the seed configuration with the seed's flags, the admin endpoints, reloads
(HTTP and SIGHUP, good and broken) and shutdown on SIGTERM."""
import json
import os
import signal
import tempfile
import time
import unittest

import harness
from harness import Telegate, wait_for

TOKEN = "your-secret-token-12345"


class SeedRunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        seed = os.path.join(harness.ARGS.source_dir, "test/testdata/seed/config.alloy")
        env = {"ALLOY_RECEIVER_TOKEN": TOKEN}
        for k in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
            env[k] = ""
        cls.t = Telegate(seed, env=env)
        cls.t.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.t.close()

    def test_ready(self):
        status, _, body = self.t.get("/-/ready")
        self.assertEqual(status, 200)
        self.assertIn("ready", body)

    def test_healthy_names_unhealthy_components_and_why(self):
        status, _, body = self.t.get("/-/healthy")
        self.assertEqual(status, 500)
        first = body.splitlines()[0]
        self.assertTrue(first.startswith("unhealthy components: "), body)
        self.assertIn("discovery.kubernetes", first)
        self.assertIn("discovery.kubernetes.pods: unable to load in-cluster configuration", body)
        self.assertIn("KUBERNETES_SERVICE_HOST", body)
        # The bearer authenticator works and is not listed.
        self.assertNotIn("otelcol.auth.bearer", first)

    def test_components_listing_hides_the_token(self):
        status, headers, body = self.t.get("/api/v0/web/components")
        self.assertEqual(status, 200)
        self.assertIn("application/json", headers.get("Content-Type", ""))
        self.assertNotIn(TOKEN, body)
        comps = {c["localID"]: c for c in json.loads(body)}
        self.assertEqual(len(comps), 11)
        bearer = comps["otelcol.auth.bearer.receiver_token"]
        self.assertEqual(bearer["arguments"]["token"], "(secret)")
        self.assertEqual(bearer["health"]["state"], "healthy")
        batch = comps["otelcol.processor.batch.default"]
        self.assertEqual(batch["arguments"]["send_batch_size"], 2000)
        self.assertEqual(batch["arguments"]["timeout"], "10s")
        self.assertIn("otelcol.receiver.otlp.default", batch["referencedBy"])
        status, _, one = self.t.get("/api/v0/web/components/otelcol.processor.batch.default")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(one)["localID"], "otelcol.processor.batch.default")
        status, _, _ = self.t.get("/api/v0/web/components/nope")
        self.assertEqual(status, 404)

    def test_metrics(self):
        status, headers, body = self.t.get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn("text/plain", headers.get("Content-Type", ""))
        for needle in ("telegate_build_info{version=", "process_resident_memory_bytes",
                       "process_cpu_seconds_total", "process_open_fds",
                       "telegate_config_last_load_successful 1",
                       'telegate_component_health{component_id="discovery.kubernetes.pods"',
                       'telegate_component_controller_running_components{health_type="unhealthy"}'):
            self.assertIn(needle, body)
        self.assertNotIn(TOKEN, body)

    def test_status_page_and_404(self):
        status, headers, body = self.t.get("/")
        self.assertEqual(status, 200)
        self.assertIn("otelcol.receiver.otlp.default", body)
        self.assertEqual(self.t.get("/nope")[0], 404)


CONFIG_A = '''
otelcol.auth.bearer "t" {
  token = "first"
}
otelcol.exporter.file "one" { }
'''

CONFIG_B = CONFIG_A + '''
otelcol.exporter.file "two" {
  format = "proto"
}
'''

CONFIG_BROKEN = CONFIG_B + '''
otelcol.exporter.file "three" {
  format = "xml"
}
'''


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "config.alloy")
        self.write(CONFIG_A)
        self.t = Telegate(self.path)
        self.t.wait_ready()

    def tearDown(self):
        self.t.close()

    def write(self, text):
        with open(self.path, "w") as f:
            f.write(text)

    def test_http_reload_applies_and_broken_reload_keeps_old(self):
        self.assertEqual(set(self.t.components()), {"otelcol.auth.bearer.t", "otelcol.exporter.file.one"})
        self.write(CONFIG_B)
        status, _, body = self.t.post("/-/reload")
        self.assertEqual(status, 200, body)
        comps = self.t.components()
        self.assertIn("otelcol.exporter.file.two", comps)
        self.assertEqual(comps["otelcol.exporter.file.two"]["arguments"]["format"], "proto")

        self.write(CONFIG_BROKEN)
        status, _, body = self.t.post("/-/reload")
        self.assertEqual(status, 400)
        self.assertIn('format must be "json" or "proto", got "xml"', body)
        self.assertIn("config.alloy:", body)
        # The previous configuration is still running and the process still serves.
        comps = self.t.components()
        self.assertIn("otelcol.exporter.file.two", comps)
        self.assertNotIn("otelcol.exporter.file.three", comps)
        self.assertEqual(self.t.get("/-/ready")[0], 200)
        _, _, metrics = self.t.get("/metrics")
        self.assertIn("telegate_config_last_load_successful 0", metrics)
        self.assertIn("telegate_config_load_failures_total 1", metrics)

    def test_sighup_reload(self):
        self.write(CONFIG_B)
        self.t.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "otelcol.exporter.file.two" in self.t.components()))
        self.write(CONFIG_A)
        self.t.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "otelcol.exporter.file.two" not in self.t.components()))

    def test_sigterm_stops_promptly(self):
        start = time.time()
        self.assertEqual(self.t.close(signal.SIGTERM), 0)
        self.assertLess(time.time() - start, 10)
        self.assertIn("telegate stopped", self.t.output())


RELABEL_CONFIG = '''
discovery.relabel "pods" {
  targets = [
    { "__address__" = "10.0.0.1:8080", "__meta_kubernetes_pod_annotation_prometheus_io_scrape" = "true", "__meta_kubernetes_pod_label_app" = "cart" },
    { "__address__" = "10.0.0.2:9090", "__meta_kubernetes_pod_label_app" = "db" },
  ]

  rule {
    action        = "keep"
    source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    regex         = "true"
  }

  rule {
    action = "labelmap"
    regex  = "__meta_kubernetes_pod_label_(.+)"
  }
}
'''


class RelabelTest(unittest.TestCase):
    def test_relabel_output_export(self):
        path = os.path.join(tempfile.mkdtemp(), "config.alloy")
        with open(path, "w") as f:
            f.write(RELABEL_CONFIG)
        t = Telegate(path)
        try:
            t.wait_ready()
            comp = t.components()["discovery.relabel.pods"]
            self.assertEqual(comp["health"]["state"], "healthy")
            out = comp["exports"]["output"]
            self.assertEqual(len(out), 1)
            self.assertEqual(out[0]["app"], "cart")
            self.assertEqual(out[0]["__address__"], "10.0.0.1:8080")
        finally:
            t.close()


class EmbeddedDefaultTest(unittest.TestCase):
    def test_runs_without_config_path(self):
        t = Telegate(None)
        try:
            t.wait_ready()
            comps = t.components()
            self.assertIn("otelcol.exporter.file.local", comps)
            self.assertIn("otelcol.receiver.otlp.default", comps)
        finally:
            t.close()


if __name__ == "__main__":
    harness.main()
