"""A fake Kubernetes API server for tests, speaking the real wire protocol (JSON).

Serves, for pods, services, endpoints (namespaced) and nodes (cluster-scoped):
  GET /api/v1/<resource>, /api/v1/namespaces/<ns>/<resource>   lists (limit/continue paging,
      metadata.resourceVersion), or with ?watch=true a chunked stream of watch events
      (ADDED/MODIFIED/DELETED, BOOKMARK when allowWatchBookmarks=true, ERROR 410 when the
      resourceVersion is older than the last compaction), ended after timeoutSeconds;
      labelSelector (k=v, k==v, k!=v, k, !k) and fieldSelector (dotted.path=v, !=) filtering,
      objects moving in/out of a selector become ADDED/DELETED as the real server does.
  GET /api/v1/namespaces/<ns>/<resource>/<name>                 one object.
  GET /api/v1/namespaces/<ns>/pods/<pod>/log                    container, follow, timestamps
      (RFC3339Nano prefixes), sinceTime; with follow the stream stays open and gets a new line
      every log_interval seconds; a container whose log was recorded with append_log() is
      served from that record instead (history, then appended lines while following).
  GET /version                                                 public.
Every API request needs "Authorization: Bearer <token>" with an accepted token (401 Status
otherwise). Optional TLS (make_tls() writes a self-signed certificate with the openssl CLI).

Control (Python methods, also over HTTP under /_control/ without auth): add/modify/delete
objects, expire() (compaction: open watches get ERROR 410, older resourceVersions are refused),
drop_watches(), set_tokens(), down()/up() (stop/restart listening on the same port), stats()
(request counters by kind: "list pods", "watch pods", "get pods", "log", "unauthorized").

Run standalone: python3 fake_k8s.py --port 6443 --fixtures test/testdata/k8s --token t
"""
import argparse
import collections
import copy
import datetime
import http.server
import json
import os
import re
import socketserver
import ssl
import subprocess
import threading
import time
import urllib.parse

NAMESPACED = {"pods": "Pod", "services": "Service", "endpoints": "Endpoints"}
CLUSTER = {"nodes": "Node"}
KINDS = {**NAMESPACED, **CLUSTER}


def make_tls(directory):
    """Writes a self-signed certificate for 127.0.0.1/localhost; returns (cert, key) paths."""
    cert = os.path.join(directory, "server.crt")
    key = os.path.join(directory, "server.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=fake-kube-apiserver",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=30)
    return cert, key


def now_rfc3339nano(t=None):
    t = time.time() if t is None else t
    dt = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%09dZ" % int((t % 1) * 1e9)


def parse_rfc3339(s):
    s = s.replace("Z", "+00:00")
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", s)
    base = datetime.datetime.fromisoformat(m.group(1) + m.group(3))
    frac = float("0" + m.group(2)) if m.group(2) else 0.0
    return base.timestamp() + frac


def label_match(selector, labels):
    if not selector:
        return True
    for term in selector.split(","):
        term = term.strip()
        if not term:
            continue
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "==" in term or "=" in term:
            k, v = re.split("==|=", term, maxsplit=1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part, "")
    return cur if isinstance(cur, str) else str(cur)


def field_match(selector, obj):
    if not selector:
        return True
    for term in selector.split(","):
        term = term.strip()
        if not term:
            continue
        if "!=" in term:
            k, v = term.split("!=", 1)
            if field_value(obj, k.strip()) == v.strip():
                return False
        else:
            k, v = re.split("==|=", term, maxsplit=1)
            if field_value(obj, k.strip()) != v.strip():
                return False
    return True


class Gone(Exception):
    pass


class FakeK8s:
    def __init__(self, tokens=("tok-1",), tls=None, bookmark_interval=1.0, log_interval=0.2):
        self.cond = threading.Condition()
        self.rv = 1000
        self.objects = {}          # (resource, ns, name) -> object
        self.events = []           # (rv, resource, type, old, new)
        self.compacted_rv = 0
        self.tokens = set(tokens)
        self.tls = tls             # (cert, key) or None
        self.bookmark_interval = bookmark_interval
        self.log_interval = log_interval
        self.watch_generation = 0  # bumping it ends every open watch
        self.expired_generation = 0
        self.stats_counter = collections.Counter()
        # Recorded container logs: (ns, pod, container) -> [(unix time, text)]. A container with
        # a recorded log is served from it (history, then lines appended while following);
        # others get generated lines.
        self.pod_logs = {}
        self.open_watches = 0
        self.server = None
        self.thread = None
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self, port=0):
        fake = self

        class Handler(_Handler):
            pass
        Handler.fake = fake

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True
        self.server = Server(("127.0.0.1", port), Handler)
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()
        return self.port

    def stop(self):
        if self.server is None:
            return
        self.drop_watches()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.server = None

    def down(self):
        """Stops listening (connections are refused) and ends open streams; state is kept."""
        self.stop()

    def up(self):
        self.start(self.port)

    @property
    def url(self):
        return ("https" if self.tls else "http") + "://127.0.0.1:%d" % self.port

    # ---- state -----------------------------------------------------------------------------
    def load_fixtures(self, directory):
        for resource in KINDS:
            path = os.path.join(directory, resource + ".json")
            if os.path.exists(path):
                with open(path) as f:
                    for item in json.load(f)["items"]:
                        self.put(resource, item)

    def _key(self, resource, obj):
        meta = obj["metadata"]
        return (resource, meta.get("namespace", "") if resource in NAMESPACED else "", meta["name"])

    def put(self, resource, obj):
        """Adds or replaces an object (ADDED or MODIFIED event)."""
        obj = copy.deepcopy(obj)
        with self.cond:
            key = self._key(resource, obj)
            old = self.objects.get(key)
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            obj["metadata"].setdefault("uid", "uid-%s-%s-%d" % (key[1], key[2], self.rv))
            obj["metadata"].setdefault("creationTimestamp", now_rfc3339nano()[:19] + "Z")
            self.objects[key] = obj
            self.events.append((self.rv, resource, "MODIFIED" if old else "ADDED", old, obj))
            self.cond.notify_all()
        return obj

    def delete(self, resource, namespace, name):
        with self.cond:
            key = (resource, namespace if resource in NAMESPACED else "", name)
            old = self.objects.pop(key, None)
            if old is None:
                return False
            self.rv += 1
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self.rv)
            self.events.append((self.rv, resource, "DELETED", old, gone))
            self.cond.notify_all()
            return True

    def append_log(self, namespace, pod, container, text, t=None):
        """Appends a line to a container's recorded log (wakes followers)."""
        with self.cond:
            self.pod_logs.setdefault((namespace, pod, container), []).append(
                (time.time() if t is None else t, text))
            self.cond.notify_all()

    def expire(self):
        """Compacts history: open watches get ERROR 410; older resourceVersions are refused."""
        with self.cond:
            self.compacted_rv = self.rv
            self.expired_generation += 1
            self.cond.notify_all()

    def drop_watches(self):
        with self.cond:
            self.watch_generation += 1
            self.cond.notify_all()

    def set_tokens(self, *tokens):
        with self.cond:
            self.tokens = set(tokens)

    def stats(self):
        with self.cond:
            s = dict(self.stats_counter)
            s["open_watches"] = self.open_watches
            return s

    def count(self, what):
        with self.cond:
            self.stats_counter[what] += 1


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake = None

    def log_message(self, fmt, *args):
        pass

    def handle(self):
        # Clients closing keep-alive connections (or failing the TLS handshake) are routine.
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, TimeoutError):
            self.close_connection = True

    # ---- helpers ---------------------------------------------------------------------------
    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def status(self, code, reason, message):
        self.send_json(code, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                              "status": "Failure", "message": message, "reason": reason,
                              "code": code})

    def start_chunked(self, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        f = self.fake
        with f.cond:
            ok = auth.startswith("Bearer ") and auth[7:] in f.tokens
        if not ok:
            f.count("unauthorized")
            self.status(401, "Unauthorized", "Unauthorized")
        return ok

    # ---- routing ---------------------------------------------------------------------------
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        if u.path.startswith("/_control/"):
            return self.control("GET", u.path, q)
        if u.path == "/version":
            return self.send_json(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.2"})
        if not self.authorized():
            return
        m = re.match(r"^/api/v1/(?:namespaces/([^/]+)/)?([a-z]+)(?:/([^/]+))?(?:/(log))?$", u.path)
        if not m or m.group(2) not in KINDS:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        ns, resource, name, log = m.groups()
        ns = urllib.parse.unquote(ns) if ns else ""
        if resource in CLUSTER and ns:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        if log:
            if resource != "pods":
                return self.status(404, "NotFound", "not found")
            return self.pod_log(ns, urllib.parse.unquote(name), q)
        if name:
            return self.get_one(resource, ns, urllib.parse.unquote(name))
        if q.get("watch") in ("true", "1"):
            return self.watch(resource, ns, q)
        return self.list(resource, ns, q)

    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path.startswith("/_control/"):
            return self.control("POST", u.path, {})
        self.status(405, "MethodNotAllowed", "method not allowed")

    def do_DELETE(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path.startswith("/_control/"):
            return self.control("DELETE", u.path, {})
        self.status(405, "MethodNotAllowed", "method not allowed")

    def control(self, method, path, q):
        f = self.fake
        body = b""
        if self.headers.get("Content-Length"):
            body = self.rfile.read(int(self.headers["Content-Length"]))
        parts = path.split("/")[2:]
        if method == "GET" and parts == ["stats"]:
            return self.send_json(200, f.stats())
        if method == "POST" and len(parts) == 2 and parts[0] == "objects":
            return self.send_json(200, f.put(parts[1], json.loads(body)))
        if method == "DELETE" and len(parts) in (3, 4) and parts[0] == "objects":
            ns, name = (parts[2], parts[3]) if len(parts) == 4 else ("", parts[2])
            return self.send_json(200 if f.delete(parts[1], ns, name) else 404, {})
        if method == "POST" and parts == ["expire"]:
            f.expire()
            return self.send_json(200, {})
        if method == "POST" and parts == ["drop_watches"]:
            f.drop_watches()
            return self.send_json(200, {})
        if method == "POST" and parts == ["tokens"]:
            f.set_tokens(*json.loads(body))
            return self.send_json(200, {})
        self.status(404, "NotFound", "unknown control request")

    # ---- API -------------------------------------------------------------------------------
    def matching(self, resource, ns, q, obj):
        if obj is None:
            return False
        if ns and obj["metadata"].get("namespace") != ns:
            return False
        return (label_match(q.get("labelSelector", ""), obj["metadata"].get("labels") or {})
                and field_match(q.get("fieldSelector", ""), obj))

    def get_one(self, resource, ns, name):
        f = self.fake
        f.count("get " + resource)
        with f.cond:
            obj = f.objects.get((resource, ns, name))
        if obj is None:
            return self.status(404, "NotFound", '%s "%s" not found' % (resource, name))
        out = dict(obj, kind=KINDS[resource], apiVersion="v1")
        self.send_json(200, out)

    def list(self, resource, ns, q):
        f = self.fake
        f.count("list " + resource)
        limit = int(q.get("limit") or 0)
        cont = q.get("continue", "")
        with f.cond:
            if cont:
                rv, offset = cont.split(":")
                rv, offset = int(rv), int(offset)
                if rv < f.compacted_rv:
                    return self.status(410, "Expired",
                                       "The provided continue parameter is too old")
            else:
                rv, offset = f.rv, 0
            items = sorted((o for (r, _, _), o in f.objects.items()
                            if r == resource and self.matching(resource, ns, q, o)),
                           key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        page = items[offset:offset + limit] if limit else items[offset:]
        next_offset = offset + len(page)
        meta = {"resourceVersion": str(rv)}
        if limit and next_offset < len(items):
            meta["continue"] = "%d:%d" % (rv, next_offset)
        self.send_json(200, {"kind": KINDS[resource] + "List", "apiVersion": "v1",
                             "metadata": meta, "items": page})

    def watch(self, resource, ns, q):
        f = self.fake
        f.count("watch " + resource)
        timeout = float(q.get("timeoutSeconds") or 1800)
        bookmarks = q.get("allowWatchBookmarks") == "true"
        rv = int(q.get("resourceVersion") or 0)
        kind = KINDS[resource]
        self.start_chunked("application/json")
        deadline = time.time() + timeout
        with f.cond:
            gen, exp_gen = f.watch_generation, f.expired_generation
            if rv == 0:
                rv = f.rv
            too_old = rv < f.compacted_rv
            f.open_watches += 1
        try:
            if too_old:
                self.send_error_event(rv)
                return
            next_bookmark = time.time() + f.bookmark_interval
            while True:
                out = []
                with f.cond:
                    while True:
                        if f.watch_generation != gen:
                            return
                        if f.expired_generation != exp_gen:
                            expired = True
                            break
                        expired = False
                        pending = [e for e in f.events if e[0] > rv and e[1] == resource]
                        now = time.time()
                        if pending or now >= deadline or (bookmarks and now >= next_bookmark):
                            break
                        f.cond.wait(min(deadline, next_bookmark) - now + 0.01)
                    for erv, _, etype, old, new in pending:
                        was = self.matching(resource, ns, q, old)
                        isnow = self.matching(resource, ns, q, new) and etype != "DELETED"
                        if etype == "DELETED":
                            if was:
                                out.append({"type": "DELETED", "object": new})
                        elif was and isnow:
                            out.append({"type": "MODIFIED", "object": new})
                        elif isnow:
                            out.append({"type": "ADDED", "object": new})
                        elif was:
                            out.append({"type": "DELETED", "object": new})
                        rv = erv
                    current = f.rv
                if expired:
                    self.send_error_event(rv)
                    return
                for ev in out:
                    ev["object"] = dict(ev["object"], kind=kind, apiVersion="v1")
                    self.chunk(json.dumps(ev) + "\n")
                if time.time() >= deadline:
                    return
                if bookmarks and time.time() >= next_bookmark:
                    next_bookmark = time.time() + f.bookmark_interval
                    rv = max(rv, current)
                    self.chunk(json.dumps({"type": "BOOKMARK", "object": {
                        "kind": kind, "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(rv)}}}) + "\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            with f.cond:
                f.open_watches -= 1
            try:
                self.end_chunked()
            except OSError:
                self.close_connection = True

    def send_error_event(self, rv):
        f = self.fake
        f.count("watch 410")
        self.chunk(json.dumps({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "too old resource version: %d (%d)" % (rv, f.compacted_rv),
            "reason": "Expired", "code": 410}}) + "\n")

    def pod_log(self, ns, name, q):
        f = self.fake
        f.count("log")
        with f.cond:
            pod = f.objects.get(("pods", ns, name))
        if pod is None:
            return self.status(404, "NotFound", 'pods "%s" not found' % name)
        containers = [c["name"] for c in pod["spec"].get("containers", [])] + \
                     [c["name"] for c in pod["spec"].get("initContainers", [])]
        container = q.get("container", "")
        if not container:
            if len(containers) != 1:
                return self.status(400, "BadRequest",
                                   "a container name must be specified for pod %s, choose one "
                                   "of: [%s]" % (name, " ".join(containers)))
            container = containers[0]
        if container not in containers:
            return self.status(400, "BadRequest", "container %s is not valid for pod %s"
                               % (container, name))
        follow = q.get("follow") == "true"
        stamps = q.get("timestamps") == "true"
        since = parse_rfc3339(q["sinceTime"]) if q.get("sinceTime") else None
        self.start_chunked("text/plain")
        with f.cond:
            gen = f.watch_generation
            recorded = (ns, name, container) in f.pod_logs
        if recorded:
            return self.recorded_log(ns, name, container, follow, stamps, since, gen)
        start = time.time() - 3
        n = 0
        try:
            # Three lines of history, one second apart, then (with follow) a line per interval.
            for i in range(3):
                t = start + i
                n += 1
                if since is None or t >= since:
                    self.log_line(t, "%s/%s line %d" % (name, container, n), stamps)
            while follow:
                with f.cond:
                    if f.watch_generation != gen:
                        break
                    f.cond.wait(f.log_interval)
                    if f.watch_generation != gen or ("pods", ns, name) not in f.objects:
                        break
                n += 1
                self.log_line(time.time(), "%s/%s line %d" % (name, container, n), stamps)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
            return
        try:
            self.end_chunked()
        except OSError:
            self.close_connection = True

    def recorded_log(self, ns, name, container, follow, stamps, since, gen):
        f = self.fake
        sent = 0
        try:
            while True:
                with f.cond:
                    lines = list(f.pod_logs.get((ns, name, container), []))
                    if sent >= len(lines) and follow:
                        f.cond.wait(f.log_interval)
                        if f.watch_generation != gen or ("pods", ns, name) not in f.objects:
                            break
                        lines = list(f.pod_logs.get((ns, name, container), []))
                for t, text in lines[sent:]:
                    if since is None or t >= since:
                        self.log_line(t, text, stamps)
                sent = len(lines)
                if not follow:
                    break
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
            return
        try:
            self.end_chunked()
        except OSError:
            self.close_connection = True

    def log_line(self, t, text, stamps):
        self.chunk(("%s %s\n" % (now_rfc3339nano(t), text)) if stamps else text + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fixtures")
    p.add_argument("--token", action="append", default=[])
    p.add_argument("--tls-dir", help="generate a self-signed certificate here and serve TLS")
    a = p.parse_args()
    tls = make_tls(a.tls_dir) if a.tls_dir else None
    fake = FakeK8s(tokens=a.token or ["tok-1"], tls=tls)
    if a.fixtures:
        fake.load_fixtures(a.fixtures)
    fake.start(a.port)
    print("fake kube-apiserver on %s" % fake.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
