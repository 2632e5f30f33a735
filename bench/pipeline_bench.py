#!/usr/bin/env python3
"""End-to-end exporter pipeline benchmark: OTLP/HTTP protobuf in (bearer auth) -> otelcol.processor.batch
-> an exporter path -> a real network sink.

Cases (--cases, default all):
  loki             logs    -> otelcol.exporter.loki -> loki.write (snappy protobuf push) -> HTTP sink
  loki-wal         the same with loki.write's wal { enabled = true } (disk queue, fsync interval)
  tempo            traces  -> otelcol.exporter.otlp (gRPC, compression none) -> second telegate
  tempo-gzip       the same with the exporter's default gzip compression
  remote-write     metrics -> otelcol.exporter.prometheus -> prometheus.remote_write -> HTTP sink
  remote-write-tuned  the same with queue_config { capacity = 100000, min_shards = 4 }
  remote-write-wal    remote-write with its write-ahead queue on disk (wal { enabled = true })
  tempo-disk       tempo with sending_queue { storage = "disk" }
  otlphttp-logs[-disk], otlphttp-metrics[-disk]
                   logs / metrics -> otelcol.exporter.otlphttp (compression none) -> HTTP sink, with
                   the memory and the disk sending_queue.

The telegate under test is pinned to CPU 0; wrk, the HTTP sink (bench/http_sink.cc, 2 io threads)
and the gRPC sink (a second telegate: otelcol.receiver.otlp -> otelcol.exporter.discard) are pinned
to CPU 1. Delivered items come from the telegate under test's own /metrics:
telegate_loki_write_sent_entries_total, telegate_exporter_sent_items_total, and for remote write
telegate_remote_write_sent_samples_total (converted back to points with the samples/point ratio of
otelcol.exporter.prometheus). Counters are read after a warm-up second and
again `duration` seconds later, while the load is still running, so the window is steady state.

wrk backs off --backoff-ms (default 20) on a connection after a 429/503, as an OTLP client would.
--perf DIR records `perf record -g` of the telegate under test over each measured window.

Usage: bench/pipeline_bench.py --telegate BIN --payload-gen BIN --http-sink BIN [--duration 8]
       [--cases loki,tempo] [--perf DIR] [--json OUT]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import receiver_bench as rb  # noqa: E402

CASES = ["loki", "loki-wal", "tempo", "tempo-gzip", "remote-write", "remote-write-tuned",
         "remote-write-wal", "tempo-disk",
         "otlphttp-logs", "otlphttp-logs-disk", "otlphttp-metrics", "otlphttp-metrics-disk"]
SIGNAL = {"loki": "logs", "loki-wal": "logs", "tempo": "traces", "tempo-gzip": "traces", "tempo-disk": "traces",
          "remote-write": "metrics", "remote-write-tuned": "metrics",
          "remote-write-wal": "metrics", "otlphttp-logs": "logs", "otlphttp-logs-disk": "logs",
          "otlphttp-metrics": "metrics", "otlphttp-metrics-disk": "metrics"}


def metrics(admin):
    body = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
    out = {}
    for line in body.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        try:
            out[name] = out.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        except ValueError:
            pass
    return out


def wait_ready(admin):
    for _ in range(400):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{admin}/-/ready", timeout=1).status == 200:
                return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError(f"telegate on admin port {admin} did not become ready")


def exporter_block(case, sink_url, grpc_sink):
    disk = case.endswith("-disk")
    queue = ('\n  sending_queue {\n    storage = "disk"\n  }\n' if disk else "")
    if case in ("loki", "loki-wal"):
        wal = '\n  wal {\n    enabled = true\n  }\n' if case == "loki-wal" else ""
        return ("otelcol.exporter.loki.out.input", f'''
otelcol.exporter.loki "out" {{
  forward_to = [loki.write.out.receiver]
}}

loki.write "out" {{
  endpoint {{
    url = "{sink_url}/loki/api/v1/push"
  }}{wal}
}}
''')
    if case.startswith("remote-write"):
        tuned = ("\n    queue_config {\n      capacity   = 100000\n      min_shards = 4\n    }\n"
                 if case == "remote-write-tuned" else "")
        wal = "\n  wal {\n    enabled = true\n  }\n" if case == "remote-write-wal" else ""
        return ("otelcol.exporter.prometheus.out.input", f'''
otelcol.exporter.prometheus "out" {{
  forward_to = [prometheus.remote_write.out.receiver]
}}

prometheus.remote_write "out" {{
  endpoint {{
    url = "{sink_url}/api/v1/push"{tuned}
  }}
{wal}}}
''')
    if case.startswith("tempo"):
        comp = "gzip" if case == "tempo-gzip" else "none"
        return ("otelcol.exporter.otlp.out.input", f'''
otelcol.exporter.otlp "out" {{
  client {{
    endpoint    = "127.0.0.1:{grpc_sink}"
    compression = "{comp}"
    tls {{
      insecure = true
    }}
  }}
{queue}}}
''')
    return ("otelcol.exporter.otlphttp.out.input", f'''
otelcol.exporter.otlphttp "out" {{
  client {{
    endpoint    = "{sink_url}"
    compression = "none"
  }}
{queue}}}
''')


def write_config(path, http_port, case, sink_url, grpc_sink):
    signal = SIGNAL[case]
    target, exporter = exporter_block(case, sink_url, grpc_sink)
    with open(path, "w") as f:
        f.write(f'''
logging {{
  level = "warn"
}}

otelcol.auth.bearer "t" {{
  token = "{rb.TOKEN}"
}}

otelcol.receiver.otlp "default" {{
  http {{
    endpoint = "127.0.0.1:{http_port}"
    auth     = otelcol.auth.bearer.t.handler
  }}

  output {{
    {signal} = [otelcol.processor.batch.default.input]
  }}
}}

otelcol.processor.batch "default" {{
  output {{
    {signal} = [{target}]
  }}
}}
{exporter}''')


def write_grpc_sink_config(path, grpc_port):
    with open(path, "w") as f:
        f.write(f'''
logging {{
  level = "warn"
}}

otelcol.receiver.otlp "sink" {{
  grpc {{
    endpoint         = "127.0.0.1:{grpc_port}"
    max_recv_msg_size = "256MiB"
  }}

  output {{
    traces = [otelcol.exporter.discard.sink.input]
  }}
}}

otelcol.exporter.discard "sink" {{ }}
''')


def delivered(case, m0, m1):
    d = lambda k: m1.get(k, 0.0) - m0.get(k, 0.0)  # noqa: E731
    if case in ("loki", "loki-wal"):
        return d("telegate_loki_write_sent_entries_total"), None
    if case.startswith("remote-write"):
        samples = d("telegate_remote_write_sent_samples_total")
        # Samples per point is fixed by the payload; take it from the cumulative counters (less
        # affected by batches in flight at the window edges than the window deltas are).
        converted = m1.get("telegate_otelcol_exporter_prometheus_samples_total", 0.0)
        points_in = m1.get("telegate_receiver_accepted_items_total", 0.0) - \
            m1.get("telegate_processor_batch_pending_items", 0.0)
        ratio = converted / points_in if points_in else 0
        return (samples / ratio if ratio else 0.0), samples
    return d("telegate_exporter_sent_items_total"), None


def start(cmd, cpu, **kw):
    return subprocess.Popen(["taskset", "-c", str(cpu)] + cmd, **kw)


def stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_case(args, work, case, payloads):
    signal = SIGNAL[case]
    procs = []
    storage = tempfile.mkdtemp(dir=work)
    try:
        sink_url, grpc_sink, sink_pid = "", 0, None
        if case.startswith("tempo"):
            grpc_sink, sink_admin = rb.free_port(), rb.free_port()
            scfg = os.path.join(work, "sink.alloy")
            write_grpc_sink_config(scfg, grpc_sink)
            sstore = tempfile.mkdtemp(dir=work)
            p = start([args.telegate, "run", scfg, f"--server.http.listen-addr=127.0.0.1:{sink_admin}",
                       f"--storage.path={sstore}"], 1,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            wait_ready(sink_admin)
        else:
            sport = rb.free_port()
            p = start([args.http_sink, "--listen", f"127.0.0.1:{sport}", "--threads", "2"], 1,
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            procs.append(p)
            p.stdout.readline()
            sink_url = f"http://127.0.0.1:{sport}"
        sink_pid = p.pid

        http_port, admin = rb.free_port(), rb.free_port()
        cfg = os.path.join(work, "bench.alloy")
        write_config(cfg, http_port, case, sink_url, grpc_sink)
        tg = start([args.telegate, "run", cfg, f"--server.http.listen-addr=127.0.0.1:{admin}",
                    f"--storage.path={storage}"], 0,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(tg)
        wait_ready(admin)

        lua = os.path.join(work, "post.lua")
        rb.wrk_lua(lua, payloads[signal], "application/x-protobuf", "")
        with open(lua, "a") as f:
            # Back off like an OTLP client on 429/503 instead of re-sending at once: without this
            # telegate spends its core validating requests that it then refuses, and the run
            # measures refusals, not the pipeline.
            f.write(f"""
local backoff = 0
function response(status, headers, body)
  if status >= 300 then backoff = {args.backoff_ms} else backoff = 0 end
end
function delay()
  return backoff
end
""")
        wrk = start(["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration + 3}s",
                     "-s", lua, f"http://127.0.0.1:{http_port}/v1/{signal}"], 1,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(1.0)  # warm-up: batches and queues fill, connections open
        m0, c0, s0, t0 = metrics(admin), rb.cpu_seconds(tg.pid), rb.cpu_seconds(sink_pid), time.time()
        perf = None
        if args.perf:
            perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(tg.pid),
                                     "-o", os.path.join(args.perf, f"{case}.perf.data"),
                                     "--", "sleep", str(args.duration)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(args.duration)
        m1, c1, s1, t1 = metrics(admin), rb.cpu_seconds(tg.pid), rb.cpu_seconds(sink_pid), time.time()
        if perf:
            perf.wait(60)
        out = wrk.communicate(timeout=60)[0]
        _, non2xx = rb.parse_wrk(out)
        n, extra = delivered(case, m0, m1)
        accepted = m1.get("telegate_receiver_accepted_items_total", 0) - \
            m0.get("telegate_receiver_accepted_items_total", 0)
        cpu, wall, scpu = c1 - c0, t1 - t0, s1 - s0
        r = {"case": case, "signal": signal, "delivered": round(n), "accepted": round(accepted),
             "wall_s": round(wall, 2), "delivered_per_s": round(n / wall),
             "cpu_s": round(cpu, 2), "cpu_util": round(cpu / wall, 2),
             "delivered_per_cpu_s": round(n / cpu) if cpu > 0 else 0,
             "sink_cpu_util": round(scpu / wall, 2), "non2xx": non2xx,
             "peak_rss_mib": round(rb.peak_rss_mib(tg.pid), 1)}
        if extra is not None:
            r["samples_sent"] = round(extra)
            r["samples_per_s"] = round(extra / wall)
        return r
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(storage, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--telegate", required=True)
    p.add_argument("--payload-gen", required=True)
    p.add_argument("--http-sink", required=True)
    p.add_argument("--duration", type=int, default=8)
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--backoff-ms", type=int, default=20,
                   help="pause of a wrk connection after a refused (429/503) request")
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--json")
    p.add_argument("--perf", help="directory: record `perf record -g` of telegate per case")
    args = p.parse_args()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install wrk util-linux")
    work = tempfile.mkdtemp(prefix="telegate-pipeline-")
    payloads = {}
    for signal in ("logs", "traces", "metrics"):
        out = os.path.join(work, f"{signal}.proto")
        subprocess.run([args.payload_gen, "--signal", signal, "--items", str(args.items),
                        "--format", "proto", "--out", out], check=True)
        payloads[signal] = out
    results = []
    print("| case | signal | delivered/s | delivered per CPU-s | telegate CPU util | sink CPU util "
          "| accepted | delivered | non-2xx | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for case in args.cases.split(","):
        r = run_case(args, work, case, payloads)
        results.append(r)
        extra = f" ({r['samples_per_s']:,} samples/s)" if "samples_per_s" in r else ""
        print(f"| {case} | {r['signal']} | {r['delivered_per_s']:,}{extra} | "
              f"{r['delivered_per_cpu_s']:,} | {r['cpu_util']} | {r['sink_cpu_util']} | "
              f"{r['accepted']:,} | {r['delivered']:,} | {r['non2xx']} | {r['peak_rss_mib']} |",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results}, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
