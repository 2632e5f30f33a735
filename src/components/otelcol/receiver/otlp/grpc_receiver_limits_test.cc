// Protective limits of the OTLP/gRPC server: concurrent streams per connection and the memory
// quota derived from --memory.limit. (Rapid stream resets against the real binary:
// test/integration/test_grpc_limits.py.)
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "src/components/otelcol/receiver/otlp/grpc_receiver.h"
#include "test/fakes/wait.h"

namespace telegate::otelcol::receiver_otlp {
namespace {

using ::telegate::testing::waitFor;

namespace logs_svc = opentelemetry::proto::collector::logs::v1;
using namespace std::chrono_literals;

constexpr char kLogsExport[] = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

class CountingDispatcher : public Dispatcher {
 public:
  bool hasSignal(pdata::Signal) const override { return true; }
  absl::Status dispatch(pdata::Signal, std::string&&, std::shared_ptr<const pdata::ClientInfo>,
                        Protocol) override {
    dispatched.fetch_add(1);
    return absl::OkStatus();
  }
  void countRefused(pdata::Signal, Protocol, std::string_view) override {}
  int retryAfterSeconds() const override { return 1; }
  std::atomic<int> dispatched{0};
};

grpc::Status exportOnce(const std::shared_ptr<grpc::Channel>& ch, std::chrono::milliseconds dl) {
  auto stub = logs_svc::LogsService::NewStub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + dl);
  logs_svc::ExportLogsServiceRequest req;
  req.add_resource_logs();
  logs_svc::ExportLogsServiceResponse resp;
  return stub->Export(&ctx, req, &resp);
}

// Calls that reached the server's per-call handling: the auth provider runs once per call.
struct CallCounter {
  std::atomic<int> seen{0};
  AuthProvider provider() {
    return [this] {
      seen.fetch_add(1);
      return std::shared_ptr<AuthHandler>();
    };
  }
};

// Streams opened on one channel and left open (no message sent), until cancelled.
class OpenStreams {
 public:
  OpenStreams(std::shared_ptr<grpc::Channel> ch, int n) : stub_(std::move(ch)) {
    for (int i = 0; i < n; ++i) {
      auto ctx = std::make_unique<grpc::ClientContext>();
      auto call = stub_.PrepareCall(ctx.get(), kLogsExport, &cq_);
      call->StartCall(reinterpret_cast<void*>(static_cast<intptr_t>(i + 1)));
      ctxs_.push_back(std::move(ctx));
      calls_.push_back(std::move(call));
    }
    drain_ = std::thread([this] {
      void* tag;
      bool ok;
      while (cq_.Next(&tag, &ok)) {
      }
    });
  }
  void cancel(size_t i) { ctxs_[i]->TryCancel(); }
  ~OpenStreams() {
    for (auto& c : ctxs_) c->TryCancel();
    // Each call still owes a Finish(); ask for it so the queue can shut down cleanly.
    std::vector<grpc::Status> statuses(calls_.size());
    for (size_t i = 0; i < calls_.size(); ++i) calls_[i]->Finish(&statuses[i], &statuses[i]);
    cq_.Shutdown();
    drain_.join();
  }

 private:
  grpc::GenericStub stub_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs_;
  std::vector<std::unique_ptr<grpc::GenericClientAsyncReaderWriter>> calls_;
  std::thread drain_;
};

TEST(GrpcReceiverLimits, DefaultsAreProtective) {
  GrpcReceiverOptions o;
  EXPECT_EQ(o.max_concurrent_streams, 100);
  EXPECT_EQ(o.max_connection_idle, 10min);
  EXPECT_EQ(o.max_connection_age, 30min);
  EXPECT_EQ(o.max_connection_age_grace, 30s);
  EXPECT_EQ(o.min_ping_interval, 5min);
  EXPECT_EQ(o.max_ping_strikes, 2);
  EXPECT_EQ(o.max_metadata_size, 8u << 10);
  EXPECT_EQ(o.handshake_timeout, 10s);
  EXPECT_EQ(o.max_waiting_calls, 4096);
  EXPECT_EQ(o.abuse_burst, 20);
  EXPECT_EQ(o.abuse_per_second, 10);
}

TEST(GrpcReceiverLimits, MemoryQuotaFollowsMemoryLimit) {
  constexpr size_t kMiB = 1 << 20;
  EXPECT_EQ(defaultMemoryQuota(0), 512 * kMiB);
  EXPECT_EQ(defaultMemoryQuota(64 * kMiB), 32 * kMiB);  // floor
  EXPECT_EQ(defaultMemoryQuota(1024 * kMiB), 256 * kMiB);
}

// The 101st concurrent stream on one connection is not served while 100 are open; it is once
// one of them ends. A stream on another connection is not affected.
TEST(GrpcReceiverLimits, DefaultMaxConcurrentStreamsEnforcedPerConnection) {
  CountingDispatcher d;
  CallCounter counter;
  GrpcReceiverOptions opts;
  opts.endpoint = "127.0.0.1:0";
  opts.completion_threads = 2;
  GrpcReceiver r(opts, d, counter.provider());
  ASSERT_TRUE(r.start().ok());
  auto ch = grpc::CreateChannel(r.boundAddress(), grpc::InsecureChannelCredentials());
  ASSERT_TRUE(exportOnce(ch, 5s).ok());  // connects; the client learns the server's SETTINGS
  int before = counter.seen.load();
  {
    OpenStreams open(ch, 100);
    ASSERT_TRUE(waitFor([&] { return counter.seen.load() == before + 100; }, 10s))
        << counter.seen.load() - before << " of 100 streams reached the server";

    grpc::Status st = exportOnce(ch, 1500ms);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << st.error_message();
    EXPECT_EQ(counter.seen.load(), before + 100) << "the 101st stream was served";

    grpc::ChannelArguments other_args;
    other_args.SetInt("telegate.test.other", 1);
    auto other =
        grpc::CreateCustomChannel(r.boundAddress(), grpc::InsecureChannelCredentials(), other_args);
    EXPECT_TRUE(exportOnce(other, 5s).ok());

    open.cancel(0);
    st = exportOnce(ch, 5s);
    EXPECT_TRUE(st.ok()) << st.error_message();
  }
  r.stop(std::chrono::steady_clock::now() + 1s);
}

// max_concurrent_streams = 0 restores Alloy's unlimited behaviour.
TEST(GrpcReceiverLimits, ZeroMeansUnlimited) {
  CountingDispatcher d;
  GrpcReceiverOptions opts;
  opts.endpoint = "127.0.0.1:0";
  opts.completion_threads = 2;
  opts.max_concurrent_streams = 0;
  CallCounter counter;
  GrpcReceiver r(opts, d, counter.provider());
  ASSERT_TRUE(r.start().ok());
  auto ch = grpc::CreateChannel(r.boundAddress(), grpc::InsecureChannelCredentials());
  ASSERT_TRUE(exportOnce(ch, 5s).ok());
  {
    OpenStreams open(ch, 120);
    ASSERT_TRUE(waitFor([&] { return counter.seen.load() >= 121; }, 10s));
    EXPECT_TRUE(exportOnce(ch, 5s).ok());
  }
  r.stop(std::chrono::steady_clock::now() + 1s);
}

// Calls left waiting for their request message are capped server-wide; past the cap new calls
// are refused with RESOURCE_EXHAUSTED until one of the waiting calls ends.
TEST(GrpcReceiverLimits, WaitingCallsCapped) {
  CountingDispatcher d;
  CallCounter counter;
  GrpcReceiverOptions opts;
  opts.endpoint = "127.0.0.1:0";
  opts.completion_threads = 2;
  opts.max_waiting_calls = 3;
  opts.abuse_burst = 0;  // keep the connection open: this test is about the cap alone
  GrpcReceiver r(opts, d, counter.provider());
  ASSERT_TRUE(r.start().ok());
  auto ch = grpc::CreateChannel(r.boundAddress(), grpc::InsecureChannelCredentials());
  ASSERT_TRUE(exportOnce(ch, 5s).ok());
  int before = counter.seen.load();
  {
    OpenStreams open(ch, 3);
    ASSERT_TRUE(waitFor([&] { return counter.seen.load() == before + 3; }, 10s));
    grpc::Status st = exportOnce(ch, 5s);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
    open.cancel(0);
    EXPECT_TRUE(waitFor([&] { return exportOnce(ch, 5s).ok(); }, 10s));
  }
  r.stop(std::chrono::steady_clock::now() + 1s);
}

// Refuses every call: the client's token is never right.
class DenyAll : public AuthHandler {
 public:
  AuthResult authenticate(const HeaderLookup&) const override {
    AuthResult r;
    r.reason = "invalid_token";
    r.message = "scheme or token does not match";
    return r;
  }
};

// A connection that keeps failing authentication is closed once its abuse budget is spent; the
// client sees the connection end and reconnects. Other connections are not affected.
TEST(GrpcReceiverLimits, ConnectionClosedAfterAbuseBudget) {
  CountingDispatcher d;
  std::atomic<int> closed{0};
  GrpcReceiverOptions opts;
  opts.endpoint = "127.0.0.1:0";
  opts.completion_threads = 2;
  opts.abuse_burst = 5;
  opts.abuse_per_second = 0.001;
  opts.on_connection_closed = [&closed] { closed.fetch_add(1); };
  auto deny = std::make_shared<DenyAll>();
  GrpcReceiver r(opts, d, [deny] { return deny; });
  ASSERT_TRUE(r.start().ok());
  auto ch = grpc::CreateChannel(r.boundAddress(), grpc::InsecureChannelCredentials());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(exportOnce(ch, 5s).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(closed.load(), 0);
  EXPECT_EQ(ch->GetState(false), GRPC_CHANNEL_READY);
  exportOnce(ch, 5s);  // the sixth abusive stream closes the connection
  EXPECT_TRUE(waitFor([&] { return closed.load() == 1; }, 5s));
  EXPECT_TRUE(waitFor([&] { return ch->GetState(false) != GRPC_CHANNEL_READY; }, 5s));
  r.stop(std::chrono::steady_clock::now() + 1s);
}

}  // namespace
}  // namespace telegate::otelcol::receiver_otlp
