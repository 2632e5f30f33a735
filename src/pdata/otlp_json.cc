#include "src/pdata/otlp_json.h"

#include <google/protobuf/util/json_util.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace telegate::pdata {

namespace {

std::unique_ptr<google::protobuf::Message> newRequest(Signal s) {
  namespace col = opentelemetry::proto::collector;
  switch (s) {
    case Signal::kTraces:
      return std::make_unique<col::trace::v1::ExportTraceServiceRequest>();
    case Signal::kMetrics:
      return std::make_unique<col::metrics::v1::ExportMetricsServiceRequest>();
    case Signal::kLogs:
      return std::make_unique<col::logs::v1::ExportLogsServiceRequest>();
  }
  return nullptr;
}

}  // namespace

std::string hexIdsInJson(std::string_view json) {
  static constexpr std::string_view kKeys[] = {"\"traceId\":\"", "\"spanId\":\"",
                                               "\"parentSpanId\":\""};
  std::string out;
  out.reserve(json.size());
  size_t i = 0;
  while (i < json.size()) {
    bool matched = false;
    if (json[i] == '"') {
      for (auto key : kKeys) {
        if (json.compare(i, key.size(), key) != 0) continue;
        size_t start = i + key.size();
        size_t end = json.find('"', start);
        if (end == std::string_view::npos) break;
        std::string raw;
        std::string_view b64 = json.substr(start, end - start);
        if (!absl::Base64Unescape(absl::string_view(b64.data(), b64.size()), &raw)) break;
        out.append(key);
        out.append(absl::BytesToHexString(raw));
        out.push_back('"');
        i = end + 1;
        matched = true;
        break;
      }
    }
    if (!matched) out.push_back(json[i++]);
  }
  return out;
}

absl::StatusOr<std::string> toOtlpJson(Signal signal, std::string_view wire) {
  auto msg = newRequest(signal);
  if (!msg->ParseFromArray(wire.data(), static_cast<int>(wire.size()))) {
    return absl::InvalidArgumentError("payload is not a valid OTLP protobuf message");
  }
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_enums_as_ints = true;
  std::string json;
  auto st = google::protobuf::util::MessageToJsonString(*msg, &json, opts);
  if (!st.ok()) return absl::InternalError(std::string(st.message()));
  return hexIdsInJson(json);
}

}  // namespace telegate::pdata
