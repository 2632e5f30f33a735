// otelcol.exporter.prometheus: OTLP metrics -> Prometheus samples (see prometheus.h).
#include "src/components/otelcol/exporter/prometheus/prometheus.h"

#include <google/protobuf/arena.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <unordered_map>
#include <utility>

#include "absl/strings/escaping.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "src/common/json_writer.h"
#include "src/common/label_name.h"
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/fanout.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_prometheus {
namespace {

namespace otlp_common = ::opentelemetry::proto::common::v1;
namespace otlp_metrics = ::opentelemetry::proto::metrics::v1;
using AnyValue = otlp_common::AnyValue;
using KeyValues = google::protobuf::RepeatedPtrField<otlp_common::KeyValue>;
using ExportMetricsServiceRequest =
    ::opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
using prometheus::SeriesBatch;

constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;  // Prometheus' staleness marker
constexpr uint32_t kNoRecordedValue = 1;

bool isAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// strings.FieldsFunc(s, not letter-or-digit).
std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && !isAsciiAlnum(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && isAsciiAlnum(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

std::string cleanUp(std::string_view s) {
  return strJoin(tokens(s), "_");
}

std::string_view trimSpace(std::string_view s) {
  auto sp = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && sp(s.front())) s.remove_prefix(1);
  while (!s.empty() && sp(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view mainUnit(std::string_view u) {
  static const std::map<std::string_view, std::string_view> kUnits = {{"d", "days"},
                                                                      {"h", "hours"},
                                                                      {"min", "minutes"},
                                                                      {"s", "seconds"},
                                                                      {"ms", "milliseconds"},
                                                                      {"us", "microseconds"},
                                                                      {"ns", "nanoseconds"},
                                                                      {"By", "bytes"},
                                                                      {"KiBy", "kibibytes"},
                                                                      {"MiBy", "mebibytes"},
                                                                      {"GiBy", "gibibytes"},
                                                                      {"TiBy", "tibibytes"},
                                                                      {"KBy", "kilobytes"},
                                                                      {"MBy", "megabytes"},
                                                                      {"GBy", "gigabytes"},
                                                                      {"TBy", "terabytes"},
                                                                      {"m", "meters"},
                                                                      {"V", "volts"},
                                                                      {"A", "amperes"},
                                                                      {"J", "joules"},
                                                                      {"W", "watts"},
                                                                      {"g", "grams"},
                                                                      {"Cel", "celsius"},
                                                                      {"Hz", "hertz"},
                                                                      {"1", ""},
                                                                      {"%", "percent"},
                                                                      {"$", "dollars"}};
  auto it = kUnits.find(u);
  return it == kUnits.end() ? u : it->second;
}

std::string_view perUnit(std::string_view u) {
  static const std::map<std::string_view, std::string_view> kUnits = {
      {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
      {"w", "week"},   {"mo", "month"}, {"y", "year"}};
  auto it = kUnits.find(u);
  return it == kUnits.end() ? u : it->second;
}

// strconv.FormatFloat(f, 'f', -1, 64) with Prometheus' spellings of the infinities.
std::string formatFloat(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

void appendJson(std::string* out, const AnyValue& v);

void appendJson(std::string* out, const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      json::appendString(out, v.string_value(), json::kJsonMinimal);
      return;
    case AnyValue::kBoolValue:
      out->append(v.bool_value() ? "true" : "false");
      return;
    case AnyValue::kIntValue:
      out->append(std::to_string(v.int_value()));
      return;
    case AnyValue::kDoubleValue:
      out->append(formatFloat(v.double_value()));
      return;
    case AnyValue::kBytesValue:
      json::appendString(out, absl::Base64Escape(v.bytes_value()), json::kJsonMinimal);
      return;
    case AnyValue::kArrayValue: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : v.array_value().values()) {
        if (!first) out->push_back(',');
        first = false;
        appendJson(out, item);
      }
      out->push_back(']');
      return;
    }
    case AnyValue::kKvlistValue: {
      std::map<std::string_view, const AnyValue*> sorted;
      for (const auto& kv : v.kvlist_value().values()) sorted[kv.key()] = &kv.value();
      out->push_back('{');
      bool first = true;
      for (const auto& [k, item] : sorted) {
        if (!first) out->push_back(',');
        first = false;
        json::appendString(out, k, json::kJsonMinimal);
        out->push_back(':');
        appendJson(out, *item);
      }
      out->push_back('}');
      return;
    }
    default:
      out->append("null");
  }
}

// pcommon.Value.AsString().
std::string asString(const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      return v.string_value();
    case AnyValue::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case AnyValue::kIntValue:
      return std::to_string(v.int_value());
    case AnyValue::kDoubleValue:
      return formatFloat(v.double_value());
    case AnyValue::kBytesValue:
      return absl::Base64Escape(v.bytes_value());
    case AnyValue::kArrayValue:
    case AnyValue::kKvlistValue: {
      std::string out;
      appendJson(&out, v);
      return out;
    }
    default:
      return "";
  }
}

// A label under construction: views into the request (arena), into Converter::store_ or into
// Converter::vals_.
struct LV {
  std::string_view name, value;
};

// Stable insertion sort by name (label lists are short; no allocation).
void sortByName(std::vector<LV>& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    LV x = v[i];
    size_t j = i;
    while (j > 0 && SeriesBatch::nameLess(x.name, v[j - 1].name)) {
      v[j] = v[j - 1];
      --j;
    }
    v[j] = x;
  }
}

// A Prometheus labels.Builder applied to `in` (in the order the labels were set): for each name
// the last value wins and an empty value deletes. Writes the sorted result to `out`.
void resolveLabels(std::vector<LV>& in, std::vector<LV>* out) {
  sortByName(in);
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (i + 1 < in.size() && in[i + 1].name == in[i].name) continue;  // a later set wins
    if (!in[i].value.empty()) out->push_back(in[i]);
  }
}

// Adds the labels of `fallback` whose names `base` lacks (both sorted); `base` wins.
void mergeFallback(const std::vector<LV>& base, const std::vector<LV>& fallback,
                   std::vector<LV>* out) {
  out->clear();
  size_t a = 0, b = 0;
  while (a < base.size() || b < fallback.size()) {
    if (b == fallback.size() ||
        (a < base.size() && SeriesBatch::nameLess(base[a].name, fallback[b].name))) {
      out->push_back(base[a++]);
    } else if (a == base.size() || SeriesBatch::nameLess(fallback[b].name, base[a].name)) {
      out->push_back(fallback[b++]);
    } else {
      out->push_back(base[a++]);
      ++b;
    }
  }
}

bool needsNormalizing(std::string_view name) {
  return !labels::isNormalLabelName(name);
}

// Formats like formatFloat() into buf (at least 400 bytes).
std::string_view formatFloatTo(double f, char* buf, size_t size) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  auto r = std::to_chars(buf, buf + size, f, std::chars_format::fixed);
  return std::string_view(buf, static_cast<size_t>(r.ptr - buf));
}

class Converter {
 public:
  Converter(const ConvertOptions& opts, ConvertResult* out) : opts_(opts), out_(out) {}

  void resource(const otlp_metrics::ResourceMetrics& rm) {
    resourceInfo(rm.resource().attributes());
    if (opts_.include_target_info) {
      scratch_.clear();
      scratch_.insert(scratch_.end(), res_attrs_.begin(), res_attrs_.end());
      scratch_.push_back({"job", job_});
      scratch_.push_back({"instance", instance_});
      resolveLabels(scratch_, &base_);
      emit(base_, "target_info", {}, {}, opts_.now_ms, 1);
    }
    for (const auto& sm : rm.scope_metrics()) scope(sm);
  }

 private:
  // Interns a string for the rest of the conversion.
  std::string_view keep(std::string s) {
    store_.push_back(std::move(s));
    return store_.back();
  }

  std::string_view labelName(const std::string& raw) {
    if (!needsNormalizing(raw)) return raw;
    auto it = names_.find(std::string_view(raw));
    if (it != names_.end()) return it->second;
    std::string_view n = keep(normalizeLabel(raw));
    names_.emplace(std::string_view(raw), n);
    return n;
  }

  // The value as a string: a view of the request for strings, else formatted into a buffer that
  // lives until the next data point (persistent = for the rest of the conversion).
  std::string_view valueOf(const AnyValue& v, bool persistent) {
    if (v.value_case() == AnyValue::kStringValue) return v.string_value();
    if (v.value_case() == AnyValue::VALUE_NOT_SET) return {};
    if (persistent) return keep(asString(v));
    if (vals_used_ == vals_.size()) vals_.emplace_back();
    std::string& s = vals_[vals_used_++];
    s = asString(v);
    return s;
  }

  void resourceInfo(const KeyValues& attrs) {
    std::string_view name, ns;
    bool has_name = false;
    instance_ = {};
    scratch_.clear();
    for (const auto& kv : attrs) {
      if (kv.key() == "service.name") {
        has_name = true;
        name = valueOf(kv.value(), true);
      } else if (kv.key() == "service.namespace") {
        ns = valueOf(kv.value(), true);
      } else if (kv.key() == "service.instance.id") {
        instance_ = valueOf(kv.value(), true);
      } else {
        std::string_view n = labelName(kv.key());
        if (!n.empty()) scratch_.push_back({n, valueOf(kv.value(), true)});
      }
    }
    resolveLabels(scratch_, &res_attrs_);
    if (has_name && !ns.empty()) {
      job_ = keep(strCat(ns, "/", name));
    } else if (has_name) {
      job_ = name;
    } else {
      job_ = {};
    }
  }

  void scope(const otlp_metrics::ScopeMetrics& sm) {
    scope_name_ = sm.scope().name();
    scope_version_ = sm.scope().version();
    if (opts_.include_scope_info) {
      scratch_.clear();
      for (const auto& kv : sm.scope().attributes()) {
        std::string_view n = labelName(kv.key());
        if (!n.empty()) scratch_.push_back({n, valueOf(kv.value(), true)});
      }
      scratch_.push_back({"otel_scope_name", scope_name_});
      scratch_.push_back({"otel_scope_version", scope_version_});
      scratch_.push_back({"job", job_});
      scratch_.push_back({"instance", instance_});
      resolveLabels(scratch_, &base_);
      emit(base_, "otel_scope_info", {}, {}, opts_.now_ms, 1);
    }
    for (const auto& metric : sm.metrics()) this->metric(metric);
  }

  // The labels of a data point's series (without __name__) into base_.
  void seriesLabels(const KeyValues& attrs) {
    vals_used_ = 0;
    scratch_.clear();
    for (const auto& kv : attrs) {
      std::string_view n = labelName(kv.key());
      if (!n.empty()) scratch_.push_back({n, valueOf(kv.value(), false)});
    }
    if (opts_.include_scope_labels) {
      scratch_.push_back({"otel_scope_name", scope_name_});
      scratch_.push_back({"otel_scope_version", scope_version_});
    }
    scratch_.push_back({"job", job_});
    scratch_.push_back({"instance", instance_});
    if (opts_.resource_to_telemetry_conversion && !res_attrs_.empty()) {
      resolveLabels(scratch_, &merged_);
      mergeFallback(merged_, res_attrs_, &base_);  // data point attributes win
    } else {
      resolveLabels(scratch_, &base_);
    }
  }

  int64_t timestampMs(uint64_t ns) const {
    return ns == 0 ? opts_.now_ms : static_cast<int64_t>(ns / 1000000);
  }

  // One series: `base` (sorted) with __name__ = name and, when extra_name is not empty,
  // extra_name = extra_value (both replace labels of the same name), and one sample.
  void emit(const std::vector<LV>& base, std::string_view name, std::string_view extra_name,
            std::string_view extra_value, int64_t ts, double v) {
    LV over[2];
    size_t n_over = 0;
    over[n_over++] = {"__name__", name};
    if (!extra_name.empty()) {
      if (SeriesBatch::nameLess(extra_name, over[0].name)) {
        over[1] = over[0];
        over[0] = {extra_name, extra_value};
      } else {
        over[n_over] = {extra_name, extra_value};
      }
      n_over = 2;
    }
    SeriesBatch& b = out_->batch;
    b.beginSeries();
    size_t o = 0;
    for (const LV& l : base) {
      while (o < n_over && SeriesBatch::nameLess(over[o].name, l.name)) {
        b.addLabel(over[o].name, over[o].value);
        ++o;
      }
      if (o < n_over && over[o].name == l.name) continue;  // replaced
      b.addLabel(l.name, l.value);
    }
    for (; o < n_over; ++o) b.addLabel(over[o].name, over[o].value);
    b.addSample(ts, v);
  }

  static double pointValue(const otlp_metrics::NumberDataPoint& dp) {
    if (dp.flags() & kNoRecordedValue) return std::bit_cast<double>(kStaleNaNBits);
    return dp.value_case() == otlp_metrics::NumberDataPoint::kAsInt
               ? static_cast<double>(dp.as_int())
               : dp.as_double();
  }

  void numberPoints(const google::protobuf::RepeatedPtrField<otlp_metrics::NumberDataPoint>& pts,
                    const std::string& name) {
    for (const auto& dp : pts) {
      seriesLabels(dp.attributes());
      emit(base_, name, {}, {}, timestampMs(dp.time_unix_nano()), pointValue(dp));
    }
  }

  static uint64_t pointCount(const otlp_metrics::Metric& m) {
    switch (m.data_case()) {
      case otlp_metrics::Metric::kGauge:
        return m.gauge().data_points_size();
      case otlp_metrics::Metric::kSum:
        return m.sum().data_points_size();
      case otlp_metrics::Metric::kHistogram:
        return m.histogram().data_points_size();
      case otlp_metrics::Metric::kSummary:
        return m.summary().data_points_size();
      case otlp_metrics::Metric::kExponentialHistogram:
        return m.exponential_histogram().data_points_size();
      default:
        return 0;
    }
  }

  void metric(const otlp_metrics::Metric& metric) {
    const bool sfx = opts_.add_metric_suffixes;
    // A name with no valid character would make the receiver refuse the whole request.
    if (buildMetricName(metric.name(), "", NameKind::kOther, false).empty()) {
      out_->dropped_invalid += pointCount(metric);
      return;
    }
    switch (metric.data_case()) {
      case otlp_metrics::Metric::kGauge:
        numberPoints(metric.gauge().data_points(),
                     buildMetricName(metric.name(), metric.unit(), NameKind::kGauge, sfx));
        return;
      case otlp_metrics::Metric::kSum: {
        const auto& sum = metric.sum();
        if (sum.aggregation_temporality() != otlp_metrics::AGGREGATION_TEMPORALITY_CUMULATIVE) {
          out_->dropped_delta += sum.data_points_size();
          return;
        }
        auto kind = sum.is_monotonic() ? NameKind::kMonotonicSum : NameKind::kOther;
        numberPoints(sum.data_points(), buildMetricName(metric.name(), metric.unit(), kind, sfx));
        return;
      }
      case otlp_metrics::Metric::kHistogram: {
        const auto& h = metric.histogram();
        if (h.aggregation_temporality() != otlp_metrics::AGGREGATION_TEMPORALITY_CUMULATIVE) {
          out_->dropped_delta += h.data_points_size();
          return;
        }
        const std::string name =
            buildMetricName(metric.name(), metric.unit(), NameKind::kOther, sfx);
        const Names names{name + "_sum", name + "_count", name + "_bucket"};
        for (const auto& dp : h.data_points()) histogramPoint(dp, names);
        return;
      }
      case otlp_metrics::Metric::kSummary: {
        const std::string name =
            buildMetricName(metric.name(), metric.unit(), NameKind::kOther, sfx);
        const Names names{name + "_sum", name + "_count", name};
        for (const auto& dp : metric.summary().data_points()) summaryPoint(dp, names);
        return;
      }
      case otlp_metrics::Metric::kExponentialHistogram:
        out_->dropped_exponential += metric.exponential_histogram().data_points_size();
        return;
      default:
        return;
    }
  }

  struct Names {
    std::string sum, count, other;  // other: _bucket for histograms, the plain name for summaries
  };

  void histogramPoint(const otlp_metrics::HistogramDataPoint& dp, const Names& names) {
    const int64_t ts = timestampMs(dp.time_unix_nano());
    const bool stale = dp.flags() & kNoRecordedValue;
    auto val = [stale](double v) { return stale ? std::bit_cast<double>(kStaleNaNBits) : v; };
    seriesLabels(dp.attributes());
    if (dp.has_sum()) emit(base_, names.sum, {}, {}, ts, val(dp.sum()));
    emit(base_, names.count, {}, {}, ts, val(static_cast<double>(dp.count())));
    uint64_t cumulative = 0;
    char buf[400];
    for (int i = 0; i < dp.explicit_bounds_size() && i < dp.bucket_counts_size(); ++i) {
      cumulative += dp.bucket_counts(i);
      emit(base_, names.other, "le", formatFloatTo(dp.explicit_bounds(i), buf, sizeof(buf)), ts,
           val(static_cast<double>(cumulative)));
    }
    emit(base_, names.other, "le", "+Inf", ts, val(static_cast<double>(dp.count())));
  }

  void summaryPoint(const otlp_metrics::SummaryDataPoint& dp, const Names& names) {
    const int64_t ts = timestampMs(dp.time_unix_nano());
    const bool stale = dp.flags() & kNoRecordedValue;
    auto val = [stale](double v) { return stale ? std::bit_cast<double>(kStaleNaNBits) : v; };
    seriesLabels(dp.attributes());
    emit(base_, names.sum, {}, {}, ts, val(dp.sum()));
    emit(base_, names.count, {}, {}, ts, val(static_cast<double>(dp.count())));
    char buf[400];
    for (const auto& q : dp.quantile_values()) {
      emit(base_, names.other, "quantile", formatFloatTo(q.quantile(), buf, sizeof(buf)), ts,
           val(q.value()));
    }
  }

  const ConvertOptions& opts_;
  ConvertResult* out_;
  std::deque<std::string> store_;  // interned names and resource-level values
  std::unordered_map<std::string_view, std::string_view> names_;  // raw attribute key -> label
  std::deque<std::string> vals_;  // per data point formatted values (reused)
  size_t vals_used_ = 0;
  std::vector<LV> scratch_, base_, merged_, res_attrs_;
  std::string_view job_, instance_;
  std::string_view scope_name_, scope_version_;
};
int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string normalizeLabel(std::string_view name) {
  return labels::normalizeLabelName(name);
}

std::string buildMetricName(std::string_view name, std::string_view unit, NameKind kind,
                            bool add_suffixes) {
  if (!add_suffixes) {
    std::string out;
    bool pending = false;
    for (char c : name) {
      bool ok = isAsciiAlnum(c) || c == '_' || c == ':';
      if (!ok) {
        pending = !out.empty();
        continue;
      }
      if (pending) out.push_back('_');
      pending = false;
      out.push_back(c);
    }
    if (!out.empty() && isDigit(out[0])) out.insert(out.begin(), '_');
    return out;
  }
  std::vector<std::string> toks;
  for (auto t : tokens(name)) toks.emplace_back(t);
  auto contains = [&toks](std::string_view t) {
    return std::find(toks.begin(), toks.end(), t) != toks.end();
  };
  size_t slash = unit.find('/');
  std::string_view main_unit = trimSpace(unit.substr(0, slash));
  if (!main_unit.empty() && main_unit.find_first_of("{}") == std::string_view::npos) {
    std::string prom = cleanUp(mainUnit(main_unit));
    if (!prom.empty() && !contains(prom)) toks.push_back(std::move(prom));
  }
  if (slash != std::string_view::npos) {
    std::string_view per = trimSpace(unit.substr(slash + 1));
    if (!per.empty() && per.find_first_of("{}") == std::string_view::npos) {
      std::string prom = cleanUp(perUnit(per));
      if (!prom.empty() && !contains(prom)) {
        toks.emplace_back("per");
        toks.push_back(std::move(prom));
      }
    }
  }
  auto moveToEnd = [&toks](const char* suffix) {
    toks.erase(std::remove(toks.begin(), toks.end(), suffix), toks.end());
    toks.emplace_back(suffix);
  };
  if (kind == NameKind::kMonotonicSum) moveToEnd("total");
  if (unit == "1" && kind == NameKind::kGauge) moveToEnd("ratio");
  std::string out = strJoin(toks, "_");
  if (!out.empty() && isDigit(out[0])) out.insert(out.begin(), '_');
  return out;
}

absl::StatusOr<ConvertResult> convertMetrics(std::string_view payload, const ConvertOptions& opts) {
  google::protobuf::Arena arena;
  auto* req = google::protobuf::Arena::CreateMessage<ExportMetricsServiceRequest>(&arena);
  if (!req->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::InvalidArgumentError(
        "otelcol.exporter.prometheus: malformed ExportMetricsServiceRequest");
  }
  ConvertOptions o = opts;
  if (o.now_ms == 0) o.now_ms = nowMs();
  ConvertResult result;
  result.batch = SeriesBatch::acquire();
  // Reserve the batch's buffers from the shape of the previous conversions (per payload byte), so
  // that the multi-megabyte label buffer is not grown (copied, page-faulted) several times.
  static std::atomic<uint64_t> series_per_mib{16 << 10}, labels_per_series{8},
      bytes_per_series{160};
  const uint64_t est_series =
      payload.size() * series_per_mib.load(std::memory_order_relaxed) / (1 << 20) + 16;
  const uint64_t margin = est_series + est_series / 8;
  result.batch.reserve(margin, margin * labels_per_series.load(std::memory_order_relaxed), margin,
                       margin * bytes_per_series.load(std::memory_order_relaxed));
  Converter conv(o, &result);
  for (const auto& rm : req->resource_metrics()) conv.resource(rm);
  const SeriesBatch& b = result.batch;
  if (b.seriesCount() > 0 && !payload.empty()) {
    series_per_mib.store(b.seriesCount() * (1 << 20) / payload.size() + 1,
                         std::memory_order_relaxed);
    labels_per_series.store(b.labelRefs().size() / b.seriesCount() + 1, std::memory_order_relaxed);
    bytes_per_series.store(b.bytes().size() / b.seriesCount() + 1, std::memory_order_relaxed);
  }
  return result;
}

// ---- Consumer --------------------------------------------------------------------------------

PrometheusConsumer::PrometheusConsumer(std::string id, metrics::Registry& metrics,
                                       const log::Logger& logger)
    : id_(std::move(id)), logger_(logger), config_(std::make_shared<Config>()) {
  samples_ = &metrics
                  .counter("telegate_otelcol_exporter_prometheus_samples_total",
                           "Samples converted from OTLP metrics and appended.", {"component_id"})
                  .with({id_});
  refused_ = &metrics
                  .counter("telegate_otelcol_exporter_prometheus_refused_samples_total",
                           "Samples refused by a forward_to receiver (returned to the sender "
                           "for retry).",
                           {"component_id"})
                  .with({id_});
  auto& dropped =
      metrics.counter("telegate_otelcol_exporter_prometheus_dropped_points_total",
                      "OTLP data points not converted, by reason.", {"component_id", "reason"});
  dropped_delta_ = &dropped.with({id_, "delta_temporality"});
  dropped_exponential_ = &dropped.with({id_, "exponential_histogram"});
  dropped_invalid_ = &dropped.with({id_, "invalid_name"});
  malformed_ = &dropped.with({id_, "malformed_payload"});
}

void PrometheusConsumer::configure(const Arguments& args) {
  auto cfg = std::make_shared<Config>();
  for (const auto& r : args.forward_to) {
    if (r.ptr) cfg->receivers.push_back(r.ptr);
  }
  cfg->opts.include_target_info = args.include_target_info;
  cfg->opts.include_scope_info = args.include_scope_info;
  cfg->opts.include_scope_labels = args.include_scope_labels;
  cfg->opts.add_metric_suffixes = args.add_metric_suffixes;
  cfg->opts.resource_to_telemetry_conversion = args.resource_to_telemetry_conversion;
  std::lock_guard<std::mutex> lock(mu_);
  config_ = std::move(cfg);
}

std::shared_ptr<const PrometheusConsumer::Config> PrometheusConsumer::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

bool PrometheusConsumer::durable(pdata::Signal s) const {
  if (s != pdata::Signal::kMetrics) return false;
  auto cfg = config();
  if (cfg == nullptr || cfg->receivers.empty()) return false;
  for (const auto& r : cfg->receivers) {
    if (!r->durable()) return false;
  }
  return true;
}

absl::Status PrometheusConsumer::consume(pdata::Batch&& batch) {
  if (batch.signal != pdata::Signal::kMetrics) {
    return absl::UnimplementedError(strCat(id_, " accepts metrics only"));
  }
  auto cfg = config();
  auto converted = convertMetrics(batch.payload, cfg->opts);
  if (!converted.ok()) {
    malformed_->inc(static_cast<double>(batch.items));
    return converted.status();
  }
  if (converted->dropped_delta > 0 || converted->dropped_exponential > 0 ||
      converted->dropped_invalid > 0) {
    dropped_delta_->inc(static_cast<double>(converted->dropped_delta));
    dropped_exponential_->inc(static_cast<double>(converted->dropped_exponential));
    dropped_invalid_->inc(static_cast<double>(converted->dropped_invalid));
    if (drop_log_.shouldLog()) {
      logger_.warn("dropped data points that cannot be converted to Prometheus samples",
                   {{"delta_temporality", std::to_string(converted->dropped_delta)},
                    {"exponential_histogram", std::to_string(converted->dropped_exponential)},
                    {"invalid_name", std::to_string(converted->dropped_invalid)}});
    }
  }
  prometheus::SeriesBatch& samples = converted->batch;
  if (samples.empty()) return absl::OkStatus();
  const size_t n = samples.sampleCount();
  size_t refused_by = 0;
  absl::Status st = components::fanOut(
      cfg->receivers, std::move(samples),
      [](const auto& r, prometheus::SeriesBatch&& items) { return r->append(std::move(items)); },
      &refused_by);
  if (!st.ok()) {
    refused_->inc(static_cast<double>(n));
    if (refuse_log_.shouldLog()) {
      logger_.warn("a forward_to receiver refused samples; returning the error to the sender",
                   {{"receiver", cfg->receivers[refused_by]->describe()},
                    {"err", std::string(st.message())}});
    }
    return st;
  }
  samples_->inc(static_cast<double>(n));
  return absl::OkStatus();
}

}  // namespace telegate::otelcol::exporter_prometheus

namespace telegate::components {
void registerOtelcolExporterPrometheus() {
  runtime::registerComponent<otelcol::exporter_prometheus::Component>(
      "otelcol.exporter.prometheus", "Converts OTLP metrics to Prometheus samples.",
      {{"input", "capsule(otelcol.Consumer)", "where to send metrics to be converted"}});
}
}  // namespace telegate::components
