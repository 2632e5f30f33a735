#include "src/components/discovery/kubernetes/role_targets.h"

#include <gtest/gtest.h>

#include <map>

namespace telegate::discovery::kubernetes {
namespace {

TEST(ServiceTargetsTest, OneTargetPerPort) {
  auto t = serviceTargets(R"({"metadata":{"name":"web","namespace":"shop",
    "labels":{"app.kubernetes.io/name":"web"},"annotations":{"prometheus.io/scrape":"true"}},
    "spec":{"type":"ClusterIP","clusterIP":"10.96.0.12","ports":[
      {"name":"http","port":80,"protocol":"TCP","targetPort":8080},
      {"name":"metrics","port":9090,"protocol":"TCP"}]}})");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 2u);
  const auto& a = (*t)[0];
  EXPECT_EQ(a.at("__address__"), "web.shop.svc:80");
  EXPECT_EQ(a.at("__meta_kubernetes_namespace"), "shop");
  EXPECT_EQ(a.at("__meta_kubernetes_service_name"), "web");
  EXPECT_EQ(a.at("__meta_kubernetes_service_label_app_kubernetes_io_name"), "web");
  EXPECT_EQ(a.at("__meta_kubernetes_service_labelpresent_app_kubernetes_io_name"), "true");
  EXPECT_EQ(a.at("__meta_kubernetes_service_annotation_prometheus_io_scrape"), "true");
  EXPECT_EQ(a.at("__meta_kubernetes_service_port_name"), "http");
  EXPECT_EQ(a.at("__meta_kubernetes_service_port_number"), "80");
  EXPECT_EQ(a.at("__meta_kubernetes_service_port_protocol"), "TCP");
  EXPECT_EQ(a.at("__meta_kubernetes_service_type"), "ClusterIP");
  EXPECT_EQ(a.at("__meta_kubernetes_service_cluster_ip"), "10.96.0.12");
  EXPECT_EQ(a.count("__meta_kubernetes_service_external_name"), 0u);
  EXPECT_EQ((*t)[1].at("__address__"), "web.shop.svc:9090");

  auto ext = serviceTargets(R"({"metadata":{"name":"db","namespace":"x"},"spec":{
    "type":"ExternalName","externalName":"db.example.com","ports":[{"port":5432,"protocol":"TCP"}]}})");
  ASSERT_TRUE(ext.ok());
  ASSERT_EQ(ext->size(), 1u);
  EXPECT_EQ((*ext)[0].at("__meta_kubernetes_service_external_name"), "db.example.com");
  EXPECT_EQ((*ext)[0].count("__meta_kubernetes_service_cluster_ip"), 0u);
  EXPECT_EQ((*ext)[0].at("__meta_kubernetes_service_port_name"), "");
  EXPECT_FALSE(serviceTargets("[1]").ok());
}

TEST(NodeTargetsTest, AddressPriorityAndLabels) {
  auto t = nodeTargets(R"({"metadata":{"name":"node-a","labels":{"kubernetes.io/os":"linux"}},
    "spec":{"providerID":"aws:///eu-west-1a/i-0abc"},
    "status":{"addresses":[{"type":"Hostname","address":"node-a"},
                           {"type":"ExternalIP","address":"203.0.113.7"},
                           {"type":"InternalIP","address":"10.0.1.5"},
                           {"type":"InternalIP","address":"10.0.1.6"}],
      "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}}}})");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 1u);
  const auto& n = (*t)[0];
  EXPECT_EQ(n.at("__address__"), "10.0.1.5:10250");
  EXPECT_EQ(n.at("instance"), "node-a");
  EXPECT_EQ(n.at("__meta_kubernetes_node_name"), "node-a");
  EXPECT_EQ(n.at("__meta_kubernetes_node_provider_id"), "aws:///eu-west-1a/i-0abc");
  EXPECT_EQ(n.at("__meta_kubernetes_node_label_kubernetes_io_os"), "linux");
  EXPECT_EQ(n.at("__meta_kubernetes_node_labelpresent_kubernetes_io_os"), "true");
  EXPECT_EQ(n.at("__meta_kubernetes_node_address_InternalIP"), "10.0.1.5");
  EXPECT_EQ(n.at("__meta_kubernetes_node_address_ExternalIP"), "203.0.113.7");
  EXPECT_EQ(n.at("__meta_kubernetes_node_address_Hostname"), "node-a");
  auto none = nodeTargets(R"({"metadata":{"name":"n"},"status":{}})");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(EndpointsTargetsTest, ServiceAndPodEnrichment) {
  std::map<std::string, std::string> services = {
      {"shop/web", R"({"metadata":{"name":"web","namespace":"shop","labels":{"tier":"front"}}})"}};
  std::map<std::string, std::string> pods = {
      {"shop/web-1", R"({"metadata":{"name":"web-1","namespace":"shop","uid":"u1"},
        "spec":{"nodeName":"node-a","containers":[{"name":"app","image":"web:1",
          "ports":[{"name":"http","containerPort":8080,"protocol":"TCP"},
                   {"name":"admin","containerPort":9000,"protocol":"TCP"}]}]},
        "status":{"podIP":"10.1.0.5","phase":"Running"}})"}};
  auto lookup = [](std::map<std::string, std::string>& m) -> ObjectLookup {
    return [&m](const std::string& k) -> const std::string* {
      auto it = m.find(k);
      return it == m.end() ? nullptr : &it->second;
    };
  };
  auto t = endpointsTargets(R"({"metadata":{"name":"web","namespace":"shop"},"subsets":[{
    "addresses":[{"ip":"10.1.0.5","nodeName":"node-a",
                  "targetRef":{"kind":"Pod","name":"web-1","namespace":"shop"}}],
    "notReadyAddresses":[{"ip":"10.1.0.9","hostname":"web-2"}],
    "ports":[{"name":"http","port":8080,"protocol":"TCP"}]}]})",
                            lookup(services), lookup(pods));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 3u);
  const auto& ready = (*t)[0];
  EXPECT_EQ(ready.at("__address__"), "10.1.0.5:8080");
  EXPECT_EQ(ready.at("__meta_kubernetes_endpoints_name"), "web");
  EXPECT_EQ(ready.at("__meta_kubernetes_service_name"), "web");
  EXPECT_EQ(ready.at("__meta_kubernetes_service_label_tier"), "front");
  EXPECT_EQ(ready.at("__meta_kubernetes_endpoint_ready"), "true");
  EXPECT_EQ(ready.at("__meta_kubernetes_endpoint_port_name"), "http");
  EXPECT_EQ(ready.at("__meta_kubernetes_endpoint_node_name"), "node-a");
  EXPECT_EQ(ready.at("__meta_kubernetes_endpoint_address_target_kind"), "Pod");
  EXPECT_EQ(ready.at("__meta_kubernetes_pod_name"), "web-1");
  EXPECT_EQ(ready.at("__meta_kubernetes_pod_container_name"), "app");
  EXPECT_EQ(ready.at("__meta_kubernetes_pod_container_port_number"), "8080");
  const auto& not_ready = (*t)[1];
  EXPECT_EQ(not_ready.at("__address__"), "10.1.0.9:8080");
  EXPECT_EQ(not_ready.at("__meta_kubernetes_endpoint_ready"), "false");
  EXPECT_EQ(not_ready.at("__meta_kubernetes_endpoint_hostname"), "web-2");
  EXPECT_EQ(not_ready.count("__meta_kubernetes_pod_name"), 0u);
  // The pod's port 9000 is not behind the service: an extra target.
  const auto& extra = (*t)[2];
  EXPECT_EQ(extra.at("__address__"), "10.1.0.5:9000");
  EXPECT_EQ(extra.at("__meta_kubernetes_pod_container_port_name"), "admin");
  EXPECT_EQ(extra.count("__meta_kubernetes_endpoint_ready"), 0u);
}

}  // namespace
}  // namespace telegate::discovery::kubernetes
