#include "src/components/otelcol/exporter/otlp/otlp.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <condition_variable>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_otlp {

namespace {

using Clock = std::chrono::steady_clock;
using exporterhelper::SendResult;

const std::string& methodFor(pdata::Signal s) {
  static const std::string kTraces = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
  static const std::string kMetrics =
      "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
  static const std::string kLogs = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
  switch (s) {
    case pdata::Signal::kTraces:
      return kTraces;
    case pdata::Signal::kMetrics:
      return kMetrics;
    default:
      return kLogs;
  }
}

std::string codeName(grpc::StatusCode c) {
  static const char* kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  int i = static_cast<int>(c);
  return i >= 0 && i < 17 ? kNames[i] : std::to_string(i);
}

// Reads google.rpc.RetryInfo from grpc-status-details-bin; zero when absent.
bool retryInfo(const grpc::Status& st, std::chrono::nanoseconds* delay) {
  if (st.error_details().empty()) return false;
  google::rpc::Status details;
  if (!details.ParseFromString(st.error_details())) return false;
  for (const auto& any : details.details()) {
    if (!any.Is<google::rpc::RetryInfo>()) continue;
    google::rpc::RetryInfo info;
    if (!any.UnpackTo(&info)) continue;
    *delay = std::chrono::seconds(info.retry_delay().seconds()) +
             std::chrono::nanoseconds(info.retry_delay().nanos());
    return true;
  }
  return false;
}

// partial_success of the Export*ServiceResponse: rejected count and message.
void partialSuccess(pdata::Signal s, const std::string& body, SendResult* r) {
  namespace coll = opentelemetry::proto::collector;
  switch (s) {
    case pdata::Signal::kTraces: {
      coll::trace::v1::ExportTraceServiceResponse resp;
      if (!resp.ParseFromString(body)) return;
      r->rejected_items = static_cast<uint64_t>(resp.partial_success().rejected_spans());
      r->detail = resp.partial_success().error_message();
      return;
    }
    case pdata::Signal::kMetrics: {
      coll::metrics::v1::ExportMetricsServiceResponse resp;
      if (!resp.ParseFromString(body)) return;
      r->rejected_items = static_cast<uint64_t>(resp.partial_success().rejected_data_points());
      r->detail = resp.partial_success().error_message();
      return;
    }
    case pdata::Signal::kLogs: {
      coll::logs::v1::ExportLogsServiceResponse resp;
      if (!resp.ParseFromString(body)) return;
      r->rejected_items = static_cast<uint64_t>(resp.partial_success().rejected_log_records());
      r->detail = resp.partial_success().error_message();
      return;
    }
  }
}

}  // namespace

void Arguments::describe(Schema<Arguments>& s) {
  s.attr("timeout", &Arguments::timeout).doc("deadline of one export RPC");
  s.block("client", &Arguments::client).required();
  s.block("sending_queue", &Arguments::sending_queue);
  s.block("retry_on_failure", &Arguments::retry_on_failure);
}

GrpcTarget parseGrpcEndpoint(const GrpcClientBlock& client) {
  GrpcTarget t;
  t.target = client.endpoint;
  t.plaintext = client.tls.insecure;
  if (t.target.rfind("http://", 0) == 0) {
    t.target = t.target.substr(7);
    t.plaintext = true;
  } else if (t.target.rfind("https://", 0) == 0) {
    t.target = t.target.substr(8);
  }
  while (!t.target.empty() && t.target.back() == '/') t.target.pop_back();
  return t;
}

GrpcSender::GrpcSender(GrpcClientBlock client, log::Logger logger,
                       std::chrono::milliseconds tls_files_check_period)
    : client_(std::move(client)),
      logger_(std::move(logger)),
      files_(client_.tls.settings(), tls_files_check_period) {
  const std::string& c = client_.compression;
  if (c == "gzip") {
    compression_ = GRPC_COMPRESS_GZIP;
  } else if (c == "deflate" || c == "zlib") {
    compression_ = GRPC_COMPRESS_DEFLATE;
  } else if (c.empty() || c == "none") {
    compression_ = GRPC_COMPRESS_NONE;
  } else {
    compression_ = GRPC_COMPRESS_GZIP;
    logger_.warn("gRPC 1.51 does not implement this compression; using gzip", {{"compression", c}});
  }
}

GrpcSender::~GrpcSender() = default;

absl::StatusOr<std::shared_ptr<grpc::Channel>> GrpcSender::channel() {
  GrpcTarget t = parseGrpcEndpoint(client_);
  const uint64_t gen = t.plaintext ? 0 : files_.generation();
  std::lock_guard<std::mutex> l(mu_);
  if (channel_ != nullptr && (gen == channel_generation_ || gen == failed_generation_)) {
    return channel_;  // current, or newer files that did not load: keep the working channel
  }
  grpc::ChannelArguments args;
  if (!client_.balancer_name.empty()) args.SetLoadBalancingPolicyName(client_.balancer_name);
  if (!client_.authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, client_.authority);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (t.plaintext) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    const net::tls::TlsClientSettings settings = client_.tls.settings();
    auto pem = net::loadClientTlsPem(settings);
    if (!pem.ok()) {
      if (gen != failed_generation_) {
        failed_generation_ = gen;
        logger_.error(channel_ != nullptr
                          ? "client TLS files changed but do not load; keeping the previous ones"
                          : "client TLS files do not load",
                      {{"err", std::string(pem.status().message())}});
      }
      if (channel_ != nullptr) return channel_;
      return pem.status();  // retried: the files may appear or be fixed
    }
    namespace gx = grpc::experimental;
    gx::TlsChannelCredentialsOptions opts;
    std::vector<gx::IdentityKeyCertPair> pairs;
    if (!pem->cert.empty()) pairs.push_back({pem->key, pem->cert});
    if (!pem->ca.empty() || !pairs.empty()) {
      opts.set_certificate_provider(
          std::make_shared<gx::StaticDataCertificateProvider>(pem->ca, pairs));
      if (!pem->ca.empty()) opts.watch_root_certs();
      if (!pairs.empty()) opts.watch_identity_key_cert_pairs();
    }
    if (settings.insecure_skip_verify) {
      opts.set_verify_server_certs(false);
      opts.set_certificate_verifier(std::make_shared<gx::NoOpCertificateVerifier>());
      opts.set_check_call_host(false);
    } else {
      opts.set_certificate_verifier(std::make_shared<gx::HostNameCertificateVerifier>());
    }
    if (!settings.server_name.empty()) args.SetSslTargetNameOverride(settings.server_name);
    creds = gx::TlsCredentials(opts);
  }
  if (channel_ != nullptr) logger_.info("client TLS files changed; new connections use them");
  channel_ = grpc::CreateCustomChannel(t.target, creds, args);
  channel_generation_ = gen;
  return channel_;
}

SendResult GrpcSender::send(pdata::Batch& batch, Clock::time_point deadline) {
  SendResult r;
  auto channel = this->channel();
  if (!channel.ok()) {
    r.status = channel.status();
    r.permanent = false;  // a missing file may appear; retried until max_elapsed_time
    return r;
  }
  grpc::GenericStub stub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + (deadline - Clock::now()));
  ctx.set_wait_for_ready(client_.wait_for_ready);
  ctx.set_compression_algorithm(static_cast<grpc_compression_algorithm>(compression_));
  for (auto& [k, v] : exporterhelper::requestHeaders(client_.headers, batch, true)) {
    ctx.AddMetadata(k, v);
  }
  // The slice owns the payload (moved to the heap): gRPC may still hold references to it after
  // the call completed, e.g. in the transport's write queue after a cancellation.
  auto* owned = new std::string(std::move(batch.payload));
  batch.payload.clear();
  grpc::Slice slice(
      owned->data(), owned->size(), [](void* p) { delete static_cast<std::string*>(p); }, owned);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, methodFor(batch.signal), grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> l(mu);
                   status = std::move(s);
                   done = true;
                   cv.notify_one();
                 });
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return done; });
  }
  if (status.ok()) {
    std::vector<grpc::Slice> slices;
    if (response.Dump(&slices).ok()) {
      std::string body;
      for (const auto& s : slices) body.append(reinterpret_cast<const char*>(s.begin()), s.size());
      partialSuccess(batch.signal, body, &r);
    }
    return r;
  }
  const auto code = status.error_code();
  r.status = absl::Status(
      static_cast<absl::StatusCode>(code),
      strCat("rpc error: code = ", codeName(code), " desc = ", status.error_message()));
  std::chrono::nanoseconds delay{0};
  const bool has_retry_info = retryInfo(status, &delay);
  switch (code) {
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DATA_LOSS:
      r.permanent = false;
      break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      r.permanent = !has_retry_info;
      break;
    default:
      r.permanent = true;
  }
  if (!r.permanent && has_retry_info) r.retry_after = delay;
  // Attempted again: the batch needs its bytes back (`slice` keeps `owned` alive here).
  if (!r.permanent) batch.payload.assign(*owned);
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
  s.timeout = args.timeout.value.count() > 0 ? args.timeout.value
                                             : std::chrono::nanoseconds(std::chrono::seconds(5));
  return s;
}

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host),
      exporter_(std::make_shared<exporterhelper::Exporter>(
          host.id(), withQueueDir(settingsOf(args), host),
          std::make_shared<GrpcSender>(args.client, host.logger()), host.logger(),
          host.metrics())) {
  host_.setExports({{"input", syntax::Value::capsule(exporter_)}});
}

Component::~Component() {
  exporter_->shutdown(Clock::now());
}

absl::Status Component::start() {
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
  exporter_->update(settingsOf(args), std::make_shared<GrpcSender>(args.client, host_.logger()));
  return absl::OkStatus();
}

void Component::shutdown(Clock::time_point deadline) {
  exporter_->shutdown(deadline);
  host_.setHealth(runtime::HealthState::kExited, "shut down");
}

}  // namespace telegate::otelcol::exporter_otlp

namespace telegate::components {
void registerOtelcolExporterOtlp() {
  runtime::registerComponent<otelcol::exporter_otlp::Component>(
      "otelcol.exporter.otlp", "Sends OTLP over gRPC.",
      {{"input", "capsule(otelcol.Consumer)", "where to send data to be exported"}});
}
}  // namespace telegate::components
