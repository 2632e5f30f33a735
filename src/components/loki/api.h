// Loki entries and the receiver capsule exported by loki.write (`receiver`) and listed in
// `forward_to` of loki.source.* and otelcol.exporter.loki.
//
// Contract:
//  * An EntryBatch is a set of entries grouped by stream: `streams` holds each distinct label
//    set once and every record refers to one of them by index. Lines are stored back to back in
//    one buffer (`text`) and structured metadata in one list, so a batch of N entries costs a
//    handful of allocations, not N. Records keep push order (also across streams).
//  * pushBatch() returns OK once the receiver has accepted the entries (queued);
//    RESOURCE_EXHAUSTED/UNAVAILABLE when it cannot accept now (the caller applies backpressure or
//    retries). The receiver may move from the batch (take its buffers); one that only reads it
//    (loki.write copies the entries into its own encoded queue) leaves it intact, so the caller
//    may clear() and reuse it afterwards. push(vector<Entry>) is a convenience that groups the
//    entries into a batch. Labels are name/value pairs; names starting with "__" are internal
//    (e.g. __tenant_id__) and never sent as stream labels. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "src/syntax/value.h"

namespace telegate::loki {

using LabelSet = std::vector<std::pair<std::string, std::string>>;  // sorted by name

struct Entry {
  LabelSet labels;
  int64_t timestamp_ns = 0;
  std::string line;
  LabelSet structured_metadata;
};

struct EntryBatch {
  struct Record {
    uint32_t stream = 0;  // index in `streams`
    int64_t timestamp_ns = 0;
    uint64_t line_offset = 0;  // in `text`
    uint32_t line_size = 0;
    uint32_t metadata_begin = 0;  // structured metadata: metadata[begin, begin + count)
    uint32_t metadata_count = 0;
  };
  std::vector<LabelSet> streams;
  std::vector<Record> records;
  std::string text;
  LabelSet metadata;

  size_t size() const { return records.size(); }
  bool empty() const { return records.empty(); }
  // Empties the batch, keeping the buffers' capacity.
  void clear() {
    streams.clear();
    records.clear();
    text.clear();
    metadata.clear();
  }
  std::string_view line(const Record& r) const {
    return std::string_view(text).substr(r.line_offset, r.line_size);
  }
  // Adds a stream and returns its index (no deduplication: callers add each label set once).
  uint32_t addStream(LabelSet labels) {
    streams.push_back(std::move(labels));
    return static_cast<uint32_t>(streams.size() - 1);
  }
  // Appends a record whose line is the bytes of `text` from `line_offset` to the end (the caller
  // appended the line to `text` itself, e.g. by encoding into it).
  void addAppended(uint32_t stream, int64_t ts, uint64_t line_offset) {
    Record r;
    r.stream = stream;
    r.timestamp_ns = ts;
    r.line_offset = line_offset;
    r.line_size = static_cast<uint32_t>(text.size() - line_offset);
    r.metadata_begin = static_cast<uint32_t>(metadata.size());
    records.push_back(r);
  }
  void add(uint32_t stream, int64_t ts, std::string_view line, const LabelSet& md = {}) {
    uint64_t off = text.size();
    text.append(line);
    addAppended(stream, ts, off);
    for (const auto& kv : md) metadata.push_back(kv);
    records.back().metadata_count = static_cast<uint32_t>(md.size());
  }
  // Groups entries by identical label sets (first occurrence order).
  static EntryBatch fromEntries(std::vector<Entry>&& entries);
  // Expands the batch back into one Entry per record (tests, slow paths).
  std::vector<Entry> toEntries() const;
};

inline EntryBatch EntryBatch::fromEntries(std::vector<Entry>&& entries) {
  EntryBatch b;
  b.records.reserve(entries.size());
  for (auto& e : entries) {
    uint32_t idx = 0;
    bool found = false;
    // Linear from the back: consecutive entries usually share a stream.
    for (size_t i = b.streams.size(); i-- > 0;) {
      if (b.streams[i] == e.labels) {
        idx = static_cast<uint32_t>(i);
        found = true;
        break;
      }
    }
    if (!found) idx = b.addStream(std::move(e.labels));
    b.add(idx, e.timestamp_ns, e.line, e.structured_metadata);
  }
  return b;
}

inline std::vector<Entry> EntryBatch::toEntries() const {
  std::vector<Entry> out;
  out.reserve(records.size());
  for (const auto& r : records) {
    Entry e;
    e.labels = streams[r.stream];
    e.timestamp_ns = r.timestamp_ns;
    e.line = std::string(line(r));
    e.structured_metadata.assign(metadata.begin() + r.metadata_begin,
                                 metadata.begin() + r.metadata_begin + r.metadata_count);
    out.push_back(std::move(e));
  }
  return out;
}

class LogsReceiver : public syntax::Capsule {
 public:
  static constexpr std::string_view kCapsuleType = "loki.LogsReceiver";
  std::string_view capsuleType() const override { return kCapsuleType; }
  virtual absl::Status pushBatch(EntryBatch&& batch) = 0;
  // True when an OK from pushBatch() means the entries are in a write-ahead log (loki.write
  // with wal { enabled = true }), synced per its fsync setting. Cheap; any thread.
  virtual bool durable() const { return false; }
  absl::Status push(std::vector<Entry>&& entries) {
    return pushBatch(EntryBatch::fromEntries(std::move(entries)));
  }
};

}  // namespace telegate::loki
