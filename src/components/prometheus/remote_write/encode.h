// Encoding helpers of prometheus.remote_write (see remote_write.h for the component contract).
//
// Contract:
//  * The protobuf wire sizes and byte copy used to write a prometheus.WriteRequest directly into
//    a buffer (Endpoint::send, send.cc).
//  * encodeRecord()/decodeRecord(): the write-ahead record of a SeriesBatch (host byte order, the
//    queue is local to the machine). decodeRecord() checks every bound and answers DATA_LOSS for
//    a record that is short, has a bad magic or references bytes outside itself; it never reads
//    outside `rec`.
//  * Threading: pure functions of their arguments; callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/components/prometheus/api.h"
#include "src/pdata/wire.h"

namespace telegate::prometheus::remote_write {

// ---- protobuf wire encoding of prometheus.WriteRequest ----------------------------------------
//   WriteRequest { repeated TimeSeries timeseries = 1; }
//   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//   Label        { string name = 1; string value = 2; }
//   Sample       { double value = 1; int64 timestamp = 2; }

using pdata::wire::putVarint;
using pdata::wire::varintSize;

// Copies n bytes; label names and values are mostly short, and a memcpy call per string cost
// more than the copy: up to 32 bytes are moved with two overlapping fixed-size copies (which
// compile to plain loads and stores and never read outside [src, src + n)).
inline char* copyBytes(char* dst, const char* src, size_t n) {
  if (n >= 16 && n <= 32) {
    std::memcpy(dst, src, 16);
    std::memcpy(dst + n - 16, src + n - 16, 16);
  } else if (n >= 8 && n < 16) {
    std::memcpy(dst, src, 8);
    std::memcpy(dst + n - 8, src + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    std::memcpy(dst, src, 4);
    std::memcpy(dst + n - 4, src + n - 4, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; ++i) dst[i] = src[i];
  } else {
    std::memcpy(dst, src, n);
  }
  return dst + n;
}

inline size_t labelSize(std::string_view n, std::string_view v) {
  return 1 + varintSize(n.size()) + n.size() + 1 + varintSize(v.size()) + v.size();
}

inline size_t sampleSize(int64_t ts) {
  return 9 + 1 + varintSize(static_cast<uint64_t>(ts));
}

// Write-ahead record of a SeriesBatch: one record per append() call, without external labels.
std::string encodeRecord(const SeriesBatch& b);
absl::StatusOr<SeriesBatch> decodeRecord(std::string_view rec);

}  // namespace telegate::prometheus::remote_write
