#include "src/components/discovery/kubernetes/pod_targets.h"

#include <gtest/gtest.h>

namespace telegate::discovery::kubernetes {
namespace {

// Shaped like `kubectl get pod -o json` of a Deployment's pod with a sidecar and an init
// container.
constexpr const char* kPod = R"({
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {
    "name": "cart-5d9f7c6b8-x2x7q", "namespace": "shop", "uid": "0b7c4a1e-1111-2222-3333-444455556666",
    "labels": {"app": "cart", "app.kubernetes.io/name": "cart", "pod-template-hash": "5d9f7c6b8"},
    "annotations": {"prometheus.io/scrape": "true"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "cart-5d9f7c6b8",
                         "uid": "x", "controller": true, "blockOwnerDeletion": true}]
  },
  "spec": {
    "nodeName": "node-1",
    "initContainers": [{"name": "migrate", "image": "cart-migrate:1.2"}],
    "containers": [
      {"name": "cart", "image": "cart:1.2",
       "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                 {"name": "metrics", "containerPort": 9100}]},
      {"name": "proxy", "image": "envoy:1.29"}
    ]
  },
  "status": {
    "phase": "Running", "hostIP": "192.168.1.10", "podIP": "10.244.1.7",
    "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
    "containerStatuses": [{"name": "cart", "containerID": "containerd://abc"},
                          {"name": "proxy", "containerID": "containerd://def"}],
    "initContainerStatuses": [{"name": "migrate", "containerID": "containerd://123"}]
  }
})";

TEST(PodTargetsTest, OneTargetPerPortAndPerPortlessContainer) {
  auto t = podTargets(kPod);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 4u);  // cart:8080, cart:9100, proxy, migrate (init)
  const auto& http = (*t)[0];
  EXPECT_EQ(http.at("__address__"), "10.244.1.7:8080");
  EXPECT_EQ(http.at("__meta_kubernetes_namespace"), "shop");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_name"), "cart-5d9f7c6b8-x2x7q");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_ready"), "true");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_phase"), "Running");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_node_name"), "node-1");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_host_ip"), "192.168.1.10");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_label_app_kubernetes_io_name"), "cart");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name"), "true");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_annotation_prometheus_io_scrape"), "true");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_controller_kind"), "ReplicaSet");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_controller_name"), "cart-5d9f7c6b8");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_container_name"), "cart");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_container_id"), "containerd://abc");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_container_port_name"), "http");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_container_port_protocol"), "TCP");
  EXPECT_EQ(http.at("__meta_kubernetes_pod_container_init"), "false");
  EXPECT_EQ((*t)[1].at("__meta_kubernetes_pod_container_port_protocol"), "TCP");  // default
  const auto& proxy = (*t)[2];
  EXPECT_EQ(proxy.at("__address__"), "10.244.1.7");
  EXPECT_EQ(proxy.count("__meta_kubernetes_pod_container_port_number"), 0u);
  const auto& init = (*t)[3];
  EXPECT_EQ(init.at("__meta_kubernetes_pod_container_init"), "true");
  EXPECT_EQ(init.at("__meta_kubernetes_pod_container_id"), "containerd://123");
}

TEST(PodTargetsTest, PodWithoutIpHasNoTargetsAndIpv6IsBracketed) {
  auto none = podTargets(
      R"({"metadata":{"name":"p","namespace":"n"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"Pending"}})");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto v6 = podTargets(
      R"({"metadata":{"name":"p","namespace":"n"},"spec":{"containers":[{"name":"c","ports":[{"containerPort":80}]}]},"status":{"podIP":"fd00::7"}})");
  ASSERT_TRUE(v6.ok());
  ASSERT_EQ(v6->size(), 1u);
  EXPECT_EQ((*v6)[0].at("__address__"), "[fd00::7]:80");
  EXPECT_EQ((*v6)[0].at("__meta_kubernetes_pod_ready"), "unknown");
}

TEST(PodTargetsTest, MalformedInput) {
  EXPECT_FALSE(podTargets("{not json").ok());
  EXPECT_FALSE(podTargets("[]").ok());
  EXPECT_FALSE(podTargets("{}").ok());
}

TEST(PodTargetsTest, PodLabelsWithoutSpecOrStatus) {
  auto l = podLabels(R"({"metadata":{"name":"p","namespace":"n","labels":{"a.b":"c"}}})");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->at("__meta_kubernetes_pod_name"), "p");
  EXPECT_EQ(l->at("__meta_kubernetes_pod_phase"), "");
  EXPECT_EQ(l->at("__meta_kubernetes_pod_ready"), "unknown");
  EXPECT_EQ(l->at("__meta_kubernetes_pod_label_a_b"), "c");
  EXPECT_FALSE(podLabels("{}").ok());
}

}  // namespace
}  // namespace telegate::discovery::kubernetes
