"""Shared helpers for the end-to-end tests: the OpenTelemetry JS client (otel-js/send.mjs), the
telegate configuration with a bearer-authenticated OTLP receiver and a file exporter, reading the
file exporter's OTLP/JSON lines, and a field-by-field comparison of what the client exported with
what telegate wrote.

The comparison follows OTLP/JSON (the encoding telegate's file exporter promises): ids as
lowercase hex, 64-bit integers as decimal strings, enums as numbers, fields with default values
may be left out. Attribute lists are compared as maps (order is not significant)."""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402  (shared with the integration tests)

OTEL_JS = os.path.join(HERE, "otel-js")
TOKEN = "e2e-token"
EXPORTER_DIR = "otelcol.exporter.file.out"


# ------------------------------------------------------------------------------------------------
# Processes and configuration.

def ensure_node_modules(timeout=300):
    """Runs `npm ci` in otel-js when node_modules is missing (it downloads from the npm registry)."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise AssertionError(f"{tool} is not installed: run scripts/setup.sh (Node.js >= 20.6)")
    if os.path.isdir(os.path.join(OTEL_JS, "node_modules", "@opentelemetry", "sdk-trace-base")):
        return
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=OTEL_JS, capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"npm ci failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")


def client_env():
    """The environment for send.mjs, without OTEL_* variables that would change the exporters."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.pop("NODE_OPTIONS", None)
    env["OTEL_SDK_DISABLED"] = "false"
    env["OTEL_LOG_LEVEL"] = "none"
    return env


def send(transport, endpoint, token, run_id, count=5, expect_failure=False, compression="none",
         timeout=120):
    """Runs send.mjs; returns (returncode, summary dict or None, stderr)."""
    args = ["node", os.path.join(OTEL_JS, "send.mjs"), "--transport", transport, "--endpoint",
            endpoint, "--token", token, "--run-id", run_id, "--count", str(count),
            "--timeout-ms", "10000", "--compression", compression]
    if expect_failure:
        args.append("--expect-failure")
    r = subprocess.run(args, cwd=OTEL_JS, capture_output=True, text=True, timeout=timeout,
                       env=client_env())
    summary = None
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            summary = json.loads(line)
    return r.returncode, summary, r.stderr


def receiver_config(grpc_port, http_port, token=TOKEN):
    return f"""otelcol.auth.bearer "t" {{
  token = "{token}"
}}

otelcol.receiver.otlp "default" {{
  grpc {{
    endpoint = "127.0.0.1:{grpc_port}"
    auth     = otelcol.auth.bearer.t.handler
  }}
  http {{
    endpoint = "127.0.0.1:{http_port}"
    auth     = otelcol.auth.bearer.t.handler
  }}
  output {{
    logs    = [otelcol.exporter.file.out.input]
    metrics = [otelcol.exporter.file.out.input]
    traces  = [otelcol.exporter.file.out.input]
  }}
}}

otelcol.exporter.file "out" {{ }}
"""


def port_open(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def start_telegate(workdir):
    """Starts telegate with the receiver on free ports; returns (Telegate, grpc_port, http_port).
    Raises AssertionError naming /-/healthy's answer when the receiver does not listen."""
    grpc_port, http_port = harness.free_port(), harness.free_port()
    while http_port == grpc_port:
        http_port = harness.free_port()
    cfg = os.path.join(workdir, "config.alloy")
    with open(cfg, "w") as f:
        f.write(receiver_config(grpc_port, http_port))
    t = harness.Telegate(cfg)
    try:
        t.wait_ready()
        if not harness.wait_for(lambda: port_open(grpc_port) and port_open(http_port), timeout=20):
            _, _, healthy = t.get("/-/healthy")
            raise AssertionError(
                f"otelcol.receiver.otlp does not listen on 127.0.0.1:{grpc_port} (gRPC) and "
                f"127.0.0.1:{http_port} (HTTP) (grpc open: {port_open(grpc_port)}, http open: "
                f"{port_open(http_port)}).\n/-/healthy says:\n{healthy}\ntelegate output:\n"
                f"{t.output()}")
    except BaseException:
        t.close()
        shutil.rmtree(t.storage, ignore_errors=True)
        raise
    return t, grpc_port, http_port


def curl(url, body, token=None, timeout=20, extra_headers=()):
    """POSTs body with curl as the seed does; returns (status, content type, response body)."""
    args = ["curl", "-sS", "-X", "POST", "-H", "Content-Type: application/json", "-o", "-",
            "-w", "\n%{http_code} %{content_type}", "--max-time", str(timeout), "-d", body, url]
    if token is not None:
        args[1:1] = ["-H", f"Authorization: Bearer {token}"]
    for h in extra_headers:
        args[1:1] = ["-H", h]
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 10)
    if r.returncode != 0:
        raise AssertionError(f"curl {url} failed ({r.returncode}): {r.stderr}")
    text, _, tail = r.stdout.rpartition("\n")
    code, _, ctype = tail.partition(" ")
    return int(code), ctype, text


def seed_log_body(message, service="django-app", t_ns=None):
    """The seed guide's curl example body (a JSON log), with a message of our choosing."""
    if t_ns is None:
        t_ns = int(time.time()) * 1000000000
    return json.dumps({
        "resourceLogs": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": service}}]},
            "scopeLogs": [{"logRecords": [{
                "timeUnixNano": str(t_ns),
                "body": {"stringValue": message}}]}],
        }]}), t_ns


# ------------------------------------------------------------------------------------------------
# Reading the file exporter's output.

def read_jsonl(storage, signal):
    """Every request line of <storage>/otelcol.exporter.file.out/<signal>.jsonl (and .1)."""
    out = []
    d = os.path.join(storage, EXPORTER_DIR)
    for name in (f"{signal}.jsonl.1", f"{signal}.jsonl"):
        p = os.path.join(d, name)
        if not os.path.exists(p):
            continue
        with open(p, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(json.loads(line))
                except ValueError as e:
                    raise AssertionError(f"{p}:{n}: not JSON ({e}): {line[:300]}")
    return out


def attr_map(kvs):
    return {kv.get("key"): kv.get("value") for kv in (kvs or [])}


def resource_run_id(resource):
    v = attr_map((resource or {}).get("attributes")).get("e2e.run_id") or {}
    return v.get("stringValue")


def flatten(storage, signal):
    """Yields (resource, scope, item) for every span / log record / metric in the file."""
    top, scoped, items = {"traces": ("resourceSpans", "scopeSpans", "spans"),
                          "logs": ("resourceLogs", "scopeLogs", "logRecords"),
                          "metrics": ("resourceMetrics", "scopeMetrics", "metrics")}[signal]
    for req in read_jsonl(storage, signal):
        for r in req.get(top, []):
            for s in r.get(scoped, []):
                for it in s.get(items, []):
                    yield r.get("resource", {}), s.get("scope", {}), it


def int_key(v):
    try:
        return str(int(v))
    except (TypeError, ValueError):
        return repr(v)


def metric_points(metric):
    for kind in ("sum", "gauge", "histogram", "exponentialHistogram", "summary"):
        if kind in metric:
            return kind, (metric.get(kind) or {}).get("dataPoints", [])
    return None, []


def canon_value(v):
    """An AnyValue with 64-bit integers as strings, for use in lookup keys."""
    if isinstance(v, dict):
        return {k: (int_key(x) if k == "intValue" else canon_value(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [canon_value(x) for x in v]
    return v


def point_key(name, point):
    attrs = attr_map(point.get("attributes"))
    canon = json.dumps({k: canon_value(attrs[k]) for k in sorted(attrs)}, sort_keys=True)
    return (name, int_key(point.get("timeUnixNano")), canon)


# ------------------------------------------------------------------------------------------------
# Field-by-field comparison.

# Fields whose presence is significant in OTLP (oneof members and optional fields): a zero value
# there is still a value, so it is never treated as "left out".
PRESENCE = {"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue",
            "bytesValue", "asInt", "asDouble", "sum", "min", "max"}
INT64_STRING = {"intValue", "asInt", "count", "timeUnixNano", "startTimeUnixNano",
                "endTimeUnixNano", "observedTimeUnixNano", "bucketCounts"}
ID_FIELDS = {"traceId", "spanId", "parentSpanId"}
KV_LISTS = {"attributes"}


def is_default(key, v):
    if key in PRESENCE:
        return False
    return v in (None, 0, "", False, [], {}, "0") and not (isinstance(v, float) and v != 0)


def _fmt(v):
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 160 else s[:157] + "..."


def compare(expected, actual, path, diffs, key=None):
    """Appends 'path: expected X, got Y' strings to diffs."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            diffs.append(f"{path}: expected an object {_fmt(expected)}, got {_fmt(actual)}")
            return
        # AnyValue-like objects: the value kind must match.
        for k in sorted(set(expected) | set(actual)):
            e, a = expected.get(k), actual.get(k)
            sub = f"{path}.{k}"
            if k not in actual:
                if not is_default(k, e):
                    diffs.append(f"{sub}: missing (expected {_fmt(e)})")
                continue
            if k not in expected:
                if not is_default(k, a):
                    diffs.append(f"{sub}: unexpected field {_fmt(a)}")
                continue
            if k in KV_LISTS:
                compare_kvs(e, a, sub, diffs)
            elif k == "values" and isinstance(e, list) and e and isinstance(e[0], dict) \
                    and "key" in e[0]:
                compare_kvs(e, a, sub, diffs)  # kvlistValue.values
            else:
                compare(e, a, sub, diffs, key=k)
        return
    if isinstance(expected, list):
        if not isinstance(actual, list):
            diffs.append(f"{path}: expected a list {_fmt(expected)}, got {_fmt(actual)}")
            return
        if len(expected) != len(actual):
            diffs.append(f"{path}: expected {len(expected)} element(s), got {len(actual)}: "
                         f"expected {_fmt(expected)}, got {_fmt(actual)}")
            return
        for i, (e, a) in enumerate(zip(expected, actual)):
            compare(e, a, f"{path}[{i}]", diffs, key=key)
        return
    compare_scalar(expected, actual, path, diffs, key)


def compare_scalar(e, a, path, diffs, key):
    if key in INT64_STRING:
        if not isinstance(a, str):
            if isinstance(a, (int, float)) and not isinstance(a, bool) and int_key(a) == int_key(e):
                diffs.append(f"{path}: 64-bit integer {a} not encoded as a string (OTLP/JSON)")
            else:
                diffs.append(f"{path}: expected {_fmt(e)}, got {_fmt(a)}")
        elif a != e:
            diffs.append(f"{path}: expected {_fmt(e)}, got {_fmt(a)}")
        return
    if key in ID_FIELDS:
        if a != e:
            hint = ""
            if isinstance(a, str) and a.lower() == e:
                hint = " (not lowercase)"
            else:
                try:
                    if base64.b64decode(a).hex() == e:
                        hint = " (base64, not hex)"
                except (ValueError, TypeError):
                    pass
            diffs.append(f"{path}: expected {_fmt(e)}, got {_fmt(a)}{hint}")
        return
    if key == "bytesValue":
        if a != e:
            diffs.append(f"{path}: expected {_fmt(e)} ({base64.b64decode(e).hex()}), got {_fmt(a)}")
        return
    if isinstance(e, bool) or isinstance(a, bool):
        if a is not e:
            diffs.append(f"{path}: expected {_fmt(e)}, got {_fmt(a)}")
        return
    if isinstance(e, (int, float)):
        if isinstance(a, str) and key in ("severityNumber", "kind", "code",
                                          "aggregationTemporality"):
            diffs.append(f"{path}: expected enum number {e}, got {_fmt(a)} (enum name?)")
        elif not isinstance(a, (int, float)) or float(a) != float(e):
            diffs.append(f"{path}: expected {_fmt(e)}, got {_fmt(a)}")
        return
    if a != e:
        diffs.append(f"{path}: expected {_fmt(e)}, got {_fmt(a)}")


def compare_kvs(expected, actual, path, diffs):
    if not isinstance(actual, list):
        diffs.append(f"{path}: expected a key/value list, got {_fmt(actual)}")
        return
    keys = [kv.get("key") for kv in actual]
    for k in {k for k in keys if keys.count(k) > 1}:
        diffs.append(f"{path}: key {k!r} appears {keys.count(k)} times")
    em, am = attr_map(expected), attr_map(actual)
    for k in em:
        if k not in am:
            diffs.append(f"{path}[{k!r}]: missing (expected {_fmt(em[k])})")
        else:
            compare(em[k], am[k], f"{path}[{k!r}]", diffs)
    for k in am:
        if k not in em:
            diffs.append(f"{path}[{k!r}]: unexpected attribute {_fmt(am[k])}")


def compare_summary(summary, storage, signals=("traces", "logs", "metrics")):
    """Compares every item the client exported (summary) with the file exporter's output for the
    same run. Returns (diffs, counts) where counts maps signal -> (expected, found)."""
    run_id = summary["runId"]
    diffs, counts = [], {}
    if "traces" in signals:
        found = {}
        for r, s, span in flatten(storage, "traces"):
            if resource_run_id(r) == run_id:
                k = (str(span.get("traceId")).lower(), str(span.get("spanId")).lower())
                found.setdefault(k, []).append((r, s, span))
        n = 0
        for exp in summary["traces"]:
            sp = exp["span"]
            label = f"traces[{sp['name']} {sp['spanId']}]"
            got = found.get((sp["traceId"], sp["spanId"]))
            if not got:
                diffs.append(f"{label}: not found in traces.jsonl")
                continue
            n += 1
            if len(got) > 1:
                diffs.append(f"{label}: written {len(got)} times")
            r, s, span = got[0]
            compare(exp["resource"], r, f"{label}.resource", diffs)
            compare(exp["scope"], s, f"{label}.scope", diffs)
            compare(sp, span, f"{label}.span", diffs)
        extra = sum(len(v) for v in found.values()) - n
        if extra > 0:
            diffs.append(f"traces: {extra} span(s) of this run written that the client did not send")
        counts["traces"] = (len(summary["traces"]), n)
    if "logs" in signals:
        found = {}
        for r, s, rec in flatten(storage, "logs"):
            if resource_run_id(r) == run_id:
                found.setdefault(int_key(rec.get("timeUnixNano")), []).append((r, s, rec))
        n = 0
        for exp in summary["logs"]:
            lg = exp["log"]
            seq = attr_map(lg["attributes"]).get("e2e.seq", {}).get("intValue")
            label = f"logs[seq {seq}]"
            got = found.get(lg["timeUnixNano"])
            if not got:
                diffs.append(f"{label}: not found in logs.jsonl (timeUnixNano {lg['timeUnixNano']})")
                continue
            n += 1
            if len(got) > 1:
                diffs.append(f"{label}: written {len(got)} times")
            r, s, rec = got[0]
            compare(exp["resource"], r, f"{label}.resource", diffs)
            compare(exp["scope"], s, f"{label}.scope", diffs)
            compare(lg, rec, f"{label}.log", diffs)
        extra = sum(len(v) for v in found.values()) - n
        if extra > 0:
            diffs.append(f"logs: {extra} record(s) of this run written that the client did not send")
        counts["logs"] = (len(summary["logs"]), n)
    if "metrics" in signals:
        found = {}
        for r, s, m in flatten(storage, "metrics"):
            if resource_run_id(r) != run_id:
                continue
            _, points = metric_points(m)
            for p in points:
                found.setdefault(point_key(m.get("name"), p), []).append((r, s, m, p))
        n_exp = n = 0
        for exp in summary["metrics"]:
            m = exp["metric"]
            kind, points = metric_points(m)
            for p in points:
                n_exp += 1
                k = point_key(m["name"], p)
                route = attr_map(p["attributes"]).get("route", {}).get("stringValue")
                label = f"metrics[{m['name']} route={route} t={p['timeUnixNano']}]"
                got = found.get(k)
                if not got:
                    diffs.append(f"{label}: data point not found in metrics.jsonl")
                    continue
                n += 1
                if len(got) > 1:
                    diffs.append(f"{label}: written {len(got)} times")
                r, s, am, ap = got[0]
                compare(exp["resource"], r, f"{label}.resource", diffs)
                compare(exp["scope"], s, f"{label}.scope", diffs)
                # The metric without its points, then the point.
                em = {k2: v for k2, v in m.items() if k2 != kind}
                em[kind] = {k2: v for k2, v in m[kind].items() if k2 != "dataPoints"}
                akind, _ = metric_points(am)
                if akind != kind:
                    diffs.append(f"{label}: expected a {kind} metric, got {akind}")
                    continue
                amet = {k2: v for k2, v in am.items() if k2 != kind}
                amet[kind] = {k2: v for k2, v in (am[kind] or {}).items() if k2 != "dataPoints"}
                compare(em, amet, f"{label}.metric", diffs)
                compare(p, ap, f"{label}.point", diffs)
        extra = sum(len(v) for v in found.values()) - n
        if extra > 0:
            diffs.append(f"metrics: {extra} point(s) of this run written that the client did not send")
        counts["metrics"] = (n_exp, n)
    return diffs, counts


def run_items(storage, run_id):
    """How many spans, log records and metrics of this run are in the files."""
    out = {}
    for sig in ("traces", "logs", "metrics"):
        out[sig] = sum(1 for r, _, _ in flatten(storage, sig) if resource_run_id(r) == run_id)
    return out


def format_diffs(diffs, limit=80):
    head = diffs[:limit]
    more = f"\n... and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return "\n".join("  " + d for d in head) + more
