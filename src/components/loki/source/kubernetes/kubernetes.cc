// loki.source.kubernetes: tails pod logs through the Kubernetes API. Arguments follow Alloy's
// schema; in this build it validates its configuration and reports itself unhealthy.
#include "src/components/all.h"
#include "src/components/common/http_client.h"
#include "src/components/common/pending.h"
#include "src/components/loki/api.h"
#include "src/runtime/registry.h"

namespace telegate::loki::source_kubernetes {

using runtime::CapsuleRef;
using runtime::Schema;

struct ClientBlock : components::HttpClientConfig {
  std::string api_server;
  std::string kubeconfig_file;
  static void describe(Schema<ClientBlock>& s) {
    s.attr("api_server", &ClientBlock::api_server);
    s.attr("kubeconfig_file", &ClientBlock::kubeconfig_file);
    components::describeHttpClient(s);
  }
};

struct ClusteringBlock {
  bool enabled = false;
  static void describe(Schema<ClusteringBlock>& s) { s.attr("enabled", &ClusteringBlock::enabled); }
};

struct Arguments {
  std::vector<runtime::Target> targets;
  std::vector<CapsuleRef<LogsReceiver>> forward_to;
  std::optional<ClientBlock> client;
  std::optional<ClusteringBlock> clustering;
  static void describe(Schema<Arguments>& s) {
    s.attr("targets", &Arguments::targets).required().doc("pods to tail (discovery targets)");
    s.attr("forward_to", &Arguments::forward_to).required().doc("Loki receivers");
    s.block("client", &Arguments::client);
    s.block("clustering", &Arguments::clustering);
  }
};

class Component : public components::PendingComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments&)
      : PendingComponent(host,
                         "loki.source.kubernetes: pod log tailing is not part of this build; no "
                         "logs are read") {}
};

}  // namespace telegate::loki::source_kubernetes

namespace telegate::components {
void registerLokiSourceKubernetes() {
  runtime::registerComponent<loki::source_kubernetes::Component>(
      "loki.source.kubernetes", "Tails pod logs through the Kubernetes API.", {});
}
}  // namespace telegate::components
