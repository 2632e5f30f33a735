"""loki.write with `wal { enabled = true }` in the real binary: OTLP/HTTP (JSON) logs accepted with a
200 survive a Loki outage, a `kill -9` of telegate and a full WAL (refused with 429/503 instead of
dropped). A fake Loki decodes every push (snappy + logproto) and records each line "rec-<n>"
(`loki.format = "raw"`: the line is the log body). Delivery is at-least-once: duplicates are
counted and reported; a missing accepted record fails the test."""
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

import harness
from fakes import FakeLoki
from harness import Telegate, free_port, http, wait_for

TOKEN = "wal-token"


def config(recv_port, loki_port, max_size):
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
    logs = [otelcol.exporter.loki.out.input]
  }}
}}

otelcol.exporter.loki "out" {{
  forward_to = [loki.write.out.receiver]
}}

loki.write "out" {{
  endpoint {{
    url                 = "http://127.0.0.1:{loki_port}/loki/api/v1/push"
    batch_wait          = "100ms"
    remote_timeout      = "2s"
    min_backoff_period  = "50ms"
    max_backoff_period  = "200ms"
    max_backoff_retries = 0
    queue_config {{
      block_on_overflow = false
    }}
  }}
  wal {{
    enabled  = true
    max_size = "{max_size}"
    fsync    = "interval"
  }}
}}
'''


def logs_request(ids):
    recs = [{"timeUnixNano": str(1700000000000000000 + i), "body": {"stringValue": f"rec-{i}"}}
            for i in ids]
    return json.dumps({"resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "wal"}},
            {"key": "loki.format", "value": {"stringValue": "raw"}}]},
        "scopeLogs": [{"logRecords": recs}]}]}).encode()


class LokiWalTest(unittest.TestCase):
    max_size = "64MiB"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="telegate-lokiwal-")
        self.storage = os.path.join(self.dir, "data")
        self.loki = FakeLoki(up=False)
        self.recv_port = free_port()
        self.url = f"http://127.0.0.1:{self.recv_port}/v1/logs"
        self.config_path = os.path.join(self.dir, "config.alloy")
        with open(self.config_path, "w") as f:
            f.write(config(self.recv_port, self.loki.port, self.max_size))
        self.t = Telegate(self.config_path, storage=self.storage)
        self.t.wait_ready()
        self.wait_receiver()

    def tearDown(self):
        try:
            self.t.close()
        finally:
            self.t.log.close()
            self.loki.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def wait_receiver(self):
        def up():
            try:
                return self.send([])[0] == 200
            except OSError:
                return False
        self.assertTrue(wait_for(up, timeout=15), self.t.output())

    def send(self, ids):
        return http("POST", self.url, body=logs_request(ids), timeout=10,
                    headers={"Content-Type": "application/json",
                             "Authorization": f"Bearer {TOKEN}"})

    def assert_delivered(self, accepted, timeout=20):
        want = {f"rec-{i}" for i in accepted}
        ok = wait_for(lambda: want <= set(self.loki.lines()), timeout=timeout, interval=0.1)
        got = self.loki.lines()
        missing = sorted(want - set(got), key=lambda s: int(s[4:]))
        self.assertTrue(ok, f"{len(missing)} accepted records never delivered, e.g. "
                            f"{missing[:10]}\n{self.t.output()[-4000:]}")
        self.assertEqual(self.loki.errors, [])
        dups = sum(c - 1 for c in got.values() if c > 1)
        print(f"\n  accepted={len(want)} delivered_distinct={len(got)} duplicates={dups}",
              flush=True)
        return dups


class OutageTest(LokiWalTest):
    def test_outage_then_recovery_delivers_everything(self):
        """Loki is down while a client keeps sending; once it is back, every accepted record
        is delivered."""
        accepted, n, start = [], 0, time.time()
        while time.time() - start < 5:
            ids = list(range(n, n + 20))
            n += 20
            status, _, body = self.send(ids)
            self.assertEqual(status, 200, body)
            accepted += ids
            time.sleep(0.02)
        self.assertGreater(self.loki.refused, 0)
        self.assertEqual(len(self.loki.lines()), 0)
        self.loki.up = True
        dups = self.assert_delivered(accepted)
        # Every request was answered, so nothing needed a second send.
        self.assertEqual(dups, 0)


class CrashTest(LokiWalTest):
    def test_kill_9_mid_stream_then_restart_delivers_every_accepted_record(self):
        """Loki is up, then goes down while a client streams; telegate is killed with SIGKILL
        mid-stream and restarted on the same --storage.path: every record that got a 200 is
        delivered."""
        self.loki.up = True
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
        self.assertTrue(wait_for(lambda: len(accepted) >= 500, timeout=20))
        self.loki.up = False
        self.assertTrue(wait_for(lambda: len(accepted) >= 1500, timeout=20))
        os.kill(self.t.proc.pid, signal.SIGKILL)  # mid-stream: requests are in flight
        self.t.proc.wait()
        time.sleep(0.2)
        stop.set()
        th.join(timeout=15)
        accepted_before = list(accepted)
        self.t.log.close()
        self.t = Telegate(self.config_path, storage=self.storage)  # same --storage.path
        self.t.wait_ready()
        self.wait_receiver()
        self.loki.up = True
        self.assert_delivered(accepted_before)


class FullWalTest(LokiWalTest):
    max_size = "64KiB"

    def test_full_wal_refuses_then_delivers_accepted(self):
        accepted, refused = [], 0
        for n in range(0, 20000, 50):
            ids = list(range(n, n + 50))
            status, _, body = self.send(ids)
            if status == 200:
                accepted += ids
                continue
            self.assertIn(status, (429, 503), body)
            refused += 1
            if refused >= 5:
                break
        self.assertGreater(refused, 0, "the WAL never filled up")
        self.assertGreater(len(accepted), 0)
        self.loki.up = True
        self.assert_delivered(accepted)
        self.assertTrue(wait_for(lambda: self.send([99999])[0] == 200, timeout=10))


if __name__ == "__main__":
    harness.main()
