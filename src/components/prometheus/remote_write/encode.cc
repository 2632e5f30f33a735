// Write-ahead record of a SeriesBatch (see encode.h).
#include "src/components/prometheus/remote_write/encode.h"

namespace telegate::prometheus::remote_write {
namespace {

// ---- write-ahead record of a SeriesBatch ------------------------------------------------------
//   [magic u32 "TGRW"][series u32][labels u32][points u32][bytes u32]
//   [SeriesRef x series][LabelRef x labels][Point x points][label bytes]
// in the host's byte order (the queue is local to the machine).

constexpr uint32_t kRecordMagic = 0x57524754;  // "TGRW"
constexpr size_t kRecordHeader = 20;

}  // namespace

std::string encodeRecord(const SeriesBatch& b) {
  const auto& series = b.seriesRefs();
  const auto& labels = b.labelRefs();
  const auto& points = b.pointList();
  const std::string& bytes = b.bytes();
  const uint32_t head[5] = {
      kRecordMagic, static_cast<uint32_t>(series.size()), static_cast<uint32_t>(labels.size()),
      static_cast<uint32_t>(points.size()), static_cast<uint32_t>(bytes.size())};
  std::string out;  // reserve + append: no zero-filling of a buffer about to be overwritten
  out.reserve(kRecordHeader + series.size() * sizeof(SeriesBatch::SeriesRef) +
              labels.size() * sizeof(SeriesBatch::LabelRef) +
              points.size() * sizeof(SeriesBatch::Point) + bytes.size());
  auto put = [&out](const void* src, size_t n) { out.append(static_cast<const char*>(src), n); };
  put(head, sizeof(head));
  put(series.data(), series.size() * sizeof(SeriesBatch::SeriesRef));
  put(labels.data(), labels.size() * sizeof(SeriesBatch::LabelRef));
  put(points.data(), points.size() * sizeof(SeriesBatch::Point));
  put(bytes.data(), bytes.size());
  return out;
}

absl::StatusOr<SeriesBatch> decodeRecord(std::string_view rec) {
  if (rec.size() < kRecordHeader) return absl::DataLossError("record too short");
  uint32_t head[5];
  std::memcpy(head, rec.data(), sizeof(head));
  if (head[0] != kRecordMagic) return absl::DataLossError("bad record magic");
  const uint64_t ns = head[1], nl = head[2], np = head[3], nb = head[4];
  const uint64_t want = kRecordHeader + ns * sizeof(SeriesBatch::SeriesRef) +
                        nl * sizeof(SeriesBatch::LabelRef) + np * sizeof(SeriesBatch::Point) + nb;
  if (want != rec.size()) return absl::DataLossError("record size mismatch");
  SeriesBatch b;
  const char* p = rec.data() + kRecordHeader;
  auto& series = b.mutableSeriesRefs();
  auto& labels = b.mutableLabelRefs();
  auto& points = b.mutablePointList();
  series.resize(ns);
  labels.resize(nl);
  points.resize(np);
  auto get = [&p](void* dst, size_t n) {
    if (n > 0) std::memcpy(dst, p, n);
    p += n;
  };
  get(series.data(), ns * sizeof(SeriesBatch::SeriesRef));
  get(labels.data(), nl * sizeof(SeriesBatch::LabelRef));
  get(points.data(), np * sizeof(SeriesBatch::Point));
  b.mutableBytes().assign(p, nb);
  for (const auto& s : series) {
    if (uint64_t{s.first_label} + s.label_count > nl ||
        uint64_t{s.first_sample} + s.sample_count > np) {
      return absl::DataLossError("series out of bounds");
    }
  }
  for (const auto& l : labels) {
    if (uint64_t{l.name_off} + l.name_len > nb || uint64_t{l.value_off} + l.value_len > nb) {
      return absl::DataLossError("label out of bounds");
    }
  }
  for (const auto& s : series) {  // SeriesBatch::hash() reads a series' label bytes as one range
    if (s.label_count == 0) continue;
    const auto& first = labels[s.first_label];
    const auto& last = labels[s.first_label + s.label_count - 1];
    if (uint64_t{last.value_off} + last.value_len < first.name_off) {
      return absl::DataLossError("label bytes out of order");
    }
  }
  return b;
}

}  // namespace telegate::prometheus::remote_write
