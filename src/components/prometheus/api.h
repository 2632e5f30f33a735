// Samples and the appendable capsule exported by prometheus.remote_write (`receiver`) and listed
// in `forward_to` of prometheus.scrape and otelcol.exporter.prometheus.
//
// Contract:
//  * SeriesBatch is the unit handed to Appendable::append(): a list of series, each with its
//    label set (stored once) and one or more samples, all in a few flat buffers (no allocation
//    per sample or per label once the buffers have grown). Build it with beginSeries(), then the
//    series' labels with addLabel() in strictly increasing name order (byte-wise, as Prometheus
//    sorts them; __name__ is an ordinary label), then its samples with addSample(). The next
//    beginSeries() ends the series. Samples of one series keep the order they were added in; the
//    same label set may appear again later in the batch (producers are not required to group).
//  * Labels must have a non-empty name and value and be sorted without duplicates; valid() tells
//    whether every addLabel() call kept that rule (append() implementations refuse an invalid
//    batch with INVALID_ARGUMENT rather than send a request the receiver would reject). A series
//    without samples is allowed and ignored by consumers.
//  * hash(i) is a 64-bit hash of series i's label set: one pass over its label bytes (which are
//    contiguous), stable across processes and restarts. It is computed on demand, so a consumer
//    that does not shard (one queue) never pays for it; a sharding consumer computes it once per
//    series, not per sample.
//  * A NaN with the Prometheus stale bit pattern (0x7ff0000000000002) marks a series as stale.
//  * Sample / Labels and the constructors from them are a convenience for tests and slow paths
//    (one allocation per label); hot paths use the builder.
//  * Appendable::append() takes the batch and returns OK once the samples are accepted by the
//    receiver (queued in memory or, when the receiver is durable, written to disk); an error means
//    nothing of this call was kept by that receiver (RESOURCE_EXHAUSTED: retry later;
//    UNAVAILABLE: shut down; INVALID_ARGUMENT: the batch is malformed). Thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "src/syntax/value.h"

namespace telegate::prometheus {

using Labels = std::vector<std::pair<std::string, std::string>>;  // sorted by name

// One sample with its own copy of the labels (convenience type, see the contract).
struct Sample {
  Labels labels;
  int64_t timestamp_ms = 0;
  double value = 0;
};

class SeriesBatch {
 public:
  struct Point {
    int64_t timestamp_ms;
    double value;
  };
  // Offsets into bytes().
  struct LabelRef {
    uint32_t name_off, name_len, value_off, value_len;
  };
  struct SeriesRef {
    uint32_t first_label, label_count;
    uint32_t first_sample, sample_count;
  };

  SeriesBatch() = default;
  // One series per sample, in order (convenience; see the contract).
  SeriesBatch(const std::vector<Sample>& samples) {  // NOLINT(google-explicit-constructor)
    for (const auto& s : samples) add(s);
  }
  SeriesBatch(std::initializer_list<Sample> samples) {
    for (const auto& s : samples) add(s);
  }

  // Reserves room for about this many series, labels, samples and label bytes.
  void reserve(size_t series, size_t labels, size_t samples, size_t bytes) {
    series_.reserve(series);
    labels_.reserve(labels);
    points_.reserve(samples);
    bytes_.reserve(bytes);
  }
  void clear() {
    series_.clear();
    labels_.clear();
    points_.clear();
    bytes_.clear();
    valid_ = true;
  }

  void beginSeries() {
    series_.push_back(SeriesRef{static_cast<uint32_t>(labels_.size()), 0,
                                static_cast<uint32_t>(points_.size()), 0});
  }
  // Adds a label to the current series (beginSeries() first). Names must increase strictly.
  void addLabel(std::string_view name, std::string_view value) {
    SeriesRef& s = series_.back();
    if (name.empty() || value.empty()) valid_ = false;
    if (s.label_count > 0) {
      const LabelRef& prev = labels_.back();
      if (!nameLess(std::string_view(bytes_.data() + prev.name_off, prev.name_len), name)) {
        valid_ = false;
      }
    }
    const auto off = static_cast<uint32_t>(bytes_.size());
    bytes_.append(name);
    bytes_.append(value);
    labels_.push_back(LabelRef{off, static_cast<uint32_t>(name.size()),
                               off + static_cast<uint32_t>(name.size()),
                               static_cast<uint32_t>(value.size())});
    ++s.label_count;
  }
  // Adds a sample to the current series.
  void addSample(int64_t timestamp_ms, double value) {
    points_.push_back(Point{timestamp_ms, value});
    ++series_.back().sample_count;
  }
  // Convenience: one series with one sample.
  void add(const Sample& s) {
    beginSeries();
    for (const auto& [k, v] : s.labels) addLabel(k, v);
    addSample(s.timestamp_ms, s.value);
  }

  bool valid() const { return valid_; }
  bool empty() const { return points_.empty(); }
  size_t seriesCount() const { return series_.size(); }
  size_t sampleCount() const { return points_.size(); }
  const SeriesRef& series(size_t i) const { return series_[i]; }
  uint64_t hash(size_t i) const {
    const SeriesRef& s = series_[i];
    if (s.label_count == 0) return kHashSeed;
    // The label bytes of a series are contiguous: hash them in one pass, with the name lengths
    // mixed in so that {ab="c"} and {a="bc"} differ.
    const LabelRef& first = labels_[s.first_label];
    const LabelRef& last = labels_[s.first_label + s.label_count - 1];
    uint64_t h = hashBytes(std::string_view(bytes_.data() + first.name_off,
                                            last.value_off + last.value_len - first.name_off));
    for (uint32_t k = 0; k < s.label_count; ++k) h = mix(h, labels_[s.first_label + k].name_len);
    return h;
  }
  std::string_view labelName(const LabelRef& l) const {
    return std::string_view(bytes_.data() + l.name_off, l.name_len);
  }
  std::string_view labelValue(const LabelRef& l) const {
    return std::string_view(bytes_.data() + l.value_off, l.value_len);
  }
  const LabelRef* labels(const SeriesRef& s) const { return labels_.data() + s.first_label; }
  const Point* points(const SeriesRef& s) const { return points_.data() + s.first_sample; }
  // A process-wide pool of at most kPoolSize empty batches that keep their buffers: producers
  // take one with acquire() and consumers give finished batches back with recycle(), so that
  // batches of similar size do not allocate (and page-fault) their multi-megabyte buffers again.
  // Thread-safe (one short mutex section per batch).
  static SeriesBatch acquire() {
    Pool& p = pool();
    std::lock_guard<std::mutex> lk(p.mu);
    if (p.free.empty()) return SeriesBatch();
    SeriesBatch b = std::move(p.free.back());
    p.free.pop_back();
    return b;
  }
  static void recycle(SeriesBatch&& b) {
    if (b.memoryBytes() > kPoolMaxBytes) return;
    b.clear();
    Pool& p = pool();
    std::lock_guard<std::mutex> lk(p.mu);
    if (p.free.size() < kPoolSize) p.free.push_back(std::move(b));
  }

  // Approximate heap bytes held (for memory accounting).
  size_t memoryBytes() const {
    return bytes_.capacity() + labels_.capacity() * sizeof(LabelRef) +
           series_.capacity() * sizeof(SeriesRef) + points_.capacity() * sizeof(Point);
  }
  // Expands into one Sample per sample (convenience for tests).
  std::vector<Sample> samples() const {
    std::vector<Sample> out;
    for (const auto& s : series_) {
      Labels l;
      for (uint32_t i = 0; i < s.label_count; ++i) {
        const LabelRef& r = labels_[s.first_label + i];
        l.emplace_back(std::string(labelName(r)), std::string(labelValue(r)));
      }
      for (uint32_t i = 0; i < s.sample_count; ++i) {
        const Point& p = points_[s.first_sample + i];
        out.push_back(Sample{l, p.timestamp_ms, p.value});
      }
    }
    return out;
  }

  // Raw access for serialisation (prometheus.remote_write's write-ahead queue).
  const std::string& bytes() const { return bytes_; }
  const std::vector<LabelRef>& labelRefs() const { return labels_; }
  const std::vector<SeriesRef>& seriesRefs() const { return series_; }
  const std::vector<Point>& pointList() const { return points_; }
  std::string& mutableBytes() { return bytes_; }
  std::vector<LabelRef>& mutableLabelRefs() { return labels_; }
  std::vector<SeriesRef>& mutableSeriesRefs() { return series_; }
  std::vector<Point>& mutablePointList() { return points_; }

  // Byte-wise a < b, inline: label names are short and usually differ early, where a memcmp call
  // costs more than the comparison.
  static bool nameLess(std::string_view a, std::string_view b) {
    const size_t n = a.size() < b.size() ? a.size() : b.size();
    for (size_t i = 0; i < n; ++i) {
      const auto x = static_cast<unsigned char>(a[i]);
      const auto y = static_cast<unsigned char>(b[i]);
      if (x != y) return x < y;
    }
    return a.size() < b.size();
  }

  // The hash of one byte string (word at a time; stable across processes).
  static uint64_t hashBytes(std::string_view s) {
    uint64_t h = kHashSeed ^ (s.size() * 0x9e3779b97f4a7c15ull);
    const char* p = s.data();
    size_t n = s.size();
    while (n >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      h = mix(h, w);
      p += 8;
      n -= 8;
    }
    if (n > 0) {
      uint64_t w = 0;
      std::memcpy(&w, p, n);
      h = mix(h, w);
    }
    return h;
  }

 private:
  static constexpr uint64_t kHashSeed = 0x243f6a8885a308d3ull;
  static constexpr size_t kPoolSize = 4;
  static constexpr size_t kPoolMaxBytes = 64 << 20;
  struct Pool {
    std::mutex mu;
    std::vector<SeriesBatch> free;
  };
  static Pool& pool() {
    static Pool* p = new Pool();  // never destroyed: usable from any thread until exit
    return *p;
  }
  static uint64_t mix(uint64_t h, uint64_t w) {
    h ^= w;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    return h;
  }

  std::string bytes_;
  std::vector<LabelRef> labels_;
  std::vector<SeriesRef> series_;
  std::vector<Point> points_;
  bool valid_ = true;
};

class Appendable : public syntax::Capsule {
 public:
  static constexpr std::string_view kCapsuleType = "storage.Appendable";
  std::string_view capsuleType() const override { return kCapsuleType; }
  // See the contract above.
  virtual absl::Status append(SeriesBatch&& batch) = 0;
  // True when an OK from append() means the samples are in a write-ahead queue
  // (prometheus.remote_write with wal { enabled = true }), synced per its fsync setting.
  virtual bool durable() const { return false; }
};

}  // namespace telegate::prometheus
