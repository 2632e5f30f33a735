// otelcol.processor.batch: see batch.h for the contract. This file holds the arguments, the
// exported `input` capsule, the component and its registration; the batching itself is Core
// (core.h; core.cc, send.cc, drain.cc).
#include "src/components/otelcol/processor/batch/batch.h"

#include <algorithm>
#include <cctype>

#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/otelcol/processor/batch/core.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::processor_batch {

void Arguments::describe(Schema<Arguments>& s) {
  s.attr("timeout", &Arguments::timeout).doc("send what is pending after this long");
  s.attr("send_batch_size", &Arguments::send_batch_size).doc("items that trigger a send");
  s.attr("send_batch_max_size", &Arguments::send_batch_max_size).doc("upper bound of a batch");
  s.attr("metadata_keys", &Arguments::metadata_keys)
      .doc("telegate: \"tenant\" or \"x-scope-orgid\"; batching is always per tenant");
  s.attr("metadata_cardinality_limit", &Arguments::metadata_cardinality_limit)
      .doc("most tenants batched at once per signal");
  s.block("output", &Arguments::output).required();
}

absl::Status Arguments::validate() const {
  if (send_batch_size < 0 || send_batch_max_size < 0) {
    return absl::InvalidArgumentError("batch sizes must not be negative");
  }
  if (send_batch_max_size != 0 && send_batch_max_size < send_batch_size) {
    return absl::InvalidArgumentError(
        "send_batch_max_size must be greater or equal to send_batch_size when not 0");
  }
  if (timeout.value.count() < 0) return absl::InvalidArgumentError("timeout must not be negative");
  if (metadata_cardinality_limit < 0) {
    return absl::InvalidArgumentError("metadata_cardinality_limit must not be negative");
  }
  for (const auto& k : metadata_keys) {
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower != "tenant" && lower != "x-scope-orgid") {
      return absl::InvalidArgumentError(
          strCat("metadata_keys: telegate carries only the tenant bound to the client's "
                 "credential; use \"tenant\" or \"X-Scope-OrgID\", got \"",
                 k, "\""));
    }
  }
  return absl::OkStatus();
}

namespace {

class Input : public Consumer {
 public:
  explicit Input(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  bool acceptsSignal(Signal s) const override { return core_->acceptsSignal(s); }
  absl::Status consume(pdata::Batch&& batch) override { return core_->consume(std::move(batch)); }
  bool durable(Signal s) const override { return core_->durable(s); }
  std::string describe() const override { return core_->id() + ".input"; }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host),
      core_(std::make_shared<Core>(host.id(), host.logger(), host.metrics(), makeLive(args))) {
  input_ = std::make_shared<Input>(core_);
  collector_ = host.metrics().addCollector([core = core_](metrics::Writer& w) {
    auto pending = core->pendingItems();
    for (Signal s : kSignals) {
      w.gauge("telegate_processor_batch_pending_items",
              "Items a batch processor holds: waiting for a batch to fill or for a retry.",
              {{"component_id", core->id()}, {"signal", std::string(pdata::signalName(s))}},
              static_cast<double>(pending[idx(s)]));
    }
  });
  host.setExports({{"input", syntax::Value::capsule(input_)}});
}

Component::~Component() {
  host_.metrics().removeCollector(collector_);
  core_->shutdown(Clock::now());
}

absl::Status Component::start() {
  core_->startTimer();
  host_.setHealth(runtime::HealthState::kHealthy, "started");
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  core_->update(makeLive(args));
  return absl::OkStatus();
}

void Component::shutdown(Clock::time_point deadline) {
  core_->shutdown(deadline);
}

syntax::Value Component::debugInfo() const {
  auto pending = core_->pendingItems();
  syntax::Object o;
  for (Signal s : kSignals) {
    o.emplace(
        std::string(pdata::signalName(s)),
        syntax::Value::object({{"pending_items", syntax::Value::uinteger(pending[idx(s)])},
                               {"tenants", syntax::Value::uinteger(core_->batcherCount(s))}}));
  }
  return syntax::Value::object(std::move(o));
}

}  // namespace telegate::otelcol::processor_batch

namespace telegate::components {
void registerOtelcolProcessorBatch() {
  runtime::registerComponent<otelcol::processor_batch::Component>(
      "otelcol.processor.batch", "Batches telemetry before it is exported.",
      {{"input", "capsule(otelcol.Consumer)", "where to send data to be batched"}});
}
}  // namespace telegate::components
