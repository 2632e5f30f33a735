#include "src/components/otelcol/exporter/otlphttp/otlphttp.h"

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/common/decompress.h"
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/pdata/otlp_json.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_otlphttp {

namespace {

using Clock = std::chrono::steady_clock;
using exporterhelper::SendResult;

// Parses partial_success; false when the body is not a valid response message.
bool partialSuccess(pdata::Signal s, const std::string& body, SendResult* r) {
  namespace coll = opentelemetry::proto::collector;
  switch (s) {
    case pdata::Signal::kTraces: {
      coll::trace::v1::ExportTraceServiceResponse resp;
      if (!resp.ParseFromString(body)) return false;
      r->rejected_items = static_cast<uint64_t>(resp.partial_success().rejected_spans());
      r->detail = resp.partial_success().error_message();
      return true;
    }
    case pdata::Signal::kMetrics: {
      coll::metrics::v1::ExportMetricsServiceResponse resp;
      if (!resp.ParseFromString(body)) return false;
      r->rejected_items = static_cast<uint64_t>(resp.partial_success().rejected_data_points());
      r->detail = resp.partial_success().error_message();
      return true;
    }
    case pdata::Signal::kLogs: {
      coll::logs::v1::ExportLogsServiceResponse resp;
      if (!resp.ParseFromString(body)) return false;
      r->rejected_items = static_cast<uint64_t>(resp.partial_success().rejected_log_records());
      r->detail = resp.partial_success().error_message();
      return true;
    }
  }
  return false;
}

absl::StatusCode codeForHttp(int status) {
  switch (status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 502:
    case 503:
    case 504:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

void Arguments::describe(Schema<Arguments>& s) {
  s.block("client", &Arguments::client).required();
  s.attr("traces_endpoint", &Arguments::traces_endpoint)
      .doc("full URL; default endpoint + /v1/traces");
  s.attr("metrics_endpoint", &Arguments::metrics_endpoint)
      .doc("full URL; default endpoint + /v1/metrics");
  s.attr("logs_endpoint", &Arguments::logs_endpoint).doc("full URL; default endpoint + /v1/logs");
  s.attr("encoding", &Arguments::encoding).doc("proto or json");
  s.block("sending_queue", &Arguments::sending_queue);
  s.block("retry_on_failure", &Arguments::retry_on_failure);
}

absl::Status Arguments::validate() const {
  if (encoding != "proto" && encoding != "json") {
    return absl::InvalidArgumentError(
        strCat("encoding must be \"proto\" or \"json\", got \"", encoding, "\""));
  }
  return absl::OkStatus();
}

std::string signalUrl(const Arguments& args, pdata::Signal signal) {
  const std::string* explicit_url = &args.logs_endpoint;
  if (signal == pdata::Signal::kTraces) explicit_url = &args.traces_endpoint;
  if (signal == pdata::Signal::kMetrics) explicit_url = &args.metrics_endpoint;
  if (!explicit_url->empty()) return *explicit_url;
  std::string base = args.client.endpoint;
  if (!base.empty() && base.back() == '/') base.pop_back();
  return strCat(base, "/v1/", pdata::signalName(signal));
}

bool urlHasNoPath(const std::string& url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t slash = url.find('/', start);
  if (slash == std::string::npos) return true;
  std::string path = url.substr(slash);
  size_t q = path.find_first_of("?#");
  if (q != std::string::npos) path.resize(q);
  return path.empty() || path == "/";
}

HttpSender::HttpSender(const Arguments& args, log::Logger logger)
    : client_cfg_(args.client),
      json_(args.encoding == "json"),
      logger_(std::move(logger)),
      client_([&] {
        net::HttpClientOptions o;
        o.tls = args.client.tls.settings();
        o.max_response_body = 64 << 10;
        return o;
      }()) {
  for (int i = 0; i < 3; ++i) {
    auto s = static_cast<pdata::Signal>(i);
    urls_[i] = signalUrl(args, s);
    const std::string& explicit_url = s == pdata::Signal::kTraces    ? args.traces_endpoint
                                      : s == pdata::Signal::kMetrics ? args.metrics_endpoint
                                                                     : args.logs_endpoint;
    derived_without_path_[i] = explicit_url.empty() && urlHasNoPath(args.client.endpoint);
  }
}

SendResult HttpSender::send(pdata::Batch& batch, Clock::time_point deadline) {
  SendResult r;
  const size_t sig = std::min<size_t>(static_cast<size_t>(batch.signal), 2);
  net::HttpClientRequest req;
  req.url = urls_[sig];
  const std::string& c = client_cfg_.compression;
  const bool compressed_body = !c.empty() && c != "none";
  std::string json;
  if (json_) {
    auto converted = pdata::toOtlpJson(batch.signal, batch.payload);
    if (!converted.ok()) {
      r.status = converted.status();
      r.permanent = true;
      return r;
    }
    json = std::move(*converted);
    req.headers.emplace_back("Content-Type", "application/json");
  } else {
    req.headers.emplace_back("Content-Type", "application/x-protobuf");
  }
  const std::string& plain = json_ ? json : batch.payload;
  if (compressed_body) {
    auto compressed = compress(c, plain);
    if (!compressed.ok()) {
      r.status = compressed.status();
      r.permanent = true;
      return r;
    }
    req.body = std::move(*compressed);
    req.headers.emplace_back("Content-Encoding", c);
  } else if (json_) {
    req.body = std::move(json);
  } else {
    // Lend the payload to the request (net::HttpClient sends it without copying) and take it
    // back whatever the outcome, so a retry finds it in place.
    req.body = std::move(batch.payload);
  }
  absl::Cleanup give_back = [&] {
    if (!json_ && !compressed_body) batch.payload = std::move(req.body);
  };
  for (auto& h : exporterhelper::requestHeaders(client_cfg_.headers, batch, false)) {
    req.headers.push_back(std::move(h));
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  req.timeout = std::max(std::chrono::milliseconds(1), left);
  auto resp = client_.send(req);
  if (!resp.ok()) {
    r.status = absl::UnavailableError(
        strCat("failed to make an HTTP request to ", req.url, ": ", resp.status().message()));
    return r;  // network errors are retryable
  }
  const int code = resp->status;
  const std::string content_type(resp->header("content-type"));
  if (code >= 200 && code < 300) {
    if (content_type == "application/x-protobuf" && !resp->body.empty() &&
        !partialSuccess(batch.signal, resp->body, &r)) {
      r.status = absl::InternalError(
          strCat("export response from ", req.url, " is not a valid protobuf message"));
      r.permanent = true;
    }
    return r;
  }
  std::string message;
  google::rpc::Status st;
  if (content_type == "application/x-protobuf" && st.ParseFromString(resp->body)) {
    message = st.message();
  } else {
    message = resp->body.substr(0, 256);
  }
  r.status = absl::Status(codeForHttp(code), strCat("error exporting items, request to ", req.url,
                                                    " responded with HTTP Status Code ", code,
                                                    message.empty() ? "" : ", Message=", message));
  r.permanent = !(code == 429 || code == 502 || code == 503 || code == 504);
  if (code == 429 || code == 503) {
    if (auto ra = net::parseRetryAfter(resp->header("retry-after")); ra) r.retry_after = *ra;
  }
  if (code == 404 && derived_without_path_[sig] && not_found_log_.shouldLog()) {
    logger_.warn(
        "the OTLP endpoint answered 404: client.endpoint has no path, so data is posted to "
        "/v1/<signal>; Mimir serves OTLP under /otlp: set endpoint = \"<endpoint>/otlp\"",
        {{"url", req.url}, {"fix", strCat("endpoint = \"", client_cfg_.endpoint, "/otlp\"")}});
  }
  return r;
}

namespace {
// The disk queue of this component lives in <storage.path>/<component id>/queue.
exporterhelper::Settings withQueueDir(exporterhelper::Settings s, const runtime::Host& host) {
  if (!host.dataPath().empty()) s.queue_dir = strCat(host.dataPath(), "/queue");  // else refused
  return s;
}
}  // namespace

exporterhelper::Settings Component::settingsOf(const Arguments& args) {
  exporterhelper::Settings s;
  s.queue = args.sending_queue;
  s.retry = args.retry_on_failure;
  s.timeout = args.client.timeout.value.count() > 0
                  ? args.client.timeout.value
                  : std::chrono::nanoseconds(std::chrono::seconds(30));
  return s;
}

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host),
      args_(args),
      exporter_(std::make_shared<exporterhelper::Exporter>(
          host.id(), withQueueDir(settingsOf(args), host),
          std::make_shared<HttpSender>(args, host.logger()), host.logger(), host.metrics())) {
  host_.setExports({{"input", syntax::Value::capsule(exporter_)}});
}

Component::~Component() {
  exporter_->shutdown(Clock::now());
}

void Component::warnAboutEndpoint(const Arguments& args) const {
  if (!args.metrics_endpoint.empty() || !urlHasNoPath(args.client.endpoint)) return;
  std::string lower = args.client.endpoint;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (lower.find("mimir") == std::string::npos) return;
  host_.logger().warn(
      "client.endpoint looks like Mimir but has no path: metrics go to /v1/metrics, which Mimir "
      "answers with 404 (it serves OTLP under /otlp)",
      {{"url", signalUrl(args, pdata::Signal::kMetrics)},
       {"fix", strCat("endpoint = \"", args.client.endpoint, "/otlp\"")}});
}

absl::Status Component::start() {
  warnAboutEndpoint(args_);
  exporter_->start();
  if (!exporter_->queueStatus().ok()) {  // storage = "disk" could not be opened: refusing data
    host_.setHealth(runtime::HealthState::kUnhealthy,
                    strCat("sending queue on disk unavailable: ",
                           std::string(exporter_->queueStatus().message())));
    return absl::OkStatus();
  }
  host_.setHealth(runtime::HealthState::kHealthy, "started");
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  if (args.client.endpoint != args_.client.endpoint) warnAboutEndpoint(args);
  args_ = args;
  exporter_->update(settingsOf(args), std::make_shared<HttpSender>(args, host_.logger()));
  return absl::OkStatus();
}

void Component::shutdown(Clock::time_point deadline) {
  exporter_->shutdown(deadline);
  host_.setHealth(runtime::HealthState::kExited, "shut down");
}

}  // namespace telegate::otelcol::exporter_otlphttp

namespace telegate::components {
void registerOtelcolExporterOtlphttp() {
  runtime::registerComponent<otelcol::exporter_otlphttp::Component>(
      "otelcol.exporter.otlphttp", "Sends OTLP over HTTP.",
      {{"input", "capsule(otelcol.Consumer)", "where to send data to be exported"}});
}
}  // namespace telegate::components
