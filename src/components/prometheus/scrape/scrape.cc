// prometheus.scrape: scrapes Prometheus metrics from targets. Arguments follow Alloy's schema and
// defaults; in this build it validates its configuration and reports itself unhealthy.
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/http_client.h"
#include "src/components/common/pending.h"
#include "src/components/prometheus/api.h"
#include "src/runtime/registry.h"

namespace telegate::prometheus::scrape {

using namespace std::chrono_literals;
using runtime::ByteSize;
using runtime::CapsuleRef;
using runtime::Duration;
using runtime::Schema;

struct ClusteringBlock {
  bool enabled = false;
  static void describe(Schema<ClusteringBlock>& s) { s.attr("enabled", &ClusteringBlock::enabled); }
};

struct Arguments : components::HttpClientConfig {
  std::vector<runtime::Target> targets;
  std::vector<CapsuleRef<Appendable>> forward_to;
  std::string job_name;
  std::map<std::string, std::vector<std::string>> params;
  Duration scrape_interval{60s};
  Duration scrape_timeout{10s};
  std::vector<std::string> scrape_protocols = {"OpenMetricsText1.0.0", "OpenMetricsText0.0.1",
                                               "PrometheusText1.0.0", "PrometheusText0.0.4"};
  std::string scrape_fallback_protocol = "PrometheusText0.0.4";
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  bool honor_labels = false;
  bool honor_timestamps = true;
  bool track_timestamps_staleness = false;
  bool enable_compression = true;
  ByteSize body_size_limit;
  int64_t sample_limit = 0;
  int64_t target_limit = 0;
  int64_t label_limit = 0;
  int64_t label_name_length_limit = 0;
  int64_t label_value_length_limit = 0;
  bool extra_metrics = false;
  bool scrape_native_histograms = false;
  bool scrape_classic_histograms = false;
  std::string metric_name_validation_scheme = "legacy";
  std::optional<ClusteringBlock> clustering;
  static void describe(Schema<Arguments>& s) {
    s.attr("targets", &Arguments::targets).required().doc("targets to scrape");
    s.attr("forward_to", &Arguments::forward_to).required().doc("receivers for the samples");
    s.attr("job_name", &Arguments::job_name).doc("default: the component ID");
    s.attr("params", &Arguments::params);
    s.attr("scrape_interval", &Arguments::scrape_interval);
    s.attr("scrape_timeout", &Arguments::scrape_timeout);
    s.attr("scrape_protocols", &Arguments::scrape_protocols);
    s.attr("scrape_fallback_protocol", &Arguments::scrape_fallback_protocol);
    s.attr("metrics_path", &Arguments::metrics_path);
    s.attr("scheme", &Arguments::scheme);
    s.attr("honor_labels", &Arguments::honor_labels);
    s.attr("honor_timestamps", &Arguments::honor_timestamps);
    s.attr("track_timestamps_staleness", &Arguments::track_timestamps_staleness);
    s.attr("enable_compression", &Arguments::enable_compression);
    s.attr("body_size_limit", &Arguments::body_size_limit);
    s.attr("sample_limit", &Arguments::sample_limit);
    s.attr("target_limit", &Arguments::target_limit);
    s.attr("label_limit", &Arguments::label_limit);
    s.attr("label_name_length_limit", &Arguments::label_name_length_limit);
    s.attr("label_value_length_limit", &Arguments::label_value_length_limit);
    s.attr("extra_metrics", &Arguments::extra_metrics);
    s.attr("scrape_native_histograms", &Arguments::scrape_native_histograms);
    s.attr("scrape_classic_histograms", &Arguments::scrape_classic_histograms);
    s.attr("metric_name_validation_scheme", &Arguments::metric_name_validation_scheme);
    s.block("clustering", &Arguments::clustering);
    components::describeHttpClient(s);
  }
  absl::Status validate() const {
    if (scrape_interval.value <= std::chrono::nanoseconds::zero()) {
      return absl::InvalidArgumentError("scrape_interval must be greater than 0");
    }
    if (scrape_timeout.value > scrape_interval.value) {
      return absl::InvalidArgumentError(strCat(
          "scrape_timeout (", runtime::formatDuration(scrape_timeout),
          ") greater than scrape_interval (", runtime::formatDuration(scrape_interval), ")"));
    }
    if (scheme != "http" && scheme != "https") {
      return absl::InvalidArgumentError(
          strCat("scheme must be http or https, got \"", scheme, "\""));
    }
    return HttpClientConfig::validate();
  }
};

class Component : public components::PendingComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments&)
      : PendingComponent(host,
                         "prometheus.scrape: scraping is not part of this build; no targets are "
                         "scraped") {}
};

}  // namespace telegate::prometheus::scrape

namespace telegate::components {
void registerPrometheusScrape() {
  runtime::registerComponent<prometheus::scrape::Component>(
      "prometheus.scrape", "Scrapes Prometheus metrics from targets.", {});
}
}  // namespace telegate::components
