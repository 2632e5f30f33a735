#include "src/components/discovery/kubernetes/role_targets.h"

#include <simdjson.h>

#include <map>

#include "src/common/strings.h"
#include "src/components/discovery/kubernetes/pod_targets.h"

namespace telegate::discovery::kubernetes {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;

constexpr std::string_view kMeta = "__meta_kubernetes_";

std::string str(const element& e, std::string_view key) {
  std::string_view v;
  if (e[key].get(v) == simdjson::SUCCESS) return std::string(v);
  return "";
}

std::string intStr(const element& e, std::string_view key) {
  int64_t v = 0;
  if (e[key].get(v) == simdjson::SUCCESS) return std::to_string(v);
  return "";
}

absl::Status parse(simdjson::dom::parser& parser, std::string_view json, std::string_view what,
                   element* doc, element* meta) {
  if (auto err = parser.parse(json.data(), json.size()).get(*doc); err) {
    return absl::InvalidArgumentError(strCat(what, " JSON: ", simdjson::error_message(err)));
  }
  if (!doc->is_object()) return absl::InvalidArgumentError(strCat(what, " JSON: not an object"));
  if ((*doc)["metadata"].get(*meta) != simdjson::SUCCESS || !meta->is_object()) {
    return absl::InvalidArgumentError(strCat(what, " JSON: no metadata"));
  }
  return absl::OkStatus();
}

void addServiceMeta(element meta, runtime::Target* t) {
  (*t)[strCat(kMeta, "namespace")] = str(meta, "namespace");
  (*t)[strCat(kMeta, "service_name")] = str(meta, "name");
  addObjectMetaLabels(meta, "service", t);
}

}  // namespace

absl::StatusOr<std::vector<runtime::Target>> serviceTargets(std::string_view service_json) {
  thread_local simdjson::dom::parser parser;
  element svc, meta, spec;
  if (auto st = parse(parser, service_json, "service", &svc, &meta); !st.ok()) return st;
  std::vector<runtime::Target> out;
  if (svc["spec"].get(spec) != simdjson::SUCCESS || !spec.is_object()) return out;
  runtime::Target base;
  addServiceMeta(meta, &base);
  std::string type = str(spec, "type");
  std::string host = strCat(str(meta, "name"), ".", str(meta, "namespace"), ".svc");
  array ports;
  if (spec["ports"].get(ports) != simdjson::SUCCESS) return out;
  for (element p : ports) {
    runtime::Target t = base;
    std::string port = intStr(p, "port");
    t["__address__"] = joinHostPort(host, port);
    t[strCat(kMeta, "service_port_name")] = str(p, "name");
    t[strCat(kMeta, "service_port_number")] = port;
    t[strCat(kMeta, "service_port_protocol")] = str(p, "protocol");
    t[strCat(kMeta, "service_type")] = type;
    if (type == "ExternalName") {
      t[strCat(kMeta, "service_external_name")] = str(spec, "externalName");
    } else {
      t[strCat(kMeta, "service_cluster_ip")] = str(spec, "clusterIP");
    }
    if (type == "LoadBalancer") {
      t[strCat(kMeta, "service_loadbalancer_ip")] = str(spec, "loadBalancerIP");
    }
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<std::vector<runtime::Target>> nodeTargets(std::string_view node_json) {
  thread_local simdjson::dom::parser parser;
  element node, meta, spec, status;
  if (auto st = parse(parser, node_json, "node", &node, &meta); !st.ok()) return st;
  std::vector<runtime::Target> out;
  bool has_status = node["status"].get(status) == simdjson::SUCCESS && status.is_object();
  std::map<std::string, std::string> first;  // address type -> first address
  array addresses;
  if (has_status && status["addresses"].get(addresses) == simdjson::SUCCESS) {
    for (element a : addresses) first.emplace(str(a, "type"), str(a, "address"));
  }
  std::string addr;
  for (const char* type :
       {"InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"}) {
    auto it = first.find(type);
    if (it != first.end()) {
      addr = it->second;
      break;
    }
  }
  if (addr.empty()) return out;
  int64_t port = 0;
  if (has_status) {
    if (status["daemonEndpoints"]["kubeletEndpoint"]["Port"].get(port) != simdjson::SUCCESS)
      port = 0;
  }
  std::string name = str(meta, "name");
  runtime::Target t;
  t[strCat(kMeta, "node_name")] = name;
  t[strCat(kMeta, "node_provider_id")] =
      node["spec"].get(spec) == simdjson::SUCCESS ? str(spec, "providerID") : "";
  addObjectMetaLabels(meta, "node", &t);
  t["__address__"] = joinHostPort(addr, std::to_string(port));
  t["instance"] = name;
  for (const auto& [type, a] : first) {
    t[strCat(kMeta, "node_address_", sanitizeLabelName(type))] = a;
  }
  out.push_back(std::move(t));
  return out;
}

absl::StatusOr<std::vector<runtime::Target>> endpointsTargets(std::string_view endpoints_json,
                                                              const ObjectLookup& service,
                                                              const ObjectLookup& pod) {
  thread_local simdjson::dom::parser parser;
  thread_local simdjson::dom::parser svc_parser;
  thread_local simdjson::dom::parser pod_parser;
  element eps, meta;
  if (auto st = parse(parser, endpoints_json, "endpoints", &eps, &meta); !st.ok()) return st;
  std::string ns = str(meta, "namespace");
  std::string name = str(meta, "name");
  runtime::Target base;
  base[strCat(kMeta, "namespace")] = ns;
  if (const std::string* svc_json = service ? service(strCat(ns, "/", name)) : nullptr) {
    element svc, svc_meta;
    if (parse(svc_parser, *svc_json, "service", &svc, &svc_meta).ok()) {
      addServiceMeta(svc_meta, &base);
    }
  }
  base[strCat(kMeta, "endpoints_name")] = name;
  addObjectMetaLabels(meta, "endpoints", &base);

  struct SeenPod {
    std::string json;
    runtime::Target labels;
    std::vector<int64_t> covered_ports;
  };
  std::vector<std::pair<std::string, SeenPod>> seen;  // in first-seen order
  std::vector<runtime::Target> out;

  auto add = [&](element addr, element port, const char* ready) {
    std::string port_num = intStr(port, "port");
    std::string protocol = str(port, "protocol");
    runtime::Target t = base;
    t["__address__"] = joinHostPort(str(addr, "ip"), port_num);
    t[strCat(kMeta, "endpoint_port_name")] = str(port, "name");
    t[strCat(kMeta, "endpoint_port_protocol")] = protocol;
    t[strCat(kMeta, "endpoint_ready")] = ready;
    element ref;
    bool has_ref = addr["targetRef"].get(ref) == simdjson::SUCCESS && ref.is_object();
    if (has_ref) {
      t[strCat(kMeta, "endpoint_address_target_kind")] = str(ref, "kind");
      t[strCat(kMeta, "endpoint_address_target_name")] = str(ref, "name");
    }
    std::string_view node_name;
    if (addr["nodeName"].get(node_name) == simdjson::SUCCESS) {
      t[strCat(kMeta, "endpoint_node_name")] = std::string(node_name);
    }
    std::string hostname = str(addr, "hostname");
    if (!hostname.empty()) t[strCat(kMeta, "endpoint_hostname")] = hostname;
    if (!has_ref || str(ref, "kind") != "Pod" || !pod) {
      out.push_back(std::move(t));
      return;
    }
    std::string ref_ns = str(ref, "namespace");
    std::string key = strCat(ref_ns.empty() ? ns : ref_ns, "/", str(ref, "name"));
    const std::string* pod_json = pod(key);
    if (pod_json == nullptr) {
      out.push_back(std::move(t));
      return;
    }
    auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& p) { return p.first == key; });
    if (it == seen.end()) {
      auto labels = podLabels(*pod_json);
      if (!labels.ok()) {
        out.push_back(std::move(t));
        return;
      }
      seen.push_back({key, SeenPod{*pod_json, std::move(*labels), {}}});
      it = seen.end() - 1;
    }
    for (const auto& [k, v] : it->second.labels) t[k] = v;
    int64_t want = 0;
    if (port["port"].get(want) != simdjson::SUCCESS) want = 0;
    element p, spec;
    array containers;
    if (pod_parser.parse(it->second.json).get(p) == simdjson::SUCCESS &&
        p["spec"].get(spec) == simdjson::SUCCESS &&
        spec["containers"].get(containers) == simdjson::SUCCESS) {
      bool found = false;
      for (element c : containers) {
        array cports;
        if (c["ports"].get(cports) != simdjson::SUCCESS) continue;
        for (element cp : cports) {
          int64_t n = 0;
          if (cp["containerPort"].get(n) != simdjson::SUCCESS || n != want) continue;
          t[strCat(kMeta, "pod_container_name")] = str(c, "name");
          t[strCat(kMeta, "pod_container_image")] = str(c, "image");
          t[strCat(kMeta, "pod_container_port_name")] = str(cp, "name");
          t[strCat(kMeta, "pod_container_port_number")] = port_num;
          t[strCat(kMeta, "pod_container_port_protocol")] = protocol;
          found = true;
          break;
        }
        if (found) break;
      }
    }
    it->second.covered_ports.push_back(want);
    out.push_back(std::move(t));
  };

  array subsets;
  if (eps["subsets"].get(subsets) == simdjson::SUCCESS) {
    for (element ss : subsets) {
      array ports, ready, not_ready;
      if (ss["ports"].get(ports) != simdjson::SUCCESS) continue;
      for (element port : ports) {
        if (ss["addresses"].get(ready) == simdjson::SUCCESS) {
          for (element a : ready) add(a, port, "true");
        }
        if (ss["notReadyAddresses"].get(not_ready) == simdjson::SUCCESS) {
          for (element a : not_ready) add(a, port, "false");
        }
      }
    }
  }

  for (const auto& [key, sp] : seen) {
    element p, spec, status;
    array containers;
    if (pod_parser.parse(sp.json).get(p) != simdjson::SUCCESS ||
        p["spec"].get(spec) != simdjson::SUCCESS ||
        spec["containers"].get(containers) != simdjson::SUCCESS) {
      continue;
    }
    std::string pod_ip =
        p["status"].get(status) == simdjson::SUCCESS ? str(status, "podIP") : std::string();
    if (pod_ip.empty()) continue;
    for (element c : containers) {
      array cports;
      if (c["ports"].get(cports) != simdjson::SUCCESS) continue;
      for (element cp : cports) {
        int64_t n = 0;
        if (cp["containerPort"].get(n) != simdjson::SUCCESS) continue;
        if (std::find(sp.covered_ports.begin(), sp.covered_ports.end(), n) !=
            sp.covered_ports.end()) {
          continue;
        }
        runtime::Target t = base;
        for (const auto& [k, v] : sp.labels) t[k] = v;
        std::string num = std::to_string(n);
        t["__address__"] = joinHostPort(pod_ip, num);
        t[strCat(kMeta, "pod_container_name")] = str(c, "name");
        t[strCat(kMeta, "pod_container_image")] = str(c, "image");
        t[strCat(kMeta, "pod_container_port_name")] = str(cp, "name");
        t[strCat(kMeta, "pod_container_port_number")] = num;
        t[strCat(kMeta, "pod_container_port_protocol")] = str(cp, "protocol");
        out.push_back(std::move(t));
      }
    }
  }
  return out;
}

}  // namespace telegate::discovery::kubernetes
