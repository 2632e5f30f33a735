"""telegate run --memory.limit: memory stays under the cap when offered more than it can send.

  OTLP/HTTP JSON clients (several threads, ~300 KB requests, as fast as answers come)
    -> otelcol.receiver.otlp -> otelcol.processor.batch -> otelcol.exporter.otlphttp
    -> a slow loopback backend (200 ms per request, one sender: ~5 batches/s).

Offered load is several times what the backend takes. Asserted:
  * clients get only 200, 429 or 503 (no other 5xx, no connection errors);
  * telegate's VmRSS stays below the limit + 96 MiB, and the budget gauge below the limit;
  * the memory budget refused some data (telegate_memory_budget_refusals_total > 0);
  * every log record of a request answered 200 reaches the backend (unique ids, 30 s to drain).

Everything listens on 127.0.0.1 free ports; bounded time (~10 s of load, ≤ 30 s of drain)."""
import http.client
import json
import re
import tempfile
import threading
import time
import unittest

import harness
from fakes import FakeOtlpHttp, otlp_log_bodies
from harness import Telegate, free_port, wait_for

LIMIT_MIB = 32
HEADROOM_MIB = 96
LOAD_SECONDS = 10
DRAIN_SECONDS = 30
CLIENTS = 6
RECORDS_PER_REQUEST = 300
PADDING = "p" * 960  # ~1 KB per record, ~300 KB per request


def record_ids(path, headers, body):
    """The ids ("c<client>-r<seq>-n<n>") of the log records of an OTLP logs request."""
    return [b.split(" ", 1)[0] for b in otlp_log_bodies(path, headers, body)
            if isinstance(b, str)]


def config(http_port, backend_port):
    return f'''
otelcol.receiver.otlp "default" {{
  http {{
    endpoint = "127.0.0.1:{http_port}"
  }}
  output {{
    logs = [otelcol.processor.batch.default.input]
  }}
}}

otelcol.processor.batch "default" {{
  send_batch_size     = 1000
  send_batch_max_size = 1000
  timeout             = "200ms"
  output {{
    logs = [otelcol.exporter.otlphttp.slow.input]
  }}
}}

otelcol.exporter.otlphttp "slow" {{
  client {{
    endpoint    = "http://127.0.0.1:{backend_port}"
    compression = "none"
  }}
  sending_queue {{
    num_consumers = 1
    queue_size    = 100000
  }}
}}
'''


def request_body(client, seq):
    ts = str(time.time_ns())
    records = [{"timeUnixNano": ts,
                "body": {"stringValue": f"c{client}-r{seq}-n{n} {PADDING}"}}
               for n in range(RECORDS_PER_REQUEST)]
    return json.dumps({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "memory-cap"}}]},
        "scopeLogs": [{"logRecords": records}]}]}).encode()


def vm_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class MemoryCapTest(unittest.TestCase):
    def setUp(self):
        self.backend = FakeOtlpHttp(record_ids, delay=0.2)  # ~5 requests/s with one sender
        self.http_port = free_port()
        d = tempfile.mkdtemp(prefix="telegate-memcap-")
        self.config_path = f"{d}/config.alloy"
        with open(self.config_path, "w") as f:
            f.write(config(self.http_port, self.backend.port))
        self.tg = Telegate(self.config_path, extra_args=[f"--memory.limit={LIMIT_MIB}MiB"])

    def tearDown(self):
        try:
            self.tg.close(timeout=30)
        finally:
            self.backend.close()

    def delivered(self, wanted):
        return len(wanted & set(self.backend.items()))

    def metric(self, name):
        status, _, body = self.tg.get("/metrics")
        self.assertEqual(status, 200)
        m = re.search(rf"^{name}(?:{{}})? (\S+)$", body, re.M)
        return float(m.group(1)) if m else None

    def test_memory_stays_under_the_cap(self):
        self.tg.wait_ready()
        self.assertTrue(wait_for(lambda: self._port_open(), timeout=10), self.tg.output())
        self.assertEqual(self.metric("telegate_memory_budget_limit_bytes"), LIMIT_MIB << 20)

        lock = threading.Lock()
        statuses = {}
        failures = []
        accepted_ids = set()
        offered_bytes = [0]
        stop = time.time() + LOAD_SECONDS

        def client(cid):
            conn = None
            seq = 0
            while time.time() < stop:
                body = request_body(cid, seq)
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
                    conn.request("POST", "/v1/logs", body=body,
                                 headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    status = resp.status
                    if resp.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                except Exception as e:  # noqa: BLE001 - every connection error fails the test
                    with lock:
                        failures.append(f"client {cid} request {seq}: {e!r}")
                    if conn is not None:
                        conn.close()
                    conn = None
                    seq += 1
                    continue
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    offered_bytes[0] += len(body)
                    if status == 200:
                        accepted_ids.update(f"c{cid}-r{seq}-n{n}"
                                            for n in range(RECORDS_PER_REQUEST))
                if status in (429, 503):
                    time.sleep(0.02)
                seq += 1
            if conn is not None:
                conn.close()

        rss_max = [0]
        used_max = [0.0]
        sampling = threading.Event()

        def sampler():
            while not sampling.is_set():
                rss_max[0] = max(rss_max[0], vm_rss_bytes(self.tg.proc.pid))
                used = self.metric("telegate_memory_budget_used_bytes") or 0.0
                used_max[0] = max(used_max[0], used)
                time.sleep(0.1)

        s = threading.Thread(target=sampler, daemon=True)
        s.start()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(LOAD_SECONDS + 60)
        self.assertFalse(any(t.is_alive() for t in threads), "clients did not finish")
        accepted_at_stop = len(accepted_ids)

        delivered = wait_for(lambda: self.delivered(accepted_ids) == len(accepted_ids),
                             timeout=DRAIN_SECONDS, interval=0.25)
        sampling.set()
        s.join(5)
        refusals = self.metric("telegate_memory_budget_refusals_total")
        summary = (f"statuses={statuses} accepted_records={accepted_at_stop} "
                   f"delivered={self.delivered(accepted_ids)} "
                   f"backend_requests={len(self.backend.hits)} "
                   f"offered_mib={offered_bytes[0] / (1 << 20):.1f} "
                   f"rss_max_mib={rss_max[0] / (1 << 20):.1f} "
                   f"budget_used_max_mib={used_max[0] / (1 << 20):.1f} refusals={refusals}")
        print(summary)

        self.assertEqual(failures[:5], [], summary)
        self.assertEqual(self.backend.errors[:5], [], summary)
        self.assertEqual(set(statuses) - {200, 429, 503}, set(), summary)
        self.assertGreater(statuses.get(200, 0), 0, summary)
        self.assertGreater(statuses.get(429, 0) + statuses.get(503, 0), 0, summary)
        # Offered at least three times what was accepted (and so what the backend could take).
        self.assertGreaterEqual(sum(statuses.values()), 3 * statuses.get(200, 0), summary)
        self.assertLess(rss_max[0], (LIMIT_MIB + HEADROOM_MIB) << 20, summary)
        self.assertLessEqual(used_max[0], LIMIT_MIB << 20, summary)
        self.assertGreater(refusals or 0, 0, summary)
        self.assertTrue(delivered, summary + "\n" + self.tg.output()[-3000:])
        self.assertTrue(wait_for(lambda: self.metric("telegate_memory_budget_used_bytes") == 0,
                                 timeout=5), summary)

    def _port_open(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=2)
            conn.request("POST", "/v1/logs", body=b"{}",
                         headers={"Content-Type": "application/json"})
            conn.getresponse().read()
            conn.close()
            return True
        except OSError:
            return False


if __name__ == "__main__":
    harness.main()
