"""Shared helpers for integration tests: run the real telegate binary on free loopback ports."""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

ARGS = None


def parse_args():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--source-dir", required=True)
    ARGS, rest = p.parse_known_args()
    return [sys.argv[0]] + rest


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=10):
    """Returns (status, headers, body text); never raises for HTTP error statuses."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


def run_cli(*args, env=None, stdin=None, timeout=60):
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([ARGS.binary, *args], input=stdin, capture_output=True, text=True,
                          env=e, timeout=timeout)


# Every Telegate started by this test process, so that a failing test can show their logs.
_INSTANCES = []


class Telegate:
    """A running telegate process; stops it (SIGTERM, then SIGKILL) on close()."""

    def __init__(self, config_path=None, env=None, extra_args=(), storage=None):
        _INSTANCES.append(self)
        self.port = free_port()
        self.storage = storage or tempfile.mkdtemp(prefix="telegate-it-")
        self.base = f"http://127.0.0.1:{self.port}"
        args = [ARGS.binary, "run"]
        if config_path:
            args.append(config_path)
        args += [f"--server.http.listen-addr=127.0.0.1:{self.port}",
                 f"--storage.path={self.storage}", *extra_args]
        e = dict(os.environ)
        if env:
            e.update(env)
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=e)

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"telegate exited with {self.proc.returncode}:\n{self.output()}")
            try:
                status, _, _ = http("GET", self.base + "/-/ready", timeout=2)
                if status == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise AssertionError("telegate did not become ready:\n" + self.output())

    def get(self, path, **kw):
        return http("GET", self.base + path, **kw)

    def post(self, path, body=b"", **kw):
        return http("POST", self.base + path, body=body, **kw)

    def components(self):
        status, _, body = self.get("/api/v0/web/components")
        assert status == 200, body
        return {c["localID"]: c for c in json.loads(body)}

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def close(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("telegate did not stop within %ss" % timeout)
        return self.proc.returncode


def wait_for(predicate, timeout=10, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


class _LogDumpingResult(unittest.TextTestResult):
    """Prints the tail of every telegate's log when a test fails, so that a failure in CI can be
    understood from its output alone."""

    def _dump(self):
        for tg in _INSTANCES:
            try:
                lines = tg.output().splitlines()[-60:]
            except (OSError, ValueError):
                continue
            self.stream.write("---- telegate (pid %s) log, last %d lines ----\n"
                              % (tg.proc.pid, len(lines)))
            self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump()

    def addError(self, test, err):
        super().addError(test, err)
        self._dump()


def main():
    argv = parse_args()
    unittest.main(argv=argv, verbosity=2,
                  testRunner=unittest.TextTestRunner(resultclass=_LogDumpingResult,
                                                     verbosity=2))
