// prometheus.remote_write: sends samples with the Prometheus remote-write protocol (see
// remote_write.h for the contract).
#include "src/components/prometheus/remote_write/remote_write.h"

#include <filesystem>
#include <utility>

#include "src/components/all.h"
#include "src/components/prometheus/remote_write/encode.h"
#include "src/components/prometheus/remote_write/endpoint.h"
#include "src/runtime/registry.h"

namespace telegate::prometheus::remote_write {
namespace {
constexpr auto kUpdateFlush = std::chrono::seconds(5);
}  // namespace

// ---- Writer ----------------------------------------------------------------------------------

Writer::Writer(std::string id, metrics::Registry& metrics, const log::Logger& logger,
               std::string data_dir)
    : id_(std::move(id)), metrics_(metrics), logger_(logger), data_dir_(std::move(data_dir)) {}

Writer::~Writer() {
  shutdown(Clock::now());
}

namespace {

// A directory name for an endpoint's write-ahead queue: its name (made file-name safe) or a hash
// of its url.
std::string walDirName(const EndpointBlock& e) {
  if (!e.name.empty()) {
    std::string out = e.name;
    for (char& c : out) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
      if (!ok) c = '_';
    }
    if (out == "." || out == "..") out = "_";
    return out;
  }
  char buf[17];
  snprintf(buf, sizeof(buf), "%016llx",
           static_cast<unsigned long long>(SeriesBatch::hashBytes(e.url)));
  return buf;
}

}  // namespace

absl::Status Writer::configure(const Arguments& args) {
  EndpointMetrics m;
  m.component_id = id_;
  m.registry = &metrics_;
  auto counter = [&](const char* name, const char* help) {
    return &metrics_.counter(name, help, {"component_id"}).with({id_});
  };
  m.sent_samples = counter("telegate_remote_write_sent_samples_total",
                           "Samples delivered to remote-write endpoints (2xx).");
  m.sent_bytes = counter("telegate_remote_write_sent_bytes_total",
                         "Compressed request bytes delivered to remote-write endpoints.");
  m.failed_requests = counter("telegate_remote_write_failed_requests_total",
                              "Remote-write requests that did not get a 2xx answer.");
  m.retried_samples = counter("telegate_remote_write_retried_samples_total",
                              "Samples in requests that are retried (5xx, 429, transport errors).");
  m.refused_samples = counter("telegate_remote_write_refused_samples_total",
                              "Samples refused by append() because a queue was full.");
  m.queued_samples = &metrics_
                          .gauge("telegate_remote_write_queued_samples",
                                 "Samples held in memory (queued or in flight).", {"component_id"})
                          .with({id_});
  m.shards = &metrics_
                  .gauge("telegate_remote_write_shards",
                         "Shards (parallel senders) over all endpoints.", {"component_id"})
                  .with({id_});
  m.dropped = &metrics_.counter("telegate_remote_write_dropped_samples_total",
                                "Samples dropped, by reason.", {"component_id", "reason"});

  auto ext = std::make_shared<const Labels>(args.external_labels.begin(),
                                            args.external_labels.end());  // std::map: sorted
  const auto& schema = runtime::schemaOf<EndpointBlock>();
  const auto& wal_schema = runtime::schemaOf<WalBlock>();
  std::vector<std::shared_ptr<Endpoint>> next;
  std::vector<std::shared_ptr<Endpoint>> old;
  {
    std::shared_lock<std::shared_mutex> lk(mu_);
    old = endpoints_;
  }
  const auto wal_key = runtime::encodeObject(wal_schema, &args.wal);
  std::vector<syntax::Value> keys;
  for (const auto& e : args.endpoint) keys.push_back(runtime::encodeObject(schema, &e));
  // Reuse endpoints whose configuration is unchanged.
  std::vector<std::shared_ptr<Endpoint>> reuse(args.endpoint.size());
  for (size_t i = 0; i < args.endpoint.size(); ++i) {
    for (auto& o : old) {
      if (o && o->sameConfig(keys[i], wal_key)) {
        reuse[i] = std::move(o);
        break;
      }
    }
  }
  // Write-ahead endpoints that go away stop now, so their directories can be reopened.
  for (auto& o : old) {
    if (o && o->wal().enabled) o->stop(Clock::now());
  }
  std::map<std::string, int> dirs;
  for (size_t i = 0; i < args.endpoint.size(); ++i) {
    const auto& e = args.endpoint[i];
    std::string dir_name = walDirName(e);
    if (dirs[dir_name]++ > 0) dir_name = strCat(dir_name, "-", dirs[dir_name] - 1);
    if (reuse[i]) {
      reuse[i]->setExternalLabels(ext);
      next.push_back(std::move(reuse[i]));
      continue;
    }
    WalSettings wal;
    wal.enabled = args.wal.enabled;
    if (!data_dir_.empty()) wal.dir = strCat(data_dir_, "/wal/", dir_name);
    wal.max_bytes = args.wal.max_size.bytes;
    wal.sync = args.wal.fsync == "never"    ? queue::SyncPolicy::kNever
               : args.wal.fsync == "always" ? queue::SyncPolicy::kEveryBatch
                                            : queue::SyncPolicy::kInterval;
    auto ep = std::make_shared<Endpoint>(e, ext, m,
                                         logger_.with("endpoint", e.name.empty() ? e.url : e.name),
                                         std::move(wal), reshard_interval_);
    ep->setKey(keys[i], wal_key);
    next.push_back(std::move(ep));
  }
  bool started;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    if (stopped_) return absl::OkStatus();
    endpoints_ = next;
    started = started_;
  }
  if (started) {
    for (auto& ep : next) ep->start();
  }
  for (auto& o : old) {
    if (o) o->stop(Clock::now() + kUpdateFlush);
  }
  return absl::OkStatus();
}

void Writer::start() {
  std::vector<std::shared_ptr<Endpoint>> eps;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    if (stopped_) return;
    started_ = true;
    eps = endpoints_;
  }
  for (auto& ep : eps) ep->start();
}

void Writer::shutdown(Clock::time_point deadline) {
  std::vector<std::shared_ptr<Endpoint>> eps;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    stopped_ = true;
    eps.swap(endpoints_);
  }
  for (auto& ep : eps) ep->stop(deadline);
}

int64_t Writer::queued() const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  int64_t n = 0;
  for (const auto& ep : endpoints_) n += ep->queued();
  return n;
}

int64_t Writer::shards() const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  int64_t n = 0;
  for (const auto& ep : endpoints_) n += ep->shardCount();
  return n;
}

bool Writer::durable() const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  return !endpoints_.empty() && endpoints_.front()->wal().enabled;
}

absl::Status Writer::walStatus() const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  for (const auto& ep : endpoints_) {
    if (!ep->walStatus().ok()) return ep->walStatus();
  }
  return absl::OkStatus();
}

absl::Status Writer::append(SeriesBatch&& batch) {
  if (batch.empty()) return absl::OkStatus();
  if (!batch.valid()) {
    return absl::InvalidArgumentError(
        strCat(describe(), ": labels must be non-empty and sorted by name without duplicates"));
  }
  std::shared_lock<std::shared_mutex> lk(mu_);
  if (stopped_) return absl::UnavailableError(strCat(describe(), " is shut down"));
  if (endpoints_.empty()) return absl::OkStatus();
  const auto n = static_cast<int64_t>(batch.sampleCount());
  if (endpoints_.front()->wal().enabled) {
    const std::string record = encodeRecord(batch);
    for (auto& ep : endpoints_) {
      absl::Status st = ep->walPush(record, n);
      if (!st.ok()) {
        ep->refused(n);
        return absl::Status(st.code(), strCat(describe(), ": ", std::string(st.message())));
      }
    }
    return absl::OkStatus();
  }
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (!endpoints_[i]->reserve(n)) {
      for (size_t j = 0; j < i; ++j) endpoints_[j]->release(n);
      endpoints_[i]->refused(n);
      return absl::ResourceExhaustedError(
          strCat(describe(), ": the queue for ", endpoints_[i]->config().url, " is full (",
                 endpoints_[i]->queued(), " of ", endpoints_[i]->limit(), " samples)"));
    }
  }
  auto chunk = std::make_shared<Chunk>(std::move(batch));
  const size_t bytes = chunk->data.memoryBytes() + sizeof(Chunk);
  if (!globalMemoryBudget().tryReserve(bytes)) {
    for (auto& ep : endpoints_) {
      ep->release(n);
      ep->refused(n);
    }
    return absl::ResourceExhaustedError(strCat(describe(), ": memory limit reached"));
  }
  chunk->charged = bytes;
  for (auto& ep : endpoints_) ep->push(std::make_shared<Hold>(chunk, nullptr, 0), true);
  return absl::OkStatus();
}

// ---- Component -------------------------------------------------------------------------------

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host),
      writer_(std::make_shared<Writer>(host.id(), host.metrics(), host.logger(), host.dataPath())) {
  writer_->configure(args).IgnoreError();
  host_.setExports({{"receiver", syntax::Value::capsule(writer_)}});
}

absl::Status Component::start() {
  writer_->start();
  absl::Status wal = writer_->walStatus();
  if (wal.ok()) {
    host_.setHealth(runtime::HealthState::kHealthy, "");
  } else {
    host_.setHealth(runtime::HealthState::kUnhealthy,
                    strCat("write-ahead queue unavailable: ", std::string(wal.message())));
  }
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  return writer_->configure(args);
}

void Component::shutdown(Clock::time_point deadline) {
  writer_->shutdown(deadline);
}

syntax::Value Component::debugInfo() const {
  return syntax::Value::object({{"queued_samples", syntax::Value::integer(writer_->queued())},
                                {"shards", syntax::Value::integer(writer_->shards())}});
}

}  // namespace telegate::prometheus::remote_write

namespace telegate::components {
void registerPrometheusRemoteWrite() {
  runtime::registerComponent<prometheus::remote_write::Component>(
      "prometheus.remote_write", "Sends samples with the Prometheus remote-write protocol.",
      {{"receiver", "capsule(storage.Appendable)", "where to send samples"}});
}
}  // namespace telegate::components
