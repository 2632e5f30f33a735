"""End to end with real peers: the OpenTelemetry JS SDK's OTLP exporters (HTTP/JSON,
HTTP/protobuf, gRPC) and curl send to telegate's otelcol.receiver.otlp, authenticated by
otelcol.auth.bearer; what otelcol.exporter.file writes is compared field by field with what the
client reports it exported.

Run: python3 test/e2e/test_otlp_sdk.py --binary build/dev/src/main/telegate --source-dir .
     (or ctest -R e2e.otlp_sdk). Needs node >= 20.6 and npm; runs `npm ci` in test/e2e/otel-js
     when node_modules is missing."""
import shutil
import tempfile
import time
import unittest
import uuid

import e2e_common as e2e
import harness

TRANSPORTS = ("http-json", "http-protobuf", "grpc")


class OtlpSdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        e2e.ensure_node_modules()
        cls.workdir = tempfile.mkdtemp(prefix="telegate-e2e-")
        cls.t, cls.grpc_port, cls.http_port = e2e.start_telegate(cls.workdir)

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.t.close()
            if rc != 0:
                print(f"telegate exited with {rc}:\n{cls.t.output()}")
        finally:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            shutil.rmtree(cls.t.storage, ignore_errors=True)

    def endpoint(self, transport, prefix=""):
        port = self.grpc_port if transport == "grpc" else self.http_port
        return f"http://127.0.0.1:{port}{prefix}"

    def run_id(self, what):
        return f"{what}-{uuid.uuid4().hex[:12]}"

    # ------------------------------------------------------------------------------------------
    # The SDK's exporters, all three transports.

    def check_sdk(self, transport, prefix="", count=5, compression="none"):
        run_id = self.run_id(transport)
        rc, summary, err = e2e.send(transport, self.endpoint(transport, prefix), e2e.TOKEN, run_id,
                                    count=count, compression=compression)
        self.assertIsNotNone(summary, f"send.mjs printed no summary (rc {rc}):\n{err}")
        self.assertEqual(rc, 0, f"the {transport} exporters reported failures:\n{err}\n"
                                f"exports: {summary['exports']}\ntelegate:\n{self.t.output()[-3000:]}")
        self.assertEqual(len(summary["traces"]), count)
        self.assertEqual(len(summary["logs"]), count)
        self.assertGreaterEqual(len(summary["metrics"]), 4)
        # An acknowledged batch is already in the file (file.h); allow a little slack anyway.
        want = {"traces": len(summary["traces"]), "logs": len(summary["logs"])}
        harness.wait_for(lambda: all(e2e.run_items(self.t.storage, run_id)[s] >= n
                                     for s, n in want.items()), timeout=5)
        diffs, counts = e2e.compare_summary(summary, self.t.storage)
        self.assertEqual(diffs, [], f"{transport}{prefix} ({compression}): {len(diffs)} difference(s) between what "
                                    f"the SDK exported and what telegate wrote (expected, found: "
                                    f"{counts}):\n{e2e.format_diffs(diffs)}")
        for sig, (n_exp, n_found) in counts.items():
            self.assertEqual(n_exp, n_found, sig)

    def test_sdk_http_json(self):
        self.check_sdk("http-json")

    def test_sdk_http_protobuf(self):
        self.check_sdk("http-protobuf")

    def test_sdk_grpc(self):
        self.check_sdk("grpc")

    def test_sdk_http_protobuf_observability_prefix(self):
        self.check_sdk("http-protobuf", prefix="/observability")

    def test_sdk_http_json_observability_prefix(self):
        self.check_sdk("http-json", prefix="/observability")

    def test_sdk_gzip(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                self.check_sdk(transport, compression="gzip")

    def test_sdk_many_items(self):
        # Larger requests (hundreds of KiB of JSON): several reads, chunked bodies.
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                self.check_sdk(transport, count=400)

    def check_wrong_token(self, transport, token):
        run_id = self.run_id("wrong-" + transport)
        rc, summary, err = e2e.send(transport, self.endpoint(transport), token, run_id,
                                    expect_failure=True)
        self.assertIsNotNone(summary, f"send.mjs printed no summary (rc {rc}):\n{err}")
        self.assertEqual(rc, 0, f"with token {token!r} the {transport} exporters did not all "
                                f"fail:\n{err}")
        # They failed because of authentication, not for another reason.
        want = 16 if transport == "grpc" else 401  # UNAUTHENTICATED / 401 Unauthorized
        for sig, calls in summary["exports"].items():
            for c in calls:
                self.assertEqual(c.get("errorCode"), want,
                                 f"{transport} {sig}: failed, but not with {want}: {c}")
        time.sleep(0.2)
        self.assertEqual(e2e.run_items(self.t.storage, run_id),
                         {"traces": 0, "logs": 0, "metrics": 0},
                         "rejected data was written")

    def test_wrong_token_rejected(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                self.check_wrong_token(transport, "not-the-token")

    def test_empty_token_rejected(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                self.check_wrong_token(transport, "")

    # ------------------------------------------------------------------------------------------
    # The seed guide's curl example.

    def find_log(self, message):
        return [(r, s, rec) for r, s, rec in e2e.flatten(self.t.storage, "logs")
                if (rec.get("body") or {}).get("stringValue") == message]

    def test_seed_curl_example(self):
        for path in ("/v1/logs", "/observability/v1/logs"):
            with self.subTest(path=path):
                url = f"http://127.0.0.1:{self.http_port}{path}"
                message = f"Application log message {uuid.uuid4().hex[:8]}"
                body, t_ns = e2e.seed_log_body(message)
                status, ctype, text = e2e.curl(url, body, token=e2e.TOKEN)
                self.assertEqual(status, 200, f"{path}: {text}")
                self.assertIn("application/json", ctype)
                self.assertTrue(text.strip().startswith("{"), f"{path}: response {text!r}")
                got = self.find_log(message)
                self.assertEqual(len(got), 1, f"{path}: record written {len(got)} times")
                r, _, rec = got[0]
                self.assertEqual(e2e.attr_map(r.get("attributes")).get("service.name"),
                                 {"stringValue": "django-app"})
                self.assertEqual(rec.get("timeUnixNano"), str(t_ns))

                for label, token, hdr in (("no Authorization", None, ()),
                                          ("wrong token", "wrong-token", ()),
                                          ("Basic scheme", None, ("Authorization: Basic ZTJlLXRva2Vu",)),
                                          ("bare token", None, (f"Authorization: {e2e.TOKEN}",))):
                    message = f"Rejected log message {uuid.uuid4().hex[:8]}"
                    body, _ = e2e.seed_log_body(message)
                    status, _, text = e2e.curl(url, body, token=token, extra_headers=hdr)
                    self.assertEqual(status, 401, f"{path} with {label}: {status} {text}")
                    self.assertEqual(self.find_log(message), [], f"{path} with {label}: written")

    def test_seed_curl_other_signals_and_unknown_paths(self):
        # Empty requests for traces and metrics are valid OTLP; an unknown path is 404.
        for path, body in (("/v1/traces", '{"resourceSpans": []}'),
                           ("/v1/metrics", '{"resourceMetrics": []}'),
                           ("/observability/v1/traces", '{"resourceSpans": []}')):
            with self.subTest(path=path):
                url = f"http://127.0.0.1:{self.http_port}{path}"
                status, _, text = e2e.curl(url, body, token=e2e.TOKEN)
                self.assertEqual(status, 200, f"{path}: {text}")
                status, _, _ = e2e.curl(url, body)
                self.assertEqual(status, 401, path)
        status, _, _ = e2e.curl(f"http://127.0.0.1:{self.http_port}/v1/nope", "{}", token=e2e.TOKEN)
        self.assertEqual(status, 404)


if __name__ == "__main__":
    harness.main()
