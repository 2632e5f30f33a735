"""discovery.kubernetes in the real binary against a fake Kubernetes API server
(test/integration/fake_k8s.py, fixtures in test/testdata/k8s/) over TLS with a generated CA.

telegate runs "in cluster": KUBERNETES_SERVICE_HOST/PORT point at the fake and
TELEGATE_K8S_SA_DIR at a temporary service-account directory (token, ca.crt, namespace). The
exported targets are read from the admin API (/api/v0/web/components/<id>). Checked:
  * the pod, node, service (own_namespace), endpoints and field-selected pod targets carry the
    expected labels for the fixture objects;
  * targets follow pods being added and deleted;
  * a compaction (watch ERROR 410) leads to a relist, and later changes are still seen;
  * token rotation: the fake only accepts the new token, the token file is rewritten, and the
    next watch (after a 401 and a re-read of the file) works;
  * the API server going away makes the component unhealthy; when it is back the component
    relists, becomes healthy and catches up with what changed meanwhile;
  * in steady state no further requests are made (one long watch per informer);
  * kubeconfig_file (certificate-authority-data, token) works outside a cluster;
  * selector/role combinations Prometheus rejects fail `telegate validate`.
The update interval is shortened to 200 ms with TELEGATE_DISCOVERY_KUBERNETES_UPDATE_INTERVAL_MS.
"""
import base64
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

import harness
from harness import Telegate, wait_for

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_k8s  # noqa: E402

CONFIG = """
discovery.kubernetes "pods" {
  role = "pod"
}
discovery.kubernetes "nodes" {
  role = "node"
}
discovery.kubernetes "services" {
  role = "service"
  namespaces {
    own_namespace = true
  }
}
discovery.kubernetes "endpoints" {
  role = "endpoints"
  namespaces {
    names = ["default"]
  }
}
discovery.kubernetes "node_b" {
  role = "pod"
  selectors {
    role  = "pod"
    field = "spec.nodeName=node-b"
  }
}
"""

# The target of the fixture pod default/web-7d4b9c6f5-x2k8p, container "app", port "metrics".
WEB_METRICS_TARGET = {
    "__address__": "10.244.1.23:9090",
    "__meta_kubernetes_namespace": "default",
    "__meta_kubernetes_pod_name": "web-7d4b9c6f5-x2k8p",
    "__meta_kubernetes_pod_ip": "10.244.1.23",
    "__meta_kubernetes_pod_uid": "3f1c2a7e-5b8d-4e0a-9c61-2d7f4b1e8a90",
    "__meta_kubernetes_pod_phase": "Running",
    "__meta_kubernetes_pod_ready": "true",
    "__meta_kubernetes_pod_node_name": "node-a",
    "__meta_kubernetes_pod_host_ip": "10.0.1.5",
    "__meta_kubernetes_pod_controller_kind": "ReplicaSet",
    "__meta_kubernetes_pod_controller_name": "web-7d4b9c6f5",
    "__meta_kubernetes_pod_label_app_kubernetes_io_name": "web",
    "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
    "__meta_kubernetes_pod_label_pod_template_hash": "7d4b9c6f5",
    "__meta_kubernetes_pod_labelpresent_pod_template_hash": "true",
    "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
    "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape": "true",
    "__meta_kubernetes_pod_annotation_prometheus_io_port": "9090",
    "__meta_kubernetes_pod_annotationpresent_prometheus_io_port": "true",
    "__meta_kubernetes_pod_annotation_kubectl_kubernetes_io_restartedAt": "2026-11-20T08:13:58Z",
    "__meta_kubernetes_pod_annotationpresent_kubectl_kubernetes_io_restartedAt": "true",
    "__meta_kubernetes_pod_container_name": "app",
    "__meta_kubernetes_pod_container_id":
        "containerd://9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "__meta_kubernetes_pod_container_image": "registry.example.com/web:2.4.1",
    "__meta_kubernetes_pod_container_init": "false",
    "__meta_kubernetes_pod_container_port_name": "metrics",
    "__meta_kubernetes_pod_container_port_number": "9090",
    "__meta_kubernetes_pod_container_port_protocol": "TCP",
}

NODE_B_TARGET = {
    "__address__": "10.0.1.6:10250",
    "instance": "node-b",
    "__meta_kubernetes_node_name": "node-b",
    "__meta_kubernetes_node_provider_id": "aws:///eu-west-1b/i-0f1e2d3c4b5a69788",
    "__meta_kubernetes_node_label_kubernetes_io_hostname": "node-b",
    "__meta_kubernetes_node_labelpresent_kubernetes_io_hostname": "true",
    "__meta_kubernetes_node_label_kubernetes_io_os": "linux",
    "__meta_kubernetes_node_labelpresent_kubernetes_io_os": "true",
    "__meta_kubernetes_node_label_topology_kubernetes_io_zone": "eu-west-1b",
    "__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone": "true",
    "__meta_kubernetes_node_address_InternalIP": "10.0.1.6",
    "__meta_kubernetes_node_address_ExternalIP": "203.0.113.17",
    "__meta_kubernetes_node_address_Hostname": "node-b",
}


def new_pod(name, ip, node="node-a", namespace="default"):
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "extra"}},
        "spec": {"nodeName": node, "containers": [
            {"name": "main", "image": "registry.example.com/extra:1",
             "ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip, "hostIP": "10.0.1.5",
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }


class K8sDiscoveryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="telegate-k8s-")
        cls.cert, cls.key = fake_k8s.make_tls(cls.tmp)
        cls.sa = os.path.join(cls.tmp, "sa")
        os.mkdir(cls.sa)
        with open(os.path.join(cls.sa, "token"), "w") as f:
            f.write("tok-1\n")
        shutil.copy(cls.cert, os.path.join(cls.sa, "ca.crt"))
        with open(os.path.join(cls.sa, "namespace"), "w") as f:
            f.write("default")
        cls.fake = fake_k8s.FakeK8s(tokens=["tok-1"], tls=(cls.cert, cls.key),
                                    bookmark_interval=1.0)
        cls.fake.load_fixtures(os.path.join(harness.ARGS.source_dir, "test/testdata/k8s"))
        port = cls.fake.start()
        cls.config = os.path.join(cls.tmp, "config.alloy")
        with open(cls.config, "w") as f:
            f.write(CONFIG)
        cls.tg = Telegate(cls.config, env={
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(port),
            "TELEGATE_K8S_SA_DIR": cls.sa,
            "TELEGATE_DISCOVERY_KUBERNETES_UPDATE_INTERVAL_MS": "200",
        })
        cls.tg.wait_ready()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.tg.close()
            assert rc == 0, "telegate exit code %s:\n%s" % (rc, cls.tg.output())
        finally:
            cls.fake.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def component(self, name):
        status, _, body = self.tg.get("/api/v0/web/components/discovery.kubernetes." + name)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def targets(self, name):
        return self.component(name)["exports"]["targets"]

    def addresses(self, name):
        return sorted(t["__address__"] for t in self.targets(name))

    def wait_addresses(self, name, want, timeout=10):
        ok = wait_for(lambda: self.addresses(name) == sorted(want), timeout=timeout, interval=0.1)
        self.assertTrue(ok, "%s: got %s, want %s\n%s" % (name, self.addresses(name), sorted(want),
                                                         self.tg.output()[-3000:]))

    def wait_health(self, name, state, timeout=10):
        ok = wait_for(lambda: self.component(name)["health"]["state"] == state, timeout=timeout,
                      interval=0.1)
        self.assertTrue(ok, "%s: health %s, want %s" % (name, self.component(name)["health"],
                                                        state))

    # The tests run in name order; each leaves the fake as it found it.
    def test_1_fixture_targets(self):
        self.wait_addresses("pods", ["10.244.1.23:8080", "10.244.1.23:9090", "10.244.1.23",
                                     "10.244.1.23", "10.0.1.6:9100"])
        for name in ("pods", "nodes", "services", "endpoints", "node_b"):
            self.wait_health(name, "healthy")
        metrics = [t for t in self.targets("pods")
                   if t["__address__"] == "10.244.1.23:9090"]
        self.assertEqual(metrics, [WEB_METRICS_TARGET])
        init = [t for t in self.targets("pods")
                if t.get("__meta_kubernetes_pod_container_name") == "migrate"]
        self.assertEqual(len(init), 1)
        self.assertEqual(init[0]["__meta_kubernetes_pod_container_init"], "true")
        self.assertNotIn("__meta_kubernetes_pod_container_port_number", init[0])
        # The pending pod (no podIP) has no targets.
        self.assertFalse([t for t in self.targets("pods")
                          if t["__meta_kubernetes_pod_name"].startswith("report-")])

        self.wait_addresses("nodes", ["10.0.1.5:10250", "10.0.1.6:10250"])
        node_b = [t for t in self.targets("nodes") if t["instance"] == "node-b"]
        self.assertEqual(node_b, [NODE_B_TARGET])

        self.wait_addresses("services", ["kubernetes.default.svc:443", "web.default.svc:80",
                                         "web.default.svc:9090"])
        web80 = [t for t in self.targets("services") if t["__address__"] == "web.default.svc:80"][0]
        self.assertEqual(web80["__meta_kubernetes_service_cluster_ip"], "10.96.14.27")
        self.assertEqual(web80["__meta_kubernetes_service_port_name"], "http")
        self.assertEqual(web80["__meta_kubernetes_service_type"], "ClusterIP")
        self.assertEqual(web80["__meta_kubernetes_service_annotation_prometheus_io_probe"], "true")

        self.wait_addresses("endpoints", ["10.244.1.23:8080", "10.244.1.23:9090"])
        ep = [t for t in self.targets("endpoints") if t["__address__"] == "10.244.1.23:8080"][0]
        self.assertEqual(ep["__meta_kubernetes_endpoint_ready"], "true")
        self.assertEqual(ep["__meta_kubernetes_service_name"], "web")
        self.assertEqual(ep["__meta_kubernetes_pod_name"], "web-7d4b9c6f5-x2k8p")
        self.assertEqual(ep["__meta_kubernetes_pod_container_port_name"], "http")

        # The field selector reached the API server: only node-b's pod.
        self.wait_addresses("node_b", ["10.0.1.6:9100"])
        stats = self.fake.stats()
        self.assertGreaterEqual(stats.get("watch pods", 0), 3, stats)

    def test_2_targets_follow_pods(self):
        self.wait_addresses("node_b", ["10.0.1.6:9100"])
        before = self.addresses("pods")
        self.fake.put("pods", new_pod("extra-1", "10.244.2.50", node="node-b"))
        self.wait_addresses("pods", before + ["10.244.2.50:8000"])
        self.wait_addresses("node_b", ["10.0.1.6:9100", "10.244.2.50:8000"])
        # Moving to another node takes it out of the field selector (DELETED for that watch).
        self.fake.put("pods", new_pod("extra-1", "10.244.2.50", node="node-a"))
        self.wait_addresses("node_b", ["10.0.1.6:9100"])
        self.fake.delete("pods", "default", "extra-1")
        self.wait_addresses("pods", before)

    def test_3_relist_after_410(self):
        before = self.addresses("pods")
        lists = self.fake.stats().get("list pods", 0)
        self.fake.expire()
        self.assertTrue(wait_for(lambda: self.fake.stats().get("list pods", 0) >= lists + 2,
                                 timeout=10), self.fake.stats())
        self.assertGreaterEqual(self.fake.stats().get("watch 410", 0), 2)
        self.fake.put("pods", new_pod("extra-2", "10.244.2.51"))
        self.wait_addresses("pods", before + ["10.244.2.51:8000"])
        self.fake.delete("pods", "default", "extra-2")
        self.wait_addresses("pods", before)
        self.wait_health("pods", "healthy")

    def test_4_token_rotation(self):
        before = self.addresses("pods")
        unauthorized = self.fake.stats().get("unauthorized", 0)
        self.fake.set_tokens("tok-2")
        with open(os.path.join(self.sa, "token.tmp"), "w") as f:
            f.write("tok-2\n")
        os.replace(os.path.join(self.sa, "token.tmp"), os.path.join(self.sa, "token"))
        self.fake.drop_watches()  # the next watches use the cached (now rejected) token
        self.assertTrue(wait_for(lambda: self.fake.stats().get("unauthorized", 0) > unauthorized,
                                 timeout=10), self.fake.stats())
        self.fake.put("pods", new_pod("extra-3", "10.244.2.52"))
        self.wait_addresses("pods", before + ["10.244.2.52:8000"])
        self.fake.delete("pods", "default", "extra-3")
        self.wait_addresses("pods", before)
        self.wait_health("pods", "healthy")

    def test_5_api_down_and_back(self):
        before = self.addresses("pods")
        self.fake.down()
        try:
            self.wait_health("pods", "unhealthy", timeout=10)
            msg = self.component("pods")["health"]["message"]
            self.assertIn("pods", msg)
            # The last known targets stay exported while the API server is away.
            self.assertEqual(self.addresses("pods"), before)
            # Changes made meanwhile are picked up by the relist.
            self.fake.delete("pods", "monitoring", "node-exporter-5kq2w")
        finally:
            self.fake.up()
        self.wait_health("pods", "healthy", timeout=20)
        self.wait_addresses("pods", [a for a in before if a != "10.0.1.6:9100"])
        self.wait_addresses("node_b", [])
        self.wait_health("nodes", "healthy", timeout=20)

    def test_6_steady_state_requests(self):
        for name in ("pods", "nodes", "services", "endpoints", "node_b"):
            self.wait_health(name, "healthy", timeout=20)
        time.sleep(1)
        first = self.fake.stats()
        time.sleep(3)
        second = self.fake.stats()
        self.assertEqual(second["open_watches"], 7, second)  # 5 components, endpoints has 3
        changed = {k: (first.get(k), v) for k, v in second.items()
                   if k != "open_watches" and first.get(k) != v}
        self.assertEqual(changed, {}, "requests in steady state")


class K8sDiscoveryKubeconfigTest(unittest.TestCase):
    """kubeconfig_file: current-context -> cluster (server, certificate-authority-data) and
    user (token), outside any cluster (no KUBERNETES_SERVICE_* variables)."""

    def test_kubeconfig_file(self):
        tmp = tempfile.mkdtemp(prefix="telegate-k8s-kc-")
        cert, key = fake_k8s.make_tls(tmp)
        fake = fake_k8s.FakeK8s(tokens=["kc-token"], tls=(cert, key))
        fake.load_fixtures(os.path.join(harness.ARGS.source_dir, "test/testdata/k8s"))
        port = fake.start()
        tg = None
        try:
            with open(cert, "rb") as f:
                ca = base64.b64encode(f.read()).decode()
            kubeconfig = os.path.join(tmp, "kubeconfig")
            with open(kubeconfig, "w") as f:
                f.write(KUBECONFIG % {"port": port, "ca": ca})
            config = os.path.join(tmp, "config.alloy")
            with open(config, "w") as f:
                f.write('discovery.kubernetes "nodes" {\n  role = "node"\n'
                        '  kubeconfig_file = "%s"\n}\n' % kubeconfig)
            env = {"KUBERNETES_SERVICE_HOST": "", "KUBERNETES_SERVICE_PORT": "",
                   "TELEGATE_DISCOVERY_KUBERNETES_UPDATE_INTERVAL_MS": "200"}
            tg = Telegate(config, env=env)
            tg.wait_ready()

            def addresses():
                _, _, body = tg.get("/api/v0/web/components/discovery.kubernetes.nodes")
                return sorted(t["__address__"] for t in json.loads(body)["exports"]["targets"])
            ok = wait_for(lambda: addresses() == ["10.0.1.5:10250", "10.0.1.6:10250"], timeout=10)
            self.assertTrue(ok, "%s\n%s" % (addresses(), tg.output()))
            self.assertEqual(fake.stats().get("unauthorized", 0), 0)
        finally:
            if tg is not None:
                self.assertEqual(tg.close(), 0)
            fake.stop()
            shutil.rmtree(tmp, ignore_errors=True)


KUBECONFIG = """apiVersion: v1
kind: Config
current-context: fake
clusters:
- name: other
  cluster:
    server: https://127.0.0.1:1
- name: fake-cluster
  cluster:
    server: https://127.0.0.1:%(port)d
    certificate-authority-data: %(ca)s
contexts:
- name: fake
  context:
    cluster: fake-cluster
    user: reader
    namespace: default
users:
- name: reader
  user:
    token: kc-token
"""


class K8sDiscoveryValidationTest(unittest.TestCase):
    """Configuration errors Prometheus and Alloy reject at load time."""

    def validate(self, body):
        d = tempfile.mkdtemp(prefix="telegate-k8s-validate-")
        try:
            p = os.path.join(d, "c.alloy")
            with open(p, "w") as f:
                f.write(body)
            return harness.run_cli("validate", p)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_selector_rules(self):
        cases = {
            'role = "pod"\n selectors {\n role = "node"\n field = "a=b"\n }':
                "pod role supports only pod selectors",
            'role = "endpoints"\n selectors {\n role = "node"\n }':
                "endpoints role supports only pod, service, endpoints selectors",
            'role = "pod"\n selectors {\n role = "pod"\n }\n selectors {\n role = "pod"\n }':
                "duplicated selector role: pod",
            'role = "pods"': 'invalid role "pods"',
        }
        for body, want in cases.items():
            r = self.validate('discovery.kubernetes "x" {\n %s\n}\n' % body)
            self.assertEqual(r.returncode, 1, body)
            self.assertIn(want, r.stderr, body)
        ok = self.validate('discovery.kubernetes "x" {\n role = "endpoints"\n selectors {\n'
                           ' role = "pod"\n field = "spec.nodeName=n"\n }\n selectors {\n'
                           ' role = "service"\n label = "app=web"\n }\n}\n')
        self.assertEqual(ok.returncode, 0, ok.stderr)


if __name__ == "__main__":
    harness.main()
