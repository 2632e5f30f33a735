#!/usr/bin/env python3
"""End-to-end receiver benchmark: OTLP in over HTTP/protobuf, HTTP/JSON, gzip and gRPC, with
bearer authentication, into a null consumer (otelcol.exporter.discard) and into the file exporter.

telegate runs pinned to CPU 0 and the load generator (wrk for HTTP/1.1, h2load for gRPC, both
from Debian) to CPU 1. For each case it reports items accepted per second, items per CPU-second
of telegate (per core), CPU-seconds per million items, request latency and peak RSS.

Usage: bench/receiver_bench.py --telegate BIN --payload-gen BIN [--duration 10] [--json OUT]
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "bench-token"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVICE = {"logs": "opentelemetry.proto.collector.logs.v1.LogsService",
           "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
           "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return 0.0


def accepted(admin):
    body = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith("telegate_receiver_accepted_items_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def write_config(path, http_port, grpc_port, sink, storage):
    exporter = ('otelcol.exporter.discard "sink" { }' if sink == "discard"
                else 'otelcol.exporter.file "sink" {\n  max_file_size = "1GiB"\n}')
    with open(path, "w") as f:
        f.write(f'''
logging {{
  level = "warn"
}}

otelcol.auth.bearer "t" {{
  token = "{TOKEN}"
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
    logs    = [otelcol.exporter.{sink}.sink.input]
    metrics = [otelcol.exporter.{sink}.sink.input]
    traces  = [otelcol.exporter.{sink}.sink.input]
  }}
}}

{exporter}
''')


def wrk_lua(path, body_file, ctype, encoding):
    enc = f'wrk.headers["Content-Encoding"] = "{encoding}"\n' if encoding else ""
    with open(path, "w") as f:
        f.write(f'''
local f = io.open("{body_file}", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "{ctype}"
wrk.headers["Authorization"] = "Bearer {TOKEN}"
{enc}''')


def parse_wrk(out):
    lat = {}
    for q in ("50", "99"):
        m = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m:
            v = float(m.group(1))
            lat[q] = v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return lat, int(m.group(1)) if m else 0


def parse_h2load(out, log_file):
    # h2load --log-file writes one line per request: start (us), status, duration (us).
    durations = []
    with open(log_file) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 3:
                durations.append(int(parts[2]) / 1000.0)
    durations.sort()
    lat = {}
    if durations:
        lat["50"] = durations[len(durations) // 2]
        lat["99"] = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
    fails = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed",
                      out)
    return lat, int(fails.group(2)) if fails else 0


def run_case(args, work, sink, signal, transport, payloads):
    http_port, grpc_port, admin = free_port(), free_port(), free_port()
    storage = tempfile.mkdtemp(dir=work)
    cfg = os.path.join(work, "bench.alloy")
    write_config(cfg, http_port, grpc_port, sink, storage)
    proc = subprocess.Popen(["taskset", "-c", "0", args.telegate, "run", cfg,
                             f"--server.http.listen-addr=127.0.0.1:{admin}",
                             f"--storage.path={storage}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{admin}/-/ready", timeout=1).status == 200:
                    break
            except Exception:
                time.sleep(0.05)
        items = payloads[signal]["items"]
        if transport == "grpc":
            h2log = os.path.join(work, "h2load.log")
            cmd = ["taskset", "-c", "1", "h2load", "-c", "4", "-m", "8", "-t", "1",
                   f"--log-file={h2log}",
                   "-D", str(args.duration), "-d", payloads[signal]["grpc"],
                   "-H", "content-type: application/grpc", "-H", "te: trailers",
                   "-H", f"authorization: Bearer {TOKEN}",
                   f"http://127.0.0.1:{grpc_port}/{SERVICE[signal]}/Export"]
        else:
            key = {"http-protobuf": "proto", "http-json": "json", "http-protobuf-gzip": "gzip"}[transport]
            ctype = "application/json" if transport == "http-json" else "application/x-protobuf"
            lua = os.path.join(work, "post.lua")
            wrk_lua(lua, payloads[signal][key], ctype,
                    "gzip" if transport.endswith("gzip") else "")
            cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c8", f"-d{args.duration}s", "--latency",
                   "-s", lua, f"http://127.0.0.1:{http_port}/v1/{signal}"]
        a0, c0, t0 = accepted(admin), cpu_seconds(proc.pid), time.time()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60).stdout
        a1, c1, t1 = accepted(admin), cpu_seconds(proc.pid), time.time()
        lat, errors = parse_h2load(out, h2log) if transport == "grpc" else parse_wrk(out)
        n, cpu, wall = a1 - a0, c1 - c0, t1 - t0
        return {"sink": sink, "signal": signal, "transport": transport,
                "items_per_request": items, "items": n, "wall_s": round(wall, 2),
                "items_per_s": round(n / wall), "cpu_s": round(cpu, 2),
                "items_per_cpu_s": round(n / cpu) if cpu > 0 else 0,
                "cpu_s_per_million": round(cpu / n * 1e6, 3) if n else None,
                "latency_ms": {k: round(v, 3) for k, v in lat.items()},
                "errors": errors, "peak_rss_mib": round(peak_rss_mib(proc.pid), 1)}
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(storage, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--telegate", required=True)
    p.add_argument("--payload-gen", required=True)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--signals", default="logs,traces,metrics")
    p.add_argument("--transports", default="http-protobuf,http-json,http-protobuf-gzip,grpc")
    p.add_argument("--sinks", default="discard,file")
    p.add_argument("--json")
    args = p.parse_args()
    for tool in ("wrk", "h2load", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install wrk nghttp2-client util-linux")
    work = tempfile.mkdtemp(prefix="telegate-bench-")
    payloads = {}
    for signal in args.signals.split(","):
        payloads[signal] = {"items": args.items}
        for kind in ("proto", "json", "gzip", "grpc"):
            out = os.path.join(work, f"{signal}.{kind}")
            subprocess.run([args.payload_gen, "--signal", signal, "--items", str(args.items),
                            "--format", kind, "--out", out], check=True)
            payloads[signal][kind] = out
        payloads[signal]["bytes"] = os.path.getsize(payloads[signal]["proto"])
    results = []
    print("| sink | signal | transport | items/s | items per CPU-s | CPU-s per 1M | latency ms | errors | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for sink in args.sinks.split(","):
        for signal in args.signals.split(","):
            for transport in args.transports.split(","):
                r = run_case(args, work, sink, signal, transport, payloads)
                results.append(r)
                lat = ", ".join(f"{k} {v}" for k, v in r["latency_ms"].items())
                print(f"| {sink} | {signal} | {transport} | {r['items_per_s']:,} | "
                      f"{r['items_per_cpu_s']:,} | {r['cpu_s_per_million']} | {lat} | "
                      f"{r['errors']} | {r['peak_rss_mib']} |", flush=True)
    sizes = {s: payloads[s]["bytes"] for s in payloads}
    print(f"\npayload: {args.items} items per request; protobuf request sizes (bytes): {sizes}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "payload_bytes": sizes}, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
