#include "src/components/otelcol/receiver/otlp/grpc_receiver.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "test/fakes/wait.h"

namespace telegate::otelcol::receiver_otlp {
namespace {

namespace trace_svc = opentelemetry::proto::collector::trace::v1;
namespace metrics_svc = opentelemetry::proto::collector::metrics::v1;
namespace logs_svc = opentelemetry::proto::collector::logs::v1;
using pdata::Signal;
using namespace std::chrono_literals;
using ::telegate::testing::waitFor;

struct Dispatched {
  Signal signal;
  std::string wire;
  std::shared_ptr<const pdata::ClientInfo> client;
};

class FakeDispatcher : public Dispatcher {
 public:
  bool hasSignal(Signal s) const override { return enabled[static_cast<int>(s)].load(); }
  absl::Status dispatch(Signal signal, std::string&& wire,
                        std::shared_ptr<const pdata::ClientInfo> client,
                        Protocol protocol) override {
    EXPECT_EQ(protocol, Protocol::kGrpc);
    in_dispatch.fetch_add(1);
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    absl::Status result;
    {
      std::lock_guard<std::mutex> lock(mu);
      calls.push_back({signal, std::move(wire), std::move(client)});
      result = next_status;
    }
    in_dispatch.fetch_sub(1);
    return result;
  }
  void countRefused(Signal signal, Protocol protocol, std::string_view reason) override {
    std::lock_guard<std::mutex> lock(mu);
    refused.emplace_back(signal, std::string(reason));
  }
  int retryAfterSeconds() const override { return 7; }

  size_t callCount() {
    std::lock_guard<std::mutex> lock(mu);
    return calls.size();
  }

  std::atomic<bool> enabled[3] = {true, true, true};
  std::chrono::milliseconds delay{0};
  std::atomic<int> in_dispatch{0};
  std::mutex mu;
  std::vector<Dispatched> calls;
  std::vector<std::pair<Signal, std::string>> refused;
  absl::Status next_status;
};

// Accepts "Bearer secret-token" in `authorization`; never echoes what was presented.
class FakeAuth : public AuthHandler {
 public:
  AuthResult authenticate(const HeaderLookup& header) const override {
    AuthResult r;
    std::string_view v = header("authorization");
    if (v.empty()) {
      r.reason = "missing";
      r.message = "missing or empty authorization header: Authorization";
      return r;
    }
    if (v != "Bearer secret-token") {
      r.reason = "invalid_token";
      r.message = "scheme or token does not match";
      return r;
    }
    r.ok = true;
    auto ci = std::make_shared<pdata::ClientInfo>();
    ci->tenant = "tenant-a";
    ci->auth_name = "bearer";
    r.client = ci;
    return r;
  }
};

trace_svc::ExportTraceServiceRequest traceRequest(int spans, size_t name_len = 16) {
  trace_svc::ExportTraceServiceRequest req;
  auto* ss = req.add_resource_spans()->add_scope_spans();
  for (int i = 0; i < spans; ++i) {
    auto* span = ss->add_spans();
    span->set_name(std::string(name_len, static_cast<char>('a' + i % 26)));
    span->set_trace_id(std::string(16, '\x01'));
    span->set_span_id(std::string(8, static_cast<char>(i)));
  }
  return req;
}

class GrpcReceiverTest : public ::testing::Test {
 protected:
  void startServer(GrpcReceiverOptions opts = {}, AuthProvider auth = nullptr) {
    opts.endpoint = "127.0.0.1:0";
    if (opts.completion_threads == 0) opts.completion_threads = 4;
    receiver_ = std::make_unique<GrpcReceiver>(std::move(opts), dispatcher_, std::move(auth));
    absl::Status st = receiver_->start();
    ASSERT_TRUE(st.ok()) << st;
    channel_ = newChannel();
  }
  std::shared_ptr<grpc::Channel> newChannel(int idx = 0) {
    grpc::ChannelArguments args;
    args.SetInt("telegate.test.channel", idx);  // distinct args -> distinct connection
    args.SetMaxReceiveMessageSize(-1);
    return grpc::CreateCustomChannel(receiver_->boundAddress(), grpc::InsecureChannelCredentials(),
                                     args);
  }
  void TearDown() override {
    if (receiver_) receiver_->stop(std::chrono::steady_clock::now() + 2s);
  }

  grpc::Status exportTraces(const trace_svc::ExportTraceServiceRequest& req,
                            const std::string& token = "",
                            grpc_compression_algorithm comp = GRPC_COMPRESS_NONE) {
    auto stub = trace_svc::TraceService::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    if (!token.empty()) ctx.AddMetadata("authorization", token);
    if (comp != GRPC_COMPRESS_NONE) ctx.set_compression_algorithm(comp);
    trace_svc::ExportTraceServiceResponse resp;
    return stub->Export(&ctx, req, &resp);
  }

  // Unary call on an arbitrary method with raw bytes.
  grpc::Status rawCall(const std::string& method, const std::string& body, std::string* out) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    grpc::Slice slice(body);
    grpc::ByteBuffer req(&slice, 1);
    grpc::ByteBuffer resp;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, method, grpc::StubOptions(), &req, &resp,
                   [&done](grpc::Status s) { done.set_value(std::move(s)); });
    grpc::Status st = done.get_future().get();
    if (st.ok() && out != nullptr) {
      std::vector<grpc::Slice> slices;
      EXPECT_TRUE(resp.Dump(&slices).ok());
      out->clear();
      for (auto& s : slices) out->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return st;
  }

  FakeDispatcher dispatcher_;
  std::unique_ptr<GrpcReceiver> receiver_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(GrpcReceiverTest, DeliversAllSignalsWithExactBytes) {
  startServer();
  auto treq = traceRequest(3);
  ASSERT_TRUE(exportTraces(treq).ok());

  metrics_svc::ExportMetricsServiceRequest mreq;
  auto* m = mreq.add_resource_metrics()->add_scope_metrics()->add_metrics();
  m->set_name("requests_total");
  m->mutable_sum()->add_data_points()->set_as_int(42);
  {
    auto stub = metrics_svc::MetricsService::NewStub(channel_);
    grpc::ClientContext ctx;
    metrics_svc::ExportMetricsServiceResponse resp;
    ASSERT_TRUE(stub->Export(&ctx, mreq, &resp).ok());
    EXPECT_FALSE(resp.has_partial_success());
  }
  logs_svc::ExportLogsServiceRequest lreq;
  lreq.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body()->set_string_value(
      "hello");
  {
    auto stub = logs_svc::LogsService::NewStub(channel_);
    grpc::ClientContext ctx;
    logs_svc::ExportLogsServiceResponse resp;
    ASSERT_TRUE(stub->Export(&ctx, lreq, &resp).ok());
  }
  std::lock_guard<std::mutex> lock(dispatcher_.mu);
  ASSERT_EQ(dispatcher_.calls.size(), 3u);
  EXPECT_EQ(dispatcher_.calls[0].signal, Signal::kTraces);
  EXPECT_EQ(dispatcher_.calls[0].wire, treq.SerializeAsString());
  EXPECT_EQ(dispatcher_.calls[1].signal, Signal::kMetrics);
  EXPECT_EQ(dispatcher_.calls[1].wire, mreq.SerializeAsString());
  EXPECT_EQ(dispatcher_.calls[2].signal, Signal::kLogs);
  EXPECT_EQ(dispatcher_.calls[2].wire, lreq.SerializeAsString());
  EXPECT_EQ(dispatcher_.calls[0].client, nullptr);
}

TEST_F(GrpcReceiverTest, ResponseIsEmptyMessage) {
  startServer();
  std::string out = "x";
  grpc::Status st = rawCall("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                            traceRequest(1).SerializeAsString(), &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out, "");
}

TEST_F(GrpcReceiverTest, LargeMessageMultipleSlices) {
  GrpcReceiverOptions opts;
  opts.max_recv_msg_size = 16 << 20;
  startServer(opts);
  auto req = traceRequest(10000, 300);  // ~3.5 MB, arrives in many slices
  ASSERT_TRUE(exportTraces(req).ok());
  std::lock_guard<std::mutex> lock(dispatcher_.mu);
  ASSERT_EQ(dispatcher_.calls.size(), 1u);
  EXPECT_EQ(dispatcher_.calls[0].wire, req.SerializeAsString());
}

TEST_F(GrpcReceiverTest, AuthMissingAndWrongAreUnauthenticated) {
  auto handler = std::make_shared<FakeAuth>();
  startServer({}, [handler] { return handler; });
  grpc::Status st = exportTraces(traceRequest(1));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(st.error_message(), "missing or empty authorization header: Authorization");

  st = exportTraces(traceRequest(1), "Bearer wrong-token-XYZ");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(st.error_message().find("wrong-token-XYZ"), std::string::npos);
  EXPECT_EQ(dispatcher_.callCount(), 0u);

  std::lock_guard<std::mutex> lock(dispatcher_.mu);
  ASSERT_EQ(dispatcher_.refused.size(), 2u);
  EXPECT_EQ(dispatcher_.refused[0].first, Signal::kTraces);
  EXPECT_EQ(dispatcher_.refused[0].second, "unauthenticated");
  EXPECT_EQ(dispatcher_.refused[1].second, "unauthenticated");
}

TEST_F(GrpcReceiverTest, AuthGoodTokenPassesClientInfo) {
  auto handler = std::make_shared<FakeAuth>();
  startServer({}, [handler] { return handler; });
  ASSERT_TRUE(exportTraces(traceRequest(2), "Bearer secret-token").ok());
  std::lock_guard<std::mutex> lock(dispatcher_.mu);
  ASSERT_EQ(dispatcher_.calls.size(), 1u);
  ASSERT_NE(dispatcher_.calls[0].client, nullptr);
  EXPECT_EQ(dispatcher_.calls[0].client->tenant, "tenant-a");
  EXPECT_EQ(dispatcher_.calls[0].client->auth_name, "bearer");
  EXPECT_TRUE(dispatcher_.refused.empty());
}

TEST_F(GrpcReceiverTest, NullHandlerMeansNoAuth) {
  startServer({}, [] { return std::shared_ptr<AuthHandler>(); });
  ASSERT_TRUE(exportTraces(traceRequest(1)).ok());
  EXPECT_EQ(dispatcher_.callCount(), 1u);
}

TEST_F(GrpcReceiverTest, InvalidArgumentMapped) {
  startServer();
  dispatcher_.next_status = absl::InvalidArgumentError("proto: cannot parse invalid wire-format");
  grpc::Status st = exportTraces(traceRequest(1));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "proto: cannot parse invalid wire-format");
  EXPECT_TRUE(st.error_details().empty());
}

void expectRetryInfo(const grpc::Status& st, grpc::StatusCode code, const std::string& msg) {
  EXPECT_EQ(st.error_code(), code);
  EXPECT_EQ(st.error_message(), msg);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(st.error_details()));
  EXPECT_EQ(details.code(), static_cast<int>(code));
  EXPECT_EQ(details.message(), msg);
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(details.details(0).Is<google::rpc::RetryInfo>());
  ASSERT_TRUE(details.details(0).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 7);
}

TEST_F(GrpcReceiverTest, ResourceExhaustedCarriesRetryInfo) {
  startServer();
  dispatcher_.next_status = absl::ResourceExhaustedError("queue is full");
  expectRetryInfo(exportTraces(traceRequest(1)), grpc::StatusCode::RESOURCE_EXHAUSTED,
                  "queue is full");
}

TEST_F(GrpcReceiverTest, UnavailableCarriesRetryInfo) {
  startServer();
  dispatcher_.next_status = absl::UnavailableError("backend down");
  expectRetryInfo(exportTraces(traceRequest(1)), grpc::StatusCode::UNAVAILABLE, "backend down");
}

TEST_F(GrpcReceiverTest, UnimplementedWhenSignalNotConfigured) {
  auto handler = std::make_shared<FakeAuth>();
  startServer({}, [handler] { return handler; });
  dispatcher_.enabled[static_cast<int>(Signal::kLogs)] = false;
  auto stub = logs_svc::LogsService::NewStub(channel_);
  grpc::ClientContext ctx;  // no token: UNIMPLEMENTED wins over UNAUTHENTICATED (as in grpc-go)
  logs_svc::ExportLogsServiceResponse resp;
  grpc::Status st = stub->Export(&ctx, logs_svc::ExportLogsServiceRequest(), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(st.error_message(),
            "unknown service opentelemetry.proto.collector.logs.v1.LogsService");
  EXPECT_EQ(dispatcher_.callCount(), 0u);
  std::lock_guard<std::mutex> lock(dispatcher_.mu);
  ASSERT_EQ(dispatcher_.refused.size(), 1u);
  EXPECT_EQ(dispatcher_.refused[0].first, Signal::kLogs);
  EXPECT_EQ(dispatcher_.refused[0].second, "not_found");
}

TEST_F(GrpcReceiverTest, UnknownMethodsUnimplemented) {
  startServer();
  grpc::Status st = rawCall("/foo.Bar/Baz", "", nullptr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(st.error_message(), "unknown service foo.Bar");
  st = rawCall("/opentelemetry.proto.collector.trace.v1.TraceService/Push", "", nullptr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(st.error_message(),
            "unknown method Push for service opentelemetry.proto.collector.trace.v1.TraceService");
  EXPECT_EQ(dispatcher_.callCount(), 0u);
}

TEST_F(GrpcReceiverTest, CompressedRequestsAccepted) {
  startServer();
  auto req = traceRequest(500, 200);
  ASSERT_TRUE(exportTraces(req, "", GRPC_COMPRESS_GZIP).ok());
  ASSERT_TRUE(exportTraces(req, "", GRPC_COMPRESS_DEFLATE).ok());
  std::lock_guard<std::mutex> lock(dispatcher_.mu);
  ASSERT_EQ(dispatcher_.calls.size(), 2u);
  EXPECT_EQ(dispatcher_.calls[0].wire, req.SerializeAsString());
  EXPECT_EQ(dispatcher_.calls[1].wire, req.SerializeAsString());
}

TEST_F(GrpcReceiverTest, OversizedMessageRefusedAndServerKeepsServing) {
  GrpcReceiverOptions opts;
  opts.max_recv_msg_size = 4096;
  startServer(opts);
  grpc::Status st = exportTraces(traceRequest(200));  // ~9 KB
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  // Small on the wire, large once decompressed: the limit applies to the decompressed size too.
  st = exportTraces(traceRequest(2, 100000), "", GRPC_COMPRESS_GZIP);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_EQ(dispatcher_.callCount(), 0u);
  EXPECT_TRUE(exportTraces(traceRequest(2)).ok());  // same channel still works
  EXPECT_EQ(dispatcher_.callCount(), 1u);
}

TEST_F(GrpcReceiverTest, HealthServing) {
  startServer();
  // grpc.health.v1.HealthCheckRequest{service: ""} is empty; the response
  // HealthCheckResponse{status: SERVING(1)} is 08 01.
  std::string out;
  grpc::Status st = rawCall("/grpc.health.v1.Health/Check", "", &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out, std::string("\x08\x01", 2));
  // service "opentelemetry.proto.collector.trace.v1.TraceService"
  std::string svc = "opentelemetry.proto.collector.trace.v1.TraceService";
  std::string req = std::string("\x0a", 1) + static_cast<char>(svc.size()) + svc;
  st = rawCall("/grpc.health.v1.Health/Check", req, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out, std::string("\x08\x01", 2));
}

TEST_F(GrpcReceiverTest, StopLetsInFlightCallFinish) {
  startServer();
  dispatcher_.delay = 400ms;
  auto fut = std::async(std::launch::async, [&] { return exportTraces(traceRequest(1)); });
  ASSERT_TRUE(waitFor([&] { return dispatcher_.in_dispatch.load() > 0; }, 10s, 1ms));
  auto t0 = std::chrono::steady_clock::now();
  receiver_->stop(t0 + 5s);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 3s);
  grpc::Status st = fut.get();
  EXPECT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  EXPECT_EQ(dispatcher_.callCount(), 1u);
  // New calls are refused after stop.
  grpc::Status after = exportTraces(traceRequest(1));
  EXPECT_FALSE(after.ok());
}

TEST_F(GrpcReceiverTest, StopCancelsCallsPastDeadline) {
  startServer();
  dispatcher_.delay = 1500ms;
  std::chrono::steady_clock::time_point client_done_at;
  auto fut = std::async(std::launch::async, [&] {
    grpc::Status st = exportTraces(traceRequest(1));
    client_done_at = std::chrono::steady_clock::now();
    return st;
  });
  ASSERT_TRUE(waitFor([&] { return dispatcher_.in_dispatch.load() > 0; }, 10s, 1ms));
  auto t0 = std::chrono::steady_clock::now();
  receiver_->stop(t0 + 200ms);
  // The client sees the cancellation at the deadline, not when dispatch() returns.
  grpc::Status st = fut.get();
  auto client_done = client_done_at - t0;
  EXPECT_FALSE(st.ok());
  EXPECT_LT(client_done, 1200ms);
  // stop() returned only once dispatch() had returned: the dispatcher is no longer in use.
  EXPECT_EQ(dispatcher_.in_dispatch.load(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

TEST_F(GrpcReceiverTest, ConcurrentClients) {
  startServer();
  constexpr int kThreads = 8, kCalls = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = trace_svc::TraceService::NewStub(newChannel(t + 1));
      auto req = traceRequest(10 + t);
      for (int i = 0; i < kCalls; ++i) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 20s);
        // gRPC 1.51's client can fail a loopback connect() spuriously (it reads errno after
        // another call may have changed it: "No such file or directory"); wait for a ready
        // connection as OTLP clients retry, instead of failing every call until the backoff ends.
        ctx.set_wait_for_ready(true);
        trace_svc::ExportTraceServiceResponse resp;
        grpc::Status st = stub->Export(&ctx, req, &resp);
        if (st.ok()) {
          ok.fetch_add(1);
        } else {
          ADD_FAILURE() << st.error_code() << " " << st.error_message();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kCalls);
  std::lock_guard<std::mutex> lock(dispatcher_.mu);
  ASSERT_EQ(dispatcher_.calls.size(), static_cast<size_t>(kThreads * kCalls));
  std::map<size_t, int> by_size;
  for (auto& c : dispatcher_.calls) by_size[c.wire.size()]++;
  EXPECT_EQ(by_size.size(), static_cast<size_t>(kThreads));
  for (auto& [size, n] : by_size) EXPECT_EQ(n, kCalls);
}

TEST_F(GrpcReceiverTest, PortInUse) {
  startServer();
  std::string addr = receiver_->boundAddress();
  ASSERT_EQ(addr.rfind("127.0.0.1:", 0), 0u) << addr;
  EXPECT_NE(addr, "127.0.0.1:0");
  GrpcReceiverOptions opts;
  opts.endpoint = addr;
  opts.completion_threads = 1;
  GrpcReceiver second(opts, dispatcher_, nullptr);
  absl::Status st = second.start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(std::string(st.message()), "listen tcp " + addr + ": bind: address already in use");
  second.stop(std::chrono::steady_clock::now());
  // The first server is unaffected.
  EXPECT_TRUE(exportTraces(traceRequest(1)).ok());
}

TEST(GrpcReceiverStandalone, BadEndpointsAndLifecycle) {
  FakeDispatcher d;
  {
    GrpcReceiverOptions opts;
    opts.endpoint = "127.0.0.1";
    GrpcReceiver r(opts, d, nullptr);
    absl::Status st = r.start();
    EXPECT_EQ(std::string(st.message()),
              "listen tcp 127.0.0.1: address 127.0.0.1: missing port in address");
  }
  {
    // Destructor without stop(); stop() twice; start() twice.
    GrpcReceiverOptions opts;
    opts.endpoint = "127.0.0.1:0";
    opts.completion_threads = 1;
    GrpcReceiver r(opts, d, nullptr);
    ASSERT_TRUE(r.start().ok());
    EXPECT_FALSE(r.start().ok());
  }
  {
    GrpcReceiverOptions opts;
    opts.endpoint = "127.0.0.1:0";
    GrpcReceiver r(opts, d, nullptr);
    r.stop(std::chrono::steady_clock::now());  // never started
  }
}

TEST(GrpcReceiverStandalone, KeepaliveOptionsAccepted) {
  FakeDispatcher d;
  GrpcReceiverOptions opts;
  opts.endpoint = "127.0.0.1:0";
  opts.completion_threads = 2;
  opts.max_concurrent_streams = 16;
  opts.keepalive_time = 30s;
  opts.keepalive_timeout = 5s;
  opts.max_connection_idle = 60s;
  opts.max_connection_age = 120s;
  opts.max_connection_age_grace = 10s;
  opts.min_ping_interval = 10s;
  opts.permit_without_stream = true;
  GrpcReceiver r(opts, d, nullptr);
  ASSERT_TRUE(r.start().ok());
  auto stub = trace_svc::TraceService::NewStub(
      grpc::CreateChannel(r.boundAddress(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  trace_svc::ExportTraceServiceResponse resp;
  EXPECT_TRUE(stub->Export(&ctx, traceRequest(1), &resp).ok());
  r.stop(std::chrono::steady_clock::now() + 1s);
}

class NullDispatcher : public Dispatcher {
 public:
  bool hasSignal(Signal) const override { return true; }
  absl::Status dispatch(Signal, std::string&& wire, std::shared_ptr<const pdata::ClientInfo>,
                        Protocol) override {
    bytes.fetch_add(wire.size(), std::memory_order_relaxed);
    return absl::OkStatus();
  }
  void countRefused(Signal, Protocol, std::string_view) override {}
  std::atomic<uint64_t> bytes{0};
};

double cpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Rough throughput check (client and server share the machine): run with
// --gtest_also_run_disabled_tests --gtest_filter=*Throughput*.
TEST(GrpcReceiverStandalone, DISABLED_Throughput) {
  NullDispatcher d;
  GrpcReceiverOptions opts;
  opts.endpoint = "127.0.0.1:0";
  GrpcReceiver r(opts, d, nullptr);
  ASSERT_TRUE(r.start().ok());
  constexpr int kSpans = 1000;
  const std::string body = traceRequest(kSpans, 760).SerializeAsString();
  std::cerr << "payload bytes: " << body.size() << "\n";
  std::atomic<uint64_t> requests{0};
  std::atomic<bool> done{false};
  const int clients = 4;
  std::vector<std::thread> threads;
  double cpu0 = cpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      grpc::ChannelArguments args;
      args.SetInt("telegate.test.channel", c);
      grpc::GenericStub stub(
          grpc::CreateCustomChannel(r.boundAddress(), grpc::InsecureChannelCredentials(), args));
      grpc::Slice slice(body);
      grpc::ByteBuffer req(&slice, 1);
      while (!done.load()) {
        grpc::ClientContext ctx;
        grpc::ByteBuffer resp;
        std::promise<grpc::Status> p;
        stub.UnaryCall(&ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                       grpc::StubOptions(), &req, &resp,
                       [&p](grpc::Status s) { p.set_value(std::move(s)); });
        if (p.get_future().get().ok()) requests.fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(3s);
  done = true;
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = cpuSeconds() - cpu0;
  double spans = static_cast<double>(requests.load()) * kSpans;
  std::cerr << "requests/s: " << requests.load() / secs << "  spans/s: " << spans / secs
            << "  MB/s: " << d.bytes.load() / secs / 1e6
            << "  process CPU s per 1M spans (client+server): " << cpu / (spans / 1e6) << "\n";
  r.stop(std::chrono::steady_clock::now() + 1s);
}

}  // namespace
}  // namespace telegate::otelcol::receiver_otlp
