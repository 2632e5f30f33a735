"""prometheus.scrape end to end with real exporters: telegate scrapes a real Prometheus server
(its own /metrics) and the real prometheus-node-exporter (Debian packages), plus a target that
refuses connections, and sends everything through prometheus.remote_write into a second
Prometheus with the remote-write receiver, where the query API must show the series with the
job/instance labels Alloy would give them.

Every process listens on a free loopback port; the Prometheus servers use temporary TSDBs and
have no scrape jobs of their own."""
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from fakes import Prometheus
from harness import Telegate, free_port, http, wait_for

JOB = "prometheus.scrape.default"


class Process:
    """A background process with its output captured to a temporary file."""

    def __init__(self, args):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def output(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def wait_http(self, url, timeout=30):
        def ok():
            assert self.proc.poll() is None, "process exited:\n" + self.output()
            try:
                return http("GET", url, timeout=2)[0] == 200
            except OSError:
                return False
        assert wait_for(ok, timeout=timeout, interval=0.1), f"{url} not ready:\n{self.output()}"

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def config(targets, prom_port):
    items = ",\n    ".join(
        "{" + ", ".join(f'"{k}" = "{v}"' for k, v in t.items()) + "}" for t in targets)
    return f'''
prometheus.scrape "default" {{
  targets = [
    {items},
  ]
  forward_to      = [prometheus.remote_write.sink.receiver]
  scrape_interval = "1s"
  scrape_timeout  = "900ms"
}}

prometheus.remote_write "sink" {{
  endpoint {{
    url = "http://127.0.0.1:{prom_port}/api/v1/write"

    queue_config {{
      batch_send_deadline = "500ms"
      min_backoff         = "50ms"
      max_backoff         = "500ms"
    }}
  }}
}}
'''


class ScrapeTest(unittest.TestCase):
    def test_scrapes_real_exporters_into_prometheus(self):
        # The Prometheus that is scraped, the one that receives, and node_exporter.
        source = Prometheus(remote_write_receiver=False, wait=False,
                            prefix="telegate-scrape-prom-")
        self.addCleanup(source.close)
        sink = Prometheus(remote_write_receiver=True, wait=False, prefix="telegate-scrape-prom-")
        self.addCleanup(sink.close)
        source_port, sink_port = source.port, sink.port
        ne_binary = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
        self.assertTrue(os.path.exists(ne_binary), "prometheus-node-exporter is not installed")
        ne_port = free_port()
        ne = Process([ne_binary, f"--web.listen-address=127.0.0.1:{ne_port}",
                      "--collector.disable-defaults", "--collector.cpu",
                      "--collector.loadavg", "--collector.meminfo"])
        self.addCleanup(ne.close)
        down_port = free_port()  # nothing listens here

        source.wait_ready()
        sink.wait_ready()
        ne.wait_http(f"http://127.0.0.1:{ne_port}/metrics")

        prom_addr = f"127.0.0.1:{source_port}"
        ne_addr = f"127.0.0.1:{ne_port}"
        down_addr = f"127.0.0.1:{down_port}"
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "config.alloy")
        with open(path, "w") as f:
            f.write(config([
                {"__address__": prom_addr, "__meta_kubernetes_pod_name": "dropped"},
                {"__address__": ne_addr, "team": "infra"},
                {"__address__": down_addr},
            ], sink_port))
        t = Telegate(path)
        self.addCleanup(t.close)
        t.wait_ready()

        query = sink.query

        def wait_series(q, timeout=30):
            found = []

            def check():
                found[:] = query(q)
                return len(found) > 0
            self.assertTrue(wait_for(check, timeout=timeout, interval=0.25),
                            f"{q} not in Prometheus\ntelegate:\n{t.output()}\n"
                            f"sink:\n{sink.output()}")
            return found

        up = wait_series(f'up{{job="{JOB}",instance="{prom_addr}"}}')
        self.assertEqual(float(up[0]["value"][1]), 1)
        self.assertEqual(set(up[0]["metric"]), {"__name__", "job", "instance"})
        up = wait_series(f'up{{job="{JOB}",instance="{ne_addr}"}}')
        self.assertEqual(float(up[0]["value"][1]), 1)
        self.assertEqual(up[0]["metric"]["team"], "infra")
        down = wait_series(f'up{{job="{JOB}",instance="{down_addr}"}}')
        self.assertEqual(float(down[0]["value"][1]), 0)

        build = wait_series(f'prometheus_build_info{{job="{JOB}",instance="{prom_addr}"}}')
        self.assertEqual(float(build[0]["value"][1]), 1)
        self.assertIn("version", build[0]["metric"])
        cpu = wait_series(f'node_cpu_seconds_total{{job="{JOB}",instance="{ne_addr}",'
                          f'team="infra",mode="idle"}}')
        self.assertGreater(float(cpu[0]["value"][1]), 0)
        mem = wait_series(f'node_memory_MemTotal_bytes{{instance="{ne_addr}"}}')
        self.assertGreater(float(mem[0]["value"][1]), 0)
        scraped = wait_series(f'scrape_samples_scraped{{job="{JOB}",instance="{ne_addr}"}}')
        self.assertGreater(float(scraped[0]["value"][1]), 10)
        for name in ("scrape_duration_seconds", "scrape_samples_post_metric_relabeling",
                     "scrape_series_added"):
            wait_series(f'{name}{{job="{JOB}",instance="{prom_addr}"}}')

        # Several scrapes arrived: the counter advanced between samples of the sink's range.
        self.assertTrue(wait_for(
            lambda: len(query(f'count_over_time(up{{instance="{ne_addr}"}}[1m])')) == 1 and
            float(query(f'count_over_time(up{{instance="{ne_addr}"}}[1m])')[0]["value"][1]) >= 3,
            timeout=15, interval=0.5), t.output())

        # telegate's own metrics.
        status, _, body = t.get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn(f'telegate_scrape_targets_active{{component_id="{JOB}"}} 3', body)
        self.assertIn(f'telegate_scrape_failed_scrapes_total{{component_id="{JOB}",'
                      f'reason="transport"}}', body)
        comps = t.components()
        self.assertEqual(comps[JOB]["health"]["state"], "healthy", comps[JOB])

        # Remove node_exporter from the targets: its series get stale markers (~2.1 intervals
        # later), which Prometheus honours, so they vanish from instant queries.
        with open(path, "w") as f:
            f.write(config([{"__address__": prom_addr}, {"__address__": down_addr}], sink_port))
        status, _, body = t.post("/-/reload")
        self.assertEqual(status, 200, body)
        for q in (f'up{{instance="{ne_addr}"}}', f'node_cpu_seconds_total{{instance="{ne_addr}"}}'):
            self.assertTrue(wait_for(lambda: query(q) == [], timeout=15, interval=0.25),
                            f"{q} still present: {query(q)}\n{t.output()}")
        # The remaining target is still scraped.
        self.assertEqual(len(query(f'up{{instance="{prom_addr}"}} == 1')), 1)


if __name__ == "__main__":
    harness.main()
