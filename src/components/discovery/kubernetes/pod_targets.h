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
// returns INVALID_ARGUMENT. Pure and thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/runtime/schema.h"

namespace telegate::discovery::kubernetes {

absl::StatusOr<std::vector<runtime::Target>> podTargets(std::string_view pod_json);

std::string sanitizeLabelName(std::string_view name);

}  // namespace telegate::discovery::kubernetes
