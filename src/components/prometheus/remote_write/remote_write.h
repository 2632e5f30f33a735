// prometheus.remote_write: sends samples to Prometheus remote-write 1.0 receivers (Prometheus,
// Mimir, Cortex, Thanos receive).
//
// Contract:
//  * Exports `receiver` (capsule storage.Appendable), the same object for the component's life.
//    append() adds the external_labels to every sample (a label the sample already has wins) and
//    enqueues the samples into every endpoint's in-memory queue. All or nothing: when one
//    endpoint's queue cannot take the whole call, nothing is enqueued anywhere and append()
//    returns RESOURCE_EXHAUSTED (never a silent drop). Before start() samples are queued; after
//    shutdown() append() returns UNAVAILABLE. Without any endpoint, samples are accepted and
//    discarded (Alloy would keep them in its WAL).
//  * Queues: one per endpoint, bounded at queue_config.capacity x shards samples, counting
//    samples queued and in flight (an empty queue accepts one call of any size, so a call larger
//    than the bound is not refused forever). The shard count is fixed at queue_config.min_shards
//    (telegate does not reshard dynamically; raise min_shards for throughput). A sample goes to the
//    shard chosen by the hash of its labels, so one series is always sent in order by one shard.
//  * Each shard sends a request when max_samples_per_send samples are waiting or the oldest has
//    waited batch_send_deadline: POST url, body = snappy block compression of a protobuf
//    prometheus.WriteRequest (samples of one series grouped in one TimeSeries, labels sorted),
//    headers Content-Encoding: snappy, Content-Type: application/x-protobuf,
//    X-Prometheus-Remote-Write-Version: 0.1.0, User-Agent, Retry-Attempt: <n> on retries, the
//    configured headers (protocol headers cannot be overridden) and basic/bearer/authorization
//    credentials (files are read when the endpoint is configured).
//  * Responses: 2xx ok. 5xx, transport errors and 429 (when retry_on_http_429) are retried
//    without limit, waiting min_backoff doubling to max_backoff, or the Retry-After value when
//    the server sent one. Other statuses drop the request's samples, counted in
//    telegate_remote_write_dropped_samples_total{component_id,reason} and logged at most once a
//    minute. sample_age_limit > 0 drops samples older than that when a request is built
//    (reason "too_old").
//  * Metrics (label component_id): telegate_remote_write_sent_samples_total,
//    _sent_bytes_total, _failed_requests_total (non-2xx answers and transport errors),
//    _retried_samples_total, _refused_samples_total (append() refusals), _queued_samples (gauge)
//    and _dropped_samples_total{reason}: http_<status>, rate_limited, too_old, shutdown,
//    encode_failed.
//  * Not implemented (documented gaps): the WAL (the queue is memory only and lossy on a crash),
//    metadata requests (metadata_config is accepted and ignored), exemplars and native
//    histograms (Sample carries neither), dynamic resharding.
//  * update(): endpoints whose configuration did not change keep their queues and threads;
//    changed or removed ones are flushed for at most 5 s, the rest counted as dropped
//    ("shutdown"). shutdown(deadline) flushes every queue until the deadline and counts what is
//    left as dropped with reason "shutdown".
//  * Thread-safety: append() may be called from any number of threads. It takes a shared lock
//    of this component (exclusive only during update/shutdown) and the per-shard mutex of the
//    shards it writes to; capacity is reserved with atomics.
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
  Duration truncate_frequency{2h};
  Duration min_keepalive_time{5min};
  Duration max_keepalive_time{8h};
  static void describe(Schema<WalBlock>& s) {
    s.attr("truncate_frequency", &WalBlock::truncate_frequency);
    s.attr("min_keepalive_time", &WalBlock::min_keepalive_time);
    s.attr("max_keepalive_time", &WalBlock::max_keepalive_time);
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
  Writer(std::string id, metrics::Registry& metrics, const log::Logger& logger);
  ~Writer() override;

  // Applies new arguments (see the contract for what survives). Never fails at run time.
  absl::Status configure(const Arguments& args);
  // Starts the shard threads (also of endpoints configured later).
  void start();
  void shutdown(std::chrono::steady_clock::time_point deadline);

  absl::Status append(std::vector<Sample>&& samples) override;
  std::string describe() const override { return id_ + ".receiver"; }

  // Samples queued or in flight over all endpoints (for tests and debugInfo).
  int64_t queued() const;

 private:
  const std::string id_;
  metrics::Registry& metrics_;
  const log::Logger logger_;
  mutable std::shared_mutex mu_;  // exclusive only in configure/start/shutdown
  std::vector<std::shared_ptr<Endpoint>> endpoints_;
  Labels external_labels_;  // sorted
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
