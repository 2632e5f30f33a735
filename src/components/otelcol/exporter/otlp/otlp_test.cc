#include "src/components/otelcol/exporter/otlp/otlp.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <thread>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "test/fakes/wait.h"

namespace telegate::otelcol::exporter_otlp {
namespace {

using ::telegate::testing::waitFor;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace tracepb = opentelemetry::proto::collector::trace::v1;

// A fake Tempo: a real gRPC server with the generated TraceService that records requests and
// answers scripted statuses (the last one repeats).
class FakeTempo : public tracepb::TraceService::Service {
 public:
  struct Call {
    std::string bytes;
    std::multimap<std::string, std::string> metadata;
  };

  grpc::Status Export(grpc::ServerContext* ctx, const tracepb::ExportTraceServiceRequest* req,
                      tracepb::ExportTraceServiceResponse* resp) override {
    std::lock_guard<std::mutex> l(mu_);
    Call c;
    c.bytes = req->SerializeAsString();
    for (const auto& [k, v] : ctx->client_metadata()) {
      c.metadata.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
    }
    calls_.push_back(std::move(c));
    if (rejected_ > 0) {
      resp->mutable_partial_success()->set_rejected_spans(rejected_);
      resp->mutable_partial_success()->set_error_message("too old");
    }
    if (script_.empty()) return grpc::Status::OK;
    grpc::Status st = script_.front();
    if (script_.size() > 1) script_.erase(script_.begin());
    return st;
  }

  void script(std::vector<grpc::Status> s) {
    std::lock_guard<std::mutex> l(mu_);
    script_ = std::move(s);
  }
  void reject(int64_t n) {
    std::lock_guard<std::mutex> l(mu_);
    rejected_ = n;
  }
  std::vector<Call> calls() {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }

  // Starts on 127.0.0.1:port (0 = any); gzip can be disabled to prove the client uses it.
  std::unique_ptr<grpc::Server> serve(int port, int* bound, bool allow_gzip = true) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                       bound);
    b.RegisterService(this);
    if (!allow_gzip) b.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, false);
    return b.BuildAndStart();
  }

 private:
  std::mutex mu_;
  std::vector<grpc::Status> script_;
  std::vector<Call> calls_;
  int64_t rejected_ = 0;
};

pdata::Batch traces(const std::string& name, std::string tenant = "") {
  tracepb::ExportTraceServiceRequest req;
  auto* span = req.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_name(name);
  span->set_trace_id(std::string(16, '\x01'));
  span->set_span_id(std::string(8, '\x02'));
  pdata::Batch b;
  b.signal = pdata::Signal::kTraces;
  b.payload = req.SerializeAsString();
  b.items = 1;
  if (!tenant.empty()) {
    auto c = std::make_shared<pdata::ClientInfo>();
    c->tenant = tenant;
    b.client = c;
  }
  return b;
}

exporterhelper::Settings fast() {
  exporterhelper::Settings s;
  s.queue.num_consumers = 2;
  s.retry.initial_interval = runtime::Duration(20ms);
  s.retry.max_interval = runtime::Duration(100ms);
  s.retry.max_elapsed_time = runtime::Duration(20s);
  s.timeout = 2s;
  return s;
}

GrpcClientBlock client(int port) {
  GrpcClientBlock c;
  c.endpoint = "http://127.0.0.1:" + std::to_string(port);
  c.headers = {{"X-Custom", "yes"}};
  return c;
}

bool contains(const metrics::Registry& r, const std::string& needle) {
  return r.exposition().find(needle) != std::string::npos;
}

TEST(GrpcEndpointTest, SchemesAndInsecure) {
  GrpcClientBlock c;
  c.endpoint = "http://tempo:4317";
  auto t = parseGrpcEndpoint(c);
  EXPECT_EQ(t.target, "tempo:4317");
  EXPECT_TRUE(t.plaintext);
  c.endpoint = "https://tempo:4317";
  t = parseGrpcEndpoint(c);
  EXPECT_EQ(t.target, "tempo:4317");
  EXPECT_FALSE(t.plaintext);
  c.endpoint = "tempo:4317";
  EXPECT_FALSE(parseGrpcEndpoint(c).plaintext);
  c.tls.insecure = true;
  EXPECT_TRUE(parseGrpcEndpoint(c).plaintext);
}

TEST(OtlpGrpcExporterTest, SendsWireBytesWithTenantHeadersAndGzip) {
  FakeTempo tempo;
  int port = 0;
  auto server = tempo.serve(0, &port, /*allow_gzip=*/true);
  ASSERT_NE(port, 0);
  metrics::Registry reg;
  exporterhelper::Exporter e("otelcol.exporter.otlp.tempo", fast(),
                             std::make_shared<GrpcSender>(client(port), log::Logger()),
                             log::Logger(), reg);
  e.start();
  pdata::Batch a = traces("a", "team-a"), b = traces("b");
  std::string a_bytes = a.payload, b_bytes = b.payload;
  ASSERT_TRUE(e.consume(std::move(a)).ok());
  ASSERT_TRUE(e.consume(std::move(b)).ok());
  ASSERT_TRUE(waitFor([&] { return tempo.calls().size() == 2; }, 10s));
  e.shutdown(Clock::now() + 2s);
  auto calls = tempo.calls();
  int with_tenant = 0;
  for (const auto& c : calls) {
    EXPECT_TRUE(c.bytes == a_bytes || c.bytes == b_bytes);
    auto custom = c.metadata.find("x-custom");
    ASSERT_NE(custom, c.metadata.end());
    EXPECT_EQ(custom->second, "yes");
    auto org = c.metadata.find("x-scope-orgid");
    if (org != c.metadata.end()) {
      EXPECT_EQ(org->second, "team-a");
      EXPECT_EQ(c.bytes, a_bytes);
      ++with_tenant;
    }
  }
  EXPECT_EQ(with_tenant, 1);
  EXPECT_TRUE(contains(reg,
                       "telegate_exporter_sent_items_total{component_id=\"otelcol.exporter."
                       "otlp.tempo\",signal=\"traces\"} 2"));
  server->Shutdown(std::chrono::system_clock::now() + 1s);
}

TEST(OtlpGrpcExporterTest, UsesGzipByDefault) {
  // A server that refuses gzip-compressed messages proves the client compresses.
  FakeTempo tempo;
  int port = 0;
  auto server = tempo.serve(0, &port, /*allow_gzip=*/false);
  GrpcSender gz(client(port), log::Logger());
  pdata::Batch b = traces("x");
  auto r = gz.send(b, Clock::now() + 2s);
  EXPECT_FALSE(r.status.ok());
  EXPECT_TRUE(r.permanent) << r.status;  // UNIMPLEMENTED: compression disabled
  GrpcClientBlock plain = client(port);
  plain.compression = "none";
  GrpcSender none(plain, log::Logger());
  b = traces("x");
  EXPECT_TRUE(none.send(b, Clock::now() + 2s).status.ok());
  server->Shutdown(std::chrono::system_clock::now() + 1s);
}

TEST(OtlpGrpcExporterTest, ClassifiesStatuses) {
  FakeTempo tempo;
  int port = 0;
  auto server = tempo.serve(0, &port);
  GrpcSender s(client(port), log::Logger());
  tempo.script({grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")});
  pdata::Batch b = traces("x");
  const std::string bytes = b.payload;
  auto r = s.send(b, Clock::now() + 2s);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(r.permanent);
  EXPECT_EQ(b.payload, bytes);  // retryable: the bytes are back for the next attempt
  tempo.script({grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad")});
  b = traces("x");
  r = s.send(b, Clock::now() + 2s);
  EXPECT_TRUE(r.permanent);
  tempo.script({grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "slow down")});
  b = traces("x");
  r = s.send(b, Clock::now() + 2s);
  EXPECT_TRUE(r.permanent);  // no RetryInfo
  google::rpc::Status details;
  details.set_code(8);
  google::rpc::RetryInfo info;
  info.mutable_retry_delay()->set_seconds(2);
  details.add_details()->PackFrom(info);
  tempo.script({grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "slow down",
                             details.SerializeAsString())});
  b = traces("x");
  r = s.send(b, Clock::now() + 2s);
  EXPECT_FALSE(r.permanent);
  EXPECT_EQ(r.retry_after, 2s);
  EXPECT_EQ(b.payload, bytes);
  tempo.script({});
  tempo.reject(1);
  b = traces("x");
  r = s.send(b, Clock::now() + 2s);
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.rejected_items, 1u);
  EXPECT_EQ(r.detail, "too old");
  EXPECT_EQ(tempo.calls().back().bytes, bytes);  // what went out is the payload, unchanged
  server->Shutdown(std::chrono::system_clock::now() + 1s);
}

TEST(OtlpGrpcExporterTest, RetriesUnavailableThenDelivers) {
  FakeTempo tempo;
  int port = 0;
  auto server = tempo.serve(0, &port);
  tempo.script({grpc::Status(grpc::StatusCode::UNAVAILABLE, "starting"),
                grpc::Status(grpc::StatusCode::UNAVAILABLE, "starting"), grpc::Status::OK});
  metrics::Registry reg;
  exporterhelper::Exporter e("t", fast(), std::make_shared<GrpcSender>(client(port), log::Logger()),
                             log::Logger(), reg);
  e.start();
  ASSERT_TRUE(e.consume(traces("x")).ok());
  ASSERT_TRUE(waitFor(
      [&] {
        return contains(
            reg, "telegate_exporter_sent_items_total{component_id=\"t\",signal=\"traces\"} 1");
      },
      10s));
  EXPECT_EQ(tempo.calls().size(), 3u);
  EXPECT_TRUE(
      contains(reg, "telegate_exporter_retries_total{component_id=\"t\",signal=\"traces\"} 2"));
  e.shutdown(Clock::now() + 1s);
  server->Shutdown(std::chrono::system_clock::now() + 1s);
}

TEST(OtlpGrpcExporterTest, OutageThenRecoveryDeliversEverythingQueued) {
  // Find a free port, then leave it closed for a while.
  int port = 0;
  {
    FakeTempo probe;
    auto s = probe.serve(0, &port);
    s->Shutdown(std::chrono::system_clock::now());
  }
  ASSERT_NE(port, 0);
  metrics::Registry reg;
  exporterhelper::Exporter e("t", fast(), std::make_shared<GrpcSender>(client(port), log::Logger()),
                             log::Logger(), reg);
  e.start();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(e.consume(traces("x" + std::to_string(i))).ok());
  std::this_thread::sleep_for(1500ms);
  FakeTempo tempo;
  int bound = 0;
  auto server = tempo.serve(port, &bound);
  ASSERT_EQ(bound, port);
  ASSERT_TRUE(waitFor(
      [&] {
        return contains(
            reg, "telegate_exporter_sent_items_total{component_id=\"t\",signal=\"traces\"} 5");
      },
      10s));
  EXPECT_FALSE(contains(reg, "telegate_exporter_send_failed_items_total"));
  e.shutdown(Clock::now() + 1s);
  server->Shutdown(std::chrono::system_clock::now() + 1s);
}

}  // namespace
}  // namespace telegate::otelcol::exporter_otlp
