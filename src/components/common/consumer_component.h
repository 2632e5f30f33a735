// A component whose whole behaviour lives in one long-lived consumer object, exported as
// `input` (otelcol.exporter.loki, otelcol.exporter.prometheus).
//
// Contract: the consumer is built once with (component id, metrics registry, logger) and
// configured with the Arguments at construction and on every update(); its handle never changes,
// so components that forward to it keep working across reloads. start() reports the component
// healthy. ConsumerT must derive from syntax::Capsule and provide configure(const Args&).
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "src/runtime/component.h"

namespace telegate::components {

template <class Args, class ConsumerT>
class ConsumerComponent : public runtime::TypedComponent<Args> {
 public:
  ConsumerComponent(runtime::Host& host, const Args& args)
      : host_(host),
        consumer_(std::make_shared<ConsumerT>(host.id(), host.metrics(), host.logger())) {
    consumer_->configure(args);
    host_.setExports({{"input", syntax::Value::capsule(consumer_)}});
  }
  absl::Status start() override {
    host_.setHealth(runtime::HealthState::kHealthy, "");
    return absl::OkStatus();
  }
  absl::Status update(const Args& args) override {
    consumer_->configure(args);
    return absl::OkStatus();
  }
  const std::shared_ptr<ConsumerT>& consumer() const { return consumer_; }

 private:
  runtime::Host& host_;
  std::shared_ptr<ConsumerT> consumer_;
};

}  // namespace telegate::components
