#include "src/components/prometheus/scrape/textparse.h"

#include <gtest/gtest.h>

#include <cmath>

namespace telegate::prometheus {
namespace {

TEST(TextParseTest, PrometheusText004) {
  Exposition e;
  auto st = parseExposition(R"(# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{code="400",method="post"}    3 1395066363000

# A comment.
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
metric_without_timestamp_and_labels 12.47
something_weird{problem="division by zero"} +Inf -3982045
rpc_duration_seconds{quantile="0.99"} NaN
go_gc_duration_seconds_sum 1.2e-05
)",
                            ExpositionFormat::kText004, &e);
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_EQ(e.samples.size(), 7u);
  EXPECT_EQ(e.families["http_requests_total"].type, "counter");
  EXPECT_EQ(e.families["http_requests_total"].help, "The total number of HTTP requests.");
  const auto& a = e.samples[0];
  EXPECT_EQ(a.name, "http_requests_total");
  EXPECT_EQ(a.labels, (std::vector<std::pair<std::string, std::string>>{{"code", "200"},
                                                                        {"method", "post"}}));
  EXPECT_EQ(a.value, 1027);
  EXPECT_EQ(a.timestamp_ms, 1395066363000);
  EXPECT_EQ(e.samples[1].labels, (std::vector<std::pair<std::string, std::string>>{
                                     {"code", "400"}, {"method", "post"}}));  // sorted
  EXPECT_EQ(e.samples[2].labels[0].second, "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_EQ(e.samples[2].labels[1].second, "C:\\DIR\\FILE.TXT");
  EXPECT_FALSE(e.samples[3].timestamp_ms.has_value());
  EXPECT_TRUE(std::isinf(e.samples[4].value));
  EXPECT_EQ(e.samples[4].timestamp_ms, -3982045);
  EXPECT_TRUE(std::isnan(e.samples[5].value));
  EXPECT_DOUBLE_EQ(e.samples[6].value, 1.2e-05);
}

TEST(TextParseTest, OpenMetricsTimestampsExemplarsAndEof) {
  Exposition e;
  auto st = parseExposition(R"(# TYPE foo counter
# UNIT foo seconds
foo_total{a="b"} 17.0 1520879607.789 # {trace_id="KOO5S4vxi0o"} 0.67
foo_created 1520872607.123
# EOF
ignored 1
)",
                            ExpositionFormat::kOpenMetrics, &e);
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_EQ(e.samples.size(), 2u);
  EXPECT_EQ(e.samples[0].timestamp_ms, 1520879607789);
  EXPECT_EQ(e.families["foo"].unit, "seconds");
  EXPECT_EQ(formatFromContentType("application/openmetrics-text; version=1.0.0"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(formatFromContentType("text/plain; version=0.0.4"), ExpositionFormat::kText004);
}

TEST(TextParseTest, MalformedLinesFailWithLineNumbers) {
  struct Case {
    const char* body;
    const char* error;
  };
  for (const Case& c : {Case{"ok 1\n{x=\"y\"} 1\n", "line 2: expected a metric name"},
                        Case{"m{a=\"b\" 1\n", "line 1: expected ',' or '}' in a label set"},
                        Case{"m{a=\"b} 1\n", "line 1: unterminated label value"},
                        Case{"m{a=\"1\",a=\"2\"} 1\n", "line 1: duplicate label name \"a\""},
                        Case{"m abc\n", "line 1: invalid value \"abc\""},
                        Case{"m 1 12x\n", "line 1: invalid timestamp"},
                        Case{"m 1 2 3\n", "line 1: unexpected text after the sample"},
                        Case{"m{1a=\"x\"} 1\n", "line 1: expected a label name"}}) {
    Exposition e;
    auto st = parseExposition(c.body, ExpositionFormat::kText004, &e);
    EXPECT_EQ(st.message(), c.error) << c.body;
  }
}

}  // namespace
}  // namespace telegate::prometheus
