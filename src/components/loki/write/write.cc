// loki.write: sends log entries to Loki's push API. Arguments follow Alloy's schema and defaults;
// in this build it validates its configuration, exports `receiver` and reports itself unhealthy
// (the push client arrives with the exporter work).
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/http_client.h"
#include "src/components/common/pending.h"
#include "src/runtime/registry.h"

namespace telegate::loki::write {

using namespace std::chrono_literals;
using runtime::ByteSize;
using runtime::Duration;
using runtime::Schema;

struct QueueConfigBlock {
  ByteSize capacity{10 << 20};
  int64_t min_shards = 1;
  Duration drain_timeout{15s};
  bool block_on_overflow = true;
  static void describe(Schema<QueueConfigBlock>& s) {
    s.attr("capacity", &QueueConfigBlock::capacity);
    s.attr("min_shards", &QueueConfigBlock::min_shards);
    s.attr("drain_timeout", &QueueConfigBlock::drain_timeout);
    s.attr("block_on_overflow", &QueueConfigBlock::block_on_overflow);
  }
};

struct EndpointBlock : components::HttpClientConfig {
  std::string name;
  std::string url;
  std::map<std::string, std::string> headers;
  Duration batch_wait{1s};
  ByteSize batch_size{1 << 20};
  Duration remote_timeout{10s};
  Duration min_backoff_period{500ms};
  Duration max_backoff_period{5min};
  int64_t max_backoff_retries = 10;
  bool retry_on_http_429 = true;
  std::string tenant_id;
  QueueConfigBlock queue_config;
  static void describe(Schema<EndpointBlock>& s) {
    s.attr("name", &EndpointBlock::name);
    s.attr("url", &EndpointBlock::url).required().doc("Loki push URL, .../loki/api/v1/push");
    s.attr("headers", &EndpointBlock::headers);
    s.attr("batch_wait", &EndpointBlock::batch_wait);
    s.attr("batch_size", &EndpointBlock::batch_size);
    s.attr("remote_timeout", &EndpointBlock::remote_timeout);
    s.attr("min_backoff_period", &EndpointBlock::min_backoff_period);
    s.attr("max_backoff_period", &EndpointBlock::max_backoff_period);
    s.attr("max_backoff_retries", &EndpointBlock::max_backoff_retries);
    s.attr("retry_on_http_429", &EndpointBlock::retry_on_http_429);
    s.attr("tenant_id", &EndpointBlock::tenant_id).doc("sent as X-Scope-OrgID");
    s.block("queue_config", &EndpointBlock::queue_config);
    components::describeHttpClient(s);
  }
  absl::Status validate() const {
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      return absl::InvalidArgumentError(
          strCat("url must be an http:// or https:// URL, got \"", url, "\""));
    }
    return HttpClientConfig::validate();
  }
};

struct WalBlock {
  bool enabled = false;
  Duration max_segment_age{1h};
  Duration min_read_frequency{250ms};
  Duration max_read_frequency{1s};
  Duration drain_timeout{15s};
  static void describe(Schema<WalBlock>& s) {
    s.attr("enabled", &WalBlock::enabled);
    s.attr("max_segment_age", &WalBlock::max_segment_age);
    s.attr("min_read_frequency", &WalBlock::min_read_frequency);
    s.attr("max_read_frequency", &WalBlock::max_read_frequency);
    s.attr("drain_timeout", &WalBlock::drain_timeout);
  }
};

struct Arguments {
  std::vector<EndpointBlock> endpoint;
  std::map<std::string, std::string> external_labels;
  int64_t max_streams = 0;
  WalBlock wal;
  static void describe(Schema<Arguments>& s) {
    s.block("endpoint", &Arguments::endpoint).doc("one per Loki to send to");
    s.attr("external_labels", &Arguments::external_labels);
    s.attr("max_streams", &Arguments::max_streams);
    s.block("wal", &Arguments::wal);
  }
};

class Component : public components::PendingComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments&)
      : PendingComponent(host,
                         "loki.write: the Loki push client is not part of this build; entries "
                         "sent to its receiver are refused with UNAVAILABLE") {
    host.setExports({{"receiver", syntax::Value::capsule(
                                      std::make_shared<components::RefusingLogsReceiver>(
                                          host.id() + ".receiver"))}});
  }
};

}  // namespace telegate::loki::write

namespace telegate::components {
void registerLokiWrite() {
  runtime::registerComponent<loki::write::Component>(
      "loki.write", "Sends log entries to Loki.",
      {{"receiver", "capsule(loki.LogsReceiver)", "where to send log entries"}});
}
}  // namespace telegate::components
