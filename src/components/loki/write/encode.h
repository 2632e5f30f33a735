// loki.write request encoding: logproto PushRequest bytes built incrementally per tenant batch,
// the WAL record framing, and the snappy compression of a request made of several pieces.
//
// Contract: PendingBatch holds entries already encoded as EntryAdapter fields, grouped by the
// stream's rendered labels; segments()/encode() give the PushRequest bytes (protobuf's own
// encoding, byte for byte). walRecord()/parseWalRecord() frame a batch for the WAL as
// [version u8 = 1][entries u32][bytes u64] + the PushRequest encoding. snappyPieces() returns the
// snappy block of the concatenated pieces.
// Threads: plain values and pure functions; a PendingBatch is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/components/loki/api.h"
#include "src/pdata/wire.h"

namespace telegate::loki::write {

using Clock = std::chrono::steady_clock;

// ---- logproto wire encoding ------------------------------------------------------------------
// PushRequest { repeated StreamAdapter streams = 1; }
// StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; }
// EntryAdapter { Timestamp timestamp = 1; string line = 2; repeated LabelPairAdapter
//                structuredMetadata = 3; }   Timestamp { int64 seconds = 1; int32 nanos = 2; }
// Encoded like protobuf's serializer: proto3 scalars and strings omitted when zero/empty, the
// timestamp always present.

using pdata::wire::putVarint;
using pdata::wire::varintSize;

using pdata::wire::appendVarint;

size_t stringFieldSize(size_t len);
char* putStringField(char* p, char tag, std::string_view s);

// Appends one EntryAdapter as field 2 of a StreamAdapter.
void appendEntry(std::string* out, int64_t ts_ns, std::string_view line,
                 const std::pair<std::string, std::string>* md, size_t md_count);

// Line and structured metadata bytes of a record (what batch_size and capacity count).
uint64_t recordBytes(const EntryBatch& b, const EntryBatch::Record& r);

// Entries of one tenant, grouped by stream and already encoded: a request is the
// concatenation of the streams.
struct PendingBatch {
  struct Stream {
    std::string labels;
    std::string entries;  // encoded EntryAdapter fields
  };
  std::vector<Stream> streams;
  std::unordered_map<std::string, uint32_t> index;  // labels -> streams
  uint64_t bytes = 0;
  uint64_t entries = 0;
  Clock::time_point created{};

  uint32_t streamFor(const std::string& labels) {
    auto [it, inserted] = index.emplace(labels, static_cast<uint32_t>(streams.size()));
    if (inserted) streams.push_back({labels, {}});
    return it->second;
  }
  void add(uint32_t stream, const EntryBatch& b, const EntryBatch::Record& r, uint64_t size) {
    if (entries == 0) created = Clock::now();
    appendEntry(&streams[stream].entries, r.timestamp_ns, b.line(r),
                b.metadata.data() + r.metadata_begin, r.metadata_count);
    bytes += size;
    ++entries;
  }
  // The PushRequest encoding as pieces: per stream a header (kept in `headers`) and the
  // entries. The views stay valid while this batch and `headers` are unchanged.
  void segments(std::string* headers, std::vector<std::string_view>* out) const {
    headers->clear();
    std::vector<size_t> ends;
    ends.reserve(streams.size());
    for (const auto& s : streams) {
      size_t len = stringFieldSize(s.labels.size()) + s.entries.size();
      headers->push_back(0x0a);
      appendVarint(headers, len);
      if (!s.labels.empty()) {
        headers->push_back(0x0a);
        appendVarint(headers, s.labels.size());
        headers->append(s.labels);
      }
      ends.push_back(headers->size());
    }
    out->clear();
    size_t begin = 0;
    for (size_t i = 0; i < streams.size(); ++i) {
      out->push_back(std::string_view(*headers).substr(begin, ends[i] - begin));
      out->push_back(streams[i].entries);
      begin = ends[i];
    }
  }
  // Appends the PushRequest encoding (the `streams` fields).
  void encode(std::string* out) const {
    size_t total = 0;
    for (const auto& s : streams) {
      size_t len = stringFieldSize(s.labels.size()) + s.entries.size();
      total += 1 + varintSize(len) + len;
    }
    out->reserve(out->size() + total);
    for (const auto& s : streams) {
      size_t len = stringFieldSize(s.labels.size()) + s.entries.size();
      out->push_back(0x0a);
      appendVarint(out, len);
      if (!s.labels.empty()) {
        out->push_back(0x0a);
        appendVarint(out, s.labels.size());
        out->append(s.labels);
      }
      out->append(s.entries);
    }
  }
};

// WAL record: [version u8 = 1][entries u32][bytes u64] (little-endian), then the PushRequest
// encoding of the entries. meta = the tenant.
constexpr size_t kWalHeader = 13;

std::string walRecord(const PendingBatch& b);
bool parseWalRecord(std::string_view rec, uint64_t* entries, uint64_t* bytes,
                    std::string_view* body);

// Snappy block format of the concatenated pieces, compressed through `scratch` (reused).
std::string snappyPieces(const std::vector<std::string_view>& pieces, std::string* scratch);

}  // namespace telegate::loki::write
