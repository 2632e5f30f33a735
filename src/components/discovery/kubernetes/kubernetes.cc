// discovery.kubernetes: discovers pods, services, endpoints and nodes through the Kubernetes API.
// Arguments follow Alloy's schema and defaults. In this build it validates its configuration,
// exports an empty `targets` list, and reports itself unhealthy: with no API server configured and
// no in-cluster environment it names that (as Alloy would), otherwise it says that API discovery
// is not part of this build.
#include <cstdlib>

#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/http_client.h"
#include "src/components/common/pending.h"
#include "src/runtime/registry.h"

namespace telegate::discovery::kubernetes {

using runtime::Schema;

struct NamespacesBlock {
  bool own_namespace = false;
  std::vector<std::string> names;
  static void describe(Schema<NamespacesBlock>& s) {
    s.attr("own_namespace", &NamespacesBlock::own_namespace);
    s.attr("names", &NamespacesBlock::names);
  }
};

struct SelectorsBlock {
  std::string role;
  std::string label;
  std::string field;
  static void describe(Schema<SelectorsBlock>& s) {
    s.attr("role", &SelectorsBlock::role).required();
    s.attr("label", &SelectorsBlock::label);
    s.attr("field", &SelectorsBlock::field);
  }
};

struct AttachMetadataBlock {
  bool node = false;
  bool namespace_ = false;
  static void describe(Schema<AttachMetadataBlock>& s) {
    s.attr("node", &AttachMetadataBlock::node);
    s.attr("namespace", &AttachMetadataBlock::namespace_);
  }
};

bool validRole(const std::string& r) {
  return r == "pod" || r == "service" || r == "endpoints" || r == "endpointslice" || r == "node" ||
         r == "ingress";
}

struct Arguments : components::HttpClientConfig {
  std::string api_server;
  std::string role;
  std::string kubeconfig_file;
  std::optional<NamespacesBlock> namespaces;
  std::vector<SelectorsBlock> selectors;
  std::optional<AttachMetadataBlock> attach_metadata;
  static void describe(Schema<Arguments>& s) {
    s.attr("api_server", &Arguments::api_server).doc("URL of the API server; default in-cluster");
    s.attr("role", &Arguments::role)
        .required()
        .doc("pod, service, endpoints, endpointslice, node or ingress");
    s.attr("kubeconfig_file", &Arguments::kubeconfig_file);
    s.block("namespaces", &Arguments::namespaces);
    s.block("selectors", &Arguments::selectors);
    s.block("attach_metadata", &Arguments::attach_metadata);
    components::describeHttpClient(s);
  }
  absl::Status validate() const {
    if (!validRole(role)) {
      return absl::InvalidArgumentError(strCat("invalid role \"", role, "\""));
    }
    for (const auto& sel : selectors) {
      if (!validRole(sel.role)) {
        return absl::InvalidArgumentError(strCat("invalid selector role \"", sel.role, "\""));
      }
    }
    if (!api_server.empty() && !kubeconfig_file.empty()) {
      return absl::InvalidArgumentError("api_server and kubeconfig_file are mutually exclusive");
    }
    return HttpClientConfig::validate();
  }
};

std::string unavailableReason(const Arguments& args) {
  if (args.api_server.empty() && args.kubeconfig_file.empty()) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
      return "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
             "KUBERNETES_SERVICE_PORT must be defined (not running in a Kubernetes pod; set "
             "api_server or kubeconfig_file)";
    }
  }
  return "discovery.kubernetes: Kubernetes API discovery is not part of this build; no targets "
         "are produced";
}

class Component : public components::PendingComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args)
      : PendingComponent(host, unavailableReason(args)) {
    host.setExports({{"targets", syntax::Value::array({})}});
  }
  absl::Status update(const Arguments& args) override {
    reason_ = unavailableReason(args);
    host_.setHealth(runtime::HealthState::kUnhealthy, reason_);
    return absl::OkStatus();
  }
};

}  // namespace telegate::discovery::kubernetes

namespace telegate::components {
void registerDiscoveryKubernetes() {
  runtime::registerComponent<discovery::kubernetes::Component>(
      "discovery.kubernetes", "Discovers Kubernetes pods, services, endpoints and nodes.",
      {{"targets", "list(map(string))", "discovered targets with __meta_kubernetes_* labels"}});
}
}  // namespace telegate::components
