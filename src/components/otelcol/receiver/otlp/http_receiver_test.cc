#include "src/components/otelcol/receiver/otlp/http_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/common/decompress.h"
#include "src/pdata/otlp_decode.h"

namespace telegate::otelcol::receiver_otlp {
namespace {

using Clock = std::chrono::steady_clock;
using pdata::Signal;
namespace logs_pb = opentelemetry::proto::collector::logs::v1;
namespace trace_pb = opentelemetry::proto::collector::trace::v1;
namespace metrics_pb = opentelemetry::proto::collector::metrics::v1;

constexpr std::string_view kToken = "s3cret-token-value";

// ---- fakes ----

class FakeDispatcher : public Dispatcher {
 public:
  struct Call {
    Signal signal;
    std::string wire;
    std::shared_ptr<const pdata::ClientInfo> client;
    Protocol protocol;
  };
  struct Refusal {
    Signal signal;
    Protocol protocol;
    std::string reason;
  };

  bool hasSignal(Signal s) const override { return has[static_cast<int>(s)]; }

  // Validates like the real dispatcher (checkAndCount), then answers `result`.
  absl::Status dispatch(Signal s, std::string&& wire,
                        std::shared_ptr<const pdata::ClientInfo> client, Protocol p) override {
    std::lock_guard<std::mutex> lk(mu);
    absl::StatusOr<uint64_t> items = pdata::checkAndCount(s, wire);
    calls.push_back({s, std::move(wire), std::move(client), p});
    if (!items.ok()) return items.status();
    return result;
  }
  void countRefused(Signal s, Protocol p, std::string_view reason) override {
    std::lock_guard<std::mutex> lk(mu);
    refused.push_back({s, p, std::string(reason)});
  }
  int retryAfterSeconds() const override { return 7; }

  std::vector<std::string> reasons() {
    std::lock_guard<std::mutex> lk(mu);
    std::vector<std::string> out;
    for (const auto& r : refused) out.push_back(r.reason);
    return out;
  }

  std::mutex mu;
  bool has[3] = {true, true, true};
  absl::Status result;
  std::vector<Call> calls;
  std::vector<Refusal> refused;
};

class FakeAuth : public AuthHandler {
 public:
  AuthResult authenticate(const HeaderLookup& header) const override {
    AuthResult r;
    const std::string_view v = header("authorization");
    if (v.empty()) {
      r.reason = "missing";
      r.message = "missing or empty authorization header: Authorization";
    } else if (v != "Bearer " + std::string(kToken)) {
      r.reason = "invalid_token";
      r.message = "scheme or token does not match";
    } else {
      r.ok = true;
      auto ci = std::make_shared<pdata::ClientInfo>();
      ci->tenant = "tenant-a";
      ci->auth_name = "default";
      r.client = ci;
    }
    return r;
  }
};

// ---- helpers ----

std::string logsWire(const std::string& line = "hello") {
  logs_pb::ExportLogsServiceRequest req;
  auto* rec = req.add_resource_logs()->add_scope_logs()->add_log_records();
  rec->mutable_body()->set_string_value(line);
  rec->set_time_unix_nano(1700000000000000000ull);
  return req.SerializeAsString();
}

std::string tracesWire() {
  trace_pb::ExportTraceServiceRequest req;
  auto* span = req.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_name("op");
  span->set_trace_id(std::string(16, '\x01'));
  span->set_span_id(std::string(8, '\x02'));
  return req.SerializeAsString();
}

std::string metricsWire() {
  metrics_pb::ExportMetricsServiceRequest req;
  auto* m = req.add_resource_metrics()->add_scope_metrics()->add_metrics();
  m->set_name("up");
  m->mutable_gauge()->add_data_points()->set_as_double(1);
  return req.SerializeAsString();
}

constexpr std::string_view kLogsJson =
    R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000",)"
    R"("body":{"stringValue":"from json"}}]}]}]})";

net::HttpRequest makeReq(std::string method, std::string path, std::string content_type,
                         std::string body = "",
                         std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::HttpRequest r;
  r.method = std::move(method);
  r.path = path;
  r.target = std::move(path);
  if (!content_type.empty()) r.headers.emplace_back("Content-Type", std::move(content_type));
  for (auto& h : headers) r.headers.push_back(std::move(h));
  r.body = std::move(body);
  r.remote_addr = "127.0.0.1:5555";
  return r;
}

net::HttpRequest protoPost(std::string path, std::string body,
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
  return makeReq("POST", std::move(path), "application/x-protobuf", std::move(body),
                 std::move(headers));
}

std::string header(const net::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return "";
}

google::rpc::Status parseProtoStatus(const net::HttpResponse& r) {
  google::rpc::Status st;
  EXPECT_EQ(r.content_type, "application/x-protobuf");
  EXPECT_TRUE(st.ParseFromString(r.body)) << r.body;
  return st;
}

// The JSON Status body {"code":N,"message":"..."} parses as google.rpc.Status (protojson).
google::rpc::Status expectJsonStatus(const net::HttpResponse& r, int code,
                                     std::string_view message_part = "") {
  EXPECT_EQ(r.content_type, "application/json");
  const std::string prefix = "{\"code\":" + std::to_string(code) + ",\"message\":\"";
  EXPECT_EQ(r.body.rfind(prefix, 0), 0u) << r.body;
  google::rpc::Status st;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &st).ok()) << r.body;
  EXPECT_EQ(st.code(), code);
  EXPECT_NE(st.message().find(message_part), std::string::npos) << r.body;
  return st;
}

std::string gzipZeros(size_t total) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
  const std::string zeros(1 << 20, '\0');
  std::string out;
  char buf[1 << 16];
  size_t left = total;
  for (;;) {
    const size_t feed = std::min(left, zeros.size());
    left -= feed;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    zs.avail_in = static_cast<uInt>(feed);
    const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof(buf);
      deflate(&zs, flush);
      out.append(buf, sizeof(buf) - zs.avail_out);
    } while (zs.avail_out == 0);
    if (flush == Z_FINISH) break;
  }
  deflateEnd(&zs);
  return out;
}

const std::string& gzipBomb1GiB() {
  static const std::string bomb = gzipZeros(size_t{1} << 30);
  return bomb;
}

long peakRssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

bool resetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

class HttpReceiverTest : public ::testing::Test {
 protected:
  net::HttpResponse handle(const net::HttpRequest& req, bool with_auth = false) {
    return handleOtlpHttp(req, opts, d, with_auth ? &auth : nullptr);
  }

  HttpReceiverOptions opts;
  FakeDispatcher d;
  FakeAuth auth;
};

// ---- success paths ----

TEST_F(HttpReceiverTest, ProtobufOnEveryPathAndPrefix) {
  const struct {
    std::string path;
    Signal signal;
    std::string wire;
  } cases[] = {{"/v1/logs", Signal::kLogs, logsWire()},
               {"/observability/v1/logs", Signal::kLogs, logsWire("x")},
               {"/v1/traces", Signal::kTraces, tracesWire()},
               {"/observability/v1/traces", Signal::kTraces, tracesWire()},
               {"/v1/metrics", Signal::kMetrics, metricsWire()},
               {"/observability/v1/metrics", Signal::kMetrics, metricsWire()}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    d.calls.clear();
    const net::HttpResponse r = handle(protoPost(c.path, c.wire));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "application/x-protobuf");
    EXPECT_EQ(r.body, std::string("\x0a\x00", 2));
    ASSERT_EQ(d.calls.size(), 1u);
    EXPECT_EQ(d.calls[0].signal, c.signal);
    EXPECT_EQ(d.calls[0].wire, c.wire);
    EXPECT_EQ(d.calls[0].protocol, Protocol::kHttpProtobuf);
    EXPECT_EQ(d.calls[0].client, nullptr);
  }
  logs_pb::ExportLogsServiceResponse resp;
  EXPECT_TRUE(resp.ParseFromString(std::string("\x0a\x00", 2)));
  EXPECT_TRUE(resp.has_partial_success());
}

// The rvalue overload (what HttpReceiver uses) hands an uncompressed body to the dispatcher
// without copying it: the dispatched payload is the request's own buffer.
TEST_F(HttpReceiverTest, UncompressedBodyIsMovedNotCopied) {
  net::HttpRequest req = protoPost("/v1/logs", logsWire("moved"));
  req.body.reserve(1 << 20);  // a buffer large enough that the move is observable
  const char* buffer = req.body.data();
  const std::string expected = req.body;
  const net::HttpResponse r = handleOtlpHttp(std::move(req), opts, d, nullptr);
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].wire, expected);
  EXPECT_EQ(d.calls[0].wire.data(), buffer);

  // The const overload copies and leaves the request intact.
  const net::HttpRequest kept = protoPost("/v1/logs", logsWire("kept"));
  EXPECT_EQ(handle(kept).status, 200);
  ASSERT_EQ(d.calls.size(), 2u);
  EXPECT_EQ(d.calls[1].wire, kept.body);
  EXPECT_NE(d.calls[1].wire.data(), kept.body.data());

  // Compressed bodies are decompressed into a new buffer as before.
  net::HttpRequest gz =
      protoPost("/v1/logs", *compress("gzip", logsWire("gz")), {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(handleOtlpHttp(std::move(gz), opts, d, nullptr).status, 200);
  ASSERT_EQ(d.calls.size(), 3u);
  EXPECT_EQ(d.calls[2].wire, logsWire("gz"));
}

TEST_F(HttpReceiverTest, PathRules) {
  // No trailing-slash or case variants; the query is not part of the path.
  for (std::string p : {"/v1/logs/", "/V1/logs", "/observability", "/observabilityv1/logs",
                        "/observability//v1/logs", "/other/v1/logs", "/v1/logsx", "/"}) {
    EXPECT_EQ(handle(protoPost(p, logsWire())).status, 404) << p;
  }
  net::HttpRequest q = protoPost("/v1/logs", logsWire());
  q.target = "/v1/logs?x=1";
  q.query = "x=1";
  EXPECT_EQ(handle(q).status, 200);

  // Custom paths and prefixes; a trailing '/' on a prefix is ignored.
  opts.logs_path = "/custom/logs";
  opts.path_prefixes = {"/a/", "/b"};
  EXPECT_EQ(handle(protoPost("/custom/logs", logsWire())).status, 200);
  EXPECT_EQ(handle(protoPost("/a/custom/logs", logsWire())).status, 200);
  EXPECT_EQ(handle(protoPost("/b/custom/logs", logsWire())).status, 200);
  EXPECT_EQ(handle(protoPost("/v1/logs", logsWire())).status, 404);
  EXPECT_EQ(handle(protoPost("/observability/custom/logs", logsWire())).status, 404);
  opts.path_prefixes.clear();
  EXPECT_EQ(handle(protoPost("/a/custom/logs", logsWire())).status, 404);
}

TEST_F(HttpReceiverTest, JsonBodiesAreConverted) {
  for (std::string ct :
       {"application/json", "application/json; charset=utf-8", "Application/JSON"}) {
    SCOPED_TRACE(ct);
    d.calls.clear();
    const net::HttpResponse r = handle(makeReq("POST", "/v1/logs", ct, std::string(kLogsJson)));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.body, R"({"partialSuccess":{}})");
    ASSERT_EQ(d.calls.size(), 1u);
    EXPECT_EQ(d.calls[0].protocol, Protocol::kHttpJson);
    logs_pb::ExportLogsServiceRequest got;
    ASSERT_TRUE(got.ParseFromString(d.calls[0].wire));
    ASSERT_EQ(got.resource_logs_size(), 1);
    EXPECT_EQ(got.resource_logs(0).scope_logs(0).log_records(0).body().string_value(), "from json");
  }
}

TEST_F(HttpReceiverTest, InvalidJsonIs400WithMessage) {
  const net::HttpResponse r =
      handle(makeReq("POST", "/v1/logs", "application/json", R"({"resourceLogs":[{)"));
  EXPECT_EQ(r.status, 400);
  expectJsonStatus(r, 3);
  EXPECT_GT(r.body.size(), std::string(R"({"code":3,"message":""})").size());
  EXPECT_TRUE(d.calls.empty());
  EXPECT_EQ(d.reasons(), std::vector<std::string>{"malformed"});
}

TEST_F(HttpReceiverTest, TruncatedProtobufGoesToDispatcherAnd400) {
  const std::string wire = logsWire("a fairly long log line to cut in the middle");
  const net::HttpResponse r = handle(protoPost("/v1/logs", wire.substr(0, wire.size() - 5)));
  EXPECT_EQ(r.status, 400);
  const google::rpc::Status st = parseProtoStatus(r);
  EXPECT_EQ(st.code(), 3);
  EXPECT_FALSE(st.message().empty());
  EXPECT_EQ(d.calls.size(), 1u);  // the dispatcher decided
}

// ---- compression ----

TEST_F(HttpReceiverTest, CompressedBodies) {
  const std::string wire = logsWire(std::string(5000, 'z'));
  std::vector<std::pair<std::string, std::string>> bodies;
  for (const char* enc : {"gzip", "zstd", "zlib", "deflate", "snappy"}) {
    bodies.emplace_back(enc, *compress(enc, wire));
  }
  bodies.emplace_back("snappy", compressSnappyFramed(wire));
  for (const auto& [enc, body] : bodies) {
    SCOPED_TRACE(enc);
    d.calls.clear();
    const net::HttpResponse r = handle(protoPost("/v1/logs", body, {{"Content-Encoding", enc}}));
    EXPECT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(d.calls.size(), 1u);
    EXPECT_EQ(d.calls[0].wire, wire);
  }
  // JSON compressed too.
  const net::HttpResponse j =
      handle(makeReq("POST", "/v1/logs", "application/json", *compress("gzip", kLogsJson),
                     {{"Content-Encoding", "gzip"}}));
  EXPECT_EQ(j.status, 200) << j.body;
}

TEST_F(HttpReceiverTest, UnsupportedEncodings) {
  for (const char* enc : {"br", "GZIP", "lz4", "identity"}) {
    SCOPED_TRACE(enc);
    const net::HttpResponse r =
        handle(protoPost("/v1/logs", logsWire(), {{"Content-Encoding", enc}}));
    EXPECT_EQ(r.status, 400);
    const google::rpc::Status st = parseProtoStatus(r);
    EXPECT_EQ(st.code(), 3);
    EXPECT_EQ(st.message(), std::string("unsupported Content-Encoding: ") + enc);
  }
  // JSON request -> JSON error body.
  const net::HttpResponse j =
      handle(makeReq("POST", "/v1/logs", "application/json", "{}", {{"Content-Encoding", "br"}}));
  EXPECT_EQ(j.status, 400);
  EXPECT_EQ(j.body, R"({"code":3,"message":"unsupported Content-Encoding: br"})");
  // A known codec that is not enabled.
  opts.compression_algorithms = {"", "gzip"};
  const net::HttpResponse z =
      handle(protoPost("/v1/logs", *compress("zstd", logsWire()), {{"Content-Encoding", "zstd"}}));
  EXPECT_EQ(z.status, 400);
  EXPECT_TRUE(d.calls.empty());
  EXPECT_EQ(d.reasons().back(), "unsupported_encoding");
}

TEST_F(HttpReceiverTest, CorruptCompressedBodyIs400) {
  const net::HttpResponse r =
      handle(protoPost("/v1/logs", "definitely not gzip", {{"Content-Encoding", "gzip"}}));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parseProtoStatus(r).code(), 3);
  EXPECT_EQ(d.reasons(), std::vector<std::string>{"malformed"});
}

TEST_F(HttpReceiverTest, DecompressedSizeCapIs413) {
  opts.max_request_body_size = 1000;
  const std::string big = logsWire(std::string(5000, 'q'));
  const net::HttpResponse r =
      handle(protoPost("/v1/logs", *compress("gzip", big), {{"Content-Encoding", "gzip"}}));
  EXPECT_EQ(r.status, 413);
  const google::rpc::Status st = parseProtoStatus(r);
  EXPECT_EQ(st.code(), 8);
  EXPECT_EQ(st.message(), "decompressed body exceeds the limit of 1000 bytes");
  EXPECT_EQ(d.reasons(), std::vector<std::string>{"too_large"});
  // Uncompressed bodies over the cap (normally stopped by the server) are refused too.
  EXPECT_EQ(handle(protoPost("/v1/logs", big)).status, 413);
}

TEST_F(HttpReceiverTest, GzipBomb1GiBIs413FastWithBoundedMemory) {
  const std::string& bomb = gzipBomb1GiB();
  ASSERT_LT(bomb.size(), opts.max_request_body_size);
  const net::HttpRequest req = protoPost("/v1/logs", bomb, {{"Content-Encoding", "gzip"}});
  const bool measure = resetPeakRss();
  const long before = peakRssKiB();
  const auto t0 = Clock::now();
  const net::HttpResponse r = handle(req);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const long delta = peakRssKiB() - before;
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(parseProtoStatus(r).code(), 8);
  EXPECT_LT(secs, 10.0);
  if (measure && before > 0) {
    // 20 MiB cap: the output buffer plus one transient copy, nowhere near 1 GiB.
    EXPECT_LT(delta, 96 * 1024) << "peak RSS grew by " << delta << " KiB";
  }
  EXPECT_TRUE(d.calls.empty());
}

// ---- refusals in pipeline order ----

TEST_F(HttpReceiverTest, MethodNotAllowed) {
  for (const char* m : {"GET", "PUT", "OPTIONS", "HEAD"}) {
    const net::HttpResponse r = handle(makeReq(m, "/v1/logs", "application/x-protobuf"));
    EXPECT_EQ(r.status, 405) << m;
    EXPECT_EQ(r.body, "405 method not allowed, supported: [POST]\n");
    EXPECT_EQ(header(r, "Allow"), "POST");
    EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  }
  // Path is checked before the method.
  EXPECT_EQ(handle(makeReq("GET", "/nope", "")).status, 404);
}

TEST_F(HttpReceiverTest, UnsupportedMediaType) {
  for (const char* ct : {"text/plain", "", "application/protobuf", "application/jsonx"}) {
    const net::HttpResponse r = handle(makeReq("POST", "/v1/logs", ct, logsWire()));
    EXPECT_EQ(r.status, 415) << ct;
    EXPECT_EQ(r.body,
              "415 unsupported media type, supported: [application/json, "
              "application/x-protobuf]\n");
  }
  // Media type before encoding.
  EXPECT_EQ(
      handle(makeReq("POST", "/v1/logs", "text/plain", "x", {{"Content-Encoding", "br"}})).status,
      415);
  EXPECT_TRUE(d.calls.empty());
}

TEST_F(HttpReceiverTest, NotFoundAndSignalWithoutConsumer) {
  const net::HttpResponse r = handle(protoPost("/v1/nope", logsWire()));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "404 page not found\n");
  d.has[static_cast<int>(Signal::kLogs)] = false;
  EXPECT_EQ(handle(protoPost("/v1/logs", logsWire())).status, 404);
  EXPECT_EQ(handle(protoPost("/observability/v1/logs", logsWire())).status, 404);
  EXPECT_EQ(handle(protoPost("/v1/traces", tracesWire())).status, 200);
  EXPECT_EQ(d.calls.size(), 1u);
}

// ---- auth ----

TEST_F(HttpReceiverTest, AuthRunsBeforePathMatching) {
  const net::HttpResponse r = handle(protoPost("/not/a/path", logsWire()), /*with_auth=*/true);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(header(r, "WWW-Authenticate"), "Bearer");
  ASSERT_EQ(d.refused.size(), 1u);
  EXPECT_EQ(d.refused[0].reason, "unauthenticated");
  EXPECT_EQ(d.refused[0].signal, Signal::kLogs);
  // Also before method and media type checks.
  EXPECT_EQ(handle(makeReq("GET", "/v1/logs", "text/html"), true).status, 401);
}

TEST_F(HttpReceiverTest, Unauthorized401BodiesInBothEncodingsNeverEchoTheToken) {
  const std::string wrong = "Bearer wrong-credential-12345";
  // protobuf
  net::HttpResponse r = handle(protoPost("/v1/logs", logsWire(), {{"Authorization", wrong}}), true);
  EXPECT_EQ(r.status, 401);
  google::rpc::Status st = parseProtoStatus(r);
  EXPECT_EQ(st.code(), 16);
  EXPECT_EQ(st.message(), "scheme or token does not match");
  EXPECT_EQ(r.body.find("wrong-credential"), std::string::npos);
  // JSON, no Content-Type, and another Content-Type all answer JSON.
  for (const char* ct : {"application/json", "", "text/plain"}) {
    SCOPED_TRACE(ct);
    r = handle(makeReq("POST", "/v1/traces", ct, "{}", {{"Authorization", wrong}}), true);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, R"({"code":16,"message":"scheme or token does not match"})");
    expectJsonStatus(r, 16, "scheme or token does not match");
    EXPECT_EQ(r.body.find("wrong-credential"), std::string::npos);
  }
  // Missing header.
  r = handle(makeReq("POST", "/v1/logs", "application/json", "{}"), true);
  expectJsonStatus(r, 16, "missing or empty authorization header");
  EXPECT_TRUE(d.calls.empty());
  EXPECT_EQ(d.refused.back().protocol, Protocol::kHttpJson);
}

TEST_F(HttpReceiverTest, AuthenticatedRequestCarriesClient) {
  const net::HttpResponse r = handle(
      protoPost("/v1/logs", logsWire(), {{"authorization", "Bearer " + std::string(kToken)}}),
      true);
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(d.calls.size(), 1u);
  ASSERT_NE(d.calls[0].client, nullptr);
  EXPECT_EQ(d.calls[0].client->tenant, "tenant-a");
}

// ---- dispatch results ----

TEST_F(HttpReceiverTest, DispatchStatusMapping) {
  const struct {
    absl::Status st;
    int http;
    bool retry_after;
  } cases[] = {
      {absl::InvalidArgumentError("bad"), 400, false},
      {absl::ResourceExhaustedError("memory limit"), 429, true},
      {absl::UnavailableError("queue full"), 503, true},
      {absl::DeadlineExceededError("slow"), 503, true},
      {absl::UnimplementedError("no logs consumer"), 404, false},
      {absl::InternalError("boom"), 500, false},
      {absl::FailedPreconditionError("x"), 500, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.st.ToString());
    d.result = c.st;
    net::HttpResponse r = handle(protoPost("/v1/logs", logsWire()));
    EXPECT_EQ(r.status, c.http);
    const google::rpc::Status st = parseProtoStatus(r);
    EXPECT_EQ(st.code(), static_cast<int>(c.st.code()));
    EXPECT_EQ(st.message(), std::string(c.st.message()));
    EXPECT_EQ(header(r, "Retry-After"), c.retry_after ? "7" : "");
    r = handle(makeReq("POST", "/v1/logs", "application/json", std::string(kLogsJson)));
    EXPECT_EQ(r.status, c.http);
    expectJsonStatus(r, static_cast<int>(c.st.code()), std::string(c.st.message()));
    EXPECT_EQ(header(r, "Retry-After"), c.retry_after ? "7" : "");
  }
}

TEST_F(HttpReceiverTest, JsonStatusMessageIsEscapedAndValidUtf8) {
  d.result = absl::UnavailableError("quote \" backslash \\ newline \n ctl \x01 bad \xff end");
  const net::HttpResponse r =
      handle(makeReq("POST", "/v1/logs", "application/json", std::string(kLogsJson)));
  EXPECT_EQ(r.body,
            "{\"code\":14,\"message\":\"quote \\\" backslash \\\\ newline \\n ctl \\u0001 bad "
            "\xef\xbf\xbd end\"}");
}

// ---- CORS ----

TEST_F(HttpReceiverTest, CorsPreflightWithoutAuth) {
  opts.cors = CorsOptions{{"https://*.example.com", "http://localhost:3000"}, {"X-Custom"}, 600};
  net::HttpRequest pre = makeReq("OPTIONS", "/v1/traces", "", "",
                                 {{"Origin", "https://app.example.com"},
                                  {"Access-Control-Request-Method", "POST"},
                                  {"Access-Control-Request-Headers", "content-type,x-custom"}});
  net::HttpResponse r = handle(pre, /*with_auth=*/true);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(header(r, "Access-Control-Allow-Methods"), "POST");
  EXPECT_EQ(header(r, "Access-Control-Allow-Credentials"), "true");
  const std::string allow_headers = header(r, "Access-Control-Allow-Headers");
  for (const char* h : {"Content-Type", "Content-Encoding", "Authorization", "X-Custom"}) {
    EXPECT_NE(allow_headers.find(h), std::string::npos) << allow_headers;
  }
  EXPECT_EQ(header(r, "Access-Control-Max-Age"), "600");
  EXPECT_TRUE(d.refused.empty());  // auth did not run

  // Origin not allowed: 204 without a grant.
  pre.headers[0].second = "https://example.org";
  r = handle(pre, true);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "");
  // A header that is not allowed: no grant.
  pre.headers[0].second = "http://localhost:3000";
  pre.headers[2].second = "X-Secret";
  r = handle(pre, true);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "");

  // Actual request from an allowed origin: grant headers, even on errors.
  r = handle(protoPost("/v1/traces", tracesWire(),
                       {{"Origin", "https://a.b.example.com"},
                        {"Authorization", "Bearer " + std::string(kToken)}}),
             true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "https://a.b.example.com");
  EXPECT_EQ(header(r, "Vary"), "Origin");
  r = handle(protoPost("/v1/traces", tracesWire(), {{"Origin", "https://x.example.com"}}), true);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "https://x.example.com");
  r = handle(protoPost("/v1/traces", tracesWire(), {{"Origin", "https://evil.com"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "");
}

TEST_F(HttpReceiverTest, CorsInactiveWithoutOrigins) {
  const net::HttpRequest pre =
      makeReq("OPTIONS", "/v1/logs", "", "",
              {{"Origin", "https://a.example.com"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(handle(pre, true).status, 401);
  EXPECT_EQ(handle(pre).status, 405);
  opts.cors = CorsOptions{};  // present but empty: still inactive
  EXPECT_EQ(handle(pre).status, 405);
  opts.cors = CorsOptions{{"*"}, {}, 0};
  const net::HttpResponse r = handle(pre, true);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "https://a.example.com");
  EXPECT_EQ(header(r, "Access-Control-Max-Age"), "");
}

// ---- network ----

class Conn {
 public:
  explicit Conn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  ~Conn() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
  };
  std::optional<Response> read() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    Response r;
    const std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    r.status = std::stoi(head.substr(9, 3));
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos < head.size()) {
      pos += 2;
      size_t e = head.find("\r\n", pos);
      const std::string line = head.substr(pos, e == std::string::npos ? e : e - pos);
      const size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value[0] == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = e;
    }
    const size_t len =
        r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buf_.size() < len) {
      if (!fill()) return std::nullopt;
    }
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }

 private:
  bool fill() {
    char tmp[8192];
    const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

std::string rawPost(std::string_view path, std::string_view ct, std::string_view body,
                    std::string_view extra = "") {
  return std::string("POST ") + std::string(path) +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: " + std::string(ct) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + std::string(extra) +
         "\r\n" + std::string(body);
}

TEST(HttpReceiverNetTest, ServesOverTcpWithKeepAlive) {
  FakeDispatcher d;
  auto auth = std::make_shared<FakeAuth>();
  HttpReceiverOptions opts;
  opts.endpoint = "127.0.0.1:0";
  opts.max_request_body_size = 4 << 20;
  int provider_calls = 0;
  HttpReceiver rx(opts, d, [&]() -> std::shared_ptr<AuthHandler> {
    ++provider_calls;
    return auth;
  });
  ASSERT_TRUE(rx.start().ok());
  const std::string addr = rx.boundAddress();
  ASSERT_EQ(addr.rfind("127.0.0.1:", 0), 0u) << addr;
  const auto port = static_cast<uint16_t>(std::stoi(addr.substr(addr.find(':') + 1)));
  const std::string bearer = "Authorization: Bearer " + std::string(kToken) + "\r\n";

  Conn c(port);
  ASSERT_TRUE(c.connected());
  // 1: protobuf
  ASSERT_TRUE(c.send(rawPost("/v1/logs", "application/x-protobuf", logsWire(), bearer)));
  auto r1 = c.read();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->headers["content-type"], "application/x-protobuf");
  EXPECT_EQ(r1->body, std::string("\x0a\x00", 2));
  // 2: gzip JSON on the same connection, under the prefix
  ASSERT_TRUE(c.send(rawPost("/observability/v1/logs", "application/json",
                             *compress("gzip", kLogsJson), bearer + "Content-Encoding: gzip\r\n")));
  auto r2 = c.read();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(r2->body, R"({"partialSuccess":{}})");
  // 3: unauthenticated -> 401 at the headers; the body is not read and the connection closes
  ASSERT_TRUE(c.send(rawPost("/v1/logs", "application/json", "{}")));
  auto r3 = c.read();
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->status, 401);
  EXPECT_EQ(r3->headers["www-authenticate"], "Bearer");
  EXPECT_EQ(r3->headers["connection"], "close");
  // 4: 404 (a bodiless refusal keeps the connection)
  Conn c2(port);
  ASSERT_TRUE(c2.send("GET /v2/logs HTTP/1.1\r\nHost: x\r\n" + bearer + "\r\n"));
  auto r4 = c2.read();
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->status, 404);
  EXPECT_EQ(r4->body, "404 page not found\n");
  EXPECT_GE(rx.openConnections(), 1u);
  EXPECT_EQ(d.calls.size(), 2u);
  EXPECT_EQ(provider_calls, 4);

  // Gzip bomb over the wire: 413 from the receiver.
  // (Built before connecting: building it may take longer than the header deadline.)
  const std::string bomb_request = rawPost("/v1/logs", "application/x-protobuf", gzipBomb1GiB(),
                                           bearer + "Content-Encoding: gzip\r\n");
  Conn b(port);
  ASSERT_TRUE(b.send(bomb_request));
  auto rb = b.read();
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->status, 413);

  // Raw body over the limit: the server's own 413.
  Conn big(port);
  ASSERT_TRUE(
      big.send("POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: "
               "application/x-protobuf\r\nContent-Length: 999999999\r\n\r\n"));
  auto rbig = big.read();
  ASSERT_TRUE(rbig);
  EXPECT_EQ(rbig->status, 413);

  rx.stop();
  rx.stop();
  EXPECT_EQ(rx.openConnections(), 0u);
}

TEST(HttpReceiverNetTest, PortInUse) {
  FakeDispatcher d;
  HttpReceiverOptions opts;
  opts.endpoint = "127.0.0.1:0";
  HttpReceiver a(opts, d, nullptr);
  ASSERT_TRUE(a.start().ok());
  opts.endpoint = a.boundAddress();
  HttpReceiver b(opts, d, nullptr);
  const absl::Status st = b.start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message()).find("address already in use"), std::string::npos) << st;
  EXPECT_EQ(b.boundAddress(), "");
}

}  // namespace
}  // namespace telegate::otelcol::receiver_otlp
