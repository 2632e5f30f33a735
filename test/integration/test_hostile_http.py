"""Hostile HTTP clients against the real binary (OTLP/HTTP receiver and admin server).

  (a) 5000 slow unauthenticated connections from 127.0.0.2 and 127.0.0.3 to the receiver and
      5000 more from 127.0.0.2 to the admin port (server defaults there), kept up for ~8 s, while
      an authenticated client keeps sending from 127.0.0.1: every one of its requests gets 200,
      and /-/healthy and /-/ready keep answering 200. The receiver's table is set to 2000 so that
      both the per-source limit (1024 by default) and table-full shedding are exercised; the
      sheds are counted in telegate_http_server_connections_shed_total.
  (b) 100 MB of unauthenticated uploads over 8 connections (with and without Expect, one chunked):
      every one is answered 401 before its body is read, and telegate's peak RSS (VmHWM) stays
      under --memory.limit plus a fixed overhead.
  (c) 50 clients that sent only request headers, then SIGTERM: the process is gone within 2 s.

Loopback only; every phase is bounded (a: ~15 s, b: a few seconds, c: 2 s)."""
import errno
import http.client
import os
import resource
import selectors
import signal
import socket
import tempfile
import threading
import time
import unittest

import harness
from harness import Telegate, free_port, wait_for
from harness import http as http_call

TOKEN = "good-token"
LIMIT_MIB = 64
RSS_OVERHEAD_MIB = 64
PROTO_LOGS = bytes.fromhex("0a0b120912072a050a036f6e65")  # logs request, one record "one"


def config(http_port, max_connections=None):
    limit = "" if max_connections is None else f"max_connections = {max_connections}"
    return f'''
otelcol.auth.bearer "t" {{
  token = "{TOKEN}"
}}

otelcol.receiver.otlp "default" {{
  http {{
    endpoint = "127.0.0.1:{http_port}"
    auth     = otelcol.auth.bearer.t.handler
    {limit}
  }}

  output {{
    logs = [otelcol.exporter.file.out.input]
  }}
}}

otelcol.exporter.file "out" {{ }}
'''


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft >= need


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def metric(text, name, *label_parts):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(p in line for p in label_parts):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Flood:
    """Keeps `count` slow connections open to `port` from `sources`: each sends a partial request
    header and then one more header byte every 2 s; a connection the server closes is reopened."""

    def __init__(self, port, sources, count):
        self.port, self.sources, self.count = port, sources, count
        self.sel = selectors.DefaultSelector()
        self.socks = {}  # fd -> (sock, next drip time)
        self.opened = 0
        self.closed_by_server = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open_one(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((self.sources[self.opened % len(self.sources)], 0))
            rc = s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            return False
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            return False
        self.opened += 1
        self.socks[s.fileno()] = [s, time.time(), False]
        self.sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        return True

    def drop(self, fd):
        s = self.socks.pop(fd)[0]
        try:
            self.sel.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()

    def run(self):
        while not self.stop.is_set():
            budget = 300  # new connections per round
            while len(self.socks) < self.count and budget > 0 and self.open_one():
                budget -= 1
            now = time.time()
            for key, ev in self.sel.select(timeout=0.05):
                fd = key.fd
                entry = self.socks.get(fd)
                if entry is None:
                    continue
                s = entry[0]
                if ev & selectors.EVENT_READ:
                    try:
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        self.closed_by_server += 1
                        self.drop(fd)
                        continue
                if ev & selectors.EVENT_WRITE and not entry[2]:
                    try:
                        s.send(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\n")
                        entry[2] = True
                        self.sel.modify(s, selectors.EVENT_READ)
                    except OSError:
                        self.drop(fd)
            for fd, entry in list(self.socks.items()):
                if entry[2] and now - entry[1] > 2:
                    entry[1] = now
                    try:
                        entry[0].send(b"X")
                    except OSError:
                        self.closed_by_server += 1
                        self.drop(fd)
        for fd in list(self.socks):
            self.drop(fd)
        self.sel.close()


class HostileHttpTest(unittest.TestCase):
    def start(self, max_connections=None, extra_args=()):
        self.dir = tempfile.mkdtemp()
        self.http_port = free_port()
        path = os.path.join(self.dir, "config.alloy")
        with open(path, "w") as f:
            f.write(config(self.http_port, max_connections))
        self.t = Telegate(path, extra_args=[f"--memory.limit={LIMIT_MIB}MiB", *extra_args])
        self.t.wait_ready()

    def tearDown(self):
        if getattr(self, "t", None) is not None:
            self.t.close(timeout=30)

    def send_logs(self, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        c.request("POST", "/v1/logs", body=PROTO_LOGS,
                  headers={"Content-Type": "application/x-protobuf",
                           "Authorization": "Bearer " + TOKEN})
        r = c.getresponse()
        r.read()
        if conn is None:
            c.close()
        return r.status

    def test_a_slow_flood_does_not_lock_out_clients_or_probes(self):
        if not raise_fd_limit(11000):
            self.skipTest("needs 11000 open files for the flooding client")
        self.start(max_connections=2000)
        # 3 of 4 connections from 127.0.0.2: it hits its per-source limit (1024) while the two
        # sources together overfill the table (2000).
        receiver_flood = Flood(self.http_port, ["127.0.0.2"] * 3 + ["127.0.0.3"], 5000)
        admin_flood = Flood(self.t.port, ["127.0.0.2"], 5000)
        receiver_flood.thread.start()
        admin_flood.thread.start()
        statuses, probe_failures = [], []
        try:
            time.sleep(2)  # let the flood fill the tables
            keep = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
            end = time.time() + 8
            while time.time() < end:
                statuses.append(self.send_logs())      # a new connection each time
                statuses.append(self.send_logs(keep))  # and one kept alive
                for path in ("/-/healthy", "/-/ready"):
                    try:
                        st, _, _ = http_call("GET", self.t.base + path, timeout=5)
                    except OSError as e:
                        st = repr(e)
                    if st != 200:
                        probe_failures.append((path, st))
                time.sleep(0.05)
            keep.close()
        finally:
            receiver_flood.stop.set()
            admin_flood.stop.set()
            receiver_flood.thread.join(30)
            admin_flood.thread.join(30)
        self.assertGreater(len(statuses), 20)
        self.assertEqual(set(statuses), {200}, statuses)
        self.assertEqual(probe_failures, [])
        self.assertGreater(receiver_flood.opened, 3000)
        self.assertGreater(admin_flood.opened, 3000)
        _, _, text = self.t.get("/metrics")
        sheds = "\n".join(l for l in text.splitlines()
                          if l.startswith("telegate_http_server_connections_shed_total{"))
        server = 'server="otelcol.receiver.otlp.default"'
        self.assertGreater(metric(text, "telegate_http_server_connections_shed_total", server,
                                  'reason="per_client_limit"'), 0, sheds)
        self.assertGreater(metric(text, "telegate_http_server_connections_shed_total", server,
                                  'reason="unauthenticated"'), 0, sheds)

    def test_b_unauthenticated_uploads_are_not_read(self):
        self.start()
        pid = self.t.proc.pid
        before = vm_hwm_kib(pid)
        size = 12_500_000
        results = []
        chunk = b"x" * (256 << 10)

        def upload(i):
            s = socket.create_connection(("127.0.0.1", self.http_port), timeout=10)
            try:
                chunked = i == 7
                head = ("POST /v1/logs HTTP/1.1\r\nHost: x\r\n"
                        "Content-Type: application/x-protobuf\r\n")
                if i % 2:
                    head += "Authorization: Bearer wrong\r\n"
                head += ("Transfer-Encoding: chunked\r\n" if chunked
                         else f"Content-Length: {size}\r\n")
                if i in (2, 3):
                    head += "Expect: 100-continue\r\n"
                s.sendall((head + "\r\n").encode())
                sent = 0
                try:
                    while sent < size:
                        piece = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") if chunked else chunk
                        s.sendall(piece)
                        sent += len(chunk)
                except OSError:
                    pass  # the server closed the connection: expected
                data = b""
                try:
                    while b"\r\n" not in data:
                        more = s.recv(4096)
                        if not more:
                            break
                        data += more
                except OSError:
                    pass
                results.append(data.split(b"\r\n", 1)[0])
            finally:
                s.close()

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertEqual(len(results), 8)
        for line in results:
            self.assertIn(b" 401 ", line + b" ", results)
        self.assertEqual(self.send_logs(), 200)
        peak = vm_hwm_kib(pid)
        self.assertLess(peak, (LIMIT_MIB + RSS_OVERHEAD_MIB) * 1024,
                        f"VmHWM {peak} KiB (before the uploads: {before} KiB)")

    def test_c_sigterm_with_header_only_clients_exits_promptly(self):
        self.start()
        socks = []
        for i in range(50):
            s = socket.create_connection(("127.0.0.1", self.http_port), timeout=5)
            s.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                      TOKEN.encode() + b"\r\nContent-Type: application/x-protobuf\r\n"
                      b"Content-Length: 100000\r\n\r\n" if i % 2 else
                      b"POST /v1/logs HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        time.sleep(0.3)
        start = time.time()
        self.t.proc.send_signal(signal.SIGTERM)
        try:
            self.t.proc.wait(timeout=2)
        except Exception:  # noqa: BLE001 - reported below
            pass
        elapsed = time.time() - start
        for s in socks:
            s.close()
        self.assertIsNotNone(self.t.proc.poll(), "telegate still running 2 s after SIGTERM")
        self.assertLess(elapsed, 2.0)
        self.assertEqual(self.t.proc.returncode, 0, self.t.output()[-3000:])


if __name__ == "__main__":
    harness.main()
