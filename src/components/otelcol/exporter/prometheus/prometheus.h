// otelcol.exporter.prometheus: converts OTLP metrics to Prometheus samples and appends them to
// storage.Appendable receivers (prometheus.remote_write.*.receiver).
//
// Contract:
//  * Exports `input` (capsule otelcol.Consumer) accepting metrics only (acceptsSignal(kMetrics));
//    other signals -> UNIMPLEMENTED.
//  * consume() decodes the ExportMetricsServiceRequest on an arena and converts it with
//    convertMetrics() like Alloy's converter (internal/component/otelcol/exporter/prometheus/
//    internal/convert, contrib pkg/translator/prometheus naming):
//      names   with add_metric_suffixes: the name split on every character that is not an ASCII
//              letter or digit and joined with '_'; the unit's main part mapped (s -> seconds,
//              By -> bytes, ms -> milliseconds, ...; unknown units cleaned up; "1" and units with
//              {annotations} add nothing) and appended unless already a name token; "/x" adds
//              "per_<x>" (s -> second, m -> minute, ...); monotonic sums end in "_total";
//              gauges with unit "1" end in "_ratio"; a leading digit gets a '_' prefix. Without
//              suffixes: invalid characters -> '_' (runs collapsed), leading digit -> '_' prefix.
//      labels  data point attributes (names normalised by src/common/label_name.h: each rune
//              not an ASCII letter/digit -> one '_', leading digit -> "key_", single leading '_'
//              -> "key"), then otel_scope_name/otel_scope_version
//              (include_scope_labels), then job = [service.namespace "/"] service.name and
//              instance = service.instance.id; an empty value removes a label; then __name__
//              and le/quantile. resource_to_telemetry_conversion adds the other resource
//              attributes to every series (data point attributes win).
//      types   gauges and cumulative sums (int or double; non-monotonic -> plain name); delta
//              sums and delta histograms are dropped and counted (reason "delta_temporality");
//              histograms -> <name>_bucket{le} (cumulative, le formatted like Go's 'f', -1, plus
//              le="+Inf" = count), <name>_sum (when present), <name>_count; summaries ->
//              <name>{quantile}, <name>_sum, <name>_count; exponential histograms are dropped
//              and counted (reason "exponential_histogram"; Alloy would send native
//              histograms). A data point flagged "no recorded value" becomes a stale marker.
//      info    target_info{job, instance, <other resource attributes>} = 1 per resource
//              (include_target_info) and otel_scope_info{job, instance, otel_scope_name,
//              otel_scope_version, <scope attributes>} = 1 per scope (include_scope_info), both
//              stamped with the current time.
//      time    time_unix_nano in ms; 0 -> the current time (telegate; Alloy would send 0).
//      invalid metrics whose name has no valid character are dropped and counted (reason
//              "invalid_name"), and attributes with an empty key are skipped: either would make
//              the receiver refuse the whole request.
//    gc_frequency and honor_metadata are accepted and have no effect (telegate keeps no series
//    cache and sends no metadata).
//  * Conversion writes straight into one prometheus::SeriesBatch per request (one series per
//    sample, labels built from views of the decoded request and sorted without a map; attribute
//    keys are normalised once per distinct key), with no allocation per sample once the batch's
//    buffers have grown.
//  * The batch is appended to every forward_to receiver in order; consume() returns the first
//    refusal (the caller retries; a receiver that already accepted may see the samples twice).
//    A payload that does not parse -> INVALID_ARGUMENT.
//  * Thread-safe; configuration is swapped under a per-component mutex held only to copy a
//    shared_ptr.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/components/common/consumer_component.h"
#include "src/components/otelcol/config.h"
#include "src/components/prometheus/api.h"
#include "src/runtime/component.h"

namespace telegate::otelcol::exporter_prometheus {

struct Arguments {
  std::vector<CapsuleRef<prometheus::Appendable>> forward_to;
  bool include_target_info = true;
  bool include_scope_info = false;
  bool include_scope_labels = true;
  Duration gc_frequency{5min};
  bool add_metric_suffixes = true;
  bool resource_to_telemetry_conversion = false;
  bool honor_metadata = false;
  static void describe(Schema<Arguments>& s) {
    s.attr("forward_to", &Arguments::forward_to).required().doc("receivers for the samples");
    s.attr("include_target_info", &Arguments::include_target_info);
    s.attr("include_scope_info", &Arguments::include_scope_info);
    s.attr("include_scope_labels", &Arguments::include_scope_labels);
    s.attr("gc_frequency", &Arguments::gc_frequency).doc("accepted; telegate keeps no cache");
    s.attr("add_metric_suffixes", &Arguments::add_metric_suffixes);
    s.attr("resource_to_telemetry_conversion", &Arguments::resource_to_telemetry_conversion);
    s.attr("honor_metadata", &Arguments::honor_metadata).doc("accepted; no metadata is sent");
  }
  absl::Status validate() const {
    if (gc_frequency.value <= std::chrono::nanoseconds::zero()) {
      return absl::InvalidArgumentError("gc_frequency must be greater than 0");
    }
    return absl::OkStatus();
  }
};

struct ConvertOptions {
  bool include_target_info = true;
  bool include_scope_info = false;
  bool include_scope_labels = true;
  bool add_metric_suffixes = true;
  bool resource_to_telemetry_conversion = false;
  int64_t now_ms = 0;  // for info series and points without a timestamp; 0 = the current time
};

struct ConvertResult {
  prometheus::SeriesBatch batch;     // one series per sample, in conversion order
  uint64_t dropped_delta = 0;        // data points of delta sums/histograms
  uint64_t dropped_exponential = 0;  // exponential histogram data points
  uint64_t dropped_invalid = 0;      // data points of metrics whose name has no valid character
};

// Converts the protobuf encoding of an ExportMetricsServiceRequest. INVALID_ARGUMENT when the
// payload does not parse.
absl::StatusOr<ConvertResult> convertMetrics(std::string_view payload, const ConvertOptions& opts);

// Naming helpers, exposed for tests. NameKind: a gauge (may get "_ratio"), a monotonic sum (gets
// "_total"), or anything else (non-monotonic sum, histogram, summary).
enum class NameKind { kGauge, kMonotonicSum, kOther };
std::string buildMetricName(std::string_view name, std::string_view unit, NameKind kind,
                            bool add_suffixes);
std::string normalizeLabel(std::string_view name);

class PrometheusConsumer : public Consumer {
 public:
  PrometheusConsumer(std::string id, metrics::Registry& metrics, const log::Logger& logger);
  void configure(const Arguments& args);
  bool acceptsSignal(pdata::Signal s) const override { return s == pdata::Signal::kMetrics; }
  absl::Status consume(pdata::Batch&& batch) override;
  std::string describe() const override { return id_ + ".input"; }
  // Metrics are forwarded synchronously: durable when every forward_to receiver is
  // (prometheus.remote_write with its WAL enabled).
  bool durable(pdata::Signal s) const override;

 private:
  struct Config {
    std::vector<std::shared_ptr<prometheus::Appendable>> receivers;
    ConvertOptions opts;
  };
  std::shared_ptr<const Config> config() const;

  const std::string id_;
  const log::Logger logger_;
  mutable std::mutex mu_;  // guards config_ (held only to copy the pointer)
  std::shared_ptr<const Config> config_;
  metrics::Counter* samples_;
  metrics::Counter* refused_;
  metrics::Counter* dropped_delta_;
  metrics::Counter* dropped_exponential_;
  metrics::Counter* dropped_invalid_;
  metrics::Counter* malformed_;
  log::OnceEvery drop_log_{std::chrono::seconds(60)};
  log::OnceEvery refuse_log_{std::chrono::seconds(60)};
};

using Component = components::ConsumerComponent<Arguments, PrometheusConsumer>;

}  // namespace telegate::otelcol::exporter_prometheus
