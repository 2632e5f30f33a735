#include "src/k8s/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "src/common/strings.h"

namespace telegate::k8s {

absl::StatusOr<std::string> readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(strCat("cannot read ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

absl::StatusOr<Config> inClusterConfig(std::string sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return absl::FailedPreconditionError(
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT must be defined");
  }
  if (sa_dir.empty()) {
    const char* env = std::getenv("TELEGATE_K8S_SA_DIR");
    sa_dir = env != nullptr && *env != '\0' ? env : std::string(kDefaultServiceAccountDir);
  }
  Config c;
  std::string h = host;
  if (h.find(':') != std::string::npos && h.front() != '[') h = strCat("[", h, "]");
  c.server = strCat("https://", h, ":", port);
  c.bearer_token_file = strCat(sa_dir, "/token");
  // client-go fails without a readable token; so do we (the file is re-read later).
  auto token = readTextFile(c.bearer_token_file);
  if (!token.ok()) {
    return absl::FailedPreconditionError(
        strCat("in-cluster configuration: ", std::string(token.status().message())));
  }
  std::string ca = strCat(sa_dir, "/ca.crt");
  if (std::ifstream(ca).good()) c.tls.ca_file = ca;
  auto ns = readTextFile(strCat(sa_dir, "/namespace"));
  if (ns.ok()) c.namespace_ = *ns;
  return c;
}

namespace {

std::string str(const YAML::Node& n, const char* key) {
  if (!n || !n.IsMap()) return "";
  YAML::Node v = n[key];
  if (!v || !v.IsScalar()) return "";
  return v.as<std::string>();
}

// The map `wanted` entry of list `list_key` whose "name" is `name`, or an undefined node.
YAML::Node named(const YAML::Node& root, const char* list_key, const char* wanted,
                 const std::string& name) {
  YAML::Node list = root[list_key];
  if (!list || !list.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& item : list) {
    if (str(item, "name") == name) return item[wanted];
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string resolve(std::string_view base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
  return strCat(base_dir, "/", path);
}

absl::StatusOr<std::string> base64Field(const YAML::Node& n, const char* key) {
  std::string b64 = str(n, key);
  if (b64.empty()) return std::string();
  std::string out;
  if (!absl::Base64Unescape(b64, &out)) {
    return absl::InvalidArgumentError(strCat("kubeconfig: ", key, " is not valid base64"));
  }
  return out;
}

}  // namespace

absl::StatusOr<Config> parseKubeconfig(std::string_view yaml, std::string_view base_dir,
                                       const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(strCat("kubeconfig: ", e.what()));
  }
  if (!root.IsMap()) return absl::InvalidArgumentError("kubeconfig: not a YAML mapping");
  std::string ctx_name = context.empty() ? str(root, "current-context") : context;
  if (ctx_name.empty()) return absl::InvalidArgumentError("kubeconfig: no current-context");
  YAML::Node ctx = named(root, "contexts", "context", ctx_name);
  if (!ctx || !ctx.IsMap()) {
    return absl::InvalidArgumentError(strCat("kubeconfig: context \"", ctx_name, "\" not found"));
  }
  std::string cluster_name = str(ctx, "cluster");
  YAML::Node cluster = named(root, "clusters", "cluster", cluster_name);
  if (!cluster || !cluster.IsMap()) {
    return absl::InvalidArgumentError(
        strCat("kubeconfig: cluster \"", cluster_name, "\" not found"));
  }
  Config c;
  c.server = str(cluster, "server");
  if (c.server.empty()) {
    return absl::InvalidArgumentError(
        strCat("kubeconfig: cluster \"", cluster_name, "\" has no server"));
  }
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  c.namespace_ = str(ctx, "namespace");
  c.tls.ca_file = resolve(base_dir, str(cluster, "certificate-authority"));
  auto ca = base64Field(cluster, "certificate-authority-data");
  if (!ca.ok()) return ca.status();
  c.tls.ca_pem = *ca;
  if (!c.tls.ca_pem.empty()) c.tls.ca_file.clear();  // client-go: the data wins
  c.tls.insecure_skip_verify = str(cluster, "insecure-skip-tls-verify") == "true";
  c.tls.server_name = str(cluster, "tls-server-name");
  c.proxy_url = str(cluster, "proxy-url");

  std::string user_name = str(ctx, "user");
  if (!user_name.empty()) {
    YAML::Node user = named(root, "users", "user", user_name);
    if (!user || !user.IsMap()) {
      return absl::InvalidArgumentError(strCat("kubeconfig: user \"", user_name, "\" not found"));
    }
    if (user["exec"] || user["auth-provider"]) {
      return absl::UnimplementedError(strCat("kubeconfig: user \"", user_name,
                                             "\" uses an exec/auth-provider plugin, which is not "
                                             "supported; use a token or client certificate"));
    }
    c.bearer_token = str(user, "token");
    c.bearer_token_file = resolve(base_dir, str(user, "tokenFile"));
    c.tls.cert_file = resolve(base_dir, str(user, "client-certificate"));
    c.tls.key_file = resolve(base_dir, str(user, "client-key"));
    auto cert = base64Field(user, "client-certificate-data");
    if (!cert.ok()) return cert.status();
    c.tls.cert_pem = *cert;
    if (!c.tls.cert_pem.empty()) c.tls.cert_file.clear();
    auto key = base64Field(user, "client-key-data");
    if (!key.ok()) return key.status();
    c.tls.key_pem = *key;
    if (!c.tls.key_pem.empty()) c.tls.key_file.clear();
    c.username = str(user, "username");
    c.password = str(user, "password");
  }
  return c;
}

absl::StatusOr<Config> loadKubeconfig(const std::string& path, const std::string& context) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(strCat("cannot read kubeconfig_file ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (dir.empty()) dir = "/";
  auto c = parseKubeconfig(ss.str(), dir, context);
  if (!c.ok()) {
    return absl::Status(c.status().code(), strCat(path, ": ", std::string(c.status().message())));
  }
  return c;
}

}  // namespace telegate::k8s
