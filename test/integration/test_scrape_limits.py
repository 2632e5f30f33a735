"""prometheus.scrape against hostile targets: a scrape cannot take telegate's memory.

One Python HTTP server on a free loopback port serves three targets:
  /bomb     a gzip bomb: "a 1\\n" x 25M (100 MB) in about 100 KB of gzip;
  /million  a million distinct series (25 MB of text);
  /good     a normal exposition.
telegate runs with --memory.limit=128MiB and two prometheus.scrape components, both sending into
a real Prometheus with the remote-write receiver:
  "limited"    scrapes all three with the node agent's limits, read from the bundle
               (deploy/kubernetes/node-agent/config.alloy must set body_size_limit, sample_limit
               and the label limits);
  "unlimited"  scrapes /million and /good with no limits at all, so only the memory budget stands
               between the million series and the process's memory.
Asserted:
  * peak RSS (VmHWM) stays under the limit + a fixed overhead (before the fix one bomb scrape
    alone took it to 2.7 GB);
  * the bad targets get up = 0 in Prometheus, with the reason in the component's debug info and
    in telegate_scrape_failed_scrapes_total: body_size for the bomb, sample_limit for the million
    series (limited), memory_budget for the million series (unlimited);
  * the good target keeps being scraped on schedule by both components (its samples keep
    arriving in Prometheus).
Bounded in time: scrapes every 2 s, about 30 s in all."""
import json
import os
import re
import shutil
import tempfile
import threading
import time
import unittest
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness
from harness import Telegate, http, wait_for
from fakes import Prometheus

LIMIT_MIB = 128
OVERHEAD_MIB = 64  # binary, threads, libraries, allocator slack


def gzip_bomb(line, count):
    """gzip of `line` repeated `count` times, without holding the decompressed text."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = line * 1_000_000
    parts = []
    for _ in range(count // 1_000_000):
        parts.append(c.compress(chunk))
    parts.append(c.compress(line * (count % 1_000_000)))
    parts.append(c.flush())
    return b"".join(parts)


class Targets:
    """The three targets on one ThreadingHTTPServer; counts requests per path."""

    def __init__(self):
        self.bomb = gzip_bomb(b"a 1\n", 25_000_000)
        self.million = "".join(f'series_{i}{{a="b"}} 1\n' for i in range(1_000_000)).encode()
        self.good = b"# TYPE good_total counter\ngood_total 42\n"
        self.lock = threading.Lock()
        self.requests = {}
        targets = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the scraper gave up on a body and closed the connection

            def do_GET(self):
                path = self.path.split("?")[0]
                with targets.lock:
                    targets.requests[path] = targets.requests.get(path, 0) + 1
                body = {"/bomb": targets.bomb, "/million": targets.million,
                        "/good": targets.good}.get(path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                if path == "/bomb":
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the scraper gave up on this body: what is being tested

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def target(addr, path, instance):
    return (f'{{"__address__" = "{addr}", "__metrics_path__" = "{path}", '
            f'"instance" = "{instance}"}}')


LIMIT_NAMES = ("body_size_limit", "sample_limit", "label_limit", "label_name_length_limit",
               "label_value_length_limit")


def node_agent_limits():
    """The limit attributes of the node agent's prometheus.scrape block, as written there."""
    path = os.path.join(harness.ARGS.source_dir, "deploy/kubernetes/node-agent/config.alloy")
    with open(path) as f:
        text = f.read()
    block = re.search(r'prometheus\.scrape "pods" \{(.*?)\n\}', text, re.S)
    assert block, "no prometheus.scrape block in the node agent's config"
    found = {}
    for name in LIMIT_NAMES:
        m = re.search(r"^\s*" + name + r"\s*=\s*(\S+)\s*$", block.group(1), re.M)
        if m:
            found[name] = m.group(1)
    return found


def config(addr, prom_port, limits):
    limit_lines = "\n  ".join(f"{k} = {v}" for k, v in limits.items())
    return f'''
prometheus.scrape "limited" {{
  targets = [
    {target(addr, "/bomb", "bomb")},
    {target(addr, "/million", "million")},
    {target(addr, "/good", "good")},
  ]
  forward_to               = [prometheus.remote_write.sink.receiver]
  scrape_interval          = "2s"
  scrape_timeout           = "1900ms"
  {limit_lines}
}}

prometheus.scrape "unlimited" {{
  targets = [
    {target(addr, "/million", "million")},
    {target(addr, "/good", "good")},
  ]
  forward_to      = [prometheus.remote_write.sink.receiver]
  scrape_interval = "2s"
  scrape_timeout  = "1900ms"
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


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


class ScrapeLimitsTest(unittest.TestCase):
    def test_hostile_targets_are_bounded(self):
        limits = node_agent_limits()
        self.assertEqual(set(limits), set(LIMIT_NAMES), "the node agent must bound its scrapes")
        self.assertEqual(limits["body_size_limit"], '"10MiB"')  # the bomb inflates to 100 MB
        self.assertLess(int(limits["sample_limit"]), 1_000_000)
        targets = Targets()
        self.addCleanup(targets.close)
        self.assertLess(len(targets.bomb), 200_000)
        sink = Prometheus(remote_write_receiver=True, prefix="telegate-scrape-prom-")
        self.addCleanup(sink.close)
        sink_port = sink.port

        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "config.alloy")
        with open(path, "w") as f:
            f.write(config(f"127.0.0.1:{targets.port}", sink_port, limits))
        t = Telegate(path, extra_args=[f"--memory.limit={LIMIT_MIB}MiB"])
        self.addCleanup(t.close)
        t.wait_ready()
        start = time.time()

        def query(q):
            status, _, body = http("GET", f"http://127.0.0.1:{sink_port}/api/v1/query?" +
                                   urllib.parse.urlencode({"query": q}))
            self.assertEqual(status, 200, body)
            return json.loads(body)["data"]["result"]

        def debug_targets(component):
            status, _, body = t.get(f"/api/v0/web/components/prometheus.scrape.{component}")
            self.assertEqual(status, 200, body)
            return {x["labels"]["instance"]: x for x in json.loads(body)["debugInfo"]["targets"]}

        def failed(component, reason):
            _, _, body = t.get("/metrics")
            m = re.search(r'telegate_scrape_failed_scrapes_total\{component_id="prometheus\.scrape\.'
                          + component + r'",reason="' + reason + r'"\} (\S+)', body)
            return float(m.group(1)) if m else 0

        # Every bad target failed at least twice, each with its reason.
        expected = {("limited", "bomb"): "body_size", ("limited", "million"): "sample_limit",
                    ("unlimited", "million"): "memory_budget"}

        def all_failed():
            for (comp, inst), reason in expected.items():
                if debug_targets(comp)[inst].get("last_failure_reason") != reason:
                    return False
                if failed(comp, reason) < 2:
                    return False
            return True
        self.assertTrue(wait_for(all_failed, timeout=30, interval=0.5),
                        f"{debug_targets('limited')}\n{debug_targets('unlimited')}\n"
                        f"{t.output()[-4000:]}")
        for (comp, inst), reason in expected.items():
            info = debug_targets(comp)[inst]
            self.assertEqual(info["health"], "down", info)
            self.assertNotEqual(info["last_error"], "", info)
        self.assertIn("body size limit exceeded",
                      debug_targets("limited")["bomb"]["last_error"])
        self.assertIn("sample limit exceeded",
                      debug_targets("limited")["million"]["last_error"])
        self.assertIn("memory budget exhausted",
                      debug_targets("unlimited")["million"]["last_error"])

        # In Prometheus: up = 0 for the bad targets, 1 for the good one, per component.
        def up(comp, inst):
            r = query(f'up{{job="prometheus.scrape.{comp}",instance="{inst}"}}')
            return float(r[0]["value"][1]) if r else None
        self.assertTrue(wait_for(
            lambda: up("limited", "bomb") == 0 and up("limited", "million") == 0 and
            up("unlimited", "million") == 0 and up("limited", "good") == 1 and
            up("unlimited", "good") == 1, timeout=15, interval=0.5), t.output()[-4000:])
        self.assertEqual(query('series_1{instance="million"}'), [])  # nothing of them was kept

        # The good target keeps being scraped on schedule by both components while the others
        # keep failing: 4 more samples of it in 10 s (one every 2 s).
        def good_samples(comp):
            r = query(f'count_over_time(good_total{{job="prometheus.scrape.{comp}"}}[10m])')
            return float(r[0]["value"][1]) if r else 0
        before = {c: good_samples(c) for c in ("limited", "unlimited")}
        failures_before = failed("limited", "body_size")
        time.sleep(10)
        self.assertTrue(wait_for(
            lambda: all(good_samples(c) >= before[c] + 4 for c in before), timeout=5,
            interval=0.5), f"{before} -> {[good_samples(c) for c in before]}")
        self.assertGreaterEqual(failed("limited", "body_size"), failures_before + 2)

        hwm_mib = vm_hwm_kib(t.proc.pid) / 1024
        print(f"peak RSS {hwm_mib:.0f} MiB; requests {targets.requests}; "
              f"{time.time() - start:.0f} s")
        self.assertLess(hwm_mib, LIMIT_MIB + OVERHEAD_MIB)
        self.assertEqual(t.close(), 0)


if __name__ == "__main__":
    harness.main()
