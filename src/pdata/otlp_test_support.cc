// Random OTLP requests for the pdata tests (otlp_test_support.h).
#include "src/pdata/otlp_test_support.h"

#include <memory>
#include <random>
#include <string>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace telegate::pdata {

namespace col_logs = opentelemetry::proto::collector::logs::v1;
namespace col_metrics = opentelemetry::proto::collector::metrics::v1;
namespace col_trace = opentelemetry::proto::collector::trace::v1;
namespace common = opentelemetry::proto::common::v1;
namespace logs = opentelemetry::proto::logs::v1;
namespace metrics = opentelemetry::proto::metrics::v1;
namespace trace = opentelemetry::proto::trace::v1;

namespace test_support {

std::unique_ptr<google::protobuf::Message> newRequest(Signal s) {
  switch (s) {
    case Signal::kTraces:
      return std::make_unique<col_trace::ExportTraceServiceRequest>();
    case Signal::kMetrics:
      return std::make_unique<col_metrics::ExportMetricsServiceRequest>();
    case Signal::kLogs:
      break;
  }
  return std::make_unique<col_logs::ExportLogsServiceRequest>();
}

namespace {

class Gen {
 public:
  explicit Gen(std::mt19937_64& rng, int size) : rng_(rng), size_(size) {}

  int uni(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return uni(0, 99) < percent; }
  int count() { return uni(0, size_); }
  uint64_t u64() { return rng_(); }

  std::string str() {
    static const char* const kPieces[] = {"a", "service.name", "GET /api", "é",     "日本", "🙂",
                                          " ", "x=1",          "\n",       "\"q\"", "\\",   "0"};
    std::string s;
    for (int n = uni(0, 4); n > 0; --n) s += kPieces[uni(0, std::size(kPieces) - 1)];
    return s;
  }
  std::string bytes(size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng_());
    return s;
  }
  std::string maybeId(size_t n) { return chance(80) ? bytes(n) : std::string(); }
  double dbl() {
    switch (uni(0, 5)) {
      case 0:
        return 0.0;
      case 1:
        return std::numeric_limits<double>::infinity();
      case 2:
        return -1.5e300;
      case 3:
        return static_cast<double>(uni(-1000, 1000));
      default:
        return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
    }
  }

  void anyValue(common::AnyValue* v, int depth) {
    const int kind = uni(0, depth >= 3 ? 5 : 7);
    switch (kind) {
      case 0:
        v->set_string_value(str());
        break;
      case 1:
        v->set_bool_value(chance(50));
        break;
      case 2:
        v->set_int_value(chance(20) ? 0 : static_cast<int64_t>(u64()));
        break;
      case 3:
        v->set_double_value(dbl());
        break;
      case 4:
        v->set_bytes_value(bytes(uni(0, 5)));
        break;
      case 5:
        if (chance(10)) {
          v->set_string_value_strindex(uni(-3, 100));
        } else {
          v->set_string_value(str());
        }
        break;
      case 6: {
        auto* arr = v->mutable_array_value();
        for (int n = uni(0, 3); n > 0; --n) anyValue(arr->add_values(), depth + 1);
        break;
      }
      default: {
        auto* kvl = v->mutable_kvlist_value();
        for (int n = uni(0, 3); n > 0; --n) keyValue(kvl->add_values(), depth + 1);
        break;
      }
    }
  }
  void keyValue(common::KeyValue* kv, int depth) {
    kv->set_key(str());
    if (chance(90)) anyValue(kv->mutable_value(), depth);
    if (chance(5)) kv->set_key_strindex(uni(0, 50));
  }
  template <class M>
  void attrs(M* m) {
    for (int n = count(); n > 0; --n) keyValue(m->add_attributes(), 0);
  }
  void resource(opentelemetry::proto::resource::v1::Resource* r) {
    attrs(r);
    if (chance(20)) r->set_dropped_attributes_count(uni(1, 10));
    if (chance(15)) {
      auto* e = r->add_entity_refs();
      e->set_schema_url(str());
      e->set_type("service");
      e->add_id_keys("service.name");
      e->add_description_keys(str());
    }
  }
  void scope(common::InstrumentationScope* s) {
    s->set_name(str());
    if (chance(50)) s->set_version("1.2.3");
    attrs(s);
    if (chance(10)) s->set_dropped_attributes_count(3);
  }

  void logRecord(logs::LogRecord* r) {
    if (chance(90)) r->set_time_unix_nano(u64());
    if (chance(50)) r->set_observed_time_unix_nano(u64());
    r->set_severity_number(static_cast<logs::SeverityNumber>(uni(0, 24)));
    if (chance(50)) r->set_severity_text(str());
    if (chance(90)) anyValue(r->mutable_body(), 0);
    attrs(r);
    if (chance(10)) r->set_dropped_attributes_count(uni(1, 5));
    if (chance(30)) r->set_flags(uni(0, 255));
    r->set_trace_id(maybeId(16));
    r->set_span_id(maybeId(8));
    if (chance(10)) r->set_event_name(str());
  }
  void span(trace::Span* s) {
    s->set_trace_id(maybeId(16));
    s->set_span_id(maybeId(8));
    if (chance(30)) s->set_trace_state("k=v");
    s->set_parent_span_id(maybeId(8));
    if (chance(30)) s->set_flags(static_cast<uint32_t>(u64()));
    s->set_name(str());
    s->set_kind(static_cast<trace::Span::SpanKind>(uni(0, 5)));
    s->set_start_time_unix_nano(u64());
    s->set_end_time_unix_nano(u64());
    attrs(s);
    if (chance(10)) s->set_dropped_attributes_count(2);
    for (int n = uni(0, 2); n > 0; --n) {
      auto* e = s->add_events();
      e->set_time_unix_nano(u64());
      e->set_name(str());
      attrs(e);
      if (chance(10)) e->set_dropped_attributes_count(1);
    }
    if (chance(10)) s->set_dropped_events_count(4);
    for (int n = uni(0, 2); n > 0; --n) {
      auto* l = s->add_links();
      l->set_trace_id(maybeId(16));
      l->set_span_id(maybeId(8));
      if (chance(30)) l->set_trace_state("a=b");
      attrs(l);
      if (chance(10)) l->set_dropped_attributes_count(1);
      if (chance(30)) l->set_flags(uni(0, 1000));
    }
    if (chance(10)) s->set_dropped_links_count(7);
    if (chance(50)) {
      s->mutable_status()->set_code(static_cast<trace::Status::StatusCode>(uni(0, 2)));
      if (chance(50)) s->mutable_status()->set_message(str());
    }
  }

  template <class P>
  void pointCommon(P* p) {
    attrs(p);
    if (chance(50)) p->set_start_time_unix_nano(u64());
    p->set_time_unix_nano(u64());
    if (chance(20)) p->set_flags(1);
  }
  void exemplars(google::protobuf::RepeatedPtrField<metrics::Exemplar>* ex) {
    for (int n = uni(0, 2); n > 0; --n) {
      auto* e = ex->Add();
      for (int k = uni(0, 2); k > 0; --k) keyValue(e->add_filtered_attributes(), 0);
      e->set_time_unix_nano(u64());
      if (chance(50)) {
        e->set_as_double(dbl());
      } else if (chance(80)) {
        e->set_as_int(static_cast<int64_t>(u64()));
      }
      e->set_span_id(maybeId(8));
      e->set_trace_id(maybeId(16));
    }
  }
  void metric(metrics::Metric* m) {
    m->set_name(str());
    if (chance(50)) m->set_description(str());
    if (chance(50)) m->set_unit("ms");
    switch (uni(0, 5)) {
      case 0:
        break;  // no data
      case 1:
        for (int n = count(); n > 0; --n) numberPoint(m->mutable_gauge()->add_data_points());
        if (!m->has_gauge()) m->mutable_gauge();
        break;
      case 2: {
        auto* sum = m->mutable_sum();
        sum->set_aggregation_temporality(static_cast<metrics::AggregationTemporality>(uni(0, 2)));
        sum->set_is_monotonic(chance(50));
        for (int n = count(); n > 0; --n) numberPoint(sum->add_data_points());
        break;
      }
      case 3: {
        auto* h = m->mutable_histogram();
        h->set_aggregation_temporality(metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
        for (int n = count(); n > 0; --n) {
          auto* p = h->add_data_points();
          pointCommon(p);
          p->set_count(u64());
          if (chance(70)) p->set_sum(dbl());
          int buckets = uni(0, 5);
          for (int b = 0; b < buckets; ++b) p->add_bucket_counts(u64() % 1000);
          for (int b = 0; b + 1 < buckets; ++b) p->add_explicit_bounds(b * 2.5);
          exemplars(p->mutable_exemplars());
          if (chance(50)) p->set_min(dbl());
          if (chance(50)) p->set_max(dbl());
        }
        break;
      }
      case 4: {
        auto* h = m->mutable_exponential_histogram();
        h->set_aggregation_temporality(metrics::AGGREGATION_TEMPORALITY_DELTA);
        for (int n = count(); n > 0; --n) {
          auto* p = h->add_data_points();
          pointCommon(p);
          p->set_count(u64());
          if (chance(70)) p->set_sum(dbl());
          p->set_scale(uni(-10, 20));
          p->set_zero_count(u64() % 10);
          if (chance(70)) {
            p->mutable_positive()->set_offset(uni(-5, 5));
            for (int b = uni(0, 4); b > 0; --b) {
              p->mutable_positive()->add_bucket_counts(u64() >> uni(0, 63));
            }
          }
          if (chance(50)) {
            p->mutable_negative()->set_offset(uni(-5, 5));
            p->mutable_negative()->add_bucket_counts(3);
          }
          exemplars(p->mutable_exemplars());
          if (chance(50)) p->set_min(dbl());
          if (chance(50)) p->set_max(dbl());
          if (chance(30)) p->set_zero_threshold(1e-9);
        }
        break;
      }
      default: {
        auto* s = m->mutable_summary();
        for (int n = count(); n > 0; --n) {
          auto* p = s->add_data_points();
          pointCommon(p);
          p->set_count(u64());
          p->set_sum(dbl());
          for (int q = uni(0, 3); q > 0; --q) {
            auto* v = p->add_quantile_values();
            v->set_quantile(q / 4.0);
            v->set_value(dbl());
          }
        }
        break;
      }
    }
    for (int n = uni(0, 1); n > 0; --n) keyValue(m->add_metadata(), 0);
  }
  void numberPoint(metrics::NumberDataPoint* p) {
    pointCommon(p);
    if (chance(50)) {
      p->set_as_double(dbl());
    } else if (chance(90)) {
      p->set_as_int(static_cast<int64_t>(u64()));
    }
    exemplars(p->mutable_exemplars());
  }

 private:
  std::mt19937_64& rng_;
  int size_;
};

}  // namespace

// `size` bounds repeated-field lengths (attributes, records, points).
std::unique_ptr<google::protobuf::Message> randomRequest(Signal s, std::mt19937_64& rng, int size) {
  Gen g(rng, size);
  auto msg = newRequest(s);
  const int resources = g.uni(0, 2);
  switch (s) {
    case Signal::kLogs: {
      auto* req = static_cast<col_logs::ExportLogsServiceRequest*>(msg.get());
      for (int r = 0; r < resources; ++r) {
        auto* rl = req->add_resource_logs();
        if (g.chance(80)) g.resource(rl->mutable_resource());
        if (g.chance(30)) rl->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
        for (int n = g.uni(0, 2); n > 0; --n) {
          auto* sl = rl->add_scope_logs();
          if (g.chance(70)) g.scope(sl->mutable_scope());
          for (int k = g.count(); k > 0; --k) g.logRecord(sl->add_log_records());
        }
      }
      break;
    }
    case Signal::kTraces: {
      auto* req = static_cast<col_trace::ExportTraceServiceRequest*>(msg.get());
      for (int r = 0; r < resources; ++r) {
        auto* rs = req->add_resource_spans();
        if (g.chance(80)) g.resource(rs->mutable_resource());
        if (g.chance(30)) rs->set_schema_url("s");
        for (int n = g.uni(0, 2); n > 0; --n) {
          auto* ss = rs->add_scope_spans();
          if (g.chance(70)) g.scope(ss->mutable_scope());
          for (int k = g.count(); k > 0; --k) g.span(ss->add_spans());
        }
      }
      break;
    }
    case Signal::kMetrics: {
      auto* req = static_cast<col_metrics::ExportMetricsServiceRequest*>(msg.get());
      for (int r = 0; r < resources; ++r) {
        auto* rm = req->add_resource_metrics();
        if (g.chance(80)) g.resource(rm->mutable_resource());
        for (int n = g.uni(0, 2); n > 0; --n) {
          auto* sm = rm->add_scope_metrics();
          if (g.chance(70)) g.scope(sm->mutable_scope());
          if (g.chance(20)) sm->set_schema_url("u");
          for (int k = g.count(); k > 0; --k) g.metric(sm->add_metrics());
        }
      }
      break;
    }
  }
  return msg;
}

uint64_t expectedItems(Signal s, const google::protobuf::Message& m) {
  uint64_t n = 0;
  switch (s) {
    case Signal::kLogs:
      for (const auto& rl :
           static_cast<const col_logs::ExportLogsServiceRequest&>(m).resource_logs())
        for (const auto& sl : rl.scope_logs()) n += sl.log_records_size();
      break;
    case Signal::kTraces:
      for (const auto& rs :
           static_cast<const col_trace::ExportTraceServiceRequest&>(m).resource_spans())
        for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
      break;
    case Signal::kMetrics:
      for (const auto& rm :
           static_cast<const col_metrics::ExportMetricsServiceRequest&>(m).resource_metrics())
        for (const auto& sm : rm.scope_metrics())
          for (const auto& met : sm.metrics()) {
            switch (met.data_case()) {
              case metrics::Metric::kGauge:
                n += met.gauge().data_points_size();
                break;
              case metrics::Metric::kSum:
                n += met.sum().data_points_size();
                break;
              case metrics::Metric::kHistogram:
                n += met.histogram().data_points_size();
                break;
              case metrics::Metric::kExponentialHistogram:
                n += met.exponential_histogram().data_points_size();
                break;
              case metrics::Metric::kSummary:
                n += met.summary().data_points_size();
                break;
              default:
                break;
            }
          }
      break;
  }
  return n;
}

}  // namespace test_support

}  // namespace telegate::pdata
