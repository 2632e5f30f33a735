#include "src/k8s/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace telegate::k8s {
namespace {

std::string tempDir() {
  char tmpl[] = "/tmp/k8s-config-test-XXXXXX";
  return mkdtemp(tmpl);
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(KubeconfigTest, CurrentContextWithTokenAndInlineCa) {
  std::string yaml = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
- name: devc
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: LS0tLS1CRUdJTg==
contexts:
- name: dev
  context:
    cluster: devc
    user: alice
    namespace: team-a
users:
- name: alice
  user:
    token: s3cret
)";
  auto c = parseKubeconfig(yaml, "/home/x/.kube");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_EQ(c->tls.ca_pem, "-----BEGIN");
  EXPECT_EQ(c->bearer_token, "s3cret");
  EXPECT_EQ(c->namespace_, "team-a");
  EXPECT_FALSE(c->tls.insecure_skip_verify);
}

TEST(KubeconfigTest, FilesAreRelativeToTheKubeconfigAndContextCanBeChosen) {
  std::string yaml = R"(current-context: a
clusters:
- name: c
  cluster: {server: "https://k:443", certificate-authority: ca.pem, insecure-skip-tls-verify: true}
contexts:
- {name: a, context: {cluster: c, user: u}}
- {name: b, context: {cluster: c, user: v}}
users:
- {name: u, user: {client-certificate: certs/u.crt, client-key: /abs/u.key}}
- {name: v, user: {tokenFile: tok}}
)";
  auto a = parseKubeconfig(yaml, "/etc/kube");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->tls.ca_file, "/etc/kube/ca.pem");
  EXPECT_EQ(a->tls.cert_file, "/etc/kube/certs/u.crt");
  EXPECT_EQ(a->tls.key_file, "/abs/u.key");
  EXPECT_TRUE(a->tls.insecure_skip_verify);
  auto b = parseKubeconfig(yaml, "/etc/kube", "b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->bearer_token_file, "/etc/kube/tok");
}

TEST(KubeconfigTest, ErrorsNameWhatIsMissing) {
  EXPECT_EQ(parseKubeconfig("a: [", ".").status().code(), absl::StatusCode::kInvalidArgument);
  auto no_ctx = parseKubeconfig("current-context: x\ncontexts: []\n", ".");
  EXPECT_NE(std::string(no_ctx.status().message()).find("context \"x\" not found"),
            std::string::npos);
  auto exec = parseKubeconfig(R"(current-context: a
clusters: [{name: c, cluster: {server: "https://k"}}]
contexts: [{name: a, context: {cluster: c, user: u}}]
users: [{name: u, user: {exec: {command: aws}}}]
)",
                              ".");
  EXPECT_EQ(exec.status().code(), absl::StatusCode::kUnimplemented);
  auto bad64 = parseKubeconfig(R"(current-context: a
clusters: [{name: c, cluster: {server: "https://k", certificate-authority-data: "!!"}}]
contexts: [{name: a, context: {cluster: c}}]
)",
                               ".");
  EXPECT_EQ(bad64.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KubeconfigTest, LoadPrefixesErrorsWithThePath) {
  auto missing = loadKubeconfig("/nonexistent/kubeconfig");
  EXPECT_NE(std::string(missing.status().message()).find("/nonexistent/kubeconfig"),
            std::string::npos);
  std::string dir = tempDir();
  writeFile(dir + "/config", "current-context: nope\n");
  auto bad = loadKubeconfig(dir + "/config");
  EXPECT_NE(std::string(bad.status().message()).find(dir + "/config: "), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(InClusterTest, ReadsEnvAndServiceAccountDir) {
  std::string dir = tempDir();
  writeFile(dir + "/token", "tok-1\n");
  writeFile(dir + "/ca.crt", "pem");
  writeFile(dir + "/namespace", "monitoring");
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  auto none = inClusterConfig(dir);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(none.status().message()).find("KUBERNETES_SERVICE_HOST"),
            std::string::npos);
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto c = inClusterConfig(dir);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://[fd00::1]:443");
  EXPECT_EQ(c->bearer_token_file, dir + "/token");
  EXPECT_EQ(c->tls.ca_file, dir + "/ca.crt");
  EXPECT_EQ(c->namespace_, "monitoring");
  setenv("TELEGATE_K8S_SA_DIR", dir.c_str(), 1);
  setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  auto viaEnv = inClusterConfig();
  ASSERT_TRUE(viaEnv.ok()) << viaEnv.status();
  EXPECT_EQ(viaEnv->server, "https://10.0.0.1:443");
  std::filesystem::remove(dir + "/token");
  EXPECT_FALSE(inClusterConfig(dir).ok());
  unsetenv("TELEGATE_K8S_SA_DIR");
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace telegate::k8s
