#!/usr/bin/env python3
"""Kubernetes API requests made by discovery.kubernetes, counted by the fake API server
(test/integration/fake_k8s.py) for N pods.

Runs telegate with one discovery.kubernetes component (role = "pod", cluster-wide, or with
--field-selector as a DaemonSet agent would), loads N generated pods (realistic Pod JSON, two
containers, one port each) into the fake, and reports: requests until the targets were exported,
time to the first complete export, requests during a steady-state window with --churn pod updates
per second, telegate's CPU seconds over that window and its RSS at the end.

  bench/k8s_discovery_requests.py --binary build/release/src/main/telegate --pods 5000 \
      --window 60 --churn 2
"""
import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
import fake_k8s  # noqa: E402


def pod(i, nodes):
    node = "node-%d" % (i % nodes)
    return {
        "metadata": {
            "name": "app-%05d" % i, "namespace": "ns-%d" % (i % 20),
            "labels": {"app.kubernetes.io/name": "app-%d" % (i % 50), "pod-template-hash": "5f7c9"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "app-%d-5f7c9" % (i % 50), "uid": "rs-%d" % (i % 50),
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {"nodeName": node, "containers": [
            {"name": "app", "image": "registry.example.com/app:1.2.3",
             "ports": [{"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]},
            {"name": "sidecar", "image": "registry.example.com/sidecar:0.9",
             "ports": [{"name": "admin", "containerPort": 15000, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255),
                   "hostIP": "10.0.0.%d" % (i % nodes),
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [
                       {"name": "app", "ready": True, "containerID": "containerd://%064x" % i},
                       {"name": "sidecar", "ready": True,
                        "containerID": "containerd://%064x" % (i + 1 << 20)}]},
    }


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", required=True)
    p.add_argument("--pods", type=int, default=1000)
    p.add_argument("--nodes", type=int, default=50)
    p.add_argument("--field-selector", default="", help='e.g. "spec.nodeName=node-3"')
    p.add_argument("--window", type=float, default=60.0, help="steady-state window, seconds")
    p.add_argument("--churn", type=float, default=0.0, help="pod updates per second in the window")
    a = p.parse_args()

    tmp = tempfile.mkdtemp(prefix="k8s-bench-")
    try:
        cert, key = fake_k8s.make_tls(tmp)
        sa = os.path.join(tmp, "sa")
        os.mkdir(sa)
        with open(os.path.join(sa, "token"), "w") as f:
            f.write("tok")
        shutil.copy(cert, os.path.join(sa, "ca.crt"))
        fake = fake_k8s.FakeK8s(tokens=["tok"], tls=(cert, key), bookmark_interval=60)
        pods = [pod(i, a.nodes) for i in range(a.pods)]
        for x in pods:
            fake.put("pods", x)
        port = fake.start()
        sel = ""
        if a.field_selector:
            sel = '\n  selectors {\n    role = "pod"\n    field = "%s"\n  }' % a.field_selector
        cfg = os.path.join(tmp, "c.alloy")
        with open(cfg, "w") as f:
            f.write('discovery.kubernetes "pods" {\n  role = "pod"%s\n}\n' % sel)
        want = sum(1 for x in pods if not a.field_selector or
                   fake_k8s.field_match(a.field_selector, x)) * 2
        http_port = fake_k8s_free_port()
        env = dict(os.environ, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(port),
                   TELEGATE_K8S_SA_DIR=sa)
        t0 = time.time()
        proc = subprocess.Popen([a.binary, "run", cfg, "--server.http.listen-addr=127.0.0.1:%d" % http_port,
                                 "--storage.path=" + os.path.join(tmp, "data")], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = "http://127.0.0.1:%d/api/v0/web/components/discovery.kubernetes.pods" % http_port
        got = -1
        while time.time() - t0 < 120:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    got = len(json.load(r)["exports"]["targets"])
                if got == want:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        ready = time.time() - t0
        startup = fake.stats()
        c0 = cpu_seconds(proc.pid)
        w0 = time.time()
        n = 0
        while time.time() - w0 < a.window:
            if a.churn > 0:
                x = copy.deepcopy(pods[n % len(pods)])
                x["metadata"]["annotations"]["bench/rev"] = str(n)
                fake.put("pods", x)
                n += 1
                time.sleep(1.0 / a.churn)
            else:
                time.sleep(0.5)
        c1 = cpu_seconds(proc.pid)
        rss_mb = rss(proc.pid)
        end = fake.stats()
        proc.terminate()
        proc.wait(15)
        fake.stop()
        steady = {k: end.get(k, 0) - startup.get(k, 0) for k in end if k != "open_watches"}
        print(json.dumps({
            "pods": a.pods, "field_selector": a.field_selector, "targets_expected": want,
            "targets_exported": got, "seconds_to_targets": round(ready, 2),
            "startup_requests": {k: v for k, v in startup.items() if k != "open_watches"},
            "window_seconds": a.window, "churn_updates": n,
            "window_requests": {k: v for k, v in steady.items() if v},
            "requests_per_minute_in_window": round(sum(steady.values()) * 60 / a.window, 3),
            "telegate_cpu_seconds_in_window": round(c1 - c0, 3),
            "telegate_rss_mb": rss_mb,
            "loadavg": os.getloadavg()[0],
        }, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fake_k8s_free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
