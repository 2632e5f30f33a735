// otelcol.exporter.loki: the component (see loki.h for the contract). The conversion is in
// convert.cc (on the reader of otlp_reader.h and the value helpers of values.h).
#include "src/components/otelcol/exporter/loki/loki.h"

#include <memory>
#include <utility>

#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/fanout.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_loki {

// ---- Consumer --------------------------------------------------------------------------------

LokiConsumer::LokiConsumer(std::string id, metrics::Registry& metrics, const log::Logger& logger)
    : id_(std::move(id)), logger_(logger), config_(std::make_shared<Config>()) {
  converted_ = &metrics
                    .counter("telegate_otelcol_exporter_loki_entries_total",
                             "Log records converted to Loki entries.", {"component_id"})
                    .with({id_});
  auto& dropped =
      metrics.counter("telegate_otelcol_exporter_loki_dropped_records_total",
                      "Log records not forwarded, by reason.", {"component_id", "reason"});
  dropped_convert_ = &dropped.with({id_, "conversion_failed"});
  malformed_ = &dropped.with({id_, "malformed_payload"});
  refused_ = &metrics
                  .counter("telegate_otelcol_exporter_loki_refused_entries_total",
                           "Entries refused by a forward_to receiver (returned to the sender "
                           "for retry).",
                           {"component_id"})
                  .with({id_});
}

void LokiConsumer::configure(const Arguments& args) {
  auto cfg = std::make_shared<Config>();
  for (const auto& r : args.forward_to) {
    if (r.ptr) cfg->receivers.push_back(r.ptr);
  }
  cfg->service_name_label = args.service_name_label;
  std::lock_guard<std::mutex> lock(mu_);
  config_ = std::move(cfg);
}

std::shared_ptr<const LokiConsumer::Config> LokiConsumer::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

bool LokiConsumer::durable(pdata::Signal s) const {
  if (s != pdata::Signal::kLogs) return false;
  auto cfg = config();
  if (cfg == nullptr || cfg->receivers.empty()) return false;
  for (const auto& r : cfg->receivers) {
    if (!r->durable()) return false;
  }
  return true;
}

absl::Status LokiConsumer::consume(pdata::Batch&& batch) {
  if (batch.signal != pdata::Signal::kLogs) {
    return absl::UnimplementedError(strCat(id_, " accepts logs only"));
  }
  auto cfg = config();
  ConvertOptions opts;
  opts.service_name_label = cfg->service_name_label;
  if (batch.client) opts.tenant = batch.client->tenant;
  // Reused per thread (see loki/api.h: a receiver that moves from the batch just takes the
  // buffers; clear() works on what is left).
  thread_local ConvertResult result;
  ConvertResult* converted = &result;
  absl::Status parsed = convertLogsInto(batch.payload, opts, converted);
  if (!parsed.ok()) {
    malformed_->inc(static_cast<double>(batch.items));
    return parsed;
  }
  if (converted->dropped > 0) {
    dropped_convert_->inc(static_cast<double>(converted->dropped));
    if (convert_log_.shouldLog()) {
      logger_.error(
          "failed to convert log to loki entry",
          {{"err", converted->first_error}, {"dropped", std::to_string(converted->dropped)}});
    }
  }
  loki::EntryBatch& entries = converted->batch;
  if (entries.empty()) return absl::OkStatus();
  const size_t n = entries.size();
  size_t refused_by = 0;
  // The last receiver gets the batch itself; when it only reads it (loki.write), the buffers
  // come back for the next call.
  absl::Status st = components::fanOut(
      cfg->receivers, std::move(entries),
      [](const auto& r, loki::EntryBatch&& items) { return r->pushBatch(std::move(items)); },
      &refused_by);
  if (!st.ok()) {
    refused_->inc(static_cast<double>(n));
    if (refuse_log_.shouldLog()) {
      logger_.warn("a forward_to receiver refused entries; returning the error to the sender",
                   {{"receiver", cfg->receivers[refused_by]->describe()},
                    {"err", std::string(st.message())}});
    }
    return st;
  }
  converted_->inc(static_cast<double>(n));
  if (result.batch.text.capacity() > (64u << 20)) result = ConvertResult();  // after a huge one
  return absl::OkStatus();
}

}  // namespace telegate::otelcol::exporter_loki

namespace telegate::components {
void registerOtelcolExporterLoki() {
  runtime::registerComponent<otelcol::exporter_loki::Component>(
      "otelcol.exporter.loki", "Converts OTLP logs to Loki entries.",
      {{"input", "capsule(otelcol.Consumer)", "where to send logs to be converted"}});
}
}  // namespace telegate::components
