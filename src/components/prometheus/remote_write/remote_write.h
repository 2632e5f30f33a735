// prometheus.remote_write: sends samples to Prometheus remote-write 1.0 receivers (Prometheus,
// Mimir, Cortex, Thanos receive).
//
// Contract:
//  * Exports `receiver` (capsule storage.Appendable), the same object for the component's life.
//    append() takes a prometheus::SeriesBatch (src/components/prometheus/api.h); a batch whose
//    labels are not sorted/unique/non-empty is refused with INVALID_ARGUMENT. The external_labels
//    are added to every series when a request is encoded (a label the series already has wins;
//    a change of external_labels applies to requests built after it, also of queued samples).
//    Before start() samples are queued; after shutdown() append() returns UNAVAILABLE. Without any
//    endpoint, samples are accepted and discarded (Alloy would keep them in its WAL).
//  * Memory mode (default, wal.enabled = false): append() enqueues the batch for every endpoint
//    (one shared immutable copy; its bytes are charged to the process memory budget until every
//    endpoint is done with it). All or nothing: when one endpoint cannot take the whole call,
//    nothing is enqueued anywhere and append() returns RESOURCE_EXHAUSTED (never a silent drop).
//    Bound per endpoint: queue_config.capacity x queue_config.max_shards samples queued or in
//    flight (the most Prometheus' shards could buffer at the maximum shard count); a call is
//    admitted while the queue is below the bound (so one call may overshoot it by its own size
//    and a call larger than the bound is never refused forever). The memory queue is lost on a
//    crash.
//  * Write-ahead queue (telegate extension, wal { enabled = true }): one queue::DiskQueue per
//    endpoint in <data dir>/wal/<endpoint name, or a hash of the url>, bounded by wal.max_size
//    bytes (default 1GiB) and synced per wal.fsync ("interval" (default): fdatasync every second,
//    survives a process crash; "always": before append() returns; "never"). append() returns OK
//    only once the batch (one record per call, without external labels) is written to every
//    endpoint's queue; RESOURCE_EXHAUSTED when a queue is full (nothing written to that queue;
//    queues of earlier endpoints keep the record, so a retried call may be delivered twice to
//    them); UNAVAILABLE when a queue could not be opened or fails (I/O error). A reader thread per
//    endpoint hands records, oldest first, to the shards while fewer than capacity x shards
//    samples are in memory; a record is acknowledged once all its samples were delivered or
//    dropped for a permanent reason (counted), and is sent again after a restart otherwise
//    (duplicates possible, never losses of acknowledged appends). Records still on disk at start
//    are sent first. Caveat: Prometheus refuses (HTTP 400, counted as dropped "http_400") a
//    request holding a re-sent sample older than the newest one of its series, which can happen
//    to series with several samples in the ~1 s of records acknowledged but not yet checkpointed
//    before a crash (receivers with an out-of-order window, e.g. Mimir, accept them). Alloy's
//    truncate_frequency, min_keepalive_time and max_keepalive_time are accepted and have no effect;
//    Alloy's always-on WAL of Prometheus segments is not written.
//  * Shards: a series goes to the shard chosen by its label hash (SeriesBatch::hash), so one
//    series is always sent in order by one shard. The shard count starts at min_shards and is
//    recomputed every 10 s like Prometheus' queue manager: from the moving averages of the
//    incoming and outgoing sample rates, the time shards spend sending, and the backlog,
//    desired = time per sample x (incoming rate + backlog / 20 s), clamped to
//    [min_shards, max_shards]; the count changes only when desired is off by more than 30 % and
//    no request failed in the interval. On a change the new shards take new samples at once but
//    start sending only after the old shards have sent everything they held, which keeps the
//    per-series order.
//  * Each shard sends a request when max_samples_per_send samples are waiting or the oldest has
//    waited batch_send_deadline: POST url, body = snappy block compression of a protobuf
//    prometheus.WriteRequest encoded directly into reused buffers (one TimeSeries per series of
//    an appended batch — the same label set may appear in several TimeSeries of one request when
//    it came in several appends —, labels sorted), headers Content-Encoding: snappy,
//    Content-Type: application/x-protobuf, X-Prometheus-Remote-Write-Version: 0.1.0, User-Agent,
//    Retry-Attempt: <n> on retries, the configured headers (protocol headers cannot be
//    overridden) and basic/bearer/authorization credentials (files are read when the endpoint
//    is configured).
//  * Responses: 2xx ok. 5xx, transport errors and 429 (when retry_on_http_429) are retried
//    without limit, waiting min_backoff doubling to max_backoff, or the Retry-After value when
//    the server sent one. Other statuses drop the request's samples, counted in
//    telegate_remote_write_dropped_samples_total{component_id,reason} and logged at most once a
//    minute. sample_age_limit > 0 drops samples older than that when a request is built
//    (reason "too_old").
//  * Metrics (label component_id): telegate_remote_write_sent_samples_total,
//    _sent_bytes_total, _failed_requests_total (non-2xx answers and transport errors),
//    _retried_samples_total, _refused_samples_total (append() refusals), _queued_samples (gauge,
//    samples in memory), _shards (gauge, summed over endpoints) and _dropped_samples_total{reason}:
//    http_<status>, rate_limited, too_old, shutdown, encode_failed, corrupt_record (an unreadable
//    write-ahead record, counted as one). The write-ahead queue adds
//    telegate_queue_* metrics of queue::DiskQueue.
//  * tls_config: every attribute of Alloy's block, through components::tlsSettings() and
//    net::HttpClient (CA, client certificate and key as file or PEM, insecure_skip_verify,
//    server_name, min_version); rotated certificate files are used by the next new connection.
//  * Not implemented (documented gaps): metadata requests (metadata_config is accepted and
//    ignored), exemplars and native histograms (SeriesBatch carries neither).
//  * update(): endpoints whose configuration (and wal block) did not change keep their queues and
//    threads. Changed or removed memory endpoints are flushed for at most 5 s, the rest counted as
//    dropped ("shutdown"); changed or removed write-ahead endpoints stop at once and leave what
//    they hold on disk (a new endpoint with the same directory sends it). shutdown(deadline)
//    flushes every queue until the deadline; in memory mode what is left is dropped with reason
//    "shutdown", with the write-ahead queue it stays on disk for the next start.
//  * Thread-safety: append() may be called from any number of threads. It takes a shared lock
//    of this component (exclusive only during update/shutdown), a shared lock of each endpoint's
//    shard set (exclusive only while resharding) and the per-shard mutex of the shards it writes
//    to; capacity is reserved with atomics. No metrics family lookup happens per request.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "src/common/log.h"
#include "src/common/metrics.h"
#include "src/common/strings.h"
#include "src/components/common/http_client.h"
#include "src/components/prometheus/api.h"
#include "src/runtime/component.h"
#include "src/runtime/types.h"

namespace telegate::prometheus::remote_write {

using namespace std::chrono_literals;
using runtime::Duration;
using runtime::Schema;

struct QueueConfigBlock {
  int64_t capacity = 10000;
  int64_t max_shards = 50;
  int64_t min_shards = 1;
  int64_t max_samples_per_send = 2000;
  Duration batch_send_deadline{5s};
  Duration min_backoff{30ms};
  Duration max_backoff{5s};
  bool retry_on_http_429 = true;
  Duration sample_age_limit;
  static void describe(Schema<QueueConfigBlock>& s) {
    s.attr("capacity", &QueueConfigBlock::capacity);
    s.attr("max_shards", &QueueConfigBlock::max_shards);
    s.attr("min_shards", &QueueConfigBlock::min_shards);
    s.attr("max_samples_per_send", &QueueConfigBlock::max_samples_per_send);
    s.attr("batch_send_deadline", &QueueConfigBlock::batch_send_deadline);
    s.attr("min_backoff", &QueueConfigBlock::min_backoff);
    s.attr("max_backoff", &QueueConfigBlock::max_backoff);
    s.attr("retry_on_http_429", &QueueConfigBlock::retry_on_http_429);
    s.attr("sample_age_limit", &QueueConfigBlock::sample_age_limit);
  }
  absl::Status validate() const {
    if (capacity <= 0 || max_shards <= 0 || min_shards <= 0 || max_samples_per_send <= 0) {
      return absl::InvalidArgumentError("queue_config values must be greater than 0");
    }
    if (min_shards > max_shards) {
      return absl::InvalidArgumentError("min_shards must not exceed max_shards");
    }
    return absl::OkStatus();
  }
};

struct MetadataConfigBlock {
  bool send = true;
  Duration send_interval{1min};
  int64_t max_samples_per_send = 2000;
  static void describe(Schema<MetadataConfigBlock>& s) {
    s.attr("send", &MetadataConfigBlock::send);
    s.attr("send_interval", &MetadataConfigBlock::send_interval);
    s.attr("max_samples_per_send", &MetadataConfigBlock::max_samples_per_send);
  }
};

struct EndpointBlock : components::HttpClientConfig {
  std::string name;
  std::string url;
  Duration remote_timeout{30s};
  std::map<std::string, std::string> headers;
  bool send_exemplars = true;
  bool send_native_histograms = false;
  std::string protobuf_message = "prometheus.WriteRequest";
  QueueConfigBlock queue_config;
  MetadataConfigBlock metadata_config;
  static void describe(Schema<EndpointBlock>& s) {
    s.attr("name", &EndpointBlock::name);
    s.attr("url", &EndpointBlock::url).required().doc("remote-write URL, e.g. .../api/v1/push");
    s.attr("remote_timeout", &EndpointBlock::remote_timeout);
    s.attr("headers", &EndpointBlock::headers);
    s.attr("send_exemplars", &EndpointBlock::send_exemplars);
    s.attr("send_native_histograms", &EndpointBlock::send_native_histograms);
    s.attr("protobuf_message", &EndpointBlock::protobuf_message);
    s.block("queue_config", &EndpointBlock::queue_config);
    s.block("metadata_config", &EndpointBlock::metadata_config);
    components::describeHttpClient(s);
  }
  absl::Status validate() const {
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      return absl::InvalidArgumentError(
          strCat("url must be an http:// or https:// URL, got \"", url, "\""));
    }
    if (protobuf_message != "prometheus.WriteRequest") {
      return absl::InvalidArgumentError(strCat("protobuf_message \"", protobuf_message,
                                               "\" is not supported; use prometheus.WriteRequest"));
    }
    return HttpClientConfig::validate();
  }
};

struct WalBlock {
  bool enabled = false;
  runtime::ByteSize max_size{1ull << 30};
  std::string fsync = "interval";
  Duration truncate_frequency{2h};
  Duration min_keepalive_time{5min};
  Duration max_keepalive_time{8h};
  static void describe(Schema<WalBlock>& s) {
    s.attr("enabled", &WalBlock::enabled)
        .doc("telegate: keep the queue on disk (write-ahead, survives a crash)");
    s.attr("max_size", &WalBlock::max_size).doc("telegate: bound of each endpoint's disk queue");
    s.attr("fsync", &WalBlock::fsync).doc("telegate: \"interval\", \"always\" or \"never\"");
    s.attr("truncate_frequency", &WalBlock::truncate_frequency).doc("accepted; no effect");
    s.attr("min_keepalive_time", &WalBlock::min_keepalive_time).doc("accepted; no effect");
    s.attr("max_keepalive_time", &WalBlock::max_keepalive_time).doc("accepted; no effect");
  }
  absl::Status validate() const {
    if (fsync != "interval" && fsync != "always" && fsync != "never") {
      return absl::InvalidArgumentError(
          strCat("wal fsync must be \"interval\", \"always\" or \"never\", got \"", fsync, "\""));
    }
    if (enabled && max_size.bytes < (64u << 10)) {
      return absl::InvalidArgumentError("wal max_size must be at least 64KiB");
    }
    return absl::OkStatus();
  }
};

struct Arguments {
  std::map<std::string, std::string> external_labels;
  std::vector<EndpointBlock> endpoint;
  WalBlock wal;
  static void describe(Schema<Arguments>& s) {
    s.attr("external_labels", &Arguments::external_labels);
    s.block("endpoint", &Arguments::endpoint).doc("one per remote-write receiver");
    s.block("wal", &Arguments::wal);
  }
};

class Endpoint;  // one endpoint block: HTTP client and shards (remote_write.cc)

// The `receiver` export.
class Writer : public Appendable {
 public:
  // data_dir: where write-ahead queues live (the component's data directory); empty disables
  // them (append() then answers UNAVAILABLE when wal.enabled).
  Writer(std::string id, metrics::Registry& metrics, const log::Logger& logger,
         std::string data_dir = "");
  ~Writer() override;

  // How often the shard count is recomputed (10 s; tests shorten it). Call before configure().
  void setReshardInterval(std::chrono::milliseconds d) { reshard_interval_ = d; }

  // Applies new arguments (see the contract for what survives). Never fails at run time.
  absl::Status configure(const Arguments& args);
  // Starts the shard threads (also of endpoints configured later).
  void start();
  void shutdown(std::chrono::steady_clock::time_point deadline);

  absl::Status append(SeriesBatch&& batch) override;
  std::string describe() const override { return id_ + ".receiver"; }
  // Every endpoint writes appended samples to its write-ahead queue before append() answers OK.
  bool durable() const override;

  // Samples queued or in flight in memory over all endpoints (for tests and debugInfo).
  int64_t queued() const;
  // Current shard count over all endpoints.
  int64_t shards() const;
  // The first error opening a write-ahead queue (OK when none).
  absl::Status walStatus() const;

 private:
  const std::string id_;
  metrics::Registry& metrics_;
  const log::Logger logger_;
  const std::string data_dir_;
  std::chrono::milliseconds reshard_interval_{10000};
  mutable std::shared_mutex mu_;  // exclusive only in configure/start/shutdown
  std::vector<std::shared_ptr<Endpoint>> endpoints_;
  bool started_ = false;
  bool stopped_ = false;
};

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args);
  absl::Status start() override;
  absl::Status update(const Arguments& args) override;
  void shutdown(std::chrono::steady_clock::time_point deadline) override;
  syntax::Value debugInfo() const override;

 private:
  runtime::Host& host_;
  std::shared_ptr<Writer> writer_;
};

}  // namespace telegate::prometheus::remote_write
