// Counting sinks for the three data capsules a component can forward to (header-only): an
// otelcol.Consumer, a loki.LogsReceiver and a storage.Appendable that accept everything and count
// what they were given.
//
// Contract: each accepts every call with OK (otelcol: every signal) and adds the items (OTLP
// items, Loki entries, Prometheus samples) to its count; count() reads it; describe() is
// "test.<kind>". They keep no data.
// Threading: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "src/components/loki/api.h"
#include "src/components/otelcol/consumer.h"
#include "src/components/prometheus/api.h"

namespace telegate::testing {

class CountingConsumer : public otelcol::Consumer {
 public:
  bool acceptsSignal(pdata::Signal) const override { return true; }
  absl::Status consume(pdata::Batch&& b) override {
    count_.fetch_add(b.items);
    return absl::OkStatus();
  }
  std::string describe() const override { return "test.consumer"; }
  uint64_t count() const { return count_.load(); }

 private:
  std::atomic<uint64_t> count_{0};
};

class CountingLogsReceiver : public loki::LogsReceiver {
 public:
  absl::Status pushBatch(loki::EntryBatch&& b) override {
    count_.fetch_add(b.size());
    return absl::OkStatus();
  }
  std::string describe() const override { return "test.logs_receiver"; }
  uint64_t count() const { return count_.load(); }

 private:
  std::atomic<uint64_t> count_{0};
};

class CountingAppendable : public prometheus::Appendable {
 public:
  absl::Status append(prometheus::SeriesBatch&& b) override {
    count_.fetch_add(b.sampleCount());
    return absl::OkStatus();
  }
  std::string describe() const override { return "test.appendable"; }
  uint64_t count() const { return count_.load(); }

 private:
  std::atomic<uint64_t> count_{0};
};

}  // namespace telegate::testing
