"""Certificate rotation of otelcol.receiver.otlp's `tls` block without a restart, as cert-manager
and kubelet do it (issue 11, Acceptance: "while a client keeps sending over TLS, the certificate
files are replaced (atomic symlink swap as kubelet does it); the client sees the new certificate on
its next handshake with no failed request; replacing them with a mismatched pair keeps the old
one serving and logs why").

cert_file / key_file name dir/tls.crt and dir/tls.key, symlinks into dir/..data, itself a symlink
to a timestamped directory that is replaced by rename(2) (tls_common.KubeletDir). No
reload_interval is set: telegate watches the files (src/net/tls/tls.h). While a client opens a
new TLS connection for every request, ten a second:
  1. the pair is swapped for a new certificate from the same CA: within 10 s every new handshake
     presents it (its SHA-256 fingerprint), the old one never again, no request fails, and a
     keep-alive connection opened before the swap keeps working;
  2. the pair is swapped for a mismatched one (the certificate of a third pair with the key of the
     second): the second certificate keeps serving, no request fails, telegate logs a line naming
     the problem (once, not every second) and telegate_tls_certificate_reloads_total
     {result="error"} counts it;
  3. a good pair again (the third): it is served.
Every accepted request's data is in the file exporter's output. The HTTP case runs again with
cert_file / key_file as two plain files replaced one after the other (tls_common.PlainFiles).
HTTP: a Python `ssl` client posting OTLP/JSON logs. gRPC: @grpc/grpc-js (otel-js/grpc_probe.mjs
--fresh 1), a new channel per call, and beside it one long-lived channel whose connection must
survive every swap.

Run: python3 test/e2e/test_tls_rotation.py --binary build/release/src/main/telegate --source-dir .
     (or ctest -R e2e.tls_rotation)."""
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import unittest
import uuid

import e2e_common as e2e
import harness
import tls_common as tc

INTERVAL = 0.1        # seconds between the client's requests
SWAP_DEADLINE = 10.0  # seconds for a swap to show in new handshakes
METRIC = "telegate_tls_certificate_reloads_total"


class HttpClient:
    """Posts one log record per fresh TLS connection until stopped; records every outcome."""

    def __init__(self, port, ca):
        self.port, self.ctx = port, tc.client_context(ca=ca)
        self.results, self.messages = [], []  # (time, Outcome)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        n = 0
        while not self._stop.is_set():
            n += 1
            message = f"rotation {uuid.uuid4().hex[:8]} #{n}"
            out = tc.tls_connect(self.port, self.ctx, timeout=10,
                                 request=tc.http_request("/v1/logs", tc.log_body(message)))
            out.ok = out.ok and out.status == 200
            if out.ok:
                self.messages.append(message)
            self.results.append((time.time(), out.fingerprint, out.ok, repr(out)))
            self._stop.wait(INTERVAL)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)


class GrpcClient:
    """grpc_probe.mjs with a new channel per call (or, fresh=False, one channel for all); its
    JSON lines are read as they come."""

    def __init__(self, port, ca, fresh=True):
        self.results = []
        self.proc = subprocess.Popen(
            ["node", "grpc_probe.mjs", "--endpoint", f"127.0.0.1:{port}", "--token", e2e.TOKEN,
             "--calls", "1200", "--interval-ms", str(int(INTERVAL * 1000)),
             "--fresh", "1" if fresh else "0", "--ca", ca], cwd=e2e.OTEL_JS,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=e2e.client_env())
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("{"):
                r = json.loads(line)
                self.results.append((r["time"], r.get("fingerprint"), r["code"] == 0, line.strip()))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._thread.join(timeout=10)
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


class TlsRotationTest(unittest.TestCase):
    def setUp(self):
        self.workdir = tc.mkdtemp("telegate-e2e-tlsrot-")
        self.addCleanup(shutil.rmtree, self.workdir, True)
        pki = tc.Pki(os.path.join(self.workdir, "pki"))
        self.ca = pki.ca("ca")
        self.first = pki.issue(self.ca, "first")
        self.second = pki.issue(self.ca, "second")
        self.third = pki.issue(self.ca, "third")
        self.secret = tc.KubeletDir(os.path.join(self.workdir, "secret"), self.first)

    def start(self, grpc):
        port = harness.free_port()
        tls = tc.tls_block(self.secret.cert_file, self.secret.key_file)
        block = (tc.receiver_block("rot", grpc_port=port, grpc_tls=tls) if grpc
                 else tc.receiver_block("rot", http_port=port, http_tls=tls))
        self.t = tc.start(self.workdir, tc.config(block), [port])
        self.addCleanup(tc.stop, self.t)
        return port

    def wait_seen(self, client, fingerprint, what):
        """Waits until a successful handshake presents `fingerprint`; returns the seconds taken."""
        t0 = time.time()
        ok = harness.wait_for(lambda: any(fp == fingerprint and good
                                          for ts, fp, good, _ in client.results if ts >= t0),
                              timeout=SWAP_DEADLINE, interval=0.05)
        self.assertTrue(ok, f"{what}: no handshake presented the expected certificate within "
                            f"{SWAP_DEADLINE} s; last results:\n"
                            + "\n".join(r[3] for r in client.results[-5:])
                            + f"\ntelegate:\n{self.t.output()[-3000:]}")
        return time.time() - t0

    def error_lines(self, since):
        out = self.t.output()[since:]
        return [line for line in out.splitlines()
                if re.search(r"(?i)tls|certificate", line)
                and re.search(r"(?i)match|key", line)]

    def rotate(self, client, check_keepalive):
        fp1, fp2, fp3 = (c.fingerprint() for c in (self.first, self.second, self.third))
        self.wait_seen(client, fp1, "before any swap")
        harness.wait_for(lambda: len(client.results) >= 5, timeout=10)

        keep = check_keepalive() if check_keepalive else None

        # 1. A new pair from the same CA.
        swapped_at = time.time()
        self.secret.swap(self.second)
        took = self.wait_seen(client, fp2, "after the swap to the second certificate")
        print(f"\nnew certificate served {took:.2f} s after the swap")
        if keep:
            keep()
        ok_reloads = tc.metric_value(self.t, METRIC, result="ok")
        self.assertGreaterEqual(ok_reloads or 0, 1, f"{METRIC}{{result=\"ok\"}} after a swap")

        # 2. A mismatched pair: the third certificate with the second key.
        log_offset = len(self.t.output())
        errors_before = tc.metric_value(self.t, METRIC, result="error") or 0
        self.secret.swap(self.third, key=self.second)
        got_error = harness.wait_for(
            lambda: (tc.metric_value(self.t, METRIC, result="error") or 0) > errors_before,
            timeout=10)
        self.assertTrue(got_error, f"{METRIC}{{result=\"error\"}} did not count the mismatched "
                                   f"pair:\n{self.t.get('/metrics')[2][-3000:]}\ntelegate:\n"
                                   f"{self.t.output()[log_offset:][-3000:]}")
        lines = self.error_lines(log_offset)
        self.assertTrue(lines, "no log line says why the mismatched pair was refused:\n"
                               + self.t.output()[log_offset:][-3000:])
        n_lines = len(lines)
        time.sleep(3)  # three more watcher periods: the old certificate keeps serving, quietly
        self.assertEqual(len(self.error_lines(log_offset)), n_lines,
                         "the refusal is logged again and again:\n" + "\n".join(
                             self.error_lines(log_offset)))
        recent = [r for r in client.results if r[0] >= time.time() - 2.5]
        self.assertTrue(recent, "the client stopped sending")
        self.assertEqual({fp for _, fp, _, _ in recent}, {fp2},
                         "not the second certificate served after the mismatched swap:\n"
                         + "\n".join(r[3] for r in recent))
        print(f"refusal logged: {lines[0]}")

        # 3. A good pair again.
        self.secret.swap(self.third)
        self.wait_seen(client, fp3, "after the swap to the third certificate")
        time.sleep(0.5)
        return swapped_at, (fp1, fp2, fp3)

    def check_results(self, results, swapped_at, fps):
        fp1, fp2, fp3 = fps
        print(f"{len(results)} requests, each on a new TLS connection")
        failed = [r[3] for r in results if not r[2]]
        self.assertEqual(failed, [], f"{len(failed)} of {len(results)} requests failed "
                                     f"during the rotation")
        self.assertGreater(len(results), 30, "the client sent too few requests")
        seen = [fp for _, fp, _, _ in results]
        self.assertLessEqual(set(seen), {fp1, fp2, fp3}, "an unexpected certificate was served")
        # Once a certificate was presented, the previous one never came back.
        first2, first3 = seen.index(fp2), seen.index(fp3)
        self.assertNotIn(fp1, seen[first2:], "the first certificate came back after the swap")
        self.assertNotIn(fp2, seen[first3:], "the second certificate came back")
        self.assertTrue(all(ts >= swapped_at for ts, fp, _, _ in results if fp == fp2))

    def test_http_rotation(self):
        self.http_rotation(keepalive_check=True)

    def test_http_rotation_plain_files(self):
        # Not a kubelet mount: two plain files replaced one after the other.
        self.secret = tc.PlainFiles(os.path.join(self.workdir, "plain"), self.first)
        self.http_rotation(keepalive_check=False)

    def http_rotation(self, keepalive_check):
        port = self.start(grpc=False)
        client = HttpClient(port, self.ca.cert)

        def keepalive():
            # A connection opened before the swap: it keeps its certificate and keeps working.
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            s = tc.client_context(ca=self.ca.cert).wrap_socket(raw, server_hostname="127.0.0.1")
            self.addCleanup(s.close)
            msg = f"keepalive {uuid.uuid4().hex[:8]}"
            s.sendall(tc.http_request("/v1/logs", tc.log_body(msg + " a"), keep_alive=True))
            self.assertEqual(tc.read_response(s)[0], 200)
            fp_before = s.getpeercert(binary_form=True)

            def after():
                try:
                    s.sendall(tc.http_request("/v1/logs", tc.log_body(msg + " b"),
                                              keep_alive=True))
                    status = tc.read_response(s)[0]
                except (ssl.SSLError, OSError, ConnectionError) as e:
                    self.fail(f"the keep-alive connection opened before the swap was cut: {e}")
                self.assertEqual(status, 200)
                self.assertEqual(s.getpeercert(binary_form=True), fp_before)
                client.messages.extend([msg + " a", msg + " b"])
            return after

        try:
            swapped_at, fps = self.rotate(client, keepalive if keepalive_check else None)
        finally:
            client.stop()
        self.check_results(client.results, swapped_at, fps)
        harness.wait_for(lambda: tc.count_messages(self.t.storage, client.messages)
                         >= len(client.messages), timeout=5)
        self.assertEqual(tc.count_messages(self.t.storage, client.messages), len(client.messages),
                         "accepted requests missing from the file exporter's output")

    def test_grpc_rotation(self):
        e2e.ensure_node_modules()
        port = self.start(grpc=True)
        client = GrpcClient(port, self.ca.cert)
        # One channel for the whole run: its connection must not be cut by the rotations (a
        # reconnection would show as a handshake with a newer certificate).
        steady = GrpcClient(port, self.ca.cert, fresh=False)
        try:
            swapped_at, fps = self.rotate(client, None)
        finally:
            err = client.stop()
            steady_err = steady.stop()
        self.assertTrue(client.results, f"grpc_probe.mjs reported nothing:\n{err}")
        self.check_results(client.results, swapped_at, fps)
        self.assertGreater(len(steady.results), 30, steady_err)
        self.assertEqual([r[3] for r in steady.results if not r[2]], [],
                         "calls on the long-lived channel failed during the rotation")
        self.assertEqual({r[1] for r in steady.results}, {fps[0]},
                         "the long-lived channel reconnected (its connection was cut)")


if __name__ == "__main__":
    harness.main()
