"""Shared helpers for the TLS end-to-end tests (test_tls_*.py).

- Pki: CAs and certificates made at test time with the `openssl` command line (certs.py) in a
  temporary directory (nothing is committed): a CA, server certificates for 127.0.0.1 /
  localhost, client certificates, an expired one and certificates from another CA. A test tells
  which certificate a server presented by its SHA-256 fingerprint.
- KubeletDir: a directory laid out as kubelet mounts a Secret (`..data` -> `..<timestamp>`,
  `tls.crt` -> `..data/tls.crt`), with the atomic swap kubelet does on an update; PlainFiles:
  the same interface over two plain files replaced one after the other.
- receiver_block() / config(): the e2e configuration (otelcol.receiver.otlp components
  authenticated by otelcol.auth.bearer, or another handler, writing to otelcol.exporter.file)
  with a `tls` block (tls_block()) on the gRPC and/or HTTP server; start() / stop() run it.
- tls_connect(): a Python `ssl` client that reports exactly how a connection ended (negotiated
  version and cipher, the server certificate's fingerprint, the HTTP or HTTP/2 answer, or the
  TLS alert and the stage it came at).
- send(): otel-js/send.mjs with its TLS options (--ca, --cert/--key).

Everything stays on loopback and every network call has a timeout."""
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import e2e_common as e2e  # first: it puts test/integration on sys.path
import certs  # noqa: E402  (test/integration/certs.py)
import harness  # noqa: E402


# ------------------------------------------------------------------------------------------------
# Certificates.

class Cert:
    """A certificate and its key on disk (PEM)."""

    def __init__(self, cert, key):
        self.cert, self.key = cert, key

    def pem(self):
        with open(self.cert, encoding="ascii") as f:
            return f.read()

    def fingerprint(self):
        """SHA-256 of the DER certificate, lower-case hex (as PeerIdentity and grpc-js give it)."""
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(self.pem())).hexdigest()


class Pki:
    """RSA 2048 CAs and certificates under `root`, made by test/integration/certs.py (the openssl
    CLI). RSA, so that the TLS 1.2 ECDHE_RSA suites apply."""

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def ca(self, name):
        return certs.CA(self.root, name=name, key_type="rsa")

    def issue(self, ca, name, client=False, expired=False):
        """A server certificate (127.0.0.1, ::1, localhost) or a client certificate (CN=name)
        signed by `ca`; `expired`: notAfter is in the past."""
        if client:
            pair = ca.client(name, expired=expired, key_type="rsa")
        else:
            pair = ca.server(name, key_type="rsa")
        return Cert(pair.cert, pair.key)


class KubeletDir:
    """A directory with kubelet's layout for a mounted Secret:
        dir/..<timestamp>/tls.crt, tls.key   the current files
        dir/..data -> ..<timestamp>          swapped atomically by rename(2) on an update
        dir/tls.crt -> ..data/tls.crt, dir/tls.key -> ..data/tls.key
    cert_file / key_file are the paths a configuration names."""

    def __init__(self, root, cert):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.cert_file = os.path.join(root, "tls.crt")
        self.key_file = os.path.join(root, "tls.key")
        self._n = 0
        self.swap(cert)
        os.symlink(os.path.join("..data", "tls.crt"), self.cert_file)
        os.symlink(os.path.join("..data", "tls.key"), self.key_file)

    def swap(self, cert, key=None):
        """Publishes cert (and key, default cert's own) as kubelet does: write a new timestamped
        directory, point a temporary symlink at it, rename it over ..data, remove the old one."""
        self._n += 1
        stamp = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{self._n:04d}"
        new = os.path.join(self.root, stamp)
        os.mkdir(new)
        shutil.copyfile(cert.cert, os.path.join(new, "tls.crt"))
        shutil.copyfile((key or cert).key, os.path.join(new, "tls.key"))
        data = os.path.join(self.root, "..data")
        old = os.readlink(data) if os.path.islink(data) else None
        tmp = os.path.join(self.root, "..data_tmp")
        os.symlink(stamp, tmp)
        os.rename(tmp, data)
        if old:
            shutil.rmtree(os.path.join(self.root, old))


class PlainFiles:
    """cert_file / key_file as plain files, each replaced by its own rename(2) (key first): the
    two renames are not one atomic step, so a watcher may see the new key with the old
    certificate for a moment."""

    def __init__(self, root, cert):
        os.makedirs(root, exist_ok=True)
        self.cert_file = os.path.join(root, "tls.crt")
        self.key_file = os.path.join(root, "tls.key")
        self.swap(cert)

    def swap(self, cert, key=None):
        for src, dst in (((key or cert).key, self.key_file), (cert.cert, self.cert_file)):
            shutil.copyfile(src, dst + ".tmp")
            os.replace(dst + ".tmp", dst)


# ------------------------------------------------------------------------------------------------
# telegate.

def tls_block(cert_file, key_file, client_ca_file=None, extra=""):
    lines = [f'cert_file = "{cert_file}"', f'key_file = "{key_file}"']
    if client_ca_file:
        lines.append(f'client_ca_file = "{client_ca_file}"')
    lines += [line for line in extra.splitlines() if line.strip()]
    return "tls {\n      " + "\n      ".join(lines) + "\n    }"


def receiver_block(label, grpc_port=None, http_port=None, grpc_tls="", http_tls="",
                   auth="otelcol.auth.bearer.t.handler"):
    """One otelcol.receiver.otlp component; grpc_tls / http_tls are tls blocks (tls_block())."""
    servers = ""
    if grpc_port:
        servers += f"""
  grpc {{
    endpoint = "127.0.0.1:{grpc_port}"
    auth     = {auth}
    {grpc_tls}
  }}"""
    if http_port:
        servers += f"""
  http {{
    endpoint = "127.0.0.1:{http_port}"
    auth     = {auth}
    {http_tls}
  }}"""
    return f"""
otelcol.receiver.otlp "{label}" {{{servers}
  output {{
    logs    = [otelcol.exporter.file.out.input]
    metrics = [otelcol.exporter.file.out.input]
    traces  = [otelcol.exporter.file.out.input]
  }}
}}
"""


def config(*receivers, token=e2e.TOKEN):
    """A whole configuration: the bearer authenticator, `receivers` (receiver_block(), or any
    other component text) and the file exporter the receivers write to."""
    return (f'otelcol.auth.bearer "t" {{\n  token = "{token}"\n}}\n' + "".join(receivers)
            + '\notelcol.exporter.file "out" { }\n')


def free_ports(n):
    ports = set()
    while len(ports) < n:
        ports.add(harness.free_port())
    return sorted(ports)


def start(workdir, config, ports, name="config.alloy"):
    """Starts telegate with `config` and waits until every port in `ports` accepts TCP; returns
    the Telegate. Raises AssertionError with telegate's output when it does not."""
    cfg = os.path.join(workdir, name)
    with open(cfg, "w") as f:
        f.write(config)
    t = harness.Telegate(cfg)
    try:
        t.wait_ready()
        if not harness.wait_for(lambda: all(e2e.port_open(p) for p in ports), timeout=20):
            _, _, healthy = t.get("/-/healthy")
            raise AssertionError(f"telegate does not listen on {ports}.\n/-/healthy: {healthy}\n"
                                 f"telegate output:\n{t.output()}")
    except BaseException:
        stop(t)
        raise
    return t


def stop(t):
    try:
        rc = t.close()
        if rc != 0:
            print(f"telegate exited with {rc}:\n{t.output()[-5000:]}")
    finally:
        shutil.rmtree(t.storage, ignore_errors=True)


def metric_value(t, name, **labels):
    """Sum of the samples of `name` in /metrics whose labels include `labels`."""
    status, _, text = t.get("/metrics")
    assert status == 200, text
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
            found = True
    return total if found else None


# ------------------------------------------------------------------------------------------------
# A Python TLS client that says how the handshake ended.

VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
            "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class Outcome:
    """How a connection went: ok (handshake done and, when a request was sent, an HTTP answer
    came back), version, cipher, fingerprint of the server certificate, HTTP status, and the
    error (the TLS alert or socket error) with the stage it happened at."""

    def __init__(self):
        self.ok = False
        self.version = self.cipher = self.fingerprint = self.error = self.stage = None
        self.status = None

    def __repr__(self):
        return (f"Outcome(ok={self.ok}, version={self.version}, cipher={self.cipher}, "
                f"status={self.status}, stage={self.stage}, error={self.error!r})")


def client_context(ca=None, cert=None, min_version=None, max_version=None, ciphers=None,
                   alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if ca:
        ctx.load_verify_locations(ca)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert.cert, cert.key)
    if min_version:
        ctx.minimum_version = VERSIONS[min_version]
    if max_version:
        ctx.maximum_version = VERSIONS[max_version]
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def http_request(path, body, token=e2e.TOKEN, keep_alive=False):
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n")
    if token is not None:
        head += f"Authorization: Bearer {token}\r\n"
    if not keep_alive:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode() + body


def read_response(sock):
    """Reads one HTTP/1.1 response (Content-Length or close-delimited); returns (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before the response headers: {data[:200]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if m:
        n = int(m.group(1))
        while len(rest) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return status, rest


# An HTTP/2 client connection preface with an empty SETTINGS frame: a gRPC server answers it with
# its own SETTINGS frame.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def tls_connect(port, ctx, request=None, timeout=10):
    """Connects to 127.0.0.1:port over TLS with ctx; when `request` (bytes) is given, sends it and
    reads the answer: an HTTP/1.1 response (status = its code) or, for H2_PREFACE, the server's
    first HTTP/2 frame (status = "h2"). Never raises for TLS or socket errors: the Outcome says
    what happened."""
    out = Outcome()
    raw = None
    try:
        out.stage = "connect"
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        out.stage = "handshake"
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1" if ctx.check_hostname else None)
        raw = s
        out.version, out.cipher = s.version(), s.cipher()[0]
        der = s.getpeercert(binary_form=True)
        out.fingerprint = hashlib.sha256(der).hexdigest() if der else None
        if request is None:
            out.ok = True
            return out
        out.stage = "request"
        s.sendall(request)
        out.stage = "response"
        if request == H2_PREFACE:
            frame = s.recv(9)
            if len(frame) < 9 or frame[3] != 4:  # a SETTINGS frame
                raise ConnectionError(f"no HTTP/2 SETTINGS frame came back: {frame!r}")
            out.status = "h2"
        else:
            out.status, _ = read_response(s)
        out.ok = True
    except (ssl.SSLError, OSError, ConnectionError) as e:
        out.error = f"{type(e).__name__}: {e}"
    finally:
        if raw is not None:
            raw.close()
    return out


def log_body(message):
    body, _ = e2e.seed_log_body(message, service="tls-e2e")
    return body.encode()


def count_messages(storage, messages):
    """How many of `messages` appear as log bodies in the file exporter's output."""
    want = set(messages)
    return sum(1 for _, _, rec in e2e.flatten(storage, "logs")
               if (rec.get("body") or {}).get("stringValue") in want)


def send(transport, endpoint, run_id, ca=None, cert=None, token=e2e.TOKEN, count=5,
         expect_failure=False, timeout_ms=10000):
    """Runs otel-js/send.mjs with TLS options; returns (returncode, summary or None, stderr)."""
    args = ["node", os.path.join(e2e.OTEL_JS, "send.mjs"), "--transport", transport, "--endpoint",
            endpoint, "--token", token, "--run-id", run_id, "--count", str(count),
            "--timeout-ms", str(timeout_ms)]
    if ca:
        args += ["--ca", ca]
    if cert:
        args += ["--cert", cert.cert, "--key", cert.key]
    if expect_failure:
        args.append("--expect-failure")
    r = subprocess.run(args, cwd=e2e.OTEL_JS, capture_output=True, text=True,
                       timeout=4 * timeout_ms / 1000 + 60, env=e2e.client_env())
    summary = None
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            summary = json.loads(line)
    return r.returncode, summary, r.stderr


def mkdtemp(prefix):
    return tempfile.mkdtemp(prefix=prefix)
