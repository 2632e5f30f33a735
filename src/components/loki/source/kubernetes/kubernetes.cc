// loki.source.kubernetes: tails the logs of the pods in `targets` through the Kubernetes API
// (GET pods/log with follow and timestamps) and forwards them to Loki receivers.
//
// Contract:
//  * Arguments follow Alloy's schema. The API client comes from the `client` block: api_server
//    with the HTTP client settings (bearer token/file, basic auth, tls_config), or
//    kubeconfig_file, or, when neither is set, the in-cluster service account
//    (KUBERNETES_SERVICE_HOST/PORT, token re-read on rotation, ca.crt). When no configuration can
//    be built the component stays unhealthy with the reason and tails nothing (the rest of the
//    graph keeps running); a later update with a usable client starts tailing.
//  * Every target becomes a tail target (see tailer.h: identity labels, job = component ID,
//    instance = ns/pod:container, "__" labels removed); targets that lack an identity label are
//    skipped, counted in telegate_loki_source_kubernetes_target_errors_total and logged once a
//    minute. One tailer (thread) per distinct tail target; tailers of targets that disappear are
//    stopped, new targets get a tailer, unchanged ones keep running across updates. A tailer whose
//    container finished for good stays stopped while its target is listed.
//  * Positions: `<storage.path>/<component id>/positions.json` (see positions.h), read at start,
//    written every 10 s when changed and at shutdown. A cursor is the newest delivered entry time
//    in nanoseconds plus how many entries were delivered at exactly that time, so a restart
//    resumes with no duplicate and no gap as long as the API server still has the lines.
//  * Nothing read is dropped: a forward_to refusal makes the tailer wait and retry (see tailer.h).
//    Lines arrive without the trailing newline (Alloy keeps it).
//  * Metrics (label component_id): telegate_loki_source_kubernetes_entries_total, _bytes_total,
//    _stream_errors_total, _refused_entries_total, _target_errors_total, _tailers (gauge).
//  * Not implemented: clustering (accepted, ignored); the reopen-on-silence workaround Alloy uses
//    for API servers older than 1.29.
// Thread-safety: update() and shutdown() run on the controller thread; tailers run on their own
// threads and read the receivers through a mutex-guarded snapshot.
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/http_client.h"
#include "src/components/loki/api.h"
#include "src/components/loki/source/kubernetes/tailer.h"
#include "src/components/loki/source/positions.h"
#include "src/k8s/client.h"
#include "src/k8s/config.h"
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
  absl::Status validate() const {
    if (client && !client->api_server.empty() && !client->kubeconfig_file.empty()) {
      return absl::InvalidArgumentError("api_server and kubeconfig_file are mutually exclusive");
    }
    if (client) return client->validate();
    return absl::OkStatus();
  }
};

namespace {

// The API client configuration for the `client` block (see the file comment).
absl::StatusOr<k8s::Config> buildConfig(const std::optional<ClientBlock>& block) {
  if (!block || (block->api_server.empty() && block->kubeconfig_file.empty())) {
    return k8s::inClusterConfig();
  }
  if (!block->kubeconfig_file.empty()) return k8s::loadKubeconfig(block->kubeconfig_file);
  k8s::Config c;
  c.server = block->api_server;
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  c.bearer_token = block->bearer_token.value;
  c.bearer_token_file = block->bearer_token_file;
  if (block->basic_auth) {
    c.username = block->basic_auth->username;
    c.password = block->basic_auth->password.value;
    if (!block->basic_auth->password_file.empty()) {
      auto pw = k8s::readTextFile(block->basic_auth->password_file);
      if (!pw.ok()) return pw.status();
      c.password = *pw;
    }
  }
  if (block->authorization) {
    if (!block->authorization->credentials_file.empty()) {
      c.bearer_token_file = block->authorization->credentials_file;
    } else {
      c.bearer_token = block->authorization->credentials.value;
    }
  }
  if (block->tls_config) c.tls = components::tlsSettings(*block->tls_config);
  c.proxy_url = block->proxy_url;
  return c;
}

std::string sinceTime(int64_t unix_s) {
  time_t t = static_cast<time_t>(unix_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// PodLogApi over the Kubernetes API client; one per tailer (it owns the tailer's Cancel).
class ClientPodLogApi final : public PodLogApi {
 public:
  ClientPodLogApi(std::shared_ptr<k8s::Client> client, std::chrono::milliseconds max_age)
      : client_(std::move(client)), max_age_(max_age) {}

  absl::Status streamLogs(const PodContainer& pc, std::optional<int64_t> since_unix_s,
                          const std::function<bool(std::string_view)>& on_chunk) override {
    std::string path =
        strCat("/api/v1/namespaces/", k8s::urlEncode(pc.ns), "/pods/", k8s::urlEncode(pc.pod),
               "/log?container=", k8s::urlEncode(pc.container), "&follow=true&timestamps=true");
    if (since_unix_s) strAppend(&path, "&sinceTime=", k8s::urlEncode(sinceTime(*since_unix_s)));
    std::string error_body;
    const auto began = std::chrono::steady_clock::now();
    auto status = client_->stream(path, on_chunk, &cancel_, max_age_, &error_body);
    if (cancel_.cancelled()) return absl::CancelledError("stopped");
    if (!status.ok()) {
      if (std::chrono::steady_clock::now() - began + std::chrono::seconds(1) >= max_age_) {
        return absl::DeadlineExceededError("log stream reached its maximum age");
      }
      return status.status();
    }
    if (*status >= 200 && *status < 300) return absl::OkStatus();
    std::string msg = strCat("GET pods/log: HTTP ", *status, ": ", k8s::statusMessage(error_body));
    if (*status == 404) return absl::NotFoundError(msg);
    return absl::UnavailableError(msg);
  }

  absl::StatusOr<PodState> getPod(const PodContainer& pc) override {
    auto resp = client_->get(
        strCat("/api/v1/namespaces/", k8s::urlEncode(pc.ns), "/pods/", k8s::urlEncode(pc.pod)),
        &cancel_, std::chrono::seconds(30));
    if (!resp.ok()) return resp.status();
    if (resp->status == 404) return PodState{};
    if (resp->status < 200 || resp->status >= 300) {
      return absl::UnavailableError(
          strCat("GET pod: HTTP ", resp->status, ": ", k8s::statusMessage(resp->body)));
    }
    return parsePodState(resp->body, pc.container);
  }

  void cancel() override { cancel_.cancel(); }

 private:
  std::shared_ptr<k8s::Client> client_;
  std::chrono::milliseconds max_age_;
  k8s::Cancel cancel_;
};

}  // namespace

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args) : host_(host), args_(args) {
    auto& m = host.metrics();
    const std::vector<std::string> id{host.id()};
    metrics_.entries =
        &m.counter("telegate_loki_source_kubernetes_entries_total",
                   "Pod log entries read and accepted by forward_to.", {"component_id"})
             .with(id);
    metrics_.bytes = &m.counter("telegate_loki_source_kubernetes_bytes_total",
                                "Bytes of pod log lines accepted by forward_to.", {"component_id"})
                          .with(id);
    metrics_.stream_errors =
        &m.counter("telegate_loki_source_kubernetes_stream_errors_total",
                   "Pod log streams that failed and were reopened.", {"component_id"})
             .with(id);
    metrics_.refused =
        &m.counter("telegate_loki_source_kubernetes_refused_entries_total",
                   "Entries refused by a forward_to receiver (retried).", {"component_id"})
             .with(id);
    target_errors_ =
        &m.counter("telegate_loki_source_kubernetes_target_errors_total",
                   "Targets skipped because a pod identity label is missing.", {"component_id"})
             .with(id);
    tailers_gauge_ = &m.gauge("telegate_loki_source_kubernetes_tailers", "Containers being tailed.",
                              {"component_id"})
                          .with(id);
    setReceivers(args);
  }

  ~Component() override {
    stopTailers();
    stopSync();
  }

  absl::Status start() override {
    std::string warning;
    auto positions = std::make_shared<loki::source::Positions>();
    absl::Status st = loki::source::Positions::open(host_.dataPath() + "/positions.json",
                                                    positions.get(), &warning);
    if (!st.ok()) {
      host_.setHealth(runtime::HealthState::kUnhealthy, std::string(st.message()));
      return absl::OkStatus();
    }
    if (!warning.empty()) host_.logger().warn(warning);
    positions_ = std::move(positions);
    started_ = true;
    sync_thread_ = std::thread([this] { syncLoop(); });
    apply(args_, /*client_changed=*/true);
    return absl::OkStatus();
  }

  absl::Status update(const Arguments& args) override {
    bool client_changed = !sameClient(args_.client, args.client);
    args_ = args;
    setReceivers(args);
    if (started_) apply(args_, client_changed);
    return absl::OkStatus();
  }

  void shutdown(std::chrono::steady_clock::time_point) override {
    stopTailers();
    stopSync();
    if (positions_) {
      absl::Status st = positions_->sync();
      if (!st.ok())
        host_.logger().error("writing positions failed", {{"err", std::string(st.message())}});
    }
  }

 private:
  static bool sameClient(const std::optional<ClientBlock>& a, const std::optional<ClientBlock>& b) {
    if (a.has_value() != b.has_value()) return false;
    if (!a) return true;
    return a->api_server == b->api_server && a->kubeconfig_file == b->kubeconfig_file &&
           a->bearer_token.value == b->bearer_token.value &&
           a->bearer_token_file == b->bearer_token_file && a->proxy_url == b->proxy_url &&
           a->tls_config.has_value() == b->tls_config.has_value() &&
           (!a->tls_config || components::sameTlsConfig(*a->tls_config, *b->tls_config)) &&
           a->basic_auth.has_value() == b->basic_auth.has_value() &&
           a->authorization.has_value() == b->authorization.has_value();
  }

  void setReceivers(const Arguments& args) {
    Tailer::Receivers r;
    for (const auto& ref : args.forward_to) {
      if (ref.ptr) r.push_back(ref.ptr);
    }
    std::lock_guard<std::mutex> lock(receivers_mu_);
    receivers_ = std::move(r);
  }

  Tailer::Receivers receivers() {
    std::lock_guard<std::mutex> lock(receivers_mu_);
    return receivers_;
  }

  void apply(const Arguments& args, bool client_changed) {
    if (client_changed || !client_) {
      stopTailers();
      client_.reset();
      auto cfg = buildConfig(args.client);
      if (!cfg.ok()) {
        host_.setHealth(runtime::HealthState::kUnhealthy,
                        strCat("cannot build the Kubernetes client: ", cfg.status().message()));
        return;
      }
      client_ = std::make_shared<k8s::Client>(std::move(*cfg));
    }
    std::map<std::string, TailTarget> desired;
    size_t bad = 0;
    std::string first_error;
    for (const auto& t : args.targets) {
      auto tt = prepareTarget(t, host_.id());
      if (!tt.ok()) {
        if (bad++ == 0) first_error = std::string(tt.status().message());
        continue;
      }
      std::string id = tt->id();
      desired.emplace(std::move(id), std::move(*tt));
    }
    if (bad > 0) {
      target_errors_->inc(static_cast<double>(bad));
      if (target_log_.shouldLog()) {
        host_.logger().warn("skipping targets without pod identity",
                            {{"count", std::to_string(bad)}, {"err", first_error}});
      }
    }
    // Stop tailers whose target went away.
    for (auto it = tailers_.begin(); it != tailers_.end();) {
      if (desired.count(it->first) == 0) {
        it->second->stop();
        if (it->second->finished() && positions_) {
          positions_->remove(
              strCat("cursor-", it->second->target().pod.key(), ":", it->second->target().pod.uid),
              it->second->target().labels_text);
        }
        it = tailers_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [id, tt] : desired) {
      if (tailers_.count(id) != 0) continue;
      auto api = std::make_shared<ClientPodLogApi>(client_, std::chrono::hours(1));
      auto tailer = std::make_unique<Tailer>(
          std::move(tt), api, positions_, [this] { return receivers(); }, metrics_, host_.logger());
      tailer->start();
      tailers_.emplace(id, std::move(tailer));
    }
    tailers_gauge_->set(static_cast<double>(tailers_.size()));
    host_.setHealth(runtime::HealthState::kHealthy, "");
  }

  // Stops every tailer: all are asked first (each cancels its stream), then joined.
  void stopTailers() {
    for (auto& [id, t] : tailers_) t->requestStop();
    tailers_.clear();  // ~Tailer joins
    if (tailers_gauge_) tailers_gauge_->set(0);
  }

  void stopSync() {
    {
      std::lock_guard<std::mutex> lock(sync_mu_);
      sync_stop_ = true;
    }
    sync_cv_.notify_all();
    if (sync_thread_.joinable()) sync_thread_.join();
  }

  void syncLoop() {
    std::unique_lock<std::mutex> lock(sync_mu_);
    while (!sync_stop_) {
      sync_cv_.wait_for(lock, std::chrono::seconds(10), [this] { return sync_stop_; });
      if (sync_stop_) break;
      lock.unlock();
      absl::Status st = positions_->sync();
      if (!st.ok() && sync_log_.shouldLog()) {
        host_.logger().error("writing positions failed", {{"err", std::string(st.message())}});
      }
      lock.lock();
    }
  }

  runtime::Host& host_;
  Arguments args_;
  TailerMetrics metrics_;
  metrics::Counter* target_errors_ = nullptr;
  metrics::Gauge* tailers_gauge_ = nullptr;
  log::OnceEvery target_log_{std::chrono::minutes(1)};
  log::OnceEvery sync_log_{std::chrono::minutes(1)};
  std::mutex receivers_mu_;
  Tailer::Receivers receivers_;
  std::shared_ptr<k8s::Client> client_;
  std::shared_ptr<loki::source::Positions> positions_;
  std::map<std::string, std::unique_ptr<Tailer>> tailers_;
  bool started_ = false;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool sync_stop_ = false;
  std::thread sync_thread_;
};

}  // namespace telegate::loki::source_kubernetes

namespace telegate::components {
void registerLokiSourceKubernetes() {
  runtime::registerComponent<loki::source_kubernetes::Component>(
      "loki.source.kubernetes", "Tails pod logs through the Kubernetes API.", {});
}
}  // namespace telegate::components
