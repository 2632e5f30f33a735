// Support for components whose configuration schema is complete but whose behaviour is not part
// of this build yet.
//
// Contract: such a component accepts and validates its full Arguments, exports handles of the
// right capsule types (so the graph type-checks and wires exactly as it will later), reports
// itself unhealthy with `reason`, and refuses data sent to its handles with UNAVAILABLE (so
// senders see a retryable error instead of a silent loss).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "src/components/loki/api.h"
#include "src/components/otelcol/consumer.h"
#include "src/components/prometheus/api.h"
#include "src/runtime/component.h"

namespace telegate::components {

template <class Args>
class PendingComponent : public runtime::TypedComponent<Args> {
 public:
  PendingComponent(runtime::Host& host, std::string reason)
      : host_(host), reason_(std::move(reason)) {
    host_.setHealth(runtime::HealthState::kUnhealthy, reason_);
  }
  absl::Status start() override {
    host_.setHealth(runtime::HealthState::kUnhealthy, reason_);
    host_.logger().warn("component is not functional in this build", {{"reason", reason_}});
    return absl::OkStatus();
  }
  absl::Status update(const Args&) override { return absl::OkStatus(); }

 protected:
  runtime::Host& host_;
  std::string reason_;
};

class RefusingConsumer : public otelcol::Consumer {
 public:
  explicit RefusingConsumer(std::string who) : who_(std::move(who)) {}
  bool acceptsSignal(pdata::Signal) const override { return true; }
  absl::Status consume(pdata::Batch&&) override {
    return absl::UnavailableError(who_ + " cannot accept data in this build");
  }
  std::string describe() const override { return who_; }

 private:
  std::string who_;
};

class RefusingLogsReceiver : public loki::LogsReceiver {
 public:
  explicit RefusingLogsReceiver(std::string who) : who_(std::move(who)) {}
  absl::Status pushBatch(loki::EntryBatch&&) override {
    return absl::UnavailableError(who_ + " cannot accept data in this build");
  }
  std::string describe() const override { return who_; }

 private:
  std::string who_;
};

class RefusingAppendable : public prometheus::Appendable {
 public:
  explicit RefusingAppendable(std::string who) : who_(std::move(who)) {}
  absl::Status append(prometheus::SeriesBatch&&) override {
    return absl::UnavailableError(who_ + " cannot accept data in this build");
  }
  std::string describe() const override { return who_; }

 private:
  std::string who_;
};

}  // namespace telegate::components
