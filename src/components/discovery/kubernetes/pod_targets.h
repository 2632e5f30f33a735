// Discovery targets for one Kubernetes Pod, built as Prometheus' (and Alloy's) pod role does.
//
// Contract: podTargets() takes a Pod object as the API server serialises it to JSON (an item of
// a PodList or the object of a watch event) and returns its targets: none when the pod has no
// status.podIP; otherwise one target per declared container port and one per port-less
// container, over spec.containers then spec.initContainers, each carrying the pod-level
// __meta_kubernetes_* labels (namespace, name, ip, ready, phase, node name, host ip, uid,
// labels/annotations with their *present markers, controller kind/name) and the container-level
// ones (name, id, image, port number/name/protocol, init). Label and annotation names are
// sanitised: every character outside [a-zA-Z0-9_] becomes '_'. Malformed JSON or a non-object
// returns INVALID_ARGUMENT. podLabels() returns only the pod-level labels (the endpoints role
// attaches them to targets that point at a pod). Pure and thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/runtime/schema.h"

namespace simdjson::dom {
class element;
}

namespace telegate::discovery::kubernetes {

absl::StatusOr<std::vector<runtime::Target>> podTargets(std::string_view pod_json);
absl::StatusOr<runtime::Target> podLabels(std::string_view pod_json);

// Helpers shared by the role builders (role_targets.cc).
std::string sanitizeLabelName(std::string_view name);
// "host:port", or "[host]:port" for IPv6 hosts (Go's net.JoinHostPort).
std::string joinHostPort(const std::string& host, std::string_view port);
// __meta_kubernetes_<role>_label_<name>, ..._labelpresent_<name>, ..._annotation_<name> and
// ..._annotationpresent_<name> for metadata.labels and metadata.annotations of `meta`.
void addObjectMetaLabels(simdjson::dom::element meta, std::string_view role, runtime::Target* out);

}  // namespace telegate::discovery::kubernetes
