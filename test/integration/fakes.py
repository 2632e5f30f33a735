"""Backends for integration tests, shared by every test that needs one (Python stdlib only).

- HttpBackend: a loopback HTTP/1.1 server that answers POSTs and records what it decoded. Its
  answer is `status()` (by default `ok_status` while `up`, 503 while not); a 2xx answer is given
  only to a body that `decode(path, headers, body)` accepted (gzip is undone first), else 400 and
  the exception is kept in `errors`. Every request is kept in `hits` as (time, path, status);
  non-2xx answers are counted in `refused`; `delay` seconds pass before each answer.
- FakeLoki: an HttpBackend for Loki's push API (snappy logproto.PushRequest; 204 when taken).
- FakeOtlpHttp: an HttpBackend for OTLP/HTTP (protobuf or JSON, by Content-Type; answers with
  the empty ExportResponse of the same encoding).
- Prometheus: a private real Prometheus (Debian's package) on a free loopback port with its own
  temporary TSDB and no scrape jobs; optionally the remote-write receiver; restartable on the
  same port and TSDB.

Decoders (loki_push, otlp_log_bodies, otlp_metric_points, otlp_spans) return what wire.py's
readers return, so tests can check the same values whatever the request's encoding.
Thread-safety: a backend's records are read with snapshot()/delivered() (under its lock); its
`up`, `status` and `delay` may be changed by the test at any time."""
import collections
import gzip
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import wire
from harness import free_port, http, wait_for


# ---- decoders ---------------------------------------------------------------------------------

def is_json(headers):
    return (headers.get("Content-Type") or "").split(";")[0].strip() == "application/json"


def loki_push(path, headers, body):
    """A Loki push: [(labels string, [(ts_ns, line)])] (wire.loki_push)."""
    return wire.loki_push(wire.snappy_decompress(body))


def _json_any(v):
    for k in ("stringValue", "boolValue", "doubleValue"):
        if k in v:
            return v[k]
    if "intValue" in v:
        return int(v["intValue"])
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def otlp_log_bodies(path, headers, body):
    """The bodies of every log record of an OTLP logs request (wire.otlp_log_bodies); a JSON
    request gives the same values (strings, ints, floats, bools)."""
    if not is_json(headers):
        return wire.otlp_log_bodies(body)
    doc = json.loads(body)
    return [_json_any(rec.get("body", {}))
            for rl in doc.get("resourceLogs", [])
            for sl in rl.get("scopeLogs", [])
            for rec in sl.get("logRecords", [])]


def otlp_metric_points(path, headers, body):
    """wire.otlp_metric_points of a protobuf OTLP metrics request."""
    return wire.otlp_metric_points(body)


def otlp_spans(path, headers, body):
    """wire.otlp_spans of a protobuf OTLP traces request."""
    return wire.otlp_spans(body)


# ---- HTTP backends ----------------------------------------------------------------------------

class HttpBackend:
    """See the module docstring. `decode` returns the value kept in `received`."""

    def __init__(self, decode, up=True, ok_status=200, delay=0.0, name="backend"):
        self.name = name
        self.decode = decode
        self.up = up
        self.ok_status = ok_status
        self.delay = delay
        self.status = lambda: self.ok_status if self.up else 503
        self.lock = threading.Lock()
        self.received = []   # decoded bodies of requests answered with 2xx
        self.hits = []       # (time, path, status) of every request
        self.errors = []     # decode failures (answered 400)
        self.refused = 0     # requests answered with something else than 2xx
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if backend.delay > 0:
                    time.sleep(backend.delay)
                status = backend.status()
                if 200 <= status < 300:
                    try:
                        if self.headers.get("Content-Encoding", "") == "gzip":
                            body = gzip.decompress(body)
                        decoded = backend.decode(self.path, self.headers, body)
                    except Exception as e:  # noqa: BLE001 - recorded and asserted on
                        with backend.lock:
                            backend.errors.append(f"{self.path}: {e!r}")
                        status = 400
                    else:
                        with backend.lock:
                            backend.received.append(decoded)
                with backend.lock:
                    backend.hits.append((time.time(), self.path, status))
                    if not 200 <= status < 300:
                        backend.refused += 1
                content_type, answer = backend.answer(self.headers, status)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, headers, status):
        """(Content-Type, body) of an answer; an empty protobuf message by default."""
        return "application/x-protobuf", b""

    def snapshot(self):
        with self.lock:
            return list(self.received)

    def items(self):
        """Every item of every decoded body (for decoders that return lists), in arrival order."""
        with self.lock:
            return [x for body in self.received for x in body]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class FakeLoki(HttpBackend):
    """Loki's push API: 204 for a decoded push; `decode` defaults to loki_push."""

    def __init__(self, decode=loki_push, up=True, **kw):
        kw.setdefault("ok_status", 204)
        super().__init__(decode, up=up, name=kw.pop("name", "loki"), **kw)

    def lines(self):
        """A Counter of every line received (at-least-once delivery shows as counts > 1)."""
        with self.lock:
            return collections.Counter(line for push in self.received
                                       for _, entries in push for _, line in entries)


class FakeOtlpHttp(HttpBackend):
    """An OTLP/HTTP endpoint; `decode` defaults to the log record bodies."""

    def __init__(self, decode=otlp_log_bodies, up=True, **kw):
        super().__init__(decode, up=up, name=kw.pop("name", "otlphttp"), **kw)

    def answer(self, headers, status):
        if 200 <= status < 300 and is_json(headers):
            return "application/json", b"{}"
        return "application/x-protobuf", b""

    def bodies(self):
        """A Counter of every string log body received."""
        return collections.Counter(b for b in self.items() if isinstance(b, str))


# ---- Prometheus -------------------------------------------------------------------------------

class Prometheus:
    """A private Prometheus: see the module docstring. The constructor starts it (and waits until
    it is ready unless wait=False); `proc` is the running process (tests may SIGSTOP it)."""

    def __init__(self, port=None, remote_write_receiver=True, wait=True,
                 prefix="telegate-prom-"):
        self.binary = shutil.which("prometheus")
        assert self.binary, "prometheus is not on PATH (scripts/setup.sh installs Debian's package)"
        self.remote_write_receiver = remote_write_receiver
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.cfg = os.path.join(self.dir, "prometheus.yml")
        with open(self.cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\n"
                    "scrape_configs: []\n")
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = None
        self.start(wait=wait)

    def start(self, wait=True):
        """Starts Prometheus on the same port and TSDB (again, after stop())."""
        args = [self.binary, f"--config.file={self.cfg}", f"--storage.tsdb.path={self.dir}/data",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        if self.remote_write_receiver:
            args.append("--web.enable-remote-write-receiver")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=60):
        def ready():
            assert self.proc.poll() is None, "prometheus exited:\n" + self.output()
            try:
                return http("GET", self.base + "/-/ready", timeout=2)[0] == 200
            except OSError:
                return False
        assert wait_for(ready, timeout=timeout, interval=0.1), \
            "prometheus not ready:\n" + self.output()

    def query(self, q):
        """The result list of an instant query."""
        status, _, body = http("GET", self.base + "/api/v1/query?" +
                               urllib.parse.urlencode({"query": q}))
        assert status == 200, body
        return json.loads(body)["data"]["result"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def close(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGCONT)  # a frozen Prometheus cannot terminate
            except ProcessLookupError:
                pass
        self.stop()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
