"""prometheus.remote_write with its write-ahead queue (wal { enabled = true }) in the real binary,
with the real Prometheus (Debian's package, --web.enable-remote-write-receiver) as the receiver:

  * Prometheus is stopped for a while during sending and started again on the same port and TSDB:
    every series accepted (OTLP 200) meanwhile is then queryable.
  * The queue is full (small max_size, Prometheus down): requests get 429 and nothing is written;
    every request that got a 200 is delivered once Prometheus is back.
  * telegate is killed with SIGKILL mid-stream while Prometheus is frozen (SIGSTOP, so accepted
    samples are still queued) and restarted on the same --storage.path: every sample of a request
    that got a 200 is queryable.

Each OTLP request carries one gauge series of its own (label `req`), so a request that got a 200 is
one series to look up. target_info is disabled: re-sent samples older than the newest one of their
series would be refused by Prometheus as out of order (see remote_write.h)."""
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

import harness
from fakes import Prometheus
from harness import Telegate, free_port, http, wait_for

TOKEN = "wal-token"


def config(otlp_port, prom_port, max_size="64MiB"):
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
  forward_to          = [prometheus.remote_write.prom.receiver]
  include_target_info = false
}}

prometheus.remote_write "prom" {{
  endpoint {{
    url            = "http://127.0.0.1:{prom_port}/api/v1/write"
    remote_timeout = "2s"

    queue_config {{
      batch_send_deadline = "200ms"
      min_backoff         = "50ms"
      max_backoff         = "500ms"
    }}
  }}

  wal {{
    enabled  = true
    max_size = "{max_size}"
  }}
}}
'''


def metrics_json(req):
    ts = str(time.time_ns())
    return json.dumps({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "wal"}}]},
        "scopeMetrics": [{"metrics": [{
            "name": "wal_test_value",
            "gauge": {"dataPoints": [{
                "timeUnixNano": ts, "asInt": str(req),
                "attributes": [{"key": "req", "value": {"stringValue": str(req)}}]}]}}]}]}]}).encode()


def reqs(prom):
    """The `req` label values of every wal_test_value series, with their values."""
    return {int(r["metric"]["req"]): float(r["value"][1]) for r in prom.query("wal_test_value")}


class RemoteWriteWalTest(unittest.TestCase):
    MAX_SIZE = "64MiB"

    def setUp(self):
        self.prom = Prometheus(prefix="telegate-prom-wal-")
        self.addCleanup(self.prom.close)
        self.dir = tempfile.mkdtemp(prefix="telegate-rw-wal-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.storage = os.path.join(self.dir, "data")
        self.otlp_port = free_port()
        self.config_path = os.path.join(self.dir, "config.alloy")
        with open(self.config_path, "w") as f:
            f.write(config(self.otlp_port, self.prom.port, self.MAX_SIZE))
        self.t = Telegate(self.config_path, storage=self.storage)
        self.t.wait_ready()
        self.addCleanup(lambda: self.t.close())

    def send(self, req):
        status, _, _ = http(
            "POST", f"http://127.0.0.1:{self.otlp_port}/v1/metrics", body=metrics_json(req),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
            timeout=5)
        return status

    def assert_queryable(self, accepted, timeout=30):
        got = {}

        def check():
            got.clear()
            got.update(reqs(self.prom))
            return all(r in got for r in accepted)
        ok = wait_for(check, timeout=timeout, interval=0.3)
        missing = sorted(set(accepted) - set(got))
        self.assertTrue(ok, f"{len(missing)} accepted requests missing, e.g. {missing[:10]}\n"
                            f"telegate:\n{self.t.output()}\nprometheus:\n{self.prom.output()}")
        for r in accepted:
            self.assertEqual(got[r], float(r))

    def metric(self, name):
        status, _, text = self.t.get("/metrics")
        self.assertEqual(status, 200)
        return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name + "{"))

    def test_prometheus_outage_then_restart_delivers_everything(self):
        accepted = []
        for i in range(20):
            self.assertEqual(self.send(i), 200)
            accepted.append(i)
        self.assert_queryable(accepted)
        self.prom.stop()
        for i in range(20, 60):  # Prometheus is down: accepted into the write-ahead queue
            self.assertEqual(self.send(i), 200)
            accepted.append(i)
            time.sleep(0.02)
        time.sleep(1.0)  # retries against the closed port
        self.assertGreater(self.metric("telegate_remote_write_failed_requests_total"), 0)
        self.prom.start()
        self.assert_queryable(accepted)
        self.assertEqual(self.metric("telegate_remote_write_dropped_samples_total"), 0)

    def test_kill_9_mid_stream_then_restart_delivers_every_accepted_sample(self):
        accepted = []
        stop = threading.Event()

        def client():
            n = 0
            while not stop.is_set():
                try:
                    status = self.send(n)
                except OSError:
                    status = 0  # telegate is down: not accepted
                if status == 200:
                    accepted.append(n)
                n += 1
                time.sleep(0.005)

        th = threading.Thread(target=client, daemon=True)
        th.start()
        try:
            self.assertTrue(wait_for(lambda: len(accepted) >= 100, timeout=20))
            # Freeze Prometheus: requests hang, accepted samples pile up in the queue.
            os.kill(self.prom.proc.pid, signal.SIGSTOP)
            n = len(accepted)
            self.assertTrue(wait_for(lambda: len(accepted) >= n + 100, timeout=20))
            os.kill(self.t.proc.pid, signal.SIGKILL)  # mid-stream: requests are in flight
            self.t.proc.wait()
            time.sleep(0.3)
        finally:
            stop.set()
            th.join(timeout=15)
        os.kill(self.prom.proc.pid, signal.SIGCONT)
        accepted_before = list(accepted)
        self.t.log.close()
        self.t = Telegate(self.config_path, storage=self.storage)  # same --storage.path
        self.t.wait_ready()
        self.assert_queryable(accepted_before)
        # The restarted telegate got no request: what it sent came from the queue on disk.
        self.assertGreater(self.metric("telegate_remote_write_sent_samples_total"), 0)


class FullQueueTest(RemoteWriteWalTest):
    MAX_SIZE = "64KiB"

    def test_full_queue_answers_429_and_delivers_what_it_accepted(self):
        self.prom.stop()
        accepted, refused = [], 0
        for i in range(2000):
            status = self.send(i)
            if status == 200:
                accepted.append(i)
            else:
                self.assertEqual(status, 429)
                refused += 1
                if refused >= 5:
                    break
        self.assertGreater(len(accepted), 0)
        self.assertEqual(refused, 5, "the queue never filled")
        self.assertGreater(self.metric("telegate_remote_write_refused_samples_total"), 0)
        self.prom.start()
        self.assert_queryable(accepted)
        # Delivered records free their space: requests are accepted again.
        self.assertTrue(wait_for(lambda: self.send(5000) == 200, timeout=15))
        self.assertEqual(self.metric("telegate_remote_write_dropped_samples_total"), 0)

    # The inherited tests run with the 64MiB queue only.
    test_prometheus_outage_then_restart_delivers_everything = None
    test_kill_9_mid_stream_then_restart_delivers_every_accepted_sample = None


if __name__ == "__main__":
    harness.main()
