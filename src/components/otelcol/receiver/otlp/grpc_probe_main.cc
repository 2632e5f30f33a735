// telegate_grpc_probe: a well-behaved OTLP/gRPC client for integration tests (not installed).
//
// Sends one small ExportLogsServiceRequest after another for --seconds, each with
// `authorization: Bearer <--token>` and a --deadline-ms deadline, pausing --interval-ms between
// calls. Calls alternate between one persistent channel and a channel opened for that call only
// (so both an established connection and new connections are exercised). Prints one JSON object:
//   {"calls":N,"ok":N,"failures":{"<grpc code>":count},"first_failure":"...","max_ms":X,
//    "p50_ms":X,"p99_ms":X}
// and exits 0 when every call succeeded, 1 otherwise (2 on bad arguments). Loopback targets only
// are expected; the tool does not check.
//
// Threading: single-threaded, synchronous calls.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"

namespace {

namespace logs_svc = opentelemetry::proto::collector::logs::v1;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string target;
  std::string token;
  double seconds = 10;
  int deadline_ms = 5000;
  int interval_ms = 20;
};

bool parseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--target") {
      a->target = v;
    } else if (k == "--token") {
      a->token = v;
    } else if (k == "--seconds") {
      a->seconds = std::atof(v.c_str());
    } else if (k == "--deadline-ms") {
      a->deadline_ms = std::atoi(v.c_str());
    } else if (k == "--interval-ms") {
      a->interval_ms = std::atoi(v.c_str());
    } else {
      return false;
    }
  }
  return !a->target.empty() && argc % 2 == 1;
}

std::shared_ptr<grpc::Channel> newChannel(const std::string& target, int salt) {
  grpc::ChannelArguments args;
  args.SetInt("telegate.probe.salt", salt);  // distinct arguments: a connection of its own
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

std::string jsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parseArgs(argc, argv, &a)) {
    std::fprintf(stderr,
                 "usage: telegate_grpc_probe --target HOST:PORT [--token T] [--seconds S] "
                 "[--deadline-ms MS] [--interval-ms MS]\n");
    return 2;
  }
  logs_svc::ExportLogsServiceRequest req;
  req.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body()->set_string_value(
      "probe");
  auto persistent = logs_svc::LogsService::NewStub(newChannel(a.target, 0));

  std::vector<double> latencies;
  std::map<int, int> failures;
  std::string first_failure;
  auto end = Clock::now() +
             std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.seconds));
  for (int i = 0; Clock::now() < end; ++i) {
    std::unique_ptr<logs_svc::LogsService::Stub> fresh;
    logs_svc::LogsService::Stub* stub = persistent.get();
    if (i % 2 == 1) {
      fresh = logs_svc::LogsService::NewStub(newChannel(a.target, i));
      stub = fresh.get();
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(a.deadline_ms));
    // gRPC 1.51's client can fail a loopback connect() spuriously (it reads errno after another
    // call may have changed it); OTLP clients retry, so the probe waits for a ready connection
    // within the deadline instead of counting that as the server's failure.
    ctx.set_wait_for_ready(true);
    if (!a.token.empty()) ctx.AddMetadata("authorization", "Bearer " + a.token);
    logs_svc::ExportLogsServiceResponse resp;
    auto start = Clock::now();
    grpc::Status st = stub->Export(&ctx, req, &resp);
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (!st.ok()) {
      failures[static_cast<int>(st.error_code())]++;
      if (first_failure.empty()) first_failure = st.error_message();
    }
    if (a.interval_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.interval_ms));
  }

  std::sort(latencies.begin(), latencies.end());
  auto pct = [&latencies](double p) {
    if (latencies.empty()) return 0.0;
    size_t idx = static_cast<size_t>(p * static_cast<double>(latencies.size() - 1));
    return latencies[idx];
  };
  size_t failed = 0;
  std::string fail_json;
  for (auto [code, n] : failures) {
    failed += static_cast<size_t>(n);
    if (!fail_json.empty()) fail_json += ",";
    fail_json += "\"" + std::to_string(code) + "\":" + std::to_string(n);
  }
  std::printf(
      "{\"calls\":%zu,\"ok\":%zu,\"failures\":{%s},\"first_failure\":\"%s\",\"max_ms\":%.1f,"
      "\"p50_ms\":%.1f,\"p99_ms\":%.1f}\n",
      latencies.size(), latencies.size() - failed, fail_json.c_str(),
      jsonEscape(first_failure).c_str(), latencies.empty() ? 0.0 : latencies.back(), pct(0.5),
      pct(0.99));
  return failed == 0 && !latencies.empty() ? 0 : 1;
}
