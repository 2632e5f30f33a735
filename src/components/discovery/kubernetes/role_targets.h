// Discovery targets for Kubernetes Services, Nodes and Endpoints, built as Prometheus' (and
// Alloy's) service, node and endpoints roles do.
//
// Contract: each function takes one object as the API server serialises it to JSON and returns
// its targets, every target carrying the group labels of the object; malformed JSON or a
// non-object returns INVALID_ARGUMENT. Label and annotation names are sanitised (see
// sanitizeLabelName). Pure and thread-safe.
//   - serviceTargets(): one target per spec.ports entry, __address__ =
//     "<name>.<namespace>.svc:<port>", with __meta_kubernetes_namespace, _service_name,
//     _service_label_*/_labelpresent_*/_annotation_*/_annotationpresent_*, _service_port_name,
//     _service_port_number, _service_port_protocol, _service_type, and _service_cluster_ip (or
//     _service_external_name for type ExternalName) and _service_loadbalancer_ip for type
//     LoadBalancer.
//   - nodeTargets(): one target, __address__ = "<address>:<kubelet port>" with the first address
//     of type InternalIP, InternalDNS, ExternalIP, ExternalDNS, LegacyHostIP, Hostname (no
//     address: no target), instance = node name, __meta_kubernetes_node_name, _node_provider_id,
//     node labels/annotations and __meta_kubernetes_node_address_<type> (first address per type).
//   - endpointsTargets(): one target per (subset address, subset port), ready addresses then
//     notReadyAddresses, with __meta_kubernetes_namespace, _endpoints_name and endpoints
//     labels/annotations, the Service of the same name's labels (looked up), _endpoint_port_name,
//     _endpoint_port_protocol, _endpoint_ready, _endpoint_address_target_kind/_name,
//     _endpoint_node_name, _endpoint_hostname; when the address points at a known Pod, the pod
//     labels and the matching container's port labels, plus one extra target per container port
//     of such pods that no endpoint port covered.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/runtime/schema.h"

namespace telegate::discovery::kubernetes {

absl::StatusOr<std::vector<runtime::Target>> serviceTargets(std::string_view service_json);
absl::StatusOr<std::vector<runtime::Target>> nodeTargets(std::string_view node_json);

// Finds an object by store key ("<namespace>/<name>"); nullptr when unknown.
using ObjectLookup = std::function<const std::string*(const std::string& key)>;
absl::StatusOr<std::vector<runtime::Target>> endpointsTargets(std::string_view endpoints_json,
                                                              const ObjectLookup& service,
                                                              const ObjectLookup& pod);

}  // namespace telegate::discovery::kubernetes
