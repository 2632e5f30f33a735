#include "bench/otlp_payloads.h"

#include <random>
#include <string_view>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace telegate::bench {
namespace {

namespace col_logs = opentelemetry::proto::collector::logs::v1;
namespace col_metrics = opentelemetry::proto::collector::metrics::v1;
namespace col_trace = opentelemetry::proto::collector::trace::v1;
namespace common = opentelemetry::proto::common::v1;
namespace logs = opentelemetry::proto::logs::v1;
namespace metrics = opentelemetry::proto::metrics::v1;
namespace trace = opentelemetry::proto::trace::v1;

constexpr uint64_t kBaseTime = 1700000000000000000ull;

class Rand {
 public:
  explicit Rand(uint64_t seed) : rng_(seed) {}
  uint64_t next() { return rng_(); }
  int below(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  std::string bytes(size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng_());
    return s;
  }
  std::string hex(size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s(n, '0');
    for (auto& c : s) c = kHex[rng_() & 15];
    return s;
  }
  // Printable text of exactly n bytes built from words.
  std::string text(size_t n) {
    static constexpr std::string_view kWords[] = {
        "request", "completed", "user",   "session", "timeout", "GET",   "/api/v1/orders",
        "status",  "200",       "cache",  "miss",    "retry",   "db",    "query",
        "took",    "ms",        "worker", "queue",   "payment", "token", "refreshed"};
    std::string s;
    while (s.size() < n) {
      if (!s.empty()) s.push_back(' ');
      s.append(kWords[rng_() % std::size(kWords)]);
    }
    s.resize(n);
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

void addAttr(google::protobuf::RepeatedPtrField<common::KeyValue>* attrs, std::string key,
             std::string value) {
  auto* kv = attrs->Add();
  kv->set_key(std::move(key));
  kv->mutable_value()->set_string_value(std::move(value));
}
void addIntAttr(google::protobuf::RepeatedPtrField<common::KeyValue>* attrs, std::string key,
                int64_t value) {
  auto* kv = attrs->Add();
  kv->set_key(std::move(key));
  kv->mutable_value()->set_int_value(value);
}

void fillResource(opentelemetry::proto::resource::v1::Resource* r, Rand& rnd) {
  auto* a = r->mutable_attributes();
  addAttr(a, "service.name", "checkout-service");
  addAttr(a, "service.namespace", "shop");
  addAttr(a, "service.instance.id", rnd.hex(16));
  addAttr(a, "host.name", "ip-10-0-" + std::to_string(rnd.below(255)) + ".ec2.internal");
  addAttr(a, "deployment.environment", "production");
}
void fillScope(common::InstrumentationScope* s, std::string name) {
  s->set_name(std::move(name));
  s->set_version("1.24.0");
}

}  // namespace

std::string makeLogsRequest(int records, uint64_t seed) {
  Rand rnd(seed);
  col_logs::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  fillResource(rl->mutable_resource(), rnd);
  rl->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
  auto* sl = rl->add_scope_logs();
  fillScope(sl->mutable_scope(), "io.opentelemetry.logback-appender");
  static constexpr logs::SeverityNumber kSev[] = {
      logs::SEVERITY_NUMBER_INFO, logs::SEVERITY_NUMBER_WARN, logs::SEVERITY_NUMBER_ERROR};
  static constexpr std::string_view kSevText[] = {"INFO", "WARN", "ERROR"};
  for (int i = 0; i < records; ++i) {
    auto* r = sl->add_log_records();
    const uint64_t t = kBaseTime + static_cast<uint64_t>(i) * 1000003;
    r->set_time_unix_nano(t);
    r->set_observed_time_unix_nano(t + 1500);
    const int sev = rnd.below(10) < 8 ? 0 : 1 + rnd.below(2);
    r->set_severity_number(kSev[sev]);
    r->set_severity_text(std::string(kSevText[sev]));
    r->mutable_body()->set_string_value(rnd.text(100));
    auto* a = r->mutable_attributes();
    addAttr(a, "thread.name", "http-nio-8080-exec-" + std::to_string(rnd.below(10)));
    addAttr(a, "code.namespace", "com.example.shop.CheckoutController");
    addAttr(a, "code.function", "placeOrderWithPaymentRetry");
    addIntAttr(a, "code.lineno", 100 + rnd.below(400));
    addAttr(a, "user.id", rnd.hex(16));
    r->set_trace_id(rnd.bytes(16));
    r->set_span_id(rnd.bytes(8));
    r->set_flags(1);
  }
  return req.SerializeAsString();
}

std::string makeTracesRequest(int spans, uint64_t seed) {
  Rand rnd(seed);
  col_trace::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  fillResource(rs->mutable_resource(), rnd);
  auto* ss = rs->add_scope_spans();
  fillScope(ss->mutable_scope(), "io.opentelemetry.spring-webmvc-6.0");
  std::string trace_id = rnd.bytes(16);
  std::string parent = rnd.bytes(8);
  for (int i = 0; i < spans; ++i) {
    if (i % 8 == 0) {
      trace_id = rnd.bytes(16);
      parent.clear();
    }
    auto* s = ss->add_spans();
    s->set_trace_id(trace_id);
    std::string span_id = rnd.bytes(8);
    s->set_span_id(span_id);
    s->set_parent_span_id(parent);
    parent = span_id;
    s->set_flags(0x301);
    s->set_name(i % 8 == 0 ? "POST /api/v1/orders" : "SELECT shop.orders");
    s->set_kind(i % 8 == 0 ? trace::Span::SPAN_KIND_SERVER : trace::Span::SPAN_KIND_CLIENT);
    const uint64_t start = kBaseTime + static_cast<uint64_t>(i) * 7000001;
    s->set_start_time_unix_nano(start);
    s->set_end_time_unix_nano(start + 1000 + rnd.below(5000000));
    auto* a = s->mutable_attributes();
    addAttr(a, "http.request.method", "POST");
    addAttr(a, "url.full", "https://shop.example.com/api/v1/orders?session=" + rnd.hex(24));
    addAttr(a, "url.scheme", "https");
    addAttr(a, "server.address", "shop.example.com");
    addIntAttr(a, "server.port", 443);
    addAttr(a, "network.protocol.version", "1.1");
    addAttr(a, "user_agent.original",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0");
    addIntAttr(a, "http.response.status_code", 200);
    addAttr(a, "db.system", "postgresql");
    addAttr(a, "db.statement",
            "SELECT id, total, status FROM orders WHERE customer_id = $1 "
            "AND created_at > $2 ORDER BY created_at DESC LIMIT 50");
    addAttr(a, "thread.name", "http-nio-8080-exec-" + std::to_string(rnd.below(10)));
    addAttr(a, "client.address", "10.0." + std::to_string(rnd.below(255)) + ".17");
    auto* e = s->add_events();
    e->set_time_unix_nano(start + 500);
    e->set_name("cache.lookup");
    addAttr(e->mutable_attributes(), "cache.key", "orders:" + rnd.hex(16));
    addAttr(e->mutable_attributes(), "cache.hit", "false");
    if (i % 4 == 0) {
      auto* l = s->add_links();
      l->set_trace_id(rnd.bytes(16));
      l->set_span_id(rnd.bytes(8));
      addAttr(l->mutable_attributes(), "messaging.operation", "publish");
    }
    s->mutable_status()->set_code(trace::Status::STATUS_CODE_OK);
  }
  return req.SerializeAsString();
}

std::string makeMetricsRequest(int points, uint64_t seed) {
  Rand rnd(seed);
  col_metrics::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  fillResource(rm->mutable_resource(), rnd);
  auto* sm = rm->add_scope_metrics();
  fillScope(sm->mutable_scope(), "io.opentelemetry.runtime-telemetry-java17");
  constexpr int kPointsPerMetric = 10;
  int made = 0;
  for (int m = 0; made < points; ++m) {
    auto* metric = sm->add_metrics();
    metric->set_name("http.server.request.duration." + std::to_string(m));
    metric->set_description("Duration of HTTP server requests.");
    metric->set_unit("s");
    const int n = std::min(kPointsPerMetric, points - made);
    const int kind = m % 10;  // 0: histogram, 1-4: gauge, 5-9: sum
    auto fill = [&](auto* p, int j) {
      auto* a = p->mutable_attributes();
      addAttr(a, "http.route", "/api/orders/" + std::to_string(j));
      addAttr(a, "http.request.method", j % 2 ? "GET" : "POST");
      addIntAttr(a, "http.response.status_code", j % 5 ? 200 : 503);
      addAttr(a, "server.address", "shop.svc");
      addAttr(a, "url.scheme", "https");
      p->set_start_time_unix_nano(kBaseTime);
      p->set_time_unix_nano(kBaseTime + static_cast<uint64_t>(m) * 1000000000ull);
    };
    if (kind == 0) {
      auto* h = metric->mutable_histogram();
      h->set_aggregation_temporality(metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
      for (int j = 0; j < n; ++j) {
        auto* p = h->add_data_points();
        fill(p, j);
        p->set_count(100 + rnd.below(1000));
        p->set_sum(rnd.below(100000) / 100.0);
        for (int b = 0; b < 6; ++b) p->add_bucket_counts(rnd.below(100));
        for (double bound : {0.005, 0.01, 0.05, 0.1, 0.5}) p->add_explicit_bounds(bound);
      }
    } else if (kind < 5) {
      auto* g = metric->mutable_gauge();
      for (int j = 0; j < n; ++j) {
        auto* p = g->add_data_points();
        fill(p, j);
        p->set_as_double(rnd.below(1000000) / 1000.0);
      }
    } else {
      auto* s = metric->mutable_sum();
      s->set_aggregation_temporality(metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
      s->set_is_monotonic(true);
      for (int j = 0; j < n; ++j) {
        auto* p = s->add_data_points();
        fill(p, j);
        p->set_as_int(rnd.below(1 << 30));
      }
    }
    made += n;
  }
  return req.SerializeAsString();
}

std::string makeRequest(pdata::Signal signal, int items, uint64_t seed) {
  switch (signal) {
    case pdata::Signal::kTraces:
      return makeTracesRequest(items, seed);
    case pdata::Signal::kMetrics:
      return makeMetricsRequest(items, seed);
    case pdata::Signal::kLogs:
      break;
  }
  return makeLogsRequest(items, seed);
}

}  // namespace telegate::bench
