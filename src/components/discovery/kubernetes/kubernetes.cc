// discovery.kubernetes: discovers pods, services, endpoints and nodes through the Kubernetes API.
//
// Contract: Arguments follow Alloy's schema and defaults. The API server comes from
// kubeconfig_file, or api_server plus the HTTP client block, or the in-cluster service account
// (see src/k8s/config.h). start() runs one informer (LIST + WATCH, src/k8s/informer.h) per
// watched namespace — `namespaces { names, own_namespace }`, else one cluster-wide — for the
// role's resource (pods, services, endpoints + services + pods for the endpoints role, nodes),
// with the `selectors` of the matching role sent as labelSelector/fieldSelector. The exported
// `targets` (Prometheus' __meta_kubernetes_* labels, see pod_targets.h and role_targets.h) follow
// the objects as they come and go; they are published at most once per update interval (5 s, as
// Alloy; env TELEGATE_DISCOVERY_KUBERNETES_UPDATE_INTERVAL_MS overrides it for tests), in a
// stable order (by namespace/name). Health: unhealthy until every informer listed once, and
// while any of them cannot reach the API server (with its error; they keep retrying with
// backoff); healthy otherwise. Roles endpointslice and ingress, and attach_metadata, are
// validated but not implemented: the former report unhealthy with that reason, the latter is
// ignored with a warning. Objects whose JSON cannot be turned into targets are skipped, counted
// in telegate_discovery_kubernetes_objects_skipped_total and logged at most once a minute.
// update() with changed arguments restarts the informers; shutdown() stops them promptly.
// HTTP client block: bearer_token(_file), basic_auth, authorization (type Bearer), tls_config
// (every attribute, see components::overlayTlsConfig), proxy_url and proxy_from_environment are
// applied; requests always use HTTP/1.1 (enable_http2 is ignored), and no_proxy and
// follow_redirects are accepted but not applied.
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/http_client.h"
#include "src/components/discovery/kubernetes/pod_targets.h"
#include "src/components/discovery/kubernetes/role_targets.h"
#include "src/k8s/client.h"
#include "src/k8s/informer.h"
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
    std::set<std::string> seen;
    for (const auto& sel : selectors) {
      if (!validRole(sel.role)) {
        return absl::InvalidArgumentError(strCat("invalid selector role \"", sel.role, "\""));
      }
      if (!seen.insert(sel.role).second) {
        return absl::InvalidArgumentError(strCat("duplicated selector role: ", sel.role));
      }
      // As Prometheus: a role accepts selectors for the objects it watches.
      bool ok = sel.role == role;
      if (role == "endpoints" || role == "endpointslice") {
        ok = ok || sel.role == "pod" || sel.role == "service";
      }
      if (!ok) {
        if (role == "endpoints" || role == "endpointslice") {
          return absl::InvalidArgumentError(
              strCat(role, " role supports only pod, service, ", role, " selectors"));
        }
        return absl::InvalidArgumentError(strCat(role, " role supports only ", role, " selectors"));
      }
    }
    if (!api_server.empty() && !kubeconfig_file.empty()) {
      return absl::InvalidArgumentError("api_server and kubeconfig_file are mutually exclusive");
    }
    return HttpClientConfig::validate();
  }
};

bool supportedRole(const std::string& r) {
  return r == "pod" || r == "service" || r == "endpoints" || r == "node";
}

absl::StatusOr<std::string> readCredentialFile(const std::string& what, const std::string& path) {
  auto s = k8s::readTextFile(path);
  if (!s.ok()) return absl::InvalidArgumentError(strCat("cannot read ", what, " ", path));
  return s;
}

// The API server connection for `args` (kubeconfig_file, api_server + client block, in-cluster).
absl::StatusOr<k8s::Config> clusterConfig(const Arguments& a) {
  k8s::Config c;
  if (!a.kubeconfig_file.empty()) {
    auto k = k8s::loadKubeconfig(a.kubeconfig_file);
    if (!k.ok()) return k.status();
    c = std::move(*k);
  } else if (a.api_server.empty()) {
    auto ic = k8s::inClusterConfig();
    if (!ic.ok()) {
      return absl::Status(ic.status().code(),
                          strCat(std::string(ic.status().message()),
                                 " (not running in a Kubernetes pod; set api_server or "
                                 "kubeconfig_file)"));
    }
    c = std::move(*ic);
  } else {
    c.server = a.api_server;
  }
  // The HTTP client block overrides the credentials and TLS settings of the source.
  if (!a.bearer_token.value.empty()) {
    c.bearer_token = a.bearer_token.value;
    c.bearer_token_file.clear();
  } else if (!a.bearer_token_file.empty()) {
    c.bearer_token.clear();
    c.bearer_token_file = a.bearer_token_file;
  } else if (a.basic_auth) {
    c.bearer_token.clear();
    c.bearer_token_file.clear();
    c.username = a.basic_auth->username;
    c.password = a.basic_auth->password.value;
    if (!a.basic_auth->password_file.empty()) {
      auto pw = readCredentialFile("basic_auth password_file", a.basic_auth->password_file);
      if (!pw.ok()) return pw.status();
      c.password = *pw;
    }
  } else if (a.authorization) {
    if (!a.authorization->type.empty() && a.authorization->type != "Bearer") {
      return absl::InvalidArgumentError(strCat("authorization type \"", a.authorization->type,
                                               "\" is not supported; use Bearer"));
    }
    c.bearer_token = a.authorization->credentials.value;
    c.bearer_token_file = a.authorization->credentials_file;
  }
  if (a.tls_config) components::overlayTlsConfig(*a.tls_config, &c.tls);
  if (!a.proxy_url.empty()) c.proxy_url = a.proxy_url;
  c.proxy_from_environment = a.proxy_from_environment;
  return c;
}

// Everything that decides which requests are made; a change restarts the informers.
std::string fingerprint(const Arguments& a) {
  std::string s =
      strCat(a.role, "\n", a.api_server, "\n", a.kubeconfig_file, "\n", a.bearer_token.value, "\n",
             a.bearer_token_file, "\n", a.proxy_url, "\n", a.proxy_from_environment, "\n");
  if (a.namespaces) {
    strAppend(&s, "ns:", a.namespaces->own_namespace, ":", strJoin(a.namespaces->names, ","), "\n");
  }
  for (const auto& sel : a.selectors)
    strAppend(&s, "sel:", sel.role, "|", sel.label, "|", sel.field, "\n");
  if (a.basic_auth) {
    strAppend(&s, "basic:", a.basic_auth->username, ":", a.basic_auth->password.value, ":",
              a.basic_auth->password_file, "\n");
  }
  if (a.authorization) {
    strAppend(&s, "authz:", a.authorization->type, ":", a.authorization->credentials.value, ":",
              a.authorization->credentials_file, "\n");
  }
  if (a.tls_config) {
    const auto& t = *a.tls_config;
    strAppend(&s, "tls:", t.ca_file, "|", t.ca_pem, "|", t.cert_file, "|", t.cert_pem, "|",
              t.key_file, "|", t.key_pem.value, "|", t.insecure_skip_verify, "|", t.server_name,
              "|", t.min_version, "\n");
  }
  return s;
}

std::chrono::milliseconds updateInterval() {
  const char* env = std::getenv("TELEGATE_DISCOVERY_KUBERNETES_UPDATE_INTERVAL_MS");
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v > 0) return std::chrono::milliseconds(v);
  }
  return std::chrono::seconds(5);
}

enum class Kind { kPrimary, kService, kPod };

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args)
      : host_(host), args_(args), interval_(updateInterval()) {
    host_.setExports({{"targets", syntax::Value::array({})}});
    auto& skipped = host_.metrics().counter(
        "telegate_discovery_kubernetes_objects_skipped_total",
        "Kubernetes objects discovery.kubernetes could not turn into targets, by reason.",
        {"component_id", "reason"});
    skipped_invalid_ = &skipped.with({host_.id(), "invalid_object"});
    auto& requests = host_.metrics().counter(
        "telegate_discovery_kubernetes_api_requests_total",
        "Requests discovery.kubernetes sent to the Kubernetes API server, by kind.",
        {"component_id", "kind"});
    lists_metric_ = &requests.with({host_.id(), "list"});
    watches_metric_ = &requests.with({host_.id(), "watch"});
  }

  ~Component() override { shutdown(std::chrono::steady_clock::now()); }

  absl::Status start() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      started_ = true;
    }
    publisher_ = std::thread([this] { publishLoop(); });
    std::lock_guard<std::mutex> rl(restart_mu_);
    restart(args_);
    return absl::OkStatus();
  }

  absl::Status update(const Arguments& args) override {
    std::lock_guard<std::mutex> rl(restart_mu_);
    bool changed = fingerprint(args) != fingerprint(args_);
    args_ = args;
    bool started;
    {
      std::lock_guard<std::mutex> l(mu_);
      started = started_ && !stopping_;
    }
    if (started && changed) restart(args_);
    return absl::OkStatus();
  }

  void shutdown(std::chrono::steady_clock::time_point) override {
    {
      std::lock_guard<std::mutex> rl(restart_mu_);
      stopInformers();
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (publisher_.joinable()) publisher_.join();
  }

  syntax::Value debugInfo() const override {
    std::lock_guard<std::mutex> l(mu_);
    syntax::Array watches;
    for (const auto& w : watched_) {
      watches.push_back(
          syntax::Value::object({{"resource", syntax::Value::string(w.describe)},
                                 {"listed", syntax::Value::boolean(w.listed)},
                                 {"error", syntax::Value::string(w.error)},
                                 {"objects", syntax::Value::integer(static_cast<int64_t>(
                                                 std::max(w.objects.size(), w.targets.size())))}}));
    }
    return syntax::Value::object(
        {{"informers", syntax::Value::array(std::move(watches))},
         {"targets", syntax::Value::integer(static_cast<int64_t>(published_count_))}});
  }

 private:
  // One informer's view; guarded by mu_.
  struct Watched {
    Kind kind = Kind::kPrimary;
    std::string describe;
    bool listed = false;
    std::string error;
    std::map<std::string, std::string> objects;  // endpoints role: JSON by key
    // Other roles: each object's targets by key, already encoded (syntax values share their
    // contents, so publishing copies pointers, and unchanged objects are not re-encoded).
    std::map<std::string, syntax::Array> targets;
  };

  // Called with restart_mu_ held.
  void stopInformers() {
    for (auto& inf : informers_) inf->stop();
    informers_.clear();
    client_.reset();
  }

  // Called with restart_mu_ held.
  void restart(const Arguments& args) {
    stopInformers();
    {
      std::lock_guard<std::mutex> l(mu_);
      watched_.clear();
      role_ = args.role;
      dirty_ = true;
    }
    if (!supportedRole(args.role)) {
      setUnhealthy(strCat("role \"", args.role,
                          "\" is not supported by this build (supported: pod, service, endpoints, "
                          "node); no targets are produced"));
      return;
    }
    if (args.attach_metadata && (args.attach_metadata->node || args.attach_metadata->namespace_)) {
      host_.logger().warn("attach_metadata is not supported yet and is ignored");
    }
    auto cfg = clusterConfig(args);
    if (!cfg.ok()) {
      setUnhealthy(std::string(cfg.status().message()));
      return;
    }
    std::vector<std::string> namespaces;
    if (args.role != "node" && args.namespaces) {
      std::set<std::string> seen;
      for (const auto& n : args.namespaces->names) {
        if (seen.insert(n).second) namespaces.push_back(n);
      }
      if (args.namespaces->own_namespace) {
        if (cfg->namespace_.empty()) {
          setUnhealthy(
              "own_namespace is set but the own namespace is unknown (no service-account "
              "namespace file and no namespace in the kubeconfig context)");
          return;
        }
        if (seen.insert(cfg->namespace_).second) namespaces.push_back(cfg->namespace_);
      }
    }
    if (namespaces.empty()) namespaces.push_back("");  // all namespaces
    client_ = std::make_unique<k8s::Client>(std::move(*cfg));

    auto selectorFor = [&](const std::string& role, k8s::ResourceRef* ref) {
      for (const auto& sel : args.selectors) {
        if (sel.role == role) {
          ref->label_selector = sel.label;
          ref->field_selector = sel.field;
          return;
        }
      }
    };
    std::vector<std::pair<Kind, k8s::ResourceRef>> refs;
    auto addRefs = [&](Kind kind, const std::string& role, const std::string& resource) {
      for (const auto& ns : namespaces) {
        k8s::ResourceRef ref;
        ref.resource = resource;
        ref.namespace_ = role == "node" ? "" : ns;
        selectorFor(role, &ref);
        refs.emplace_back(kind, std::move(ref));
        if (role == "node") break;
      }
    };
    static const std::map<std::string, std::string> kResource = {
        {"pod", "pods"}, {"service", "services"}, {"endpoints", "endpoints"}, {"node", "nodes"}};
    addRefs(Kind::kPrimary, args.role, kResource.at(args.role));
    if (args.role == "endpoints") {
      addRefs(Kind::kService, "service", "services");
      addRefs(Kind::kPod, "pod", "pods");
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      for (const auto& [kind, ref] : refs) {
        Watched w;
        w.kind = kind;
        w.describe = ref.describe();
        watched_.push_back(std::move(w));
      }
    }
    host_.setHealth(runtime::HealthState::kUnhealthy,
                    "waiting for the first list from the Kubernetes API server");
    std::string role = args.role;
    for (size_t i = 0; i < refs.size(); ++i) {
      k8s::InformerHandler h;
      h.replaced = [this, i, role](const std::map<std::string, std::string>& objects) {
        std::lock_guard<std::mutex> l(mu_);
        Watched& w = watched_[i];
        w.objects.clear();
        w.targets.clear();
        for (const auto& [key, json] : objects) putLocked(w, role, key, json);
        dirty_ = true;
      };
      h.upserted = [this, i, role](const std::string& key, const std::string& json) {
        std::lock_guard<std::mutex> l(mu_);
        putLocked(watched_[i], role, key, json);
        dirty_ = true;
      };
      h.deleted = [this, i](const std::string& key) {
        std::lock_guard<std::mutex> l(mu_);
        watched_[i].objects.erase(key);
        watched_[i].targets.erase(key);
        dirty_ = true;
      };
      h.failed = [this, i](const absl::Status& st) {
        std::string msg(st.message());
        {
          std::lock_guard<std::mutex> l(mu_);
          watched_[i].error = msg;
          refreshHealthLocked();
        }
        host_.logger().warn("Kubernetes API request failed; retrying", {{"error", msg}});
      };
      h.requested = [this](bool watch) { (watch ? watches_metric_ : lists_metric_)->inc(); };
      h.connected = [this, i] {
        std::lock_guard<std::mutex> l(mu_);
        watched_[i].listed = true;
        watched_[i].error.clear();
        refreshHealthLocked();
      };
      informers_.push_back(std::make_unique<k8s::Informer>(*client_, refs[i].second, std::move(h)));
    }
    for (auto& inf : informers_) inf->start();
  }

  void putLocked(Watched& w, const std::string& role, const std::string& key,
                 const std::string& json) {
    if (role == "endpoints") {
      w.objects[key] = json;
      return;
    }
    absl::StatusOr<std::vector<runtime::Target>> t;
    if (role == "pod") {
      t = podTargets(json);
    } else if (role == "service") {
      t = serviceTargets(json);
    } else {
      t = nodeTargets(json);
    }
    if (!t.ok()) {
      w.targets.erase(key);
      skipInvalid(key, t.status());
      return;
    }
    syntax::Array encoded;
    encoded.reserve(t->size());
    for (const auto& x : *t) encoded.push_back(runtime::Codec<runtime::Target>::encode(x));
    w.targets[key] = std::move(encoded);
  }

  void skipInvalid(const std::string& key, const absl::Status& st) {
    skipped_invalid_->inc();
    auto now = std::chrono::steady_clock::now();
    if (now - last_skip_log_ >= std::chrono::minutes(1)) {
      last_skip_log_ = now;
      host_.logger().warn("skipping a Kubernetes object that cannot be turned into targets",
                          {{"object", key}, {"error", std::string(st.message())}});
    }
  }

  void setUnhealthy(std::string msg) {
    host_.setHealth(runtime::HealthState::kUnhealthy, std::move(msg));
  }

  void refreshHealthLocked() {
    if (watched_.empty()) return;
    for (const auto& w : watched_) {
      if (!w.error.empty()) {
        host_.setHealth(runtime::HealthState::kUnhealthy, strCat(w.describe, ": ", w.error));
        return;
      }
      if (!w.listed) return;  // still waiting for the first list
    }
    host_.setHealth(runtime::HealthState::kHealthy,
                    strCat("watching ", watched_.size(), " resource(s)"));
  }

  syntax::Array collectLocked() {
    syntax::Array out;
    if (role_ == "endpoints") {
      auto find = [&](Kind kind) -> ObjectLookup {
        return [this, kind](const std::string& key) -> const std::string* {
          for (const auto& w : watched_) {
            if (w.kind != kind) continue;
            auto it = w.objects.find(key);
            if (it != w.objects.end()) return &it->second;
          }
          return nullptr;
        };
      };
      ObjectLookup svc = find(Kind::kService), pod = find(Kind::kPod);
      for (const auto& w : watched_) {
        if (w.kind != Kind::kPrimary) continue;
        for (const auto& [key, json] : w.objects) {
          auto t = endpointsTargets(json, svc, pod);
          if (!t.ok()) {
            skipInvalid(key, t.status());
            continue;
          }
          for (const auto& x : *t) out.push_back(runtime::Codec<runtime::Target>::encode(x));
        }
      }
      return out;
    }
    size_t n = 0;
    for (const auto& w : watched_) {
      for (const auto& [key, targets] : w.targets) n += targets.size();
    }
    out.reserve(n);
    if (watched_.size() == 1) {
      for (const auto& [key, targets] : watched_[0].targets) {
        out.insert(out.end(), targets.begin(), targets.end());
      }
      return out;
    }
    // Each namespace's informer holds distinct keys; merge them in key order.
    std::map<std::string_view, const syntax::Array*> ordered;
    for (const auto& w : watched_) {
      for (const auto& [key, targets] : w.targets) ordered.emplace(key, &targets);
    }
    for (const auto& [key, targets] : ordered) {
      out.insert(out.end(), targets->begin(), targets->end());
    }
    return out;
  }

  void publishLoop() {
    std::unique_lock<std::mutex> l(mu_);
    while (!stopping_) {
      cv_.wait_for(l, interval_, [&] { return stopping_; });
      if (stopping_ || !dirty_) continue;
      dirty_ = false;
      syntax::Array targets = collectLocked();
      published_count_ = targets.size();
      l.unlock();
      host_.setExports({{"targets", syntax::Value::array(std::move(targets))}});
      l.lock();
    }
  }

  runtime::Host& host_;
  Arguments args_;
  std::chrono::milliseconds interval_;
  metrics::Counter* skipped_invalid_;
  metrics::Counter* lists_metric_;
  metrics::Counter* watches_metric_;

  std::mutex restart_mu_;  // serialises start/update/shutdown; held while informers stop
  std::unique_ptr<k8s::Client> client_;
  std::vector<std::unique_ptr<k8s::Informer>> informers_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopping_ = false;
  bool dirty_ = false;
  std::vector<Watched> watched_;
  std::string role_;  // the role the informers run for
  size_t published_count_ = 0;
  std::chrono::steady_clock::time_point last_skip_log_{};
  std::thread publisher_;
};

}  // namespace telegate::discovery::kubernetes

namespace telegate::components {
void registerDiscoveryKubernetes() {
  runtime::registerComponent<discovery::kubernetes::Component>(
      "discovery.kubernetes", "Discovers Kubernetes pods, services, endpoints and nodes.",
      {{"targets", "list(map(string))", "discovered targets with __meta_kubernetes_* labels"}});
}
}  // namespace telegate::components
