// loki.write: sends log entries to Loki's push API (see write.h for the contract).
#include "src/components/loki/write/write.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "src/common/gofmt.h"
#include "src/components/all.h"
#include "src/components/loki/write/endpoint.h"
#include "src/runtime/registry.h"

namespace telegate::loki::write {
namespace {

constexpr std::string_view kTenantLabel = "__tenant_id__";

}  // namespace

std::string renderLabels(const LabelSet& labels) {
  std::vector<const std::pair<std::string, std::string>*> sorted;
  sorted.reserve(labels.size());
  for (const auto& l : labels) {
    if (l.first.size() >= 2 && l.first[0] == '_' && l.first[1] == '_') continue;
    sorted.push_back(&l);
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->first < b->first; });
  std::string out = "{";
  const std::string* prev = nullptr;
  for (const auto* l : sorted) {
    if (prev != nullptr && *prev == l->first) continue;
    if (prev != nullptr) out.append(", ");
    prev = &l->first;
    out.append(l->first);
    out.push_back('=');
    gofmt::appendQuote(&out, l->second);
  }
  out.push_back('}');
  return out;
}

// ---- Writer ----------------------------------------------------------------------------------

Writer::Writer(std::string id, metrics::Registry& metrics, const log::Logger& logger,
               std::string data_dir)
    : id_(std::move(id)), metrics_(metrics), logger_(logger), data_dir_(std::move(data_dir)) {}

Writer::~Writer() {
  shutdown(Clock::now());
}

namespace {
// A directory name for an endpoint's WAL: its name (unsafe bytes replaced) or its index.
std::string walDirName(const EndpointBlock& e, size_t index) {
  if (e.name.empty()) return std::to_string(index);
  std::string out = e.name;
  for (char& c : out) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) c = '_';
  }
  if (out == "." || out == "..") out = "_" + out;
  return out;
}
}  // namespace

absl::Status Writer::configure(const Arguments& args) {
  EndpointClient::Metrics m;
  m.sent_entries = &metrics_
                        .counter("telegate_loki_write_sent_entries_total",
                                 "Entries delivered to Loki (2xx).", {"component_id"})
                        .with({id_});
  m.sent_bytes =
      &metrics_
           .counter("telegate_loki_write_sent_bytes_total",
                    "Line and structured metadata bytes delivered to Loki.", {"component_id"})
           .with({id_});
  m.retries = &metrics_
                   .counter("telegate_loki_write_batch_retries_total",
                            "Push requests retried (429, 5xx, transport errors).", {"component_id"})
                   .with({id_});
  m.refused = &metrics_
                   .counter("telegate_loki_write_refused_entries_total",
                            "Entries refused by push() because a queue was full.", {"component_id"})
                   .with({id_});
  m.queued_bytes = &metrics_
                        .gauge("telegate_loki_write_queued_bytes",
                               "Bytes held in memory waiting to be delivered.", {"component_id"})
                        .with({id_});
  m.dropped = &metrics_.counter("telegate_loki_write_dropped_entries_total",
                                "Entries dropped, by reason.", {"component_id", "reason"});
  m.duration =
      &metrics_.histogram("telegate_loki_write_request_duration_seconds",
                          "Duration of push requests.", {"component_id", "status_code"}, {});
  std::vector<std::shared_ptr<EndpointClient>> old;
  // A WAL directory can be open once: the old endpoints release theirs before the new ones
  // open them. Their entries are on disk, so they stop at once; push() meanwhile answers
  // UNAVAILABLE.
  bool wal_involved;
  {
    std::shared_lock<std::shared_mutex> lk(mu_);
    wal_involved = wal_ || args.wal.enabled;
  }
  if (wal_involved) {
    {
      std::unique_lock<std::shared_mutex> lk(mu_);
      old.swap(endpoints_);
      reconfiguring_ = true;
    }
    for (auto& ep : old) {
      ep->stop(ep->walEnabled()
                   ? Clock::now()
                   : Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        ep->config().queue_config.drain_timeout.value));
    }
    old.clear();
  }
  std::vector<std::shared_ptr<EndpointClient>> eps;
  for (size_t i = 0; i < args.endpoint.size(); ++i) {
    const auto& e = args.endpoint[i];
    std::string dir;
    if (args.wal.enabled && !data_dir_.empty()) {
      dir = strCat(data_dir_, "/wal/", walDirName(e, i));
    }
    eps.push_back(std::make_shared<EndpointClient>(
        id_, e, m,
        e.name.empty() ? logger_.with("host", e.url)
                       : logger_.with("host", e.url).with("endpoint", e.name),
        args.wal, dir, &metrics_));
  }
  absl::Status st = absl::OkStatus();
  for (const auto& ep : eps) {
    if (st.ok() && !ep->walStatus().ok()) st = ep->walStatus();
  }
  LabelSet ext(args.external_labels.begin(), args.external_labels.end());
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    old.swap(endpoints_);
    endpoints_ = std::move(eps);
    external_labels_ = std::move(ext);
    active_ = true;
    reconfiguring_ = false;
    wal_ = args.wal.enabled;
  }
  for (auto& ep : old) {
    ep->stop(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                ep->config().queue_config.drain_timeout.value));
  }
  return st;
}

absl::Status Writer::pushBatch(EntryBatch&& batch) {
  std::shared_lock<std::shared_mutex> lk(mu_);
  if (!active_) return absl::UnavailableError(strCat(describe(), " is not running"));
  if (reconfiguring_) return absl::UnavailableError(strCat(describe(), " is being reconfigured"));
  if (endpoints_.empty() || batch.empty()) return absl::OkStatus();  // nothing to send to
  Prepared p;
  p.batch = &batch;
  p.labels.resize(batch.streams.size());
  p.tenant.resize(batch.streams.size());
  LabelSet merged;
  for (size_t i = 0; i < batch.streams.size(); ++i) {
    const LabelSet& labels = batch.streams[i];
    for (const auto& [k, v] : labels) {
      if (k == kTenantLabel) p.tenant[i] = v;
    }
    if (external_labels_.empty()) {
      p.labels[i] = renderLabels(labels);
    } else {
      merged = labels;  // entry labels first: they win on duplicates
      merged.insert(merged.end(), external_labels_.begin(), external_labels_.end());
      p.labels[i] = renderLabels(merged);
    }
    if (p.tenant[i] != p.tenant[0]) p.one_tenant = false;
  }
  for (const auto& ep : endpoints_) {
    absl::Status st = ep->enqueue(p, overflow_wait_);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

void Writer::shutdown(Clock::time_point deadline) {
  std::vector<std::shared_ptr<EndpointClient>> eps;
  {
    std::unique_lock<std::shared_mutex> lk(mu_);
    eps.swap(endpoints_);
    active_ = false;
  }
  for (auto& ep : eps) ep->stop(deadline);
}

// ---- Component -------------------------------------------------------------------------------

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host),
      writer_(std::make_shared<Writer>(host.id(), host.metrics(), host.logger(), host.dataPath())),
      args_(args) {
  // Builds clients (and opens WALs); memory-queue sender threads start with the first entry of
  // each tenant.
  configure_status_ = writer_->configure(args_);
  host_.setExports({{"receiver", syntax::Value::capsule(writer_)}});
}

absl::Status Component::start() {
  const absl::Status& st = configure_status_;
  host_.setHealth(st.ok() ? runtime::HealthState::kHealthy : runtime::HealthState::kUnhealthy,
                  st.ok() ? "" : std::string(st.message()));
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  const auto& schema = runtime::schemaOf<Arguments>();
  bool same = runtime::encodeObject(schema, &args) == runtime::encodeObject(schema, &args_);
  args_ = args;
  if (same) return absl::OkStatus();
  configure_status_ = writer_->configure(args_);
  const absl::Status& st = configure_status_;
  host_.setHealth(st.ok() ? runtime::HealthState::kHealthy : runtime::HealthState::kUnhealthy,
                  st.ok() ? "" : std::string(st.message()));
  return absl::OkStatus();
}

void Component::shutdown(Clock::time_point deadline) {
  // Each endpoint gets its drain_timeout (wal.drain_timeout with the WAL: what is not sent by
  // then stays on disk), bounded by the controller's deadline.
  Clock::time_point d = deadline;
  for (const auto& e : args_.endpoint) {
    auto drain =
        args_.wal.enabled ? args_.wal.drain_timeout.value : e.queue_config.drain_timeout.value;
    d = std::min(d, Clock::now() + std::chrono::duration_cast<Clock::duration>(drain));
  }
  writer_->shutdown(d);
}

}  // namespace telegate::loki::write

namespace telegate::components {
void registerLokiWrite() {
  runtime::registerComponent<loki::write::Component>(
      "loki.write", "Sends log entries to Loki.",
      {{"receiver", "capsule(loki.LogsReceiver)", "where to send log entries"}});
}
}  // namespace telegate::components
