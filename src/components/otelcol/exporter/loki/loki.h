// otelcol.exporter.loki: converts OTLP logs to Loki entries and pushes them to loki.* receivers.
//
// Contract:
//  * Exports `input` (capsule otelcol.Consumer) accepting logs only (acceptsSignal(kLogs)).
//  * consume() reads the ExportLogsServiceRequest straight from its wire bytes (strings are views
//    into the payload; no message objects) and converts every log record with convertLogs()
//    exactly like Alloy (contrib pkg/translator/loki LogToLokiEntry, no default
//    label overridden):
//      labels  exporter="OTLP"; job = [service.namespace "/"] service.name; instance =
//              service.instance.id; level = upper-case severity name when the severity number is
//              set; hint attributes loki.resource.labels (resource, then log record) and
//              loki.attribute.labels (log record) and loki.tenant promote attributes (nested map
//              values addressed with dots); later hints override earlier ones. Label names are
//              normalised Prometheus-style after merging (src/common/label_name.h: each rune not
//              an ASCII letter/digit -> one '_', leading digit -> "key_" prefix, single leading
//              '_' -> "key" prefix).
//      line    loki.format hint (resource first, then record; default "json"): "json" = Go
//              encoding/json of {body, traceid, spanid, severity, flags, attributes, resources,
//              instrumentation_scope{name, version}} in that order, empty fields omitted, map
//              keys sorted, <, >, & escaped as \u003c...; "logfmt" = go-logfmt keyvals; "raw" =
//              the body as a string. Promoted attributes and the hint attributes are removed from
//              the record before encoding.
//      time    time_unix_nano, else observed_time_unix_nano, else now.
//    telegate additions: a `service_name` label = resource service.name when present and
//    `service_name_label` is true (default); the internal label `__tenant_id__` = the batch's
//    client tenant when non-empty (loki.write turns it into X-Scope-OrgID). A `__tenant_id__`
//    label made from client attributes (hints, or a name that normalises to it) is always
//    dropped: only the credential sets the tenant.
//    A record that cannot be converted (unknown format, NaN in JSON, invalid logfmt key) is
//    dropped and counted; the rest of the batch continues (as in Alloy).
//  * The entries of one consume() form one loki::EntryBatch (one stream per distinct label set,
//    records in input order). What depends only on the resource or scope (resource attribute
//    list, resource-derived labels, the JSON "resources" and "instrumentation_scope" fragments)
//    is computed once per ResourceLogs/ScopeLogs; the output is the same as per record.
//  * The entries are pushed to every `forward_to` receiver in order. A receiver refusing them
//    makes consume() return that receiver's status (the caller retries; a receiver that already
//    accepted may then see the entries twice). Malformed payloads -> INVALID_ARGUMENT.
//  * consume() is thread-safe; configuration is swapped under a per-component mutex held only to
//    copy a shared_ptr.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/label_name.h"
#include "src/components/common/consumer_component.h"
#include "src/components/loki/api.h"
#include "src/components/otelcol/config.h"
#include "src/runtime/component.h"

namespace telegate::otelcol::exporter_loki {

struct Arguments {
  std::vector<CapsuleRef<loki::LogsReceiver>> forward_to;
  bool service_name_label = true;
  static void describe(Schema<Arguments>& s) {
    s.attr("forward_to", &Arguments::forward_to).required().doc("Loki receivers to send to");
    s.attr("service_name_label", &Arguments::service_name_label)
        .doc("telegate: also add service_name = resource service.name (false: Alloy's labels)");
  }
};

struct ConvertOptions {
  bool service_name_label = true;
  std::string tenant;  // non-empty: every entry gets __tenant_id__
  int64_t now_ns = 0;  // used for records without timestamps; 0 = the current time
};

struct ConvertResult {
  loki::EntryBatch batch;   // grouped by label set
  uint64_t dropped = 0;     // records that could not be converted
  std::string first_error;  // why the first dropped record was dropped
};

// Converts the protobuf encoding of an ExportLogsServiceRequest. INVALID_ARGUMENT when the
// payload does not parse. Whatever protobuf's ParseFromString() accepts is accepted and converted
// as protobuf sees it (fields in any order, repeated singular messages merged, unknown fields
// ignored); the common encodings are read directly, unusual ones go through protobuf once.
absl::StatusOr<ConvertResult> convertLogs(std::string_view payload, const ConvertOptions& opts);
// The same into `out`, reusing its buffers (out is cleared first).
absl::Status convertLogsInto(std::string_view payload, const ConvertOptions& opts,
                             ConvertResult* out);

// Exposed for tests: the Go encoding/json string encoding of the lines (json::kJsonGo) and the
// label name normalisation (src/common/label_name.h).
void appendJsonString(std::string* out, std::string_view s);
using labels::normalizeLabelName;

class LokiConsumer : public Consumer {
 public:
  LokiConsumer(std::string id, metrics::Registry& metrics, const log::Logger& logger);
  void configure(const Arguments& args);
  bool acceptsSignal(pdata::Signal s) const override { return s == pdata::Signal::kLogs; }
  absl::Status consume(pdata::Batch&& batch) override;
  std::string describe() const override { return id_ + ".input"; }
  // Logs are forwarded synchronously: durable when every forward_to receiver is (loki.write with
  // its WAL enabled), so a batch processor in front passes requests through.
  bool durable(pdata::Signal s) const override;

 private:
  struct Config {
    std::vector<std::shared_ptr<loki::LogsReceiver>> receivers;
    bool service_name_label = true;
  };
  std::shared_ptr<const Config> config() const;

  std::string id_;
  log::Logger logger_;
  mutable std::mutex mu_;  // guards config_ (copied out, never held while pushing)
  std::shared_ptr<const Config> config_;
  metrics::Counter* converted_;
  metrics::Counter* dropped_convert_;
  metrics::Counter* refused_;
  metrics::Counter* malformed_;
  log::OnceEvery convert_log_{std::chrono::seconds(60)};
  log::OnceEvery refuse_log_{std::chrono::seconds(60)};
};

using Component = components::ConsumerComponent<Arguments, LokiConsumer>;

}  // namespace telegate::otelcol::exporter_loki
