#!/usr/bin/env python3
"""TLS cost on the OTLP receiver, measured side by side in one telegate process.

One telegate runs two `otelcol.receiver.otlp` components into `otelcol.exporter.discard`: "plain"
(no tls block) and "tls" (a `tls` block with a test server certificate made at start with the
openssl CLI, test/integration/certs.py). Both check the same bearer token. telegate is pinned to
CPU 0, the load generators to CPU 1. Cases, run in alternation (plain, tls, plain, tls, ...) so
that drift of the shared machine hits both sides alike:

  * items: OTLP/HTTP protobuf with `wrk` (8 keep-alive connections; `https://` for TLS) and
    OTLP/gRPC with `h2load` (4 long-lived connections x 8 streams; TLS with ALPN h2), for every
    payload of --payloads (signal:items, e.g. logs:1000 or traces:512, the OTel SDKs' default
    batch size). Reported: items per CPU-second of telegate for plain and TLS, and their ratio
    (target >= 0.85). Transports: http-protobuf (wrk, OpenSSL's client order: AES-256-GCM first,
    the server picks), grpc (h2load, OpenSSL's client order, which gRPC's server follows),
    grpc-aes128 (h2load offering AES-128-GCM first, as Go and BoringSSL clients on AES hardware
    do), http-aes256 (h2load --h1 offering only AES-256-GCM: the HTTP path without the server's
    cipher preference). The suite each TLS case negotiated is reported.
  * handshakes: bench/tls_handshake_client.cc opens one connection after the other to the
    OTLP/HTTP port, sends one request on each and reads its answer (which is also what
    delivers a TLS 1.3 session ticket): plain TCP to the plain receiver (the baseline), TLS with
    a full handshake every time, and TLS resuming the previous session. Reported: connections
    per CPU-second of telegate and the share the client saw resumed. (`openssl s_time -reuse`
    is not used: it reads each answer to EOF, and an OpenSSL 3 client that meets EOF without a
    close_notify alert drops the session, so nothing is resumed.) For scale, the same client
    then measures `openssl s_server -www` with the same certificate, pinned to CPU 0.

CPU-seconds are telegate's user + system time from /proc/<pid>/stat, taken before and after each
case. Accepted items come from telegate_receiver_accepted_items_total on the admin server.

Usage: bench/tls_bench.py --telegate BIN --payload-gen BIN --handshake-client BIN
           [--duration 8] [--rounds 2] [--key-type ec|rsa] [--payloads logs:1000,traces:512]
           [--transports http-protobuf,grpc,...] [--skip-handshakes] [--json OUT]
"""
import argparse
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
import certs  # noqa: E402  (test/integration/certs.py)
from receiver_bench import (SERVICE, TOKEN, accepted, cpu_seconds, free_port,  # noqa: E402
                            parse_h2load, parse_wrk, wrk_lua)


def write_config(path, ports, pki):
    def receiver(label, http_port, grpc_port, tls):
        block = ""
        if tls:
            block = (f'\n    tls {{\n      cert_file = "{pki.cert}"\n'
                     f'      key_file  = "{pki.key}"\n    }}')
        return f'''
otelcol.receiver.otlp "{label}" {{
  grpc {{
    endpoint = "127.0.0.1:{grpc_port}"
    auth     = otelcol.auth.bearer.t.handler{block}
  }}

  http {{
    endpoint = "127.0.0.1:{http_port}"
    auth     = otelcol.auth.bearer.t.handler{block}
  }}

  output {{
    logs    = [otelcol.exporter.discard.sink.input]
    metrics = [otelcol.exporter.discard.sink.input]
    traces  = [otelcol.exporter.discard.sink.input]
  }}
}}
'''
    with open(path, "w") as f:
        f.write(f'''logging {{
  level = "warn"
}}

otelcol.auth.bearer "t" {{
  token = "{TOKEN}"
}}
{receiver("plain", ports["plain_http"], ports["plain_grpc"], False)}
{receiver("tls", ports["tls_http"], ports["tls_grpc"], True)}
otelcol.exporter.discard "sink" {{ }}
''')


H2LOAD_CIPHERS = {"grpc-aes128": "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384",
                  "http-aes256": "TLS_AES_256_GCM_SHA384"}


def load_cmd(args, work, transport, tls, ports, payload):
    signal = payload["signal"]
    scheme = "https" if tls else "http"
    log = os.path.join(work, "h2load.log")
    if transport.startswith("grpc"):
        port = ports["tls_grpc" if tls else "plain_grpc"]
        cmd = ["taskset", "-c", "1", "h2load", "-c", "4", "-m", "8", "-t", "1",
               f"--log-file={log}", "-D", str(args.duration), "-d", payload["grpc"],
               "-H", "content-type: application/grpc", "-H", "te: trailers",
               "-H", f"authorization: Bearer {TOKEN}"]
        if transport in H2LOAD_CIPHERS:
            cmd.append(f"--tls13-ciphers={H2LOAD_CIPHERS[transport]}")
        return log, cmd + [f"{scheme}://127.0.0.1:{port}/{SERVICE[signal]}/Export"]
    port = ports["tls_http" if tls else "plain_http"]
    url = f"{scheme}://127.0.0.1:{port}/v1/{signal}"
    if transport == "http-aes256":
        return log, ["taskset", "-c", "1", "h2load", "--h1", "-c", "8", "-m", "1", "-t", "1",
                     f"--log-file={log}", "-D", str(args.duration), "-d", payload["proto"],
                     "-H", "content-type: application/x-protobuf",
                     "-H", f"authorization: Bearer {TOKEN}",
                     f"--tls13-ciphers={H2LOAD_CIPHERS[transport]}", url]
    lua = os.path.join(work, "post.lua")
    wrk_lua(lua, payload["proto"], "application/x-protobuf", "")
    return None, ["taskset", "-c", "1", "wrk", "-t1", "-c8", f"-d{args.duration}s", "--latency",
                  "-s", lua, url]


def items_case(args, work, pid, ports, payload, transport, tls):
    log, cmd = load_cmd(args, work, transport, tls, ports, payload)
    a0, c0, t0 = accepted(ports["admin"]), cpu_seconds(pid), time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60).stdout
    a1, c1, t1 = accepted(ports["admin"]), cpu_seconds(pid), time.time()
    _, errors = parse_h2load(out, log) if log else parse_wrk(out)
    m = re.search(r"^Cipher: (\S+)", out, re.M)
    return {"items": a1 - a0, "cpu_s": c1 - c0, "wall_s": t1 - t0, "errors": errors,
            "cipher": m.group(1) if m else None}


def negotiated(port):
    """The suite the server picks for a client with OpenSSL's default order (as wrk's)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as s:
            return s.cipher()[0]


def handshake_case(args, pid, ports, ca, mode):
    port = ports["plain_http" if mode == "plain" else "tls_http"]
    cmd = ["taskset", "-c", "1", args.handshake_client, str(port), ca, str(args.duration), mode]
    c0, t0 = cpu_seconds(pid), time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    c1, t1 = cpu_seconds(pid), time.time()
    if out.returncode != 0:
        raise RuntimeError("handshake client failed:\n" + out.stdout + out.stderr)
    r = json.loads(out.stdout)
    return {"connections": r["connections"], "errors": r["errors"], "cpu_s": c1 - c0,
            "wall_s": t1 - t0, "resumed": round(r["resumed"], 3)}


def openssl_reference(args, server, ca):
    """The same connection-rate client against `openssl s_server -www` (OpenSSL's own server, same
    certificate, pinned to CPU 0): what this machine's OpenSSL costs per connection on its own."""
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", "0", "openssl", "s_server", "-accept",
                            f"127.0.0.1:{port}", "-cert", server.cert, "-key", server.key,
                            "-www", "-quiet", "-naccept", "100000000"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = {}
    try:
        time.sleep(0.5)
        for mode in ("full", "resumed"):
            r = handshake_case(args, srv.pid, {"tls_http": port}, ca, mode)
            r["connections_per_cpu_s"] = round(per_cpu(r, "connections"))
            r["connections_per_s"] = round(r["connections"] / r["wall_s"])
            out[mode] = r
    finally:
        srv.terminate()
        srv.wait(10)
    return out


def per_cpu(r, key):
    return r[key] / r["cpu_s"] if r["cpu_s"] > 0 else 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--telegate", required=True)
    p.add_argument("--payload-gen", required=True)
    p.add_argument("--handshake-client", required=True,
                   help="the telegate_tls_handshake_client binary (bench/tls_handshake_client.cc)")
    p.add_argument("--duration", type=int, default=8)
    p.add_argument("--rounds", type=int, default=2, help="plain/TLS alternations per transport")
    p.add_argument("--payloads", default="logs:1000,logs:512,traces:512",
                   help="signal:items per request, comma-separated")
    p.add_argument("--key-type", default="ec", choices=("ec", "rsa"))
    p.add_argument("--transports", default="http-protobuf,http-aes256,grpc")
    p.add_argument("--skip-handshakes", action="store_true")
    p.add_argument("--json")
    args = p.parse_args()
    for tool in ("wrk", "h2load", "taskset", "openssl"):  # openssl: certs.py
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install wrk nghttp2-client util-linux openssl")
    work = tempfile.mkdtemp(prefix="telegate-tls-bench-")
    ca = certs.CA(work, key_type=args.key_type)
    server = ca.server()
    payloads = []
    for spec in args.payloads.split(","):
        signal, items = spec.split(":")
        pl = {"name": spec, "signal": signal, "items": int(items)}
        for kind in ("proto", "grpc"):
            out = os.path.join(work, f"{signal}-{items}.{kind}")
            subprocess.run([args.payload_gen, "--signal", signal, "--items", items,
                            "--format", kind, "--out", out], check=True)
            pl[kind] = out
        pl["bytes"] = os.path.getsize(pl["proto"])
        payloads.append(pl)
    ports = {k: free_port() for k in ("admin", "plain_http", "plain_grpc", "tls_http",
                                      "tls_grpc")}
    cfg = os.path.join(work, "bench.alloy")
    write_config(cfg, ports, server)
    storage = os.path.join(work, "data")
    log = open(os.path.join(work, "telegate.log"), "w+")
    proc = subprocess.Popen(["taskset", "-c", "0", args.telegate, "run", cfg,
                             f"--server.http.listen-addr=127.0.0.1:{ports['admin']}",
                             f"--storage.path={storage}"], stdout=log, stderr=subprocess.STDOUT)
    results = {"items": {}, "handshakes": {}, "openssl_s_server": {}}
    try:
        for _ in range(200):
            if proc.poll() is not None:
                log.seek(0)
                sys.exit("telegate exited:\n" + log.read())
            try:
                url = f"http://127.0.0.1:{ports['admin']}/-/ready"
                if urllib.request.urlopen(url, timeout=1).status == 200:
                    break
            except Exception:
                time.sleep(0.05)
        results["negotiated_http"] = negotiated(ports["tls_http"])
        for pl in payloads:
            for transport in args.transports.split(","):
                sums = {False: None, True: None}
                cipher = None
                for _ in range(args.rounds):
                    for tls in (False, True):
                        r = items_case(args, work, proc.pid, ports, pl, transport, tls)
                        cipher = r.pop("cipher") if tls else cipher
                        s = sums[tls] or {"items": 0, "cpu_s": 0.0, "wall_s": 0.0, "errors": 0}
                        sums[tls] = {k: s[k] + r[k] for k in s}
                plain, tls = per_cpu(sums[False], "items"), per_cpu(sums[True], "items")
                results["items"][f"{pl['name']} {transport}"] = {
                    "payload": pl["name"], "bytes": pl["bytes"], "transport": transport,
                    "cipher": cipher or results["negotiated_http"],
                    "plain": sums[False], "tls": sums[True],
                    "plain_items_per_cpu_s": round(plain), "tls_items_per_cpu_s": round(tls),
                    "ratio": round(tls / plain, 3) if plain else None}
        for mode in () if args.skip_handshakes else ("plain", "full", "resumed"):
            r = handshake_case(args, proc.pid, ports, ca.cert, mode)
            r["connections_per_cpu_s"] = round(per_cpu(r, "connections"))
            r["connections_per_s"] = round(r["connections"] / r["wall_s"])
            results["handshakes"][mode] = r
        if not args.skip_handshakes:
            results["openssl_s_server"] = openssl_reference(args, server, ca.cert)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        shutil.rmtree(work, ignore_errors=True)

    print(f"server key: {args.key_type}; {args.rounds} x {args.duration}s per side")
    print("\n| payload (bytes) | transport | TLS suite | plain items per CPU-s | "
          "TLS items per CPU-s | TLS / plain | errors (plain, TLS) |")
    print("|---|---|---|---|---|---|---|")
    for r in results["items"].values():
        print(f"| {r['payload']} ({r['bytes']:,}) | {r['transport']} | {r['cipher']} | "
              f"{r['plain_items_per_cpu_s']:,} | {r['tls_items_per_cpu_s']:,} | "
              f"{r['ratio']} | {r['plain']['errors']}, {r['tls']['errors']} |")
    print("\n| new connections (OTLP/HTTP port) | connections/s | connections per CPU-s | "
          "resumed | errors |")
    print("|---|---|---|---|---|")
    names = {"plain": "plain TCP (no TLS)", "full": "TLS, full handshakes",
             "resumed": "TLS, session resumed"}
    for kind, r in results["handshakes"].items():
        print(f"| {names[kind]} | {r['connections_per_s']:,} | {r['connections_per_cpu_s']:,} | "
              f"{r['resumed']:.0%} | {r['errors']} |")
    for kind, r in results["openssl_s_server"].items():
        print(f"| reference: `openssl s_server -www`, {names[kind][5:]} | "
              f"{r['connections_per_s']:,} | {r['connections_per_cpu_s']:,} | "
              f"{r['resumed']:.0%} | {r['errors']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
