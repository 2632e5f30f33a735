// loki.write request encoding (see encode.h for the contract).
#include "src/components/loki/write/encode.h"

#include <snappy-sinksource.h>
#include <snappy.h>

#include <algorithm>
#include <cstring>

namespace telegate::loki::write {

size_t stringFieldSize(size_t len) {
  return len == 0 ? 0 : 1 + varintSize(len) + len;
}

char* putStringField(char* p, char tag, std::string_view s) {
  if (s.empty()) return p;
  *p++ = tag;
  p = putVarint(p, s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Appends one EntryAdapter as field 2 of a StreamAdapter.
void appendEntry(std::string* out, int64_t ts_ns, std::string_view line,
                 const std::pair<std::string, std::string>* md, size_t md_count) {
  int64_t secs = ts_ns / 1000000000;
  int64_t nanos = ts_ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  const size_t ts_len = (secs != 0 ? 1 + varintSize(static_cast<uint64_t>(secs)) : 0) +
                        (nanos != 0 ? 1 + varintSize(static_cast<uint64_t>(nanos)) : 0);
  size_t body = 1 + varintSize(ts_len) + ts_len + stringFieldSize(line.size());
  for (size_t i = 0; i < md_count; ++i) {
    size_t pl = stringFieldSize(md[i].first.size()) + stringFieldSize(md[i].second.size());
    body += 1 + varintSize(pl) + pl;
  }
  const size_t at = out->size();
  out->resize(at + 1 + varintSize(body) + body);
  char* p = out->data() + at;
  *p++ = 0x12;
  p = putVarint(p, body);
  *p++ = 0x0a;
  p = putVarint(p, ts_len);
  if (secs != 0) {
    *p++ = 0x08;
    p = putVarint(p, static_cast<uint64_t>(secs));
  }
  if (nanos != 0) {
    *p++ = 0x10;
    p = putVarint(p, static_cast<uint64_t>(nanos));
  }
  p = putStringField(p, 0x12, line);
  for (size_t i = 0; i < md_count; ++i) {
    size_t pl = stringFieldSize(md[i].first.size()) + stringFieldSize(md[i].second.size());
    *p++ = 0x1a;
    p = putVarint(p, pl);
    p = putStringField(p, 0x0a, md[i].first);
    p = putStringField(p, 0x12, md[i].second);
  }
}

// Line and structured metadata bytes of a record (what batch_size and capacity count).
uint64_t recordBytes(const EntryBatch& b, const EntryBatch::Record& r) {
  uint64_t n = r.line_size;
  for (uint32_t i = 0; i < r.metadata_count; ++i) {
    const auto& kv = b.metadata[r.metadata_begin + i];
    n += kv.first.size() + kv.second.size();
  }
  return n;
}

std::string walRecord(const PendingBatch& b) {
  std::string out;
  out.resize(kWalHeader);
  out[0] = 1;
  uint32_t n = static_cast<uint32_t>(b.entries);
  uint64_t bytes = b.bytes;
  std::memcpy(out.data() + 1, &n, 4);
  std::memcpy(out.data() + 5, &bytes, 8);
  b.encode(&out);
  return out;
}

bool parseWalRecord(std::string_view rec, uint64_t* entries, uint64_t* bytes,
                    std::string_view* body) {
  if (rec.size() < kWalHeader || rec[0] != 1) return false;
  uint32_t n;
  std::memcpy(&n, rec.data() + 1, 4);
  std::memcpy(bytes, rec.data() + 5, 8);
  *entries = n;
  *body = rec.substr(kWalHeader);
  return true;
}

namespace {

// snappy input read from several pieces without concatenating them first.
class PiecesSource : public snappy::Source {
 public:
  explicit PiecesSource(const std::vector<std::string_view>& pieces) : pieces_(pieces) {
    for (auto p : pieces_) left_ += p.size();
  }
  size_t Available() const override { return left_; }
  const char* Peek(size_t* len) override {
    while (i_ < pieces_.size() && off_ == pieces_[i_].size()) {
      ++i_;
      off_ = 0;
    }
    if (i_ == pieces_.size()) {
      *len = 0;
      return nullptr;
    }
    *len = pieces_[i_].size() - off_;
    return pieces_[i_].data() + off_;
  }
  void Skip(size_t n) override {
    left_ -= n;
    while (n > 0) {
      size_t k = std::min(n, pieces_[i_].size() - off_);
      off_ += k;
      n -= k;
      if (off_ == pieces_[i_].size()) {
        ++i_;
        off_ = 0;
      }
    }
  }

 private:
  const std::vector<std::string_view>& pieces_;
  size_t i_ = 0, off_ = 0, left_ = 0;
};

}  // namespace

// Snappy block format of the concatenated pieces, compressed through `scratch` (reused).
std::string snappyPieces(const std::vector<std::string_view>& pieces, std::string* scratch) {
  size_t total = 0;
  for (auto p : pieces) total += p.size();
  const size_t max = snappy::MaxCompressedLength(total);
  if (scratch->size() < max) scratch->resize(max);
  PiecesSource src(pieces);
  snappy::UncheckedByteArraySink sink(scratch->data());
  size_t n = snappy::Compress(&src, &sink);
  return std::string(scratch->data(), n);
}

}  // namespace telegate::loki::write
