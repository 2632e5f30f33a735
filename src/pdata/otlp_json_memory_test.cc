// Working-memory tests for otlpJsonToWire(): a separate test binary whose global operator new and
// delete count the bytes live on the heap, so each test measures the peak the decoder allocates
// during one call (the returned wire string included) and checks it against
// otlpJsonWorkingMemory() (otlp_decode.h), on amplification bodies and on a realistic one.
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "src/common/strings.h"
#include "src/pdata/otlp_decode.h"

namespace {

std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};

void* counted(void* p) {
  if (p == nullptr) return nullptr;
  const int64_t now = g_live += static_cast<int64_t>(malloc_usable_size(p));
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
  return p;
}
void release(void* p) {
  if (p == nullptr) return;
  g_live -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}
void* allocate(std::size_t n) {
  void* p = counted(std::malloc(n == 0 ? 1 : n));
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* allocateAligned(std::size_t n, std::align_val_t a) {
  const auto align = static_cast<std::size_t>(a);
  void* p = counted(std::aligned_alloc(align, (n + align - 1) / align * align));
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t n) {
  return allocate(n);
}
void* operator new[](std::size_t n) {
  return allocate(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted(std::malloc(n == 0 ? 1 : n));
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted(std::malloc(n == 0 ? 1 : n));
}
void* operator new(std::size_t n, std::align_val_t a) {
  return allocateAligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocateAligned(n, a);
}
void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}

namespace telegate::pdata {
namespace {

constexpr size_t kBody = 4 << 20;  // large enough that the fixed overhead does not matter

struct Measured {
  absl::StatusOr<DecodedJson> result;
  int64_t peak = 0;  // bytes allocated at once during the call, above what was live before
};

// Decodes on a new thread (as a fresh worker would), so that nothing the decoder might keep per
// thread from an earlier call hides its allocations.
Measured decodeMeasured(Signal s, const std::string& json) {
  Measured m;
  std::thread worker([&] {
    const int64_t before = g_live.load();
    g_peak = before;
    m.result = otlpJsonToWire(s, json);
    m.peak = g_peak.load() - before;
  });
  worker.join();
  return m;
}

// `head` + count copies of `element` joined by commas + `tail`.
std::string repeated(std::string_view head, std::string_view element, std::string_view tail,
                     size_t body_size) {
  std::string s(head);
  const size_t count = (body_size - head.size() - tail.size()) / (element.size() + 1);
  s.reserve(body_size + element.size());
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) s.push_back(',');
    s.append(element);
  }
  s.append(tail);
  return s;
}

void expectWithinBound(const Measured& m, size_t body) {
  std::printf("peak %lld bytes = %.2fx the body of %zu bytes\n", static_cast<long long>(m.peak),
              static_cast<double>(m.peak) / static_cast<double>(body), body);
  EXPECT_LE(static_cast<size_t>(m.peak), otlpJsonWorkingMemory(body))
      << "peak " << m.peak << " bytes for a body of " << body << " bytes";
}

TEST(OtlpJsonMemoryTest, CountingAllocatorSeesAllocations) {
  const int64_t before = g_live.load();
  auto* s = new std::string(1 << 20, 'x');
  EXPECT_GE(g_live.load() - before, 1 << 20);
  delete s;
  EXPECT_EQ(g_live.load(), before);
}

TEST(OtlpJsonMemoryTest, NonObjectsInAMessageListFailAtTheFirstElement) {
  const std::string body = repeated(R"({"resourceLogs":[)", "0", "]}", kBody);
  Measured m = decodeMeasured(Signal::kLogs, body);
  ASSERT_FALSE(m.result.ok());
  EXPECT_EQ(m.result.status().message(),
            "expected a JSON object for ResourceLogs at resourceLogs[0]");
  expectWithinBound(m, body.size());
  // Nothing is held per element: only the output buffer reserved up front (0.75x, untouched).
  EXPECT_LE(static_cast<size_t>(m.peak), body.size());
}

TEST(OtlpJsonMemoryTest, EmptyObjectsInAMessageList) {
  // Valid: 400k empty ResourceLogs messages, 2 wire bytes each.
  const std::string body = repeated(R"({"resourceLogs":[)", "{}", "]}", kBody);
  Measured m = decodeMeasured(Signal::kLogs, body);
  ASSERT_TRUE(m.result.ok()) << m.result.status();
  EXPECT_EQ(m.result->items, 0u);
  EXPECT_EQ(m.result->wire.size(), (body.size() - 18) / 3 * 2);
  expectWithinBound(m, body.size());
  EXPECT_LE(static_cast<size_t>(m.peak), body.size());
}

TEST(OtlpJsonMemoryTest, EmptyValuesInAnyValueArrays) {
  const std::string body =
      repeated(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"arrayValue":{"values":[)",
               "null", "]}}}]}]}]}", kBody);
  Measured m = decodeMeasured(Signal::kLogs, body);
  ASSERT_TRUE(m.result.ok()) << m.result.status();
  EXPECT_EQ(m.result->items, 1u);
  expectWithinBound(m, body.size());
}

TEST(OtlpJsonMemoryTest, DeeplyNestedBodies) {
  // Many records whose bodies nest arrays 40 deep (valid), then one nesting too deep.
  std::string nested = R"({"stringValue":"x"})";
  for (int i = 0; i < 40; ++i) nested = strCat(R"({"arrayValue":{"values":[)", nested, "]}}");
  const std::string record = strCat(R"({"body":)", nested, "}");
  const std::string body =
      repeated(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[)", record, "]}]}]}", kBody);
  Measured m = decodeMeasured(Signal::kLogs, body);
  ASSERT_TRUE(m.result.ok()) << m.result.status();
  EXPECT_GT(m.result->items, 1000u);
  expectWithinBound(m, body.size());

  std::string too_deep = R"({"stringValue":"x"})";
  for (int i = 0; i < 60; ++i) too_deep = strCat(R"({"arrayValue":{"values":[)", too_deep, "]}}");
  const std::string bad =
      strCat(body.substr(0, body.size() - 6), ",{\"body\":", too_deep, "}]}]}]}");
  m = decodeMeasured(Signal::kLogs, bad);
  ASSERT_FALSE(m.result.ok());
  EXPECT_NE(m.result.status().message().find("message nesting deeper than 100 at resourceLogs[0]."
                                             "scopeLogs[0].logRecords["),
            std::string_view::npos)
      << m.result.status();
  expectWithinBound(m, bad.size());

  // Unknown fields: arrays nested 1000 deep are skipped; 5000 deep are refused.
  for (int depth : {1000, 5000}) {
    std::string deep = strCat(R"({"x":[)", std::string(depth, '['), std::string(depth, ']'),
                              R"(],"resourceLogs":[]})");
    m = decodeMeasured(Signal::kLogs, deep);
    EXPECT_EQ(m.result.ok(), depth < 1024) << depth << " " << m.result.status();
    expectWithinBound(m, deep.size());
  }
}

TEST(OtlpJsonMemoryTest, PackedZerosHaveTheLargestWireForm) {
  // 2 JSON bytes per element, 8 wire bytes: the case the factor is set by. Decoded exactly.
  const std::string body =
      repeated(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[)"
               R"({"explicitBounds":[)",
               "0", "]}]}}]}]}]}", kBody);
  Measured m = decodeMeasured(Signal::kMetrics, body);
  ASSERT_TRUE(m.result.ok()) << m.result.status();
  EXPECT_EQ(m.result->items, 1u);
  EXPECT_GT(m.result->wire.size(), 3 * body.size());
  expectWithinBound(m, body.size());
  opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(m.result->wire));
  EXPECT_EQ(req.resource_metrics(0)
                .scope_metrics(0)
                .metrics(0)
                .histogram()
                .data_points(0)
                .explicit_bounds_size(),
            std::count(body.begin(), body.end(), '0'));
}

TEST(OtlpJsonMemoryTest, EscapedBase64Value) {
  // One large bytes value with "\/" escapes is unescaped into a scratch copy before decoding.
  std::string b64;
  for (size_t i = 0; b64.size() < kBody - 200; ++i) b64 += "AB\\/+";
  b64 += "AA==";
  const std::string body = strCat(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":)",
                                  R"({"bytesValue":")", b64, R"("}}]}]}]})");
  Measured m = decodeMeasured(Signal::kLogs, body);
  ASSERT_TRUE(m.result.ok()) << m.result.status();
  expectWithinBound(m, body.size());
}

std::string realisticLogs(size_t body_size) {
  std::string s = R"({"resourceLogs":[{"resource":{"attributes":[)"
                  R"({"key":"service.name","value":{"stringValue":"checkout-service"}},)"
                  R"({"key":"host.name","value":{"stringValue":"ip-10-0-3-7.ec2.internal"}}]},)"
                  R"("scopeLogs":[{"scope":{"name":"io.opentelemetry.logback","version":"1.24.0"},)"
                  R"("logRecords":[)";
  for (int i = 0; s.size() < body_size - 600; ++i) {
    if (i > 0) s.push_back(',');
    s += strCat(
        R"({"timeUnixNano":")", 1700000000000000000ull + static_cast<uint64_t>(i) * 1000003,
        R"(","observedTimeUnixNano":")", 1700000000000001500ull + static_cast<uint64_t>(i),
        R"(","severityNumber":9,"severityText":"INFO","body":{"stringValue":"request completed)"
        R"( user session timeout GET /api/v1/orders status 200 cache miss retry )",
        i, R"("},"attributes":[{"key":"thread.name","value":{"stringValue":"http-nio-8080-exec-)",
        i % 10,
        R"("}},{"key":"code.function","value":{"stringValue":"placeOrderWithPaymentRetry"}},)"
        R"({"key":"code.lineno","value":{"intValue":")",
        100 + i % 400,
        R"("}}],"flags":1,"traceId":"5b8efff798038103d269b633813fc60c",)"
        R"("spanId":"eee19b7ec3c1b174"})");
  }
  s += "]}]}]}";
  return s;
}

TEST(OtlpJsonMemoryTest, RealisticBodyStaysBelowItsSize) {
  const std::string body = realisticLogs(kBody);
  Measured m = decodeMeasured(Signal::kLogs, body);
  ASSERT_TRUE(m.result.ok()) << m.result.status();
  EXPECT_GT(m.result->items, 5000u);
  expectWithinBound(m, body.size());
  // The wire form is smaller than 0.75x the JSON: no growth, no second pass.
  EXPECT_LT(m.result->wire.size(), body.size() * 3 / 4);
  EXPECT_LE(static_cast<size_t>(m.peak), body.size());
}

TEST(OtlpJsonMemoryTest, PrettyPrintedBodyDoesNotKeepTheSlack) {
  std::string body = realisticLogs(kBody / 4);
  std::string pretty;
  for (char c : body) {
    pretty.push_back(c);
    if (c == ',' || c == '{' || c == '[') pretty.append("\n                        ");
  }
  Measured m = decodeMeasured(Signal::kLogs, pretty);
  ASSERT_TRUE(m.result.ok()) << m.result.status();
  expectWithinBound(m, pretty.size());
  EXPECT_LE(m.result->wire.capacity(), 2 * m.result->wire.size() + 4096);
}

}  // namespace
}  // namespace telegate::pdata
