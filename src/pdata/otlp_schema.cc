// The OTLP schema tables (otlp_decode.h, namespace otlp_schema): every message of the three
// export requests with its fields' numbers, JSON names and kinds, shared by the wire walker
// (otlp_wire.cc) and the JSON decoder (otlp_json_decode.cc). Constant-initialised; no state.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

#include "src/pdata/otlp_decode.h"

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

}  // namespace telegate::pdata
