// otelcol.exporter.discard: accepts every batch and drops it, counting what it dropped.
//
// telegate's own component, for benchmarks and for pipelines that must terminate somewhere.
// consume() returns OK at once, so it measures the cost of everything before it. Items are
// counted in telegate_exporter_sent_items_total like any exporter's deliveries.
#include "src/components/all.h"
#include "src/components/otelcol/config.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_discard {

struct Arguments {
  static void describe(Schema<Arguments>&) {}
};

class DiscardConsumer : public Consumer {
 public:
  DiscardConsumer(const std::string& id, metrics::Registry& m) : id_(id) {
    auto& fam = m.counter("telegate_exporter_sent_items_total",
                          "Items (spans, data points, log records) an exporter delivered.",
                          {"component_id", "signal"});
    for (auto s : {pdata::Signal::kTraces, pdata::Signal::kMetrics, pdata::Signal::kLogs}) {
      counters_[static_cast<size_t>(s)] = &fam.with({id, std::string(pdata::signalName(s))});
    }
  }
  bool acceptsSignal(pdata::Signal) const override { return true; }
  absl::Status consume(pdata::Batch&& batch) override {
    counters_[static_cast<size_t>(batch.signal)]->inc(static_cast<double>(batch.items));
    return absl::OkStatus();
  }
  std::string describe() const override { return id_ + ".input"; }

 private:
  std::string id_;
  std::array<metrics::Counter*, 3> counters_{};
};

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments&) {
    host.setExports({{"input", syntax::Value::capsule(
                                   std::make_shared<DiscardConsumer>(host.id(), host.metrics()))}});
  }
  absl::Status update(const Arguments&) override { return absl::OkStatus(); }
};

}  // namespace telegate::otelcol::exporter_discard

namespace telegate::components {
void registerOtelcolExporterDiscard() {
  runtime::registerComponent<otelcol::exporter_discard::Component>(
      "otelcol.exporter.discard", "Drops everything it receives, counting it (telegate).",
      {{"input", "capsule(otelcol.Consumer)", "where to send data to be dropped"}});
}
}  // namespace telegate::components
