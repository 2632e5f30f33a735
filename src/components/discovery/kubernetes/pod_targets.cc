#include "src/components/discovery/kubernetes/pod_targets.h"

#include <simdjson.h>

#include <cctype>

#include "src/common/strings.h"

namespace telegate::discovery::kubernetes {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::string_view kMeta = "__meta_kubernetes_";

std::string str(const element& e, std::string_view key) {
  std::string_view v;
  if (e[key].get(v) == simdjson::SUCCESS) return std::string(v);
  return "";
}

}  // namespace

std::string joinHostPort(const std::string& host, std::string_view port) {
  if (host.find(':') != std::string::npos) return strCat("[", host, "]:", port);
  return strCat(host, ":", port);
}

std::string sanitizeLabelName(std::string_view name) {
  std::string out(name);
  for (auto& c : out) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) c = '_';
  }
  return out;
}

namespace {

// The pod-level labels (shared by all targets of the pod).
// `spec` and `status` are read only when has_spec / has_status (a default element has no
// document behind it).
runtime::Target podLevelLabels(element meta, bool has_spec, element spec, bool has_status,
                               element status, const std::string& pod_ip) {
  runtime::Target base;
  base[strCat(kMeta, "namespace")] = str(meta, "namespace");
  base[strCat(kMeta, "pod_name")] = str(meta, "name");
  base[strCat(kMeta, "pod_ip")] = pod_ip;
  base[strCat(kMeta, "pod_uid")] = str(meta, "uid");
  base[strCat(kMeta, "pod_phase")] = has_status ? str(status, "phase") : "";
  base[strCat(kMeta, "pod_host_ip")] = has_status ? str(status, "hostIP") : "";
  base[strCat(kMeta, "pod_node_name")] = has_spec ? str(spec, "nodeName") : "";
  std::string ready = "unknown";
  simdjson::dom::array conditions;
  if (has_status && status["conditions"].get(conditions) == simdjson::SUCCESS) {
    for (element c : conditions) {
      if (str(c, "type") == "Ready") {
        ready = str(c, "status");
        for (auto& ch : ready) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
    }
  }
  base[strCat(kMeta, "pod_ready")] = ready;
  addObjectMetaLabels(meta, "pod", &base);
  simdjson::dom::array owners;
  if (meta["ownerReferences"].get(owners) == simdjson::SUCCESS) {
    for (element o : owners) {
      bool controller = false;
      if (o["controller"].get(controller) == simdjson::SUCCESS && controller) {
        base[strCat(kMeta, "pod_controller_kind")] = str(o, "kind");
        base[strCat(kMeta, "pod_controller_name")] = str(o, "name");
      }
    }
  }
  return base;
}

}  // namespace

void addObjectMetaLabels(simdjson::dom::element meta, std::string_view role, runtime::Target* out) {
  for (auto [key, kind] : {std::pair<std::string_view, std::string_view>{"labels", "label"},
                           {"annotations", "annotation"}}) {
    object kv;
    if (meta[key].get(kv) != simdjson::SUCCESS) continue;
    for (auto field : kv) {
      std::string_view v;
      if (field.value.get(v) != simdjson::SUCCESS) continue;
      std::string name = sanitizeLabelName(field.key);
      (*out)[strCat(kMeta, role, "_", kind, "_", name)] = std::string(v);
      (*out)[strCat(kMeta, role, "_", kind, "present_", name)] = "true";
    }
  }
}

absl::StatusOr<runtime::Target> podLabels(std::string_view pod_json) {
  thread_local simdjson::dom::parser parser;
  element pod;
  if (auto err = parser.parse(pod_json.data(), pod_json.size()).get(pod); err) {
    return absl::InvalidArgumentError(strCat("pod JSON: ", simdjson::error_message(err)));
  }
  element meta, spec, status;
  if (!pod.is_object() || pod["metadata"].get(meta) != simdjson::SUCCESS || !meta.is_object()) {
    return absl::InvalidArgumentError("pod JSON: no metadata");
  }
  bool has_spec = pod["spec"].get(spec) == simdjson::SUCCESS && spec.is_object();
  bool has_status = pod["status"].get(status) == simdjson::SUCCESS && status.is_object();
  return podLevelLabels(meta, has_spec, spec, has_status, status,
                        has_status ? str(status, "podIP") : "");
}

absl::StatusOr<std::vector<runtime::Target>> podTargets(std::string_view pod_json) {
  thread_local simdjson::dom::parser parser;
  element pod;
  if (auto err = parser.parse(pod_json.data(), pod_json.size()).get(pod); err) {
    return absl::InvalidArgumentError(strCat("pod JSON: ", simdjson::error_message(err)));
  }
  if (!pod.is_object()) return absl::InvalidArgumentError("pod JSON: not an object");
  element meta, spec, status;
  if (pod["metadata"].get(meta) != simdjson::SUCCESS || !meta.is_object()) {
    return absl::InvalidArgumentError("pod JSON: no metadata");
  }
  bool has_spec = pod["spec"].get(spec) == simdjson::SUCCESS && spec.is_object();
  bool has_status = pod["status"].get(status) == simdjson::SUCCESS && status.is_object();
  std::vector<runtime::Target> out;
  std::string pod_ip = has_status ? str(status, "podIP") : "";
  if (pod_ip.empty()) return out;
  runtime::Target base = podLevelLabels(meta, has_spec, spec, has_status, status, pod_ip);
  if (!has_spec) return out;

  auto containerId = [&](std::string_view statuses_key, const std::string& name) {
    simdjson::dom::array statuses;
    if (status[statuses_key].get(statuses) != simdjson::SUCCESS) return std::string();
    for (element s : statuses) {
      if (str(s, "name") == name) return str(s, "containerID");
    }
    return std::string();
  };
  for (auto [key, statuses_key, init] : {std::tuple<std::string_view, std::string_view, bool>{
                                             "containers", "containerStatuses", false},
                                         {"initContainers", "initContainerStatuses", true}}) {
    simdjson::dom::array containers;
    if (spec[key].get(containers) != simdjson::SUCCESS) continue;
    for (element c : containers) {
      runtime::Target t = base;
      std::string name = str(c, "name");
      t[strCat(kMeta, "pod_container_name")] = name;
      t[strCat(kMeta, "pod_container_id")] = containerId(statuses_key, name);
      t[strCat(kMeta, "pod_container_image")] = str(c, "image");
      t[strCat(kMeta, "pod_container_init")] = init ? "true" : "false";
      simdjson::dom::array ports;
      bool any_port = false;
      if (c["ports"].get(ports) == simdjson::SUCCESS) {
        for (element p : ports) {
          int64_t number = 0;
          if (p["containerPort"].get(number) != simdjson::SUCCESS) continue;
          any_port = true;
          runtime::Target pt = t;
          std::string num = std::to_string(number);
          std::string proto = str(p, "protocol");
          pt["__address__"] = joinHostPort(pod_ip, num);
          pt[strCat(kMeta, "pod_container_port_number")] = num;
          pt[strCat(kMeta, "pod_container_port_name")] = str(p, "name");
          pt[strCat(kMeta, "pod_container_port_protocol")] = proto.empty() ? "TCP" : proto;
          out.push_back(std::move(pt));
        }
      }
      if (!any_port) {
        t["__address__"] = pod_ip;
        out.push_back(std::move(t));
      }
    }
  }
  return out;
}

}  // namespace telegate::discovery::kubernetes
