// Sinks for the data capsules a component can forward to (header-only).
//
// Contract:
//  * CountingConsumer, CountingLogsReceiver and CountingAppendable (an otelcol.Consumer, a
//    loki.LogsReceiver and a storage.Appendable) accept every call with OK (otelcol: every
//    signal) and add the items (OTLP items, Loki entries, Prometheus samples) to their count;
//    count() reads it. They keep no data.
//  * RecordingLogsReceiver keeps every entry it accepts, in push order (snapshot(), lines());
//    while refuse_next > 0 a push is refused with RESOURCE_EXHAUSTED (nothing kept) and
//    refuse_next goes down by one.
//  * describe() is "test.<kind>" ("recorder" for the recording receiver).
// Threading: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

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

class RecordingLogsReceiver : public loki::LogsReceiver {
 public:
  std::atomic<int> refuse_next{0};

  absl::Status pushBatch(loki::EntryBatch&& batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (refuse_next.load() > 0) {
      --refuse_next;
      return absl::ResourceExhaustedError("queue full");
    }
    for (auto& e : batch.toEntries()) entries_.push_back(std::move(e));
    return absl::OkStatus();
  }
  std::string describe() const override { return "recorder"; }
  std::vector<loki::Entry> snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_;
  }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.line);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<loki::Entry> entries_;
};

}  // namespace telegate::testing
