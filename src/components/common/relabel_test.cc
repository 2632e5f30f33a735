#include "src/components/common/relabel.h"

#include <gtest/gtest.h>

namespace telegate::components {
namespace {

using Labels = std::map<std::string, std::string>;

bool run(std::vector<RuleBlock> rules, Labels* l) {
  auto c = compileRules(rules);
  EXPECT_TRUE(c.ok()) << c.status();
  return applyRules(**c, l);
}

RuleBlock rule(std::string action, std::vector<std::string> src = {}, std::string regex = "(.*)",
               std::string target = "", std::string replacement = "$1") {
  RuleBlock r;
  r.action = std::move(action);
  r.source_labels = std::move(src);
  r.regex = std::move(regex);
  r.target_label = std::move(target);
  r.replacement = std::move(replacement);
  return r;
}

Labels pod() {
  return {{"__address__", "10.0.0.7:8080"},
          {"__meta_kubernetes_namespace", "shop"},
          {"__meta_kubernetes_pod_name", "cart-5d9f"},
          {"__meta_kubernetes_pod_label_app", "cart"},
          {"__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true"},
          {"__meta_kubernetes_pod_container_port_number", "8080"}};
}

TEST(RelabelTest, KeepOnlyAnnotatedPods) {
  auto r = rule("keep", {"__meta_kubernetes_pod_annotation_prometheus_io_scrape"}, "true");
  Labels a = pod();
  EXPECT_TRUE(run({r}, &a));
  Labels b = pod();
  b.erase("__meta_kubernetes_pod_annotation_prometheus_io_scrape");
  EXPECT_FALSE(run({r}, &b));
  auto d = rule("drop", {"__meta_kubernetes_namespace"}, "kube-.*");
  Labels c = pod();
  c["__meta_kubernetes_namespace"] = "kube-system";
  EXPECT_FALSE(run({d}, &c));
}

TEST(RelabelTest, ReplaceWithGroupsAndJoinedSources) {
  Labels l = pod();
  ASSERT_TRUE(run({rule("replace", {"__meta_kubernetes_namespace", "__meta_kubernetes_pod_name"},
                        "(.*);(.*)", "instance", "$1/${2}")},
                  &l));
  EXPECT_EQ(l["instance"], "shop/cart-5d9f");
  // No match: unchanged. Empty result: the target label is removed.
  ASSERT_TRUE(
      run({rule("replace", {"__meta_kubernetes_namespace"}, "nomatch", "instance", "x")}, &l));
  EXPECT_EQ(l["instance"], "shop/cart-5d9f");
  ASSERT_TRUE(run({rule("replace", {"missing"}, "(.*)", "instance", "$1")}, &l));
  EXPECT_EQ(l.count("instance"), 0u);
  // Go's Expand: "$1x" names a group "1x" (empty); ${1}x is the group followed by x; $$ is $.
  Labels m = {{"a", "v"}};
  ASSERT_TRUE(run(
      {rule("replace", {"a"}, "(.*)", "b", "$1x"), rule("replace", {"a"}, "(.*)", "c", "${1}x$$")},
      &m));
  EXPECT_EQ(m.count("b"), 0u);
  EXPECT_EQ(m["c"], "vx$");
  // Named groups and a target built from a group.
  Labels n = {{"a", "k=v"}};
  ASSERT_TRUE(
      run({rule("replace", {"a"}, "(?P<key>[^=]+)=(?P<val>.*)", "lbl_${key}", "$val")}, &n));
  EXPECT_EQ(n["lbl_k"], "v");
}

TEST(RelabelTest, LabelMapDropKeepAndCase) {
  Labels l = pod();
  ASSERT_TRUE(run({rule("labelmap", {}, "__meta_kubernetes_pod_label_(.+)")}, &l));
  EXPECT_EQ(l["app"], "cart");
  ASSERT_TRUE(run({rule("labeldrop", {}, "__meta_.*")}, &l));
  EXPECT_EQ(l, (Labels{{"__address__", "10.0.0.7:8080"}, {"app", "cart"}}));
  ASSERT_TRUE(run({rule("labelkeep", {}, "app")}, &l));
  EXPECT_EQ(l, (Labels{{"app", "cart"}}));
  ASSERT_TRUE(run({rule("uppercase", {"app"}, "(.*)", "APP")}, &l));
  EXPECT_EQ(l["APP"], "CART");
  ASSERT_TRUE(run({rule("lowercase", {"APP"}, "(.*)", "low")}, &l));
  EXPECT_EQ(l["low"], "cart");
}

TEST(RelabelTest, HashModMatchesPrometheus) {
  // Prometheus: md5 of the joined value, last 8 bytes big-endian, modulo `modulus`.
  RuleBlock r = rule("hashmod", {"__address__"}, "(.*)", "shard");
  r.modulus = 1000000;
  Labels l = pod();
  ASSERT_TRUE(run({r}, &l));
  // md5("10.0.0.7:8080") = b24fdbeec1cb463a cdd8aa563d1e7ee6; 0xcdd8aa563d1e7ee6 % 1000000.
  EXPECT_EQ(l["shard"], "46694");
}

TEST(RelabelTest, EqualityActions) {
  Labels l = {{"a", "x"}, {"b", "x"}, {"c", "y"}};
  EXPECT_TRUE(run({rule("keepequal", {"a"}, "(.*)", "b")}, &l));
  EXPECT_FALSE(run({rule("keepequal", {"a"}, "(.*)", "c")}, &l));
  EXPECT_FALSE(run({rule("dropequal", {"a"}, "(.*)", "b")}, &l));
}

TEST(RelabelTest, ValidationErrors) {
  EXPECT_FALSE(rule("explode").validate().ok());
  EXPECT_FALSE(rule("replace", {"a"}, "(", "t").validate().ok());
  EXPECT_FALSE(rule("replace", {"a"}).validate().ok());               // needs target_label
  EXPECT_FALSE(rule("hashmod", {"a"}, "(.*)", "t").validate().ok());  // needs modulus
  EXPECT_FALSE(rule("labeldrop", {"a"}, "x").validate().ok());
  EXPECT_TRUE(rule("labeldrop", {}, "x").validate().ok());
}

}  // namespace
}  // namespace telegate::components
