// Shared helpers of the loki.write unit tests (write_test.cc, write_wal_test.cc): an endpoint
// block aimed at a FakeLoki with short batch and backoff times, single-entry pushes and metric
// readers over a Registry's exposition text.
// Threads: plain functions; call them from the test thread.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "src/components/loki/write/write.h"
#include "test/fakes/fake_loki.h"

namespace telegate::loki::write {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

using FakeLoki = ::telegate::testing::FakeLoki;

inline EndpointBlock endpoint(const FakeLoki& loki) {
  EndpointBlock e;
  e.url = loki.url();
  e.batch_wait = Duration(50ms);
  e.batch_size = ByteSize(1 << 20);
  e.remote_timeout = Duration(2s);
  e.min_backoff_period = Duration(10ms);
  e.max_backoff_period = Duration(40ms);
  e.max_backoff_retries = 5;
  e.enable_http2 = false;
  return e;
}

inline Entry entry(LabelSet labels, std::string line, int64_t ts = 1700000000123456789LL) {
  Entry e;
  e.labels = std::move(labels);
  e.line = std::move(line);
  e.timestamp_ns = ts;
  return e;
}

inline absl::Status pushOne(Writer& w, Entry e) {
  std::vector<Entry> v;
  v.push_back(std::move(e));
  return w.push(std::move(v));
}

inline double metric(metrics::Registry& reg, const std::string& series) {
  std::string text = reg.exposition();
  size_t p = text.find(series + " ");
  if (p == std::string::npos) return 0;
  return std::stod(text.substr(p + series.size() + 1));
}

inline double dropped(metrics::Registry& reg, const std::string& reason) {
  return metric(reg, R"(telegate_loki_write_dropped_entries_total{component_id="w",reason=")" +
                         reason + "\"}");
}

}  // namespace telegate::loki::write
