// prometheus.remote_write: sends samples with the Prometheus remote-write protocol (to Mimir in
// the seed). Arguments follow Alloy's schema and defaults; in this build it validates its
// configuration, exports `receiver` and reports itself unhealthy.
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/http_client.h"
#include "src/components/common/pending.h"
#include "src/components/prometheus/api.h"
#include "src/runtime/registry.h"

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
      return absl::InvalidArgumentError(strCat(
          "protobuf_message \"", protobuf_message, "\" is not supported; use prometheus.WriteRequest"));
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

class Component : public components::PendingComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments&)
      : PendingComponent(host,
                         "prometheus.remote_write: the remote-write client is not part of this "
                         "build; samples sent to its receiver are refused with UNAVAILABLE") {
    host.setExports({{"receiver", syntax::Value::capsule(
                                      std::make_shared<components::RefusingAppendable>(
                                          host.id() + ".receiver"))}});
  }
};

}  // namespace telegate::prometheus::remote_write

namespace telegate::components {
void registerPrometheusRemoteWrite() {
  runtime::registerComponent<prometheus::remote_write::Component>(
      "prometheus.remote_write", "Sends samples with the Prometheus remote-write protocol.",
      {{"receiver", "capsule(storage.Appendable)", "where to send samples"}});
}
}  // namespace telegate::components
