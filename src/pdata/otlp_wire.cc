// checkAndCount(): a schema-aware protobuf wire-format walker for OTLP export requests, and the
// OTLP schema tables it shares with the JSON decoder (otlp_json_decode.cc).
//
// The walker never allocates on success. It follows protobuf's parsing semantics wherever they
// decide what a downstream ParseFromString() sees: a known field number with a mismatched wire type
// is an unknown field (skipped), repeated scalars may be packed or not, a later member of a oneof
// clears the earlier one (so Metric.data counts only the points of the surviving member), and
// repeated occurrences of a singular message field merge. It is stricter than protobuf in a few
// places (groups, over-long varints, trace/span id lengths); see otlp_decode.h.
#include <simdjson.h>

#include <cstring>

#include "src/common/strings.h"
#include "src/pdata/otlp_decode.h"
#include "src/pdata/wire.h"

namespace telegate::pdata {

// ---------------------------------------------------------------------------------------------
// Schema tables.
namespace otlp_schema {
namespace {

constexpr Field msgF(std::string_view n, std::string_view j, uint32_t num, const Message* m,
                     bool repeated = false, bool presence = false) {
  return Field{n, j, num, Kind::kMessage, repeated, presence, m, nullptr};
}
constexpr Field scalarF(std::string_view n, std::string_view j, uint32_t num, Kind k,
                        bool repeated = false, bool presence = false) {
  return Field{n, j, num, k, repeated, presence, nullptr, nullptr};
}
constexpr Field enumF(std::string_view n, std::string_view j, uint32_t num, const Enum* e) {
  return Field{n, j, num, Kind::kEnum, false, false, nullptr, e};
}
constexpr bool kRep = true;
constexpr bool kOneof = true;

template <size_t N>
constexpr Message makeMessage(std::string_view name, const Field (&fields)[N], bool is_item = false,
                              bool is_any_value = false) {
  Message m{name, fields, static_cast<uint32_t>(N), is_item, is_any_value, {}};
  for (auto& b : m.by_number) b = -1;
  for (size_t i = 0; i < N; ++i) m.by_number[fields[i].number] = static_cast<int8_t>(i);
  return m;
}

// Enums.
constexpr EnumValue kSeverityNumberValues[] = {
    {"SEVERITY_NUMBER_UNSPECIFIED", 0}, {"SEVERITY_NUMBER_TRACE", 1},
    {"SEVERITY_NUMBER_TRACE2", 2},      {"SEVERITY_NUMBER_TRACE3", 3},
    {"SEVERITY_NUMBER_TRACE4", 4},      {"SEVERITY_NUMBER_DEBUG", 5},
    {"SEVERITY_NUMBER_DEBUG2", 6},      {"SEVERITY_NUMBER_DEBUG3", 7},
    {"SEVERITY_NUMBER_DEBUG4", 8},      {"SEVERITY_NUMBER_INFO", 9},
    {"SEVERITY_NUMBER_INFO2", 10},      {"SEVERITY_NUMBER_INFO3", 11},
    {"SEVERITY_NUMBER_INFO4", 12},      {"SEVERITY_NUMBER_WARN", 13},
    {"SEVERITY_NUMBER_WARN2", 14},      {"SEVERITY_NUMBER_WARN3", 15},
    {"SEVERITY_NUMBER_WARN4", 16},      {"SEVERITY_NUMBER_ERROR", 17},
    {"SEVERITY_NUMBER_ERROR2", 18},     {"SEVERITY_NUMBER_ERROR3", 19},
    {"SEVERITY_NUMBER_ERROR4", 20},     {"SEVERITY_NUMBER_FATAL", 21},
    {"SEVERITY_NUMBER_FATAL2", 22},     {"SEVERITY_NUMBER_FATAL3", 23},
    {"SEVERITY_NUMBER_FATAL4", 24},
};
constexpr Enum kSeverityNumber{kSeverityNumberValues, std::size(kSeverityNumberValues)};
constexpr EnumValue kSpanKindValues[] = {
    {"SPAN_KIND_UNSPECIFIED", 0}, {"SPAN_KIND_INTERNAL", 1}, {"SPAN_KIND_SERVER", 2},
    {"SPAN_KIND_CLIENT", 3},      {"SPAN_KIND_PRODUCER", 4}, {"SPAN_KIND_CONSUMER", 5},
};
constexpr Enum kSpanKind{kSpanKindValues, std::size(kSpanKindValues)};
constexpr EnumValue kStatusCodeValues[] = {
    {"STATUS_CODE_UNSET", 0}, {"STATUS_CODE_OK", 1}, {"STATUS_CODE_ERROR", 2}};
constexpr Enum kStatusCode{kStatusCodeValues, std::size(kStatusCodeValues)};
constexpr EnumValue kTemporalityValues[] = {{"AGGREGATION_TEMPORALITY_UNSPECIFIED", 0},
                                            {"AGGREGATION_TEMPORALITY_DELTA", 1},
                                            {"AGGREGATION_TEMPORALITY_CUMULATIVE", 2}};
constexpr Enum kTemporality{kTemporalityValues, std::size(kTemporalityValues)};

// Messages are declared first so that field tables can point at them (AnyValue is recursive).
extern const Message kAnyValue, kArrayValue, kKeyValueList, kKeyValue, kEntityRef, kScope,
    kResource;
extern const Message kLogsRequest, kResourceLogs, kScopeLogs, kLogRecord;
extern const Message kTraceRequest, kResourceSpans, kScopeSpans, kSpan, kSpanEvent, kSpanLink,
    kSpanStatus;
extern const Message kMetricsRequest, kResourceMetrics, kScopeMetrics, kMetric, kGauge, kSum,
    kHistogram, kExpHistogram, kSummary, kNumberDataPoint, kHistogramDataPoint,
    kExpHistogramDataPoint, kBuckets, kSummaryDataPoint, kValueAtQuantile, kExemplar;

// common.proto / resource.proto
constexpr Field kAnyValueFields[] = {
    scalarF("string_value", "stringValue", 1, Kind::kString, false, kOneof),
    scalarF("bool_value", "boolValue", 2, Kind::kBool, false, kOneof),
    scalarF("int_value", "intValue", 3, Kind::kInt64, false, kOneof),
    scalarF("double_value", "doubleValue", 4, Kind::kDouble, false, kOneof),
    msgF("array_value", "arrayValue", 5, &kArrayValue, false, kOneof),
    msgF("kvlist_value", "kvlistValue", 6, &kKeyValueList, false, kOneof),
    scalarF("bytes_value", "bytesValue", 7, Kind::kBytes, false, kOneof),
    scalarF("string_value_strindex", "stringValueStrindex", 8, Kind::kInt32, false, kOneof),
};
constexpr Field kArrayValueFields[] = {msgF("values", "values", 1, &kAnyValue, kRep)};
constexpr Field kKeyValueListFields[] = {msgF("values", "values", 1, &kKeyValue, kRep)};
constexpr Field kKeyValueFields[] = {
    scalarF("key", "key", 1, Kind::kString),
    msgF("value", "value", 2, &kAnyValue),
    scalarF("key_strindex", "keyStrindex", 3, Kind::kInt32),
};
constexpr Field kEntityRefFields[] = {
    scalarF("schema_url", "schemaUrl", 1, Kind::kString),
    scalarF("type", "type", 2, Kind::kString),
    scalarF("id_keys", "idKeys", 3, Kind::kString, kRep),
    scalarF("description_keys", "descriptionKeys", 4, Kind::kString, kRep),
};
constexpr Field kScopeFields[] = {
    scalarF("name", "name", 1, Kind::kString),
    scalarF("version", "version", 2, Kind::kString),
    msgF("attributes", "attributes", 3, &kKeyValue, kRep),
    scalarF("dropped_attributes_count", "droppedAttributesCount", 4, Kind::kUInt32),
};
constexpr Field kResourceFields[] = {
    msgF("attributes", "attributes", 1, &kKeyValue, kRep),
    scalarF("dropped_attributes_count", "droppedAttributesCount", 2, Kind::kUInt32),
    msgF("entity_refs", "entityRefs", 3, &kEntityRef, kRep),
};

// logs.proto
constexpr Field kLogsRequestFields[] = {
    msgF("resource_logs", "resourceLogs", 1, &kResourceLogs, kRep)};
constexpr Field kResourceLogsFields[] = {
    msgF("resource", "resource", 1, &kResource),
    msgF("scope_logs", "scopeLogs", 2, &kScopeLogs, kRep),
    scalarF("schema_url", "schemaUrl", 3, Kind::kString),
};
constexpr Field kScopeLogsFields[] = {
    msgF("scope", "scope", 1, &kScope),
    msgF("log_records", "logRecords", 2, &kLogRecord, kRep),
    scalarF("schema_url", "schemaUrl", 3, Kind::kString),
};
constexpr Field kLogRecordFields[] = {
    scalarF("time_unix_nano", "timeUnixNano", 1, Kind::kFixed64),
    enumF("severity_number", "severityNumber", 2, &kSeverityNumber),
    scalarF("severity_text", "severityText", 3, Kind::kString),
    msgF("body", "body", 5, &kAnyValue),
    msgF("attributes", "attributes", 6, &kKeyValue, kRep),
    scalarF("dropped_attributes_count", "droppedAttributesCount", 7, Kind::kUInt32),
    scalarF("flags", "flags", 8, Kind::kFixed32),
    scalarF("trace_id", "traceId", 9, Kind::kTraceId),
    scalarF("span_id", "spanId", 10, Kind::kSpanId),
    scalarF("observed_time_unix_nano", "observedTimeUnixNano", 11, Kind::kFixed64),
    scalarF("event_name", "eventName", 12, Kind::kString),
};

// trace.proto
constexpr Field kTraceRequestFields[] = {
    msgF("resource_spans", "resourceSpans", 1, &kResourceSpans, kRep)};
constexpr Field kResourceSpansFields[] = {
    msgF("resource", "resource", 1, &kResource),
    msgF("scope_spans", "scopeSpans", 2, &kScopeSpans, kRep),
    scalarF("schema_url", "schemaUrl", 3, Kind::kString),
};
constexpr Field kScopeSpansFields[] = {
    msgF("scope", "scope", 1, &kScope),
    msgF("spans", "spans", 2, &kSpan, kRep),
    scalarF("schema_url", "schemaUrl", 3, Kind::kString),
};
constexpr Field kSpanFields[] = {
    scalarF("trace_id", "traceId", 1, Kind::kTraceId),
    scalarF("span_id", "spanId", 2, Kind::kSpanId),
    scalarF("trace_state", "traceState", 3, Kind::kString),
    scalarF("parent_span_id", "parentSpanId", 4, Kind::kSpanId),
    scalarF("name", "name", 5, Kind::kString),
    enumF("kind", "kind", 6, &kSpanKind),
    scalarF("start_time_unix_nano", "startTimeUnixNano", 7, Kind::kFixed64),
    scalarF("end_time_unix_nano", "endTimeUnixNano", 8, Kind::kFixed64),
    msgF("attributes", "attributes", 9, &kKeyValue, kRep),
    scalarF("dropped_attributes_count", "droppedAttributesCount", 10, Kind::kUInt32),
    msgF("events", "events", 11, &kSpanEvent, kRep),
    scalarF("dropped_events_count", "droppedEventsCount", 12, Kind::kUInt32),
    msgF("links", "links", 13, &kSpanLink, kRep),
    scalarF("dropped_links_count", "droppedLinksCount", 14, Kind::kUInt32),
    msgF("status", "status", 15, &kSpanStatus),
    scalarF("flags", "flags", 16, Kind::kFixed32),
};
constexpr Field kSpanEventFields[] = {
    scalarF("time_unix_nano", "timeUnixNano", 1, Kind::kFixed64),
    scalarF("name", "name", 2, Kind::kString),
    msgF("attributes", "attributes", 3, &kKeyValue, kRep),
    scalarF("dropped_attributes_count", "droppedAttributesCount", 4, Kind::kUInt32),
};
constexpr Field kSpanLinkFields[] = {
    scalarF("trace_id", "traceId", 1, Kind::kTraceId),
    scalarF("span_id", "spanId", 2, Kind::kSpanId),
    scalarF("trace_state", "traceState", 3, Kind::kString),
    msgF("attributes", "attributes", 4, &kKeyValue, kRep),
    scalarF("dropped_attributes_count", "droppedAttributesCount", 5, Kind::kUInt32),
    scalarF("flags", "flags", 6, Kind::kFixed32),
};
constexpr Field kSpanStatusFields[] = {
    scalarF("message", "message", 2, Kind::kString),
    enumF("code", "code", 3, &kStatusCode),
};

// metrics.proto
constexpr Field kMetricsRequestFields[] = {
    msgF("resource_metrics", "resourceMetrics", 1, &kResourceMetrics, kRep)};
constexpr Field kResourceMetricsFields[] = {
    msgF("resource", "resource", 1, &kResource),
    msgF("scope_metrics", "scopeMetrics", 2, &kScopeMetrics, kRep),
    scalarF("schema_url", "schemaUrl", 3, Kind::kString),
};
constexpr Field kScopeMetricsFields[] = {
    msgF("scope", "scope", 1, &kScope),
    msgF("metrics", "metrics", 2, &kMetric, kRep),
    scalarF("schema_url", "schemaUrl", 3, Kind::kString),
};
constexpr Field kMetricFields[] = {
    scalarF("name", "name", 1, Kind::kString),
    scalarF("description", "description", 2, Kind::kString),
    scalarF("unit", "unit", 3, Kind::kString),
    msgF("gauge", "gauge", 5, &kGauge, false, kOneof),
    msgF("sum", "sum", 7, &kSum, false, kOneof),
    msgF("histogram", "histogram", 9, &kHistogram, false, kOneof),
    msgF("exponential_histogram", "exponentialHistogram", 10, &kExpHistogram, false, kOneof),
    msgF("summary", "summary", 11, &kSummary, false, kOneof),
    msgF("metadata", "metadata", 12, &kKeyValue, kRep),
};
constexpr Field kGaugeFields[] = {msgF("data_points", "dataPoints", 1, &kNumberDataPoint, kRep)};
constexpr Field kSumFields[] = {
    msgF("data_points", "dataPoints", 1, &kNumberDataPoint, kRep),
    enumF("aggregation_temporality", "aggregationTemporality", 2, &kTemporality),
    scalarF("is_monotonic", "isMonotonic", 3, Kind::kBool),
};
constexpr Field kHistogramFields[] = {
    msgF("data_points", "dataPoints", 1, &kHistogramDataPoint, kRep),
    enumF("aggregation_temporality", "aggregationTemporality", 2, &kTemporality),
};
constexpr Field kExpHistogramFields[] = {
    msgF("data_points", "dataPoints", 1, &kExpHistogramDataPoint, kRep),
    enumF("aggregation_temporality", "aggregationTemporality", 2, &kTemporality),
};
constexpr Field kSummaryFields[] = {msgF("data_points", "dataPoints", 1, &kSummaryDataPoint, kRep)};
constexpr Field kNumberDataPointFields[] = {
    scalarF("start_time_unix_nano", "startTimeUnixNano", 2, Kind::kFixed64),
    scalarF("time_unix_nano", "timeUnixNano", 3, Kind::kFixed64),
    scalarF("as_double", "asDouble", 4, Kind::kDouble, false, kOneof),
    msgF("exemplars", "exemplars", 5, &kExemplar, kRep),
    scalarF("as_int", "asInt", 6, Kind::kSFixed64, false, kOneof),
    msgF("attributes", "attributes", 7, &kKeyValue, kRep),
    scalarF("flags", "flags", 8, Kind::kUInt32),
};
constexpr Field kHistogramDataPointFields[] = {
    scalarF("start_time_unix_nano", "startTimeUnixNano", 2, Kind::kFixed64),
    scalarF("time_unix_nano", "timeUnixNano", 3, Kind::kFixed64),
    scalarF("count", "count", 4, Kind::kFixed64),
    scalarF("sum", "sum", 5, Kind::kDouble, false, kOneof),
    scalarF("bucket_counts", "bucketCounts", 6, Kind::kFixed64, kRep),
    scalarF("explicit_bounds", "explicitBounds", 7, Kind::kDouble, kRep),
    msgF("exemplars", "exemplars", 8, &kExemplar, kRep),
    msgF("attributes", "attributes", 9, &kKeyValue, kRep),
    scalarF("flags", "flags", 10, Kind::kUInt32),
    scalarF("min", "min", 11, Kind::kDouble, false, kOneof),
    scalarF("max", "max", 12, Kind::kDouble, false, kOneof),
};
constexpr Field kExpHistogramDataPointFields[] = {
    msgF("attributes", "attributes", 1, &kKeyValue, kRep),
    scalarF("start_time_unix_nano", "startTimeUnixNano", 2, Kind::kFixed64),
    scalarF("time_unix_nano", "timeUnixNano", 3, Kind::kFixed64),
    scalarF("count", "count", 4, Kind::kFixed64),
    scalarF("sum", "sum", 5, Kind::kDouble, false, kOneof),
    scalarF("scale", "scale", 6, Kind::kSInt32),
    scalarF("zero_count", "zeroCount", 7, Kind::kFixed64),
    msgF("positive", "positive", 8, &kBuckets),
    msgF("negative", "negative", 9, &kBuckets),
    scalarF("flags", "flags", 10, Kind::kUInt32),
    msgF("exemplars", "exemplars", 11, &kExemplar, kRep),
    scalarF("min", "min", 12, Kind::kDouble, false, kOneof),
    scalarF("max", "max", 13, Kind::kDouble, false, kOneof),
    scalarF("zero_threshold", "zeroThreshold", 14, Kind::kDouble),
};
constexpr Field kBucketsFields[] = {
    scalarF("offset", "offset", 1, Kind::kSInt32),
    scalarF("bucket_counts", "bucketCounts", 2, Kind::kUInt64, kRep),
};
constexpr Field kSummaryDataPointFields[] = {
    scalarF("start_time_unix_nano", "startTimeUnixNano", 2, Kind::kFixed64),
    scalarF("time_unix_nano", "timeUnixNano", 3, Kind::kFixed64),
    scalarF("count", "count", 4, Kind::kFixed64),
    scalarF("sum", "sum", 5, Kind::kDouble),
    msgF("quantile_values", "quantileValues", 6, &kValueAtQuantile, kRep),
    msgF("attributes", "attributes", 7, &kKeyValue, kRep),
    scalarF("flags", "flags", 8, Kind::kUInt32),
};
constexpr Field kValueAtQuantileFields[] = {
    scalarF("quantile", "quantile", 1, Kind::kDouble),
    scalarF("value", "value", 2, Kind::kDouble),
};
constexpr Field kExemplarFields[] = {
    scalarF("time_unix_nano", "timeUnixNano", 2, Kind::kFixed64),
    scalarF("as_double", "asDouble", 3, Kind::kDouble, false, kOneof),
    scalarF("span_id", "spanId", 4, Kind::kSpanId),
    scalarF("trace_id", "traceId", 5, Kind::kTraceId),
    scalarF("as_int", "asInt", 6, Kind::kSFixed64, false, kOneof),
    msgF("filtered_attributes", "filteredAttributes", 7, &kKeyValue, kRep),
};

constexpr bool kItem = true;
constexpr bool kAny = true;

constinit const Message kAnyValue = makeMessage("AnyValue", kAnyValueFields, false, kAny);
constinit const Message kArrayValue = makeMessage("ArrayValue", kArrayValueFields);
constinit const Message kKeyValueList = makeMessage("KeyValueList", kKeyValueListFields);
constinit const Message kKeyValue = makeMessage("KeyValue", kKeyValueFields);
constinit const Message kEntityRef = makeMessage("EntityRef", kEntityRefFields);
constinit const Message kScope = makeMessage("InstrumentationScope", kScopeFields);
constinit const Message kResource = makeMessage("Resource", kResourceFields);
constinit const Message kLogsRequest = makeMessage("ExportLogsServiceRequest", kLogsRequestFields);
constinit const Message kResourceLogs = makeMessage("ResourceLogs", kResourceLogsFields);
constinit const Message kScopeLogs = makeMessage("ScopeLogs", kScopeLogsFields);
constinit const Message kLogRecord = makeMessage("LogRecord", kLogRecordFields, kItem);
constinit const Message kTraceRequest =
    makeMessage("ExportTraceServiceRequest", kTraceRequestFields);
constinit const Message kResourceSpans = makeMessage("ResourceSpans", kResourceSpansFields);
constinit const Message kScopeSpans = makeMessage("ScopeSpans", kScopeSpansFields);
constinit const Message kSpan = makeMessage("Span", kSpanFields, kItem);
constinit const Message kSpanEvent = makeMessage("Span.Event", kSpanEventFields);
constinit const Message kSpanLink = makeMessage("Span.Link", kSpanLinkFields);
constinit const Message kSpanStatus = makeMessage("Status", kSpanStatusFields);
constinit const Message kMetricsRequest =
    makeMessage("ExportMetricsServiceRequest", kMetricsRequestFields);
constinit const Message kResourceMetrics = makeMessage("ResourceMetrics", kResourceMetricsFields);
constinit const Message kScopeMetrics = makeMessage("ScopeMetrics", kScopeMetricsFields);
constinit const Message kMetric = makeMessage("Metric", kMetricFields);
constinit const Message kGauge = makeMessage("Gauge", kGaugeFields);
constinit const Message kSum = makeMessage("Sum", kSumFields);
constinit const Message kHistogram = makeMessage("Histogram", kHistogramFields);
constinit const Message kExpHistogram = makeMessage("ExponentialHistogram", kExpHistogramFields);
constinit const Message kSummary = makeMessage("Summary", kSummaryFields);
constinit const Message kNumberDataPoint =
    makeMessage("NumberDataPoint", kNumberDataPointFields, kItem);
constinit const Message kHistogramDataPoint =
    makeMessage("HistogramDataPoint", kHistogramDataPointFields, kItem);
constinit const Message kExpHistogramDataPoint =
    makeMessage("ExponentialHistogramDataPoint", kExpHistogramDataPointFields, kItem);
constinit const Message kBuckets =
    makeMessage("ExponentialHistogramDataPoint.Buckets", kBucketsFields);
constinit const Message kSummaryDataPoint =
    makeMessage("SummaryDataPoint", kSummaryDataPointFields, kItem);
constinit const Message kValueAtQuantile =
    makeMessage("SummaryDataPoint.ValueAtQuantile", kValueAtQuantileFields);
constinit const Message kExemplar = makeMessage("Exemplar", kExemplarFields);

}  // namespace

const Message& requestSchema(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return kTraceRequest;
    case Signal::kMetrics:
      return kMetricsRequest;
    case Signal::kLogs:
      break;
  }
  return kLogsRequest;
}

}  // namespace otlp_schema

// ---------------------------------------------------------------------------------------------
// The walker.
namespace {

using otlp_schema::Field;
using otlp_schema::Kind;
using otlp_schema::Message;

using wire::kEGroup;
using wire::kI32;
using wire::kI64;
using wire::kLen;
using wire::kSGroup;
using wire::kVarint;

#if defined(__GNUC__)
#define TG_LIKELY(x) __builtin_expect(!!(x), 1)
#define TG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define TG_LIKELY(x) (x)
#define TG_UNLIKELY(x) (x)
#endif

// True if [p, p+n) is valid UTF-8. ASCII (the common case) is checked inline 8 bytes at a time;
// anything else goes to simdjson's validator.
inline bool validUtf8(const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ULL) {
      return simdjson::validate_utf8(reinterpret_cast<const char*>(p + i), n - i);
    }
  }
  for (; i < n; ++i) {
    if (p[i] & 0x80) return simdjson::validate_utf8(reinterpret_cast<const char*>(p + i), n - i);
  }
  return true;
}

class Walker {
 public:
  explicit Walker(const uint8_t* base) : base_(base) {}

  // Walks the message `m` occupying [p, end). `depth` is the nesting depth of `m` (the request
  // is 0), `any_depth` the number of AnyValue levels including `m`. Adds the items found to
  // *items.
  bool walk(const Message& m, const uint8_t* p, const uint8_t* end, int depth, int any_depth,
            uint64_t* items);

  absl::Status error() const {
    std::string path;
    for (int i = path_len_ - 1; i >= 0; --i) {
      if (!path.empty()) path.push_back('.');
      path.append(path_[i].data(), path_[i].size());
    }
    std::string msg = problem_;
    if (detail_ >= 0) strAppend(&msg, " (", detail_, ")");
    strAppend(&msg, " in ", path.empty() ? std::string("request") : path, " at byte offset ",
              static_cast<uint64_t>(at_ - base_));
    return absl::InvalidArgumentError(msg);
  }

 private:
  bool fail(const char* problem, const uint8_t* at, int64_t detail = -1) {
    problem_ = problem;
    at_ = at;
    detail_ = detail;
    return false;
  }
  // Records that the failure happened inside `field` (called while unwinding).
  bool in(std::string_view field) {
    if (path_len_ < kMaxPath) path_[path_len_++] = field;
    return false;
  }

  // The wire codec's readers, with failures recorded in the walker's words.
  bool readVarint(const uint8_t*& p, const uint8_t* end, uint64_t* out) {
    const uint8_t* at = p;
    const wire::Status s = wire::readVarint(p, end, out);
    if (TG_LIKELY(s == wire::Status::kOk)) return true;
    return fail(s == wire::Status::kTruncated ? "truncated varint" : "varint overflows 64 bits",
                at);
  }
  bool readTag(const uint8_t*& p, const uint8_t* end, uint32_t* number, uint32_t* wire_type) {
    const uint8_t* at = p;
    const wire::Status s = wire::readTag(p, end, number, wire_type);
    if (TG_LIKELY(s == wire::Status::kOk)) return true;
    return fail(s == wire::Status::kTruncated   ? "truncated tag"
                : s == wire::Status::kFieldZero ? "invalid field number 0"
                                                : "invalid tag",
                at);
  }
  // Reads a length prefix and checks the payload fits; on success [p, *sub_end) is the payload.
  // Like protobuf's ReadSize(), the prefix may take at most 5 bytes (the value is < 2 GiB anyway).
  bool readLen(const uint8_t*& p, const uint8_t* end, const uint8_t** sub_end) {
    const uint8_t* at = p;
    uint64_t len;
    const wire::Status s = wire::readLength(p, end, &len);
    if (TG_LIKELY(s == wire::Status::kOk)) {
      *sub_end = p + len;
      return true;
    }
    return fail(s == wire::Status::kTruncated ? "truncated length"
                : s == wire::Status::kTooLong ? "length prefix longer than 5 bytes"
                                              : "length-delimited field extends past the end "
                                                "of its message",
                at);
  }
  bool skipUnknown(uint32_t wire_type, const uint8_t*& p, const uint8_t* end, const uint8_t* at);
  bool packed(Kind kind, const uint8_t* p, const uint8_t* end);

  static constexpr int kMaxPath = kMaxMessageDepth + 2;
  const uint8_t* base_;
  const char* problem_ = "";
  const uint8_t* at_ = nullptr;
  int64_t detail_ = -1;
  std::string_view path_[kMaxPath];
  int path_len_ = 0;
};

bool Walker::skipUnknown(uint32_t wire_type, const uint8_t*& p, const uint8_t* end,
                         const uint8_t* at) {
  switch (wire_type) {
    case kVarint: {
      uint64_t v;
      return readVarint(p, end, &v);
    }
    case kI64:
      if (TG_UNLIKELY(end - p < 8)) return fail("truncated fixed64 field", at);
      p += 8;
      return true;
    case kI32:
      if (TG_UNLIKELY(end - p < 4)) return fail("truncated fixed32 field", at);
      p += 4;
      return true;
    case kLen: {
      const uint8_t* sub_end;
      if (!readLen(p, end, &sub_end)) return false;
      p = sub_end;
      return true;
    }
    case kSGroup:
    case kEGroup:
      return fail("group wire type is not supported", at);
    default:
      return fail("invalid wire type", at, wire_type);
  }
}

bool Walker::packed(Kind kind, const uint8_t* p, const uint8_t* end) {
  switch (kind) {
    case Kind::kFixed32:
      if ((end - p) % 4 != 0) return fail("packed fixed32 field length is not a multiple of 4", p);
      return true;
    case Kind::kFixed64:
    case Kind::kSFixed64:
    case Kind::kDouble:
      if ((end - p) % 8 != 0) return fail("packed fixed64 field length is not a multiple of 8", p);
      return true;
    default:  // varint kinds
      while (p < end) {
        uint64_t v;
        if (!readVarint(p, end, &v)) return false;
      }
      return true;
  }
}

bool Walker::walk(const Message& m, const uint8_t* p, const uint8_t* end, int depth, int any_depth,
                  uint64_t* items) {
  uint64_t plain = m.is_item ? 1 : 0;
  uint64_t oneof_items = 0;  // items under the current member of the (single) message oneof
  uint32_t oneof_member = 0;
  while (p < end) {
    const uint8_t* at = p;
    uint32_t number;
    uint32_t wire_type;
    if (!readTag(p, end, &number, &wire_type)) return false;
    int idx = number <= otlp_schema::kMaxFieldNumber ? m.by_number[number] : -1;
    if (idx >= 0) {
      const Field& f = m.fields[idx];
      switch (f.kind) {
        case Kind::kMessage: {
          if (wire_type != kLen) break;
          const uint8_t* sub_end;
          if (!readLen(p, end, &sub_end)) return in(f.name);
          if (TG_UNLIKELY(depth >= kMaxMessageDepth)) {
            return fail("message nesting too deep", at, kMaxMessageDepth), in(f.name);
          }
          const int sub_any = any_depth + (f.message->is_any_value ? 1 : 0);
          if (TG_UNLIKELY(sub_any > kMaxAnyValueDepth)) {
            return fail("AnyValue nesting too deep", at, kMaxAnyValueDepth), in(f.name);
          }
          uint64_t n = 0;
          if (!walk(*f.message, p, sub_end, depth + 1, sub_any, &n)) return in(f.name);
          p = sub_end;
          if (f.presence) {  // oneof member: a different member replaces the earlier one
            if (f.number != oneof_member) {
              oneof_member = f.number;
              oneof_items = 0;
            }
            oneof_items += n;
          } else {
            plain += n;
          }
          continue;
        }
        case Kind::kString: {
          if (wire_type != kLen) break;
          const uint8_t* sub_end;
          if (!readLen(p, end, &sub_end)) return in(f.name);
          if (TG_UNLIKELY(!validUtf8(p, static_cast<size_t>(sub_end - p)))) {
            return fail("invalid UTF-8 in string field", at), in(f.name);
          }
          p = sub_end;
          continue;
        }
        case Kind::kBytes: {
          if (wire_type != kLen) break;
          const uint8_t* sub_end;
          if (!readLen(p, end, &sub_end)) return in(f.name);
          p = sub_end;
          continue;
        }
        case Kind::kTraceId:
        case Kind::kSpanId: {
          if (wire_type != kLen) break;
          const uint8_t* sub_end;
          if (!readLen(p, end, &sub_end)) return in(f.name);
          const size_t want = f.kind == Kind::kTraceId ? 16 : 8;
          const size_t len = static_cast<size_t>(sub_end - p);
          if (TG_UNLIKELY(len != 0 && len != want)) {
            return fail("invalid length for ID", at, static_cast<int64_t>(len)), in(f.name);
          }
          p = sub_end;
          continue;
        }
        case Kind::kBool:
        case Kind::kEnum:
        case Kind::kInt32:
        case Kind::kSInt32:
        case Kind::kUInt32:
        case Kind::kInt64:
        case Kind::kUInt64: {
          if (wire_type == kVarint) {
            uint64_t v;
            if (!readVarint(p, end, &v)) return in(f.name);
            continue;
          }
          break;
        }
        case Kind::kFixed32:
          if (wire_type == kI32) {
            if (TG_UNLIKELY(end - p < 4)) return fail("truncated fixed32 field", at), in(f.name);
            p += 4;
            continue;
          }
          break;
        case Kind::kFixed64:
        case Kind::kSFixed64:
        case Kind::kDouble:
          if (wire_type == kI64) {
            if (TG_UNLIKELY(end - p < 8)) return fail("truncated fixed64 field", at), in(f.name);
            p += 8;
            continue;
          }
          break;
      }
      // Packed encoding of a repeated scalar.
      if (f.repeated && wire_type == kLen && f.kind != Kind::kMessage && f.kind != Kind::kString) {
        const uint8_t* sub_end;
        if (!readLen(p, end, &sub_end)) return in(f.name);
        if (!packed(f.kind, p, sub_end)) return in(f.name);
        p = sub_end;
        continue;
      }
      // Otherwise a known number with a mismatched wire type: protobuf treats it as unknown.
    }
    if (!skipUnknown(wire_type, p, end, at)) return false;
  }
  *items += plain + oneof_items;
  return true;
}

}  // namespace

absl::StatusOr<uint64_t> checkAndCount(Signal signal, std::string_view wire) {
  const auto* p = reinterpret_cast<const uint8_t*>(wire.data());
  if (wire.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError("request larger than 2 GiB");
  }
  Walker w(p);
  uint64_t items = 0;
  if (!w.walk(otlp_schema::requestSchema(signal), p, p + wire.size(), 0, 0, &items)) {
    return w.error();
  }
  return items;
}

}  // namespace telegate::pdata
