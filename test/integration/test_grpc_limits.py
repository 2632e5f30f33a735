"""The OTLP/gRPC server's protective limits in the real binary, attacked over raw HTTP/2 on
loopback (h2_attack.py) while a well-behaved gRPC client (telegate_grpc_probe, path in
$TELEGATE_GRPC_PROBE) keeps exporting.

- Rapid reset (CVE-2023-44487): several connections open a stream for LogsService/Export and reset
  it at once, thousands of times per second, for 10 s. Every export of the good client succeeds
  within its deadline, /-/healthy answers, peak RSS stays bounded, the attackers' connections are
  closed (telegate_receiver_closed_connections_total) and the process goes back to idle.
- max_concurrent_streams: on a connection that acknowledged SETTINGS, 100 open streams are
  served and the 101st ends the connection (gRPC 1.51 treats it as a connection error).
- A token holder that never acknowledges SETTINGS (so gRPC 1.51 does not apply
  max_concurrent_streams) and leaves 20000 streams open cannot pile them up: calls waiting for
  their request are capped and the connection is closed.
- SIGTERM with 50 streams that sent only their HEADERS: the process exits within 2 s.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import harness
from harness import Telegate, free_port, http, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import h2_attack  # noqa: E402

TOKEN = "good-token"
MEMORY_LIMIT_MIB = 256


def config(grpc_port):
    return f'''
otelcol.auth.bearer "t" {{
  token = "{TOKEN}"
}}

otelcol.receiver.otlp "default" {{
  grpc {{
    endpoint = "127.0.0.1:{grpc_port}"
    auth     = otelcol.auth.bearer.t.handler
  }}

  output {{
    logs = [otelcol.exporter.file.out.input]
  }}
}}

otelcol.exporter.file "out" {{ }}
'''


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(text, name, labels=""):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


class GrpcLimitsTest(unittest.TestCase):
    def setUp(self):
        self.probe = os.environ.get("TELEGATE_GRPC_PROBE")
        if not self.probe or not os.path.exists(self.probe):
            self.fail("TELEGATE_GRPC_PROBE must name the telegate_grpc_probe binary")
        self.dir = tempfile.mkdtemp()
        self.grpc_port = free_port()
        path = os.path.join(self.dir, "config.alloy")
        with open(path, "w") as f:
            f.write(config(self.grpc_port))
        self.t = Telegate(path, extra_args=(f"--memory.limit={MEMORY_LIMIT_MIB}MiB",))
        self.t.wait_ready()
        self.pid = self.t.proc.pid
        self.assertTrue(wait_for(lambda: self.run_probe(seconds=0.2).returncode == 0, timeout=10))

    def tearDown(self):
        self.t.close()

    def run_probe(self, seconds, deadline_ms=5000):
        return subprocess.run(
            [self.probe, "--target", f"127.0.0.1:{self.grpc_port}", "--token", TOKEN,
             "--seconds", str(seconds), "--deadline-ms", str(deadline_ms), "--interval-ms", "20"],
            capture_output=True, text=True, timeout=seconds + 30)

    def closed_connections(self):
        _, _, text = self.t.get("/metrics")
        return metric(text, "telegate_receiver_closed_connections_total", 'protocol="grpc"')

    def test_rapid_reset_while_good_client_exports(self):
        baseline_kb = rss_kb(self.pid)
        seconds = 10
        attackers = [subprocess.Popen(
            [sys.executable, os.path.join(HERE, "h2_attack.py"), "rapid-reset",
             "--port", str(self.grpc_port), "--connections", "2", "--seconds", str(seconds),
             "--rate", "2000"], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        peak_kb = [baseline_kb]
        health = []
        stop = threading.Event()

        def watch():
            next_health = 0.0
            while not stop.is_set():
                peak_kb[0] = max(peak_kb[0], rss_kb(self.pid))
                if time.monotonic() >= next_health:
                    try:
                        health.append(http("GET", self.t.base + "/-/healthy", timeout=2)[0])
                    except OSError as e:
                        health.append(repr(e))
                    next_health = time.monotonic() + 0.5
                time.sleep(0.1)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            probe = self.run_probe(seconds=seconds)
            results = [json.loads(a.communicate(timeout=60)[0]) for a in attackers]
        finally:
            stop.set()
            watcher.join(10)
            for a in attackers:
                if a.poll() is None:
                    a.kill()
        streams = sum(r["streams"] for r in results)
        connections = sum(r["connections"] for r in results)
        summary = json.loads(probe.stdout)
        print(f"rapid reset: {streams} streams on {connections} connections; good client "
              f"{summary}; peak RSS {peak_kb[0] // 1024} MiB (baseline {baseline_kb // 1024} MiB)",
              file=sys.stderr)

        self.assertGreaterEqual(streams, 20000, "the attack did not run at thousands per second")
        # Every export of the good client succeeded within its 5 s deadline.
        self.assertEqual(probe.returncode, 0, probe.stdout + probe.stderr)
        self.assertGreater(summary["calls"], 50)
        self.assertEqual(summary["ok"], summary["calls"])
        self.assertTrue(health and all(s == 200 for s in health), health)
        # The attackers' connections were closed by telegate, which they noticed and reopened.
        self.assertGreater(self.closed_connections(), 0)
        self.assertGreater(connections, 4)
        # Memory stayed bounded: well under --memory.limit.
        self.assertLess(peak_kb[0] - baseline_kb, 150 * 1024, f"peak RSS {peak_kb[0]} kB")
        # Once the attack is over the process goes back to idle (no backlog left to work off).
        time.sleep(1)
        before = cpu_seconds(self.pid)
        time.sleep(2)
        self.assertLess(cpu_seconds(self.pid) - before, 0.4)
        self.assertEqual(self.run_probe(seconds=0.5).returncode, 0)

    def test_max_concurrent_streams_per_connection(self):
        headers = h2_attack.grpc_headers(self.grpc_port, token=TOKEN)
        for n, expect_closed in ((100, False), (101, True)):
            conn = h2_attack.Conn(self.grpc_port, ack_settings=True)
            try:
                self.assertTrue(conn.settings_acked_by_us.wait(5))
                self.assertEqual(conn.server_settings.get(3), 100)  # SETTINGS_MAX_CONCURRENT_STREAMS
                out = b"".join(h2_attack.frame(h2_attack.HEADERS, h2_attack.END_HEADERS,
                                               conn.new_stream_id(), headers) for _ in range(n))
                conn.send(out)
                closed = conn.closed.wait(3)
                self.assertEqual(closed, expect_closed, f"{n} streams, server frames: "
                                 f"rst={conn.rst_codes} goaway={conn.goaway}")
            finally:
                conn.close()
            # Other clients are not affected.
            self.assertEqual(self.run_probe(seconds=0.3).returncode, 0)

    def test_open_streams_without_settings_ack_are_capped(self):
        baseline_kb = rss_kb(self.pid)
        conn = h2_attack.Conn(self.grpc_port, ack_settings=False)
        headers = h2_attack.grpc_headers(self.grpc_port, token=TOKEN)
        try:
            for _ in range(20):
                if conn.closed.is_set():
                    break
                out = b"".join(h2_attack.frame(h2_attack.HEADERS, h2_attack.END_HEADERS,
                                               conn.new_stream_id(), headers) for _ in range(1000))
                try:
                    conn.send(out)
                except OSError:
                    break
                time.sleep(0.1)
            self.assertTrue(conn.closed.wait(10), "the connection holding 20000 streams stayed open")
            print(f"open streams without ack: {conn.next_stream // 2} opened, server frames: "
                  f"rst={conn.rst_codes} goaway={conn.goaway}; RSS {rss_kb(self.pid) // 1024} MiB "
                  f"(baseline {baseline_kb // 1024} MiB)", file=sys.stderr)
        finally:
            conn.close()
        self.assertGreater(self.closed_connections(), 0)
        time.sleep(1)
        self.assertLess(rss_kb(self.pid) - baseline_kb, 150 * 1024)
        self.assertEqual(self.run_probe(seconds=0.5).returncode, 0)

    def test_sigterm_with_header_only_streams_exits_promptly(self):
        # 50 token holders each open a stream and send only its HEADERS, then wait: nothing of
        # theirs was accepted, so SIGTERM must not wait for them (nor for their open connections).
        conns = []
        try:
            for _ in range(50):
                conn = h2_attack.Conn(self.grpc_port)
                conn.send(h2_attack.frame(h2_attack.HEADERS, h2_attack.END_HEADERS,
                                          conn.new_stream_id(),
                                          h2_attack.grpc_headers(self.grpc_port, TOKEN)))
                conns.append(conn)
            time.sleep(0.5)
            start = time.monotonic()
            self.assertEqual(self.t.close(timeout=15), 0)
            self.assertLess(time.monotonic() - start, 2.0, "SIGTERM waited for half-open streams")
        finally:
            for conn in conns:
                conn.close()


if __name__ == "__main__":
    unittest.main(argv=harness.parse_args())
