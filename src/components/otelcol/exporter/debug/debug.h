// otelcol.exporter.debug: logs a summary of every batch it receives, sampled so it never floods.
//
// Contract: exports `input` (capsule otelcol.Consumer) accepting all three signals. consume()
// always returns OK and counts the batch's items in telegate_exporter_sent_items_total
// {component_id,signal}. Sampling (Alloy's sampling_initial / sampling_thereafter): within each
// one-second window the first `sampling_initial` batches are logged, then every
// `sampling_thereafter`-th one (0: none). A logged batch is one info line through the component
// logger (or, with use_internal_logger = false, one logfmt line on stdout) with `signal` and
// `items`; verbosity "normal" adds `resources` (the number of resource entries); "detailed" adds
// `data`, the batch as OTLP/JSON truncated to 64 KiB (`truncated=true` then). Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "src/components/otelcol/config.h"
#include "src/runtime/component.h"

namespace telegate::otelcol::exporter_debug {

struct Arguments {
  std::string verbosity = "basic";
  int64_t sampling_initial = 2;
  int64_t sampling_thereafter = 1;
  bool use_internal_logger = true;
  static void describe(Schema<Arguments>& s);
  absl::Status validate() const;
};

inline constexpr size_t kMaxDetailedBytes = 64 << 10;

class DebugConsumer : public Consumer {
 public:
  using Clock = std::chrono::steady_clock;
  using LineSink = std::function<void(std::string_view line)>;  // for use_internal_logger=false

  DebugConsumer(std::string id, const log::Logger& logger, metrics::Registry& m);
  void configure(const Arguments& args);
  bool acceptsSignal(pdata::Signal) const override { return true; }
  absl::Status consume(pdata::Batch&& batch) override;
  std::string describe() const override { return id_ + ".input"; }

  // Replaces the stdout writer used when use_internal_logger is false, and the clock (tests).
  void setStdoutSinkForTest(LineSink sink) { stdout_sink_ = std::move(sink); }
  void setClockForTest(std::function<Clock::time_point()> now) { now_ = std::move(now); }

 private:
  bool sample();  // true when this batch is logged

  std::string id_;
  log::Logger logger_;
  std::array<metrics::Counter*, 3> counters_{};
  LineSink stdout_sink_;
  std::function<Clock::time_point()> now_;

  std::mutex mu_;  // guards everything below
  Arguments args_;
  Clock::time_point window_start_{};
  int64_t window_count_ = 0;
};

// Number of top-level resource entries (field 1) in an Export*ServiceRequest's wire bytes.
uint64_t countResources(std::string_view wire);

}  // namespace telegate::otelcol::exporter_debug
