#include "src/components/prometheus/scrape/scrape.h"

#include <gtest/gtest.h>

#include <cmath>

namespace telegate::prometheus::scrape {
namespace {

using namespace std::chrono_literals;

// ---- target label processing and URLs ----

Arguments baseArgs() {
  Arguments a;
  a.scrape_interval = Duration(60s);
  a.scrape_timeout = Duration(10s);
  return a;
}

std::string get(const SeriesLabels& l, std::string_view name) {
  for (const auto& [k, v] : l) {
    if (k == name) return v;
  }
  return "<absent>";
}

TEST(PopulateTargetTest, DefaultsJobInstanceAndDropsMeta) {
  runtime::Target t = {
      {"__address__", "10.0.0.1:8080"}, {"__meta_kubernetes_pod_name", "p"}, {"team", "a"}};
  auto r = populateTarget(t, baseArgs(), "prometheus.scrape.pods");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->public_labels,
            (SeriesLabels{
                {"instance", "10.0.0.1:8080"}, {"job", "prometheus.scrape.pods"}, {"team", "a"}}));
  EXPECT_EQ(get(r->labels, "__meta_kubernetes_pod_name"), "<absent>");
  EXPECT_EQ(get(r->labels, "__scheme__"), "http");
  EXPECT_EQ(get(r->labels, "__metrics_path__"), "/metrics");
  EXPECT_EQ(get(r->labels, "__scrape_interval__"), "1m0s");
  EXPECT_EQ(get(r->labels, "__scrape_timeout__"), "10s");
  EXPECT_EQ(r->url, "http://10.0.0.1:8080/metrics");
  EXPECT_EQ(r->interval, 60s);
  EXPECT_EQ(r->timeout, 10s);
}

TEST(PopulateTargetTest, JobNameAndTargetLabelsWin) {
  Arguments a = baseArgs();
  a.job_name = "custom";
  auto r = populateTarget({{"__address__", "h"}, {"instance", "mine"}}, a, "id");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(get(r->public_labels, "job"), "custom");
  EXPECT_EQ(get(r->public_labels, "instance"), "mine");
  EXPECT_EQ(r->url, "http://h/metrics");  // no default port is added

  r = populateTarget({{"__address__", "h"}, {"job", "from-target"}}, a, "id");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(get(r->public_labels, "job"), "from-target");
}

TEST(PopulateTargetTest, AddressErrors) {
  auto r = populateTarget({{"team", "a"}}, baseArgs(), "id");
  EXPECT_EQ(r.status().message(), "no address");
  r = populateTarget({{"__address__", ""}}, baseArgs(), "id");
  EXPECT_EQ(r.status().message(), "no address");
  r = populateTarget({{"__address__", "h:80/x"}}, baseArgs(), "id");
  EXPECT_EQ(r.status().message(), "\"h:80/x\" is not a valid hostname");
}

TEST(PopulateTargetTest, PerTargetIntervalAndTimeout) {
  auto r = populateTarget({{"__address__", "h"}, {"__scrape_interval__", "5s"}}, baseArgs(), "id");
  EXPECT_FALSE(r.ok());  // the default timeout of 10s exceeds 5s
  r = populateTarget(
      {{"__address__", "h"}, {"__scrape_interval__", "5s"}, {"__scrape_timeout__", "2s"}},
      baseArgs(), "id");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->interval, 5s);
  EXPECT_EQ(r->timeout, 2s);
  // The identity does not depend on the interval, so an interval change keeps the loop.
  auto r2 = populateTarget({{"__address__", "h"}}, baseArgs(), "id");
  EXPECT_EQ(r->hash, r2->hash);
}

TEST(PopulateTargetTest, UrlParamsSchemePath) {
  Arguments a = baseArgs();
  a.scheme = "https";
  a.metrics_path = "/federate";
  a.params = {{"match[]", {"{job=\"a\"}", "up"}}, {"b", {"x y"}}};
  auto r = populateTarget({{"__address__", "h:9090"}, {"__param_b", "over&ridden"}}, a, "id");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(
      r->url,
      "https://h:9090/federate?b=over%26ridden&match%5B%5D=%7Bjob%3D%22a%22%7D&match%5B%5D=up");
  EXPECT_EQ(get(r->labels, "__param_match[]"), "{job=\"a\"}");
  // __param_ labels and __metrics_path__/__scheme__ from the target.
  r = populateTarget({{"__address__", "h"},
                      {"__scheme__", "http"},
                      {"__metrics_path__", "/m x"},
                      {"__param_module", "if_mib"}},
                     baseArgs(), "id");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url, "http://h/m%20x?module=if_mib");
}

TEST(ScrapeTest, AcceptHeaderMatchesPrometheus) {
  EXPECT_EQ(acceptHeader(Arguments().scrape_protocols),
            "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,"
            "application/openmetrics-text;version=0.0.1;q=0.5,"
            "text/plain;version=1.0.0;escaping=underscores;q=0.4,"
            "text/plain;version=0.0.4;q=0.3,*/*;q=0.2");
  EXPECT_EQ(acceptHeader({"PrometheusText0.0.4"}), "text/plain;version=0.0.4;q=0.6,*/*;q=0.5");
}

TEST(ScrapeTest, ValidateRejectsBadArguments) {
  Arguments a = baseArgs();
  a.scrape_timeout = Duration(61s);
  EXPECT_EQ(a.validate().message(), "scrape_timeout (1m1s) greater than scrape_interval (1m0s)");
  a = baseArgs();
  a.scrape_protocols = {"Bogus"};
  EXPECT_FALSE(a.validate().ok());
  a = baseArgs();
  a.scrape_fallback_protocol = "PrometheusProto";
  EXPECT_FALSE(a.validate().ok());
  EXPECT_TRUE(baseArgs().validate().ok());
}

// ---- processing of one scrape ----

ScrapeTarget target() {
  auto t = populateTarget({{"__address__", "h:1"}}, baseArgs(), "job1");
  return *t;
}

Exposition parse(std::string_view body, ExpositionFormat f = ExpositionFormat::kText004) {
  Exposition e;
  auto st = parseExposition(body, f, &e);
  EXPECT_TRUE(st.ok()) << st;
  return e;
}

TEST(ProcessScrapeTest, HonorLabelsFalseRenamesCollisions) {
  Exposition e =
      parse("m{job=\"theirs\",instance=\"x\",exported_instance=\"y\",a=\"1\",empty=\"\"} 5\n");
  SeriesState st;
  SeriesBatch out;
  ProcessResult r = processScrape(&e, target(), {}, 1000, &st, &out);
  ASSERT_TRUE(r.error.ok());
  ASSERT_EQ(out.sampleCount(), 1u);
  EXPECT_EQ(out.samples()[0].labels, (SeriesLabels{{"__name__", "m"},
                                                   {"a", "1"},
                                                   {"exported_exported_instance", "x"},
                                                   {"exported_instance", "y"},
                                                   {"exported_job", "theirs"},
                                                   {"instance", "h:1"},
                                                   {"job", "job1"}}));
  EXPECT_EQ(out.samples()[0].value, 5);
  EXPECT_EQ(out.samples()[0].timestamp_ms, 1000);
}

TEST(ProcessScrapeTest, HonorLabelsTrueKeepsScrapedValues) {
  Exposition e = parse("m{job=\"theirs\"} 5\n");
  SeriesState st;
  SeriesBatch out;
  ProcessOptions o;
  o.honor_labels = true;
  processScrape(&e, target(), o, 1000, &st, &out);
  ASSERT_EQ(out.sampleCount(), 1u);
  EXPECT_EQ(out.samples()[0].labels,
            (SeriesLabels{{"__name__", "m"}, {"instance", "h:1"}, {"job", "theirs"}}));
}

TEST(ProcessScrapeTest, TimestampsHonouredOrReplaced) {
  SeriesState st;
  SeriesBatch out;
  Exposition e = parse("a 1 123\nb 2\n");
  processScrape(&e, target(), {}, 5000, &st, &out);
  ASSERT_EQ(out.sampleCount(), 2u);
  EXPECT_EQ(out.samples()[0].timestamp_ms, 123);
  EXPECT_EQ(out.samples()[1].timestamp_ms, 5000);
  // A series with an exposed timestamp is not tracked for staleness.
  EXPECT_EQ(st.tracked.size(), 1u);

  ProcessOptions o;
  o.honor_timestamps = false;
  out.clear();
  SeriesState st2;
  e = parse("a 1 123\n");
  processScrape(&e, target(), o, 5000, &st2, &out);
  EXPECT_EQ(out.samples()[0].timestamp_ms, 5000);
  EXPECT_EQ(st2.tracked.size(), 1u);

  // OpenMetrics timestamps are seconds.
  out.clear();
  SeriesState st3;
  e = parse("a 1 1.5\n# EOF\n", ExpositionFormat::kOpenMetrics);
  processScrape(&e, target(), {}, 5000, &st3, &out);
  EXPECT_EQ(out.samples()[0].timestamp_ms, 1500);
}

TEST(ProcessScrapeTest, VanishedSeriesGetStaleMarkers) {
  SeriesState st;
  SeriesBatch out;
  Exposition e = parse("a 1\nb{x=\"1\"} 2\n");
  ProcessResult r = processScrape(&e, target(), {}, 1000, &st, &out);
  EXPECT_EQ(r.series_added, 2);
  out.clear();
  e = parse("a 3\nc 4\n");
  r = processScrape(&e, target(), {}, 2000, &st, &out);
  EXPECT_EQ(r.series_added, 1);
  ASSERT_EQ(out.sampleCount(), 3u);
  EXPECT_EQ(out.samples()[2].labels,
            (SeriesLabels{{"__name__", "b"}, {"instance", "h:1"}, {"job", "job1"}, {"x", "1"}}));
  EXPECT_TRUE(isStaleNaN(out.samples()[2].value));
  EXPECT_EQ(out.samples()[2].timestamp_ms, 2000);
  EXPECT_FALSE(isStaleNaN(std::nan("")));

  // A failed scrape marks everything stale.
  out.clear();
  processScrape(nullptr, target(), {}, 3000, &st, &out);
  ASSERT_EQ(out.sampleCount(), 2u);
  EXPECT_TRUE(isStaleNaN(out.samples()[0].value) && isStaleNaN(out.samples()[1].value));
  EXPECT_TRUE(st.tracked.empty());
}

TEST(ProcessScrapeTest, SampleLimitFailsTheWholeScrape) {
  SeriesState st;
  SeriesBatch out;
  Exposition e = parse("a 1\n");
  processScrape(&e, target(), {}, 1000, &st, &out);
  out.clear();
  ProcessOptions o;
  o.sample_limit = 2;
  e = parse("a 1\nb 2\nc 3\n");
  ProcessResult r = processScrape(&e, target(), o, 2000, &st, &out);
  EXPECT_EQ(r.error.message(), "sample limit exceeded (limit: 2)");
  EXPECT_EQ(r.failure_reason, "sample_limit");
  EXPECT_EQ(r.scraped, 3);
  ASSERT_EQ(out.sampleCount(), 1u);  // only the stale marker of `a`
  EXPECT_TRUE(isStaleNaN(out.samples()[0].value));
  out.clear();
  e = parse("a 1\nb 2\n");
  r = processScrape(&e, target(), o, 3000, &st, &out);
  EXPECT_TRUE(r.error.ok());
  EXPECT_EQ(out.sampleCount(), 2u);
}

TEST(ProcessScrapeTest, LabelLimitsAndDuplicates) {
  SeriesState st;
  SeriesBatch out;
  ProcessOptions o;
  o.label_limit = 3;  // __name__, instance, job
  Exposition e = parse("a{x=\"1\"} 1\n");
  ProcessResult r = processScrape(&e, target(), o, 1000, &st, &out);
  EXPECT_EQ(r.failure_reason, "label_limit");
  EXPECT_EQ(r.error.message(), "label_limit exceeded (metric: a, number of labels: 4, limit: 3)");
  EXPECT_TRUE(out.empty());
  o = {};
  o.label_value_length_limit = 3;
  e = parse("a{x=\"long\"} 1\n");
  r = processScrape(&e, target(), o, 1000, &st, &out);
  EXPECT_EQ(r.failure_reason, "label_limit");

  e = parse("a 1\na 2\n");
  out.clear();
  r = processScrape(&e, target(), {}, 1000, &st, &out);
  EXPECT_EQ(r.duplicates, 1);
  ASSERT_EQ(out.sampleCount(), 1u);
  EXPECT_EQ(out.samples()[0].value, 1);
}

TEST(ProcessScrapeTest, EndOfRunStalenessIncludesSyntheticSeries) {
  SeriesState st;
  SeriesBatch out;
  Exposition e = parse("a 1\n");
  processScrape(&e, target(), {}, 1000, &st, &out);
  st.reported = true;
  out.clear();
  endOfRunStaleness(target(), false, 9000, &st, &out);
  ASSERT_EQ(out.sampleCount(), 6u);
  for (const auto& s : out.samples()) {
    EXPECT_TRUE(isStaleNaN(s.value));
    EXPECT_EQ(s.timestamp_ms, 9000);
  }
  EXPECT_EQ(get(out.samples()[1].labels, "__name__"), "up");
}

TEST(ProcessScrapeTest, ReportSamplesSortName) {
  SeriesBatch b;
  ScrapeTarget t = target();
  t.public_labels.insert(t.public_labels.begin(), {"A", "first"});
  addReportSample(t, "up", 10, 1.5, &b);
  EXPECT_TRUE(b.valid());
  auto s = b.samples();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].labels,
            (Labels{{"A", "first"}, {"__name__", "up"}, {"instance", "h:1"}, {"job", "job1"}}));
  EXPECT_EQ(s[0].timestamp_ms, 10);
  EXPECT_EQ(s[0].value, 1.5);
}

}  // namespace
}  // namespace telegate::prometheus::scrape
