"""sending_queue { storage = "disk" } in the real binary: OTLP/HTTP (JSON) logs accepted with a 200
survive a backend outage, a `kill -9` of telegate and a full queue (which is refused with
429/503 + Retry-After instead of dropping). A fake OTLP/HTTP backend records every log body
"rec-<n>" it receives; delivery is at-least-once, so duplicates are reported, not failed."""
import json
import os
import signal
import tempfile
import threading
import time
import unittest

import harness
from fakes import FakeOtlpHttp
from harness import Telegate, free_port, http, wait_for

TOKEN = "dq-token"


def config(recv_port, backend_port, max_size):
    return f'''
otelcol.auth.bearer "t" {{
  token = "{TOKEN}"
}}

otelcol.receiver.otlp "in" {{
  http {{
    endpoint = "127.0.0.1:{recv_port}"
    auth     = otelcol.auth.bearer.t.handler
  }}
  output {{
    logs = [otelcol.exporter.otlphttp.out.input]
  }}
}}

otelcol.exporter.otlphttp "out" {{
  client {{
    endpoint = "http://127.0.0.1:{backend_port}"
    timeout  = "2s"
  }}
  encoding = "json"
  sending_queue {{
    storage       = "disk"
    max_size      = "{max_size}"
    fsync         = "interval"
    num_consumers = 4
  }}
  retry_on_failure {{
    initial_interval = "100ms"
    max_interval     = "300ms"
    max_elapsed_time = "0s"
  }}
}}
'''


def logs_request(ids):
    recs = [{"timeUnixNano": "1700000000000000000", "body": {"stringValue": f"rec-{i}"}}
            for i in ids]
    return json.dumps({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "dq"}}]},
        "scopeLogs": [{"logRecords": recs}]}]}).encode()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class DiskQueueTest(unittest.TestCase):
    max_size = "64MiB"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="telegate-dq-")
        self.storage = os.path.join(self.dir, "data")
        self.backend = FakeOtlpHttp(up=False)
        self.recv_port = free_port()
        self.url = f"http://127.0.0.1:{self.recv_port}/v1/logs"
        self.config_path = os.path.join(self.dir, "config.alloy")
        with open(self.config_path, "w") as f:
            f.write(config(self.recv_port, self.backend.port, self.max_size))
        self.t = Telegate(self.config_path, storage=self.storage)
        self.t.wait_ready()
        self.wait_receiver()

    def tearDown(self):
        try:
            self.t.close()
        finally:
            self.t.log.close()
            self.backend.close()

    def wait_receiver(self):
        def up():
            try:
                status, _, _ = self.send([])
                return status == 200
            except OSError:
                return False
        self.assertTrue(wait_for(up, timeout=15), self.t.output())

    def send(self, ids):
        return http("POST", self.url, body=logs_request(ids), timeout=10,
                    headers={"Content-Type": "application/json",
                             "Authorization": f"Bearer {TOKEN}"})

    def assert_delivered(self, accepted, timeout=30):
        want = {f"rec-{i}" for i in accepted}
        ok = wait_for(lambda: want <= set(self.backend.bodies()), timeout=timeout,
                      interval=0.2)
        got = self.backend.bodies()
        missing = sorted(want - set(got), key=lambda s: int(s[4:]))
        self.assertTrue(ok, f"{len(missing)} accepted records never delivered, e.g. "
                            f"{missing[:10]}\n{self.t.output()[-4000:]}")
        dups = sum(c - 1 for c in got.values() if c > 1)
        print(f"\n  accepted={len(want)} delivered_distinct={len(got)} duplicates={dups}",
              flush=True)
        return dups


class OutageTest(DiskQueueTest):
    OUTAGE_SECONDS = 60

    def test_outage_then_recovery_delivers_everything(self):
        """The backend is down for 60 s while a client keeps sending; once it is back, every
        accepted record is delivered (at least once; duplicates are counted and reported)."""
        start = time.time()
        accepted = []
        n = 0
        while time.time() - start < self.OUTAGE_SECONDS:
            ids = list(range(n, n + 10))
            n += 10
            status, _, body = self.send(ids)
            self.assertEqual(status, 200, body)
            accepted += ids
            time.sleep(0.05)
        self.assertGreater(self.backend.refused, 0)
        self.assertEqual(len(self.backend.bodies()), 0)
        self.backend.up = True
        dups = self.assert_delivered(accepted, timeout=60)
        # At-least-once: a duplicate can only come from a send that reached the backend but
        # whose answer was lost; with a backend that answers every request there are none.
        self.assertEqual(dups, 0)


class CrashTest(DiskQueueTest):
    def test_kill_9_mid_stream_then_restart_delivers_every_accepted_record(self):
        accepted = []
        stop = threading.Event()

        def client():
            n = 0
            while not stop.is_set():
                ids = list(range(n, n + 10))
                n += 10
                try:
                    status, _, _ = self.send(ids)
                except OSError:
                    continue  # telegate is down: not accepted
                if status == 200:
                    accepted.extend(ids)

        th = threading.Thread(target=client, daemon=True)
        th.start()
        self.assertTrue(wait_for(lambda: len(accepted) >= 300, timeout=20))
        os.kill(self.t.proc.pid, signal.SIGKILL)  # mid-stream: requests are in flight
        self.t.proc.wait()
        time.sleep(0.3)
        stop.set()
        th.join(timeout=15)
        self.assertEqual(len(self.backend.bodies()), 0)
        accepted_before = list(accepted)
        self.t.log.close()
        self.t = Telegate(self.config_path, storage=self.storage)  # same --storage.path
        self.t.wait_ready()
        self.wait_receiver()
        self.backend.up = True
        self.assert_delivered(accepted_before)


class BackpressureTest(DiskQueueTest):
    max_size = "64KiB"

    def test_full_queue_refuses_with_retry_after_then_delivers_accepted(self):
        rss0 = rss_kib(self.t.proc.pid)
        accepted, refused = [], 0
        for n in range(0, 3000, 10):
            ids = list(range(n, n + 10))
            status, headers, body = self.send(ids)
            if status == 200:
                accepted += ids
                continue
            self.assertIn(status, (429, 503), body)
            self.assertTrue(headers.get("Retry-After"), headers)
            refused += 1
            if refused >= 20:
                break
        self.assertGreater(refused, 0, "the queue never filled up")
        self.assertGreater(len(accepted), 0)
        rss1 = rss_kib(self.t.proc.pid)
        print(f"\n  accepted={len(accepted)} refused_requests={refused} "
              f"rss_kib={rss0}->{rss1}", flush=True)
        self.assertLess(rss1 - rss0, 64 * 1024, "RSS grew by more than 64 MiB")
        self.backend.up = True
        self.assert_delivered(accepted)
        # Once drained, the queue accepts again.
        self.assertTrue(wait_for(lambda: self.send([99999])[0] == 200, timeout=10))


class FailSafeTest(DiskQueueTest):
    def test_unopenable_queue_is_unhealthy_and_refuses_with_503(self):
        # A second telegate on the same --storage.path cannot lock the exporter's queue.
        other_port = free_port()
        path = os.path.join(self.dir, "other.alloy")
        with open(path, "w") as f:
            f.write(config(other_port, self.backend.port, self.max_size))
        t2 = Telegate(path, storage=self.storage)
        t2.wait_ready()
        try:
            def health():
                c = t2.components().get("otelcol.exporter.otlphttp.out", {})
                return json.dumps(c.get("health", c))
            self.assertTrue(wait_for(lambda: "unhealthy" in health().lower(), timeout=10),
                            health())
            url = f"http://127.0.0.1:{other_port}/v1/logs"
            def refused():
                try:
                    return http("POST", url, body=logs_request([1]), timeout=5,
                                headers={"Content-Type": "application/json",
                                         "Authorization": f"Bearer {TOKEN}"})
                except OSError:
                    return (0, {}, "")
            self.assertTrue(wait_for(lambda: refused()[0] == 503, timeout=10), refused())
            self.assertIn("unavailable", t2.output())
        finally:
            t2.close()
            t2.log.close()


if __name__ == "__main__":
    harness.main()
