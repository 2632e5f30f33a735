// countItems() and splitRequest(): see otlp_split.h.
//
// The walk knows three container levels: the request (field 1 = resources), a resource
// (field 2 = scopes) and a scope (field 2 = items). For traces and logs an item is a span or log
// record; for metrics it is a Metric whose data points are the items. While a piece is being
// filled, each open container keeps its non-child fields ("header") and the children emitted into
// the current piece ("body"); closing a piece wraps every open body with its header into its
// parent, and the next piece starts with the same headers and empty bodies.
#include "src/pdata/otlp_split.h"

#include <algorithm>

#include "opentelemetry/proto/metrics/v1/metrics.pb.h"
#include "src/common/strings.h"
#include "src/pdata/wire.h"

namespace telegate::pdata {

namespace {

namespace mv1 = opentelemetry::proto::metrics::v1;

using wire::kLen;
using WireField = wire::Field;

// Reads the field at `pos` of message `s` and advances `pos`. False on malformed framing.
bool nextField(std::string_view s, size_t& pos, WireField& f) {
  return wire::readField(s, &pos, &f) == wire::Status::kOk;
}

absl::Status malformed(std::string_view what) {
  return absl::InvalidArgumentError(strCat("malformed protobuf framing in ", what));
}

bool isChild(const WireField& f, uint32_t number) {
  return f.number == number && f.wire_type == kLen;
}

bool isMetricData(uint32_t n) {
  return n == 5 || n == 7 || n == 9 || n == 10 || n == 11;
}

// Data points in one Metric: the points of the last data member (a oneof); repeated occurrences of
// the same member merge.
absl::StatusOr<uint64_t> countMetric(std::string_view m) {
  uint64_t count = 0;
  uint32_t member = 0;
  size_t pos = 0;
  WireField f;
  while (pos < m.size()) {
    if (!nextField(m, pos, f)) return malformed("metric");
    if (f.wire_type != kLen || !isMetricData(f.number)) continue;
    if (f.number != member) {
      member = f.number;
      count = 0;
    }
    size_t p = 0;
    WireField d;
    while (p < f.bytes.size()) {
      if (!nextField(f.bytes, p, d)) return malformed("metric data");
      if (isChild(d, 1)) ++count;
    }
  }
  return count;
}

absl::StatusOr<uint64_t> countScope(Signal signal, std::string_view scope) {
  uint64_t count = 0;
  size_t pos = 0;
  WireField f;
  while (pos < scope.size()) {
    if (!nextField(scope, pos, f)) return malformed("scope");
    if (!isChild(f, 2)) continue;
    if (signal == Signal::kMetrics) {
      auto n = countMetric(f.bytes);
      if (!n.ok()) return n.status();
      count += *n;
    } else {
      ++count;
    }
  }
  return count;
}

absl::StatusOr<uint64_t> countResource(Signal signal, std::string_view resource) {
  uint64_t count = 0;
  size_t pos = 0;
  WireField f;
  while (pos < resource.size()) {
    if (!nextField(resource, pos, f)) return malformed("resource");
    if (!isChild(f, 2)) continue;
    auto n = countScope(signal, f.bytes);
    if (!n.ok()) return n.status();
    count += *n;
  }
  return count;
}

// Collects the non-child fields of a container, byte for byte.
absl::Status headerOf(std::string_view msg, uint32_t child, std::string& header,
                      std::string_view what) {
  header.clear();
  size_t pos = 0;
  WireField f;
  while (pos < msg.size()) {
    if (!nextField(msg, pos, f)) return malformed(what);
    if (!isChild(f, child)) header.append(f.whole.data(), f.whole.size());
  }
  return absl::OkStatus();
}

// Data points of the active member of a parsed Metric.
int pointCount(const mv1::Metric& m) {
  switch (m.data_case()) {
    case mv1::Metric::kGauge:
      return m.gauge().data_points_size();
    case mv1::Metric::kSum:
      return m.sum().data_points_size();
    case mv1::Metric::kHistogram:
      return m.histogram().data_points_size();
    case mv1::Metric::kExponentialHistogram:
      return m.exponential_histogram().data_points_size();
    case mv1::Metric::kSummary:
      return m.summary().data_points_size();
    default:
      return 0;
  }
}

void clearPoints(mv1::Metric& m) {
  switch (m.data_case()) {
    case mv1::Metric::kGauge:
      m.mutable_gauge()->clear_data_points();
      break;
    case mv1::Metric::kSum:
      m.mutable_sum()->clear_data_points();
      break;
    case mv1::Metric::kHistogram:
      m.mutable_histogram()->clear_data_points();
      break;
    case mv1::Metric::kExponentialHistogram:
      m.mutable_exponential_histogram()->clear_data_points();
      break;
    case mv1::Metric::kSummary:
      m.mutable_summary()->clear_data_points();
      break;
    default:
      break;
  }
}

void copyPoints(const mv1::Metric& from, mv1::Metric& to, int begin, int end) {
  for (int i = begin; i < end; ++i) {
    switch (from.data_case()) {
      case mv1::Metric::kGauge:
        *to.mutable_gauge()->add_data_points() = from.gauge().data_points(i);
        break;
      case mv1::Metric::kSum:
        *to.mutable_sum()->add_data_points() = from.sum().data_points(i);
        break;
      case mv1::Metric::kHistogram:
        *to.mutable_histogram()->add_data_points() = from.histogram().data_points(i);
        break;
      case mv1::Metric::kExponentialHistogram:
        *to.mutable_exponential_histogram()->add_data_points() =
            from.exponential_histogram().data_points(i);
        break;
      case mv1::Metric::kSummary:
        *to.mutable_summary()->add_data_points() = from.summary().data_points(i);
        break;
      default:
        break;
    }
  }
}

class Splitter {
 public:
  Splitter(Signal signal, uint64_t max_items) : signal_(signal), max_(max_items) {}

  absl::StatusOr<std::vector<SplitPiece>> run(std::string_view wire) {
    if (auto st = headerOf(wire, 1, levels_[0].header, "request"); !st.ok()) return st;
    depth_ = 0;
    size_t pos = 0;
    WireField f;
    while (pos < wire.size()) {
      if (!nextField(wire, pos, f)) return malformed("request");
      if (!isChild(f, 1)) continue;
      auto n = countResource(signal_, f.bytes);
      if (!n.ok()) return n.status();
      if (items_ + *n <= max_) {
        levels_[0].body.append(f.whole.data(), f.whole.size());
        items_ += *n;
        continue;
      }
      if (auto st = resource(f.bytes); !st.ok()) return st;
    }
    if (items_ > 0 || !levels_[0].body.empty()) flush();
    return std::move(out_);
  }

 private:
  struct Level {
    std::string header;
    std::string body;
  };
  // Field number of level L inside level L-1.
  static constexpr uint32_t kFieldInParent[3] = {0, 1, 2};

  absl::Status resource(std::string_view r) {
    if (auto st = headerOf(r, 2, levels_[1].header, "resource"); !st.ok()) return st;
    levels_[1].body.clear();
    depth_ = 1;
    size_t pos = 0;
    WireField f;
    while (pos < r.size()) {
      if (!nextField(r, pos, f)) return malformed("resource");
      if (!isChild(f, 2)) continue;
      auto n = countScope(signal_, f.bytes);
      if (!n.ok()) return n.status();
      if (items_ + *n <= max_) {
        levels_[1].body.append(f.whole.data(), f.whole.size());
        items_ += *n;
        continue;
      }
      if (auto st = scope(f.bytes); !st.ok()) return st;
    }
    close(1);
    depth_ = 0;
    return absl::OkStatus();
  }

  absl::Status scope(std::string_view s) {
    if (auto st = headerOf(s, 2, levels_[2].header, "scope"); !st.ok()) return st;
    levels_[2].body.clear();
    depth_ = 2;
    size_t pos = 0;
    WireField f;
    while (pos < s.size()) {
      if (!nextField(s, pos, f)) return malformed("scope");
      if (!isChild(f, 2)) continue;
      uint64_t n = 1;
      if (signal_ == Signal::kMetrics) {
        auto c = countMetric(f.bytes);
        if (!c.ok()) return c.status();
        n = *c;
      }
      if (items_ + n <= max_) {
        levels_[2].body.append(f.whole.data(), f.whole.size());
        items_ += n;
        continue;
      }
      if (signal_ == Signal::kMetrics) {
        if (auto st = metric(f.bytes, n); !st.ok()) return st;
        continue;
      }
      flush();  // a single span or log record: items_ == max_ here
      levels_[2].body.append(f.whole.data(), f.whole.size());
      items_ += n;
    }
    close(2);
    depth_ = 1;
    return absl::OkStatus();
  }

  // Cuts one Metric of `n` > 0 data points over as many pieces as needed.
  absl::Status metric(std::string_view bytes, uint64_t n) {
    mv1::Metric m;
    if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return absl::InvalidArgumentError("metric does not parse");
    }
    const int total = pointCount(m);
    if (static_cast<uint64_t>(total) != n) {
      return absl::InternalError(
          strCat("metric data point count mismatch: wire ", n, ", parsed ", total));
    }
    mv1::Metric base = m;
    clearPoints(base);
    int next = 0;
    std::string encoded;
    while (next < total) {
      if (items_ >= max_) {
        flush();
        continue;
      }
      int take = static_cast<int>(std::min<uint64_t>(max_ - items_, total - next));
      mv1::Metric slice = base;
      copyPoints(m, slice, next, next + take);
      encoded.clear();
      slice.SerializeToString(&encoded);
      wire::appendLenField(&levels_[2].body, 2, encoded);
      items_ += take;
      next += take;
    }
    return absl::OkStatus();
  }

  // Wraps level L's body (if any) with its header into level L-1's body.
  void close(int level) {
    Level& l = levels_[level];
    if (!l.body.empty())
      wire::appendLenField(&levels_[level - 1].body, kFieldInParent[level], l.header, l.body);
    l.body.clear();
  }

  void flush() {
    for (int level = depth_; level >= 1; --level) close(level);
    SplitPiece p;
    p.wire.reserve(levels_[0].header.size() + levels_[0].body.size());
    p.wire.append(levels_[0].header);
    p.wire.append(levels_[0].body);
    p.items = items_;
    out_.push_back(std::move(p));
    levels_[0].body.clear();
    items_ = 0;
  }

  const Signal signal_;
  const uint64_t max_;
  Level levels_[3];
  int depth_ = 0;
  uint64_t items_ = 0;
  std::vector<SplitPiece> out_;
};

}  // namespace

absl::StatusOr<uint64_t> countItems(Signal signal, std::string_view wire) {
  uint64_t count = 0;
  size_t pos = 0;
  WireField f;
  while (pos < wire.size()) {
    if (!nextField(wire, pos, f)) return malformed("request");
    if (!isChild(f, 1)) continue;
    auto n = countResource(signal, f.bytes);
    if (!n.ok()) return n.status();
    count += *n;
  }
  return count;
}

absl::StatusOr<std::vector<SplitPiece>> splitRequest(Signal signal, std::string_view wire,
                                                     uint64_t max_items) {
  std::vector<SplitPiece> out;
  if (wire.empty()) return out;
  auto total = countItems(signal, wire);
  if (!total.ok()) return total.status();
  if (max_items == 0 || *total <= max_items) {
    out.push_back(SplitPiece{std::string(wire), *total});
    return out;
  }
  return Splitter(signal, max_items).run(wire);
}

}  // namespace telegate::pdata
