#include "src/common/metrics.h"

#include <chrono>
#include <cmath>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace telegate::metrics {
namespace {

TEST(MetricsTest, ExpositionGolden) {
  Registry r;
  auto& c = r.counter("http_requests_total", "Total requests.", {"code", "path"});
  c.with({"200", "/a"}).inc();
  c.with({"200", "/a"}).inc(2);
  c.with({"500", "/b\"x\\\n"}).inc(0.5);
  c.with({"500", "/b\"x\\\n"}).inc(-4);  // ignored

  r.gauge("queue_length", "Queue length.\nsecond line \\").get().set(-3.25);

  auto& h = r.histogram("latency_seconds", "Latency.", {"op"}, {0.5, 1, 10});
  for (double v : {0.25, 0.5, 5.0, 100.0}) h.with({"read"}).observe(v);

  auto& special = r.gauge("special", "Special values.", {"kind"});
  special.with({"nan"}).set(NAN);
  special.with({"inf"}).set(INFINITY);
  special.with({"neginf"}).set(-INFINITY);

  r.gauge("unused", "Never given a child.");

  r.addCollector([](Writer& w) {
    w.gauge("component_health", "Health.", {{"component_id", "a"}}, 1);
    w.counter("aaa_first_total", "First.", {}, 7);
  });
  r.addCollector([](Writer& w) {
    w.gauge("component_health", "Other help ignored.", {{"component_id", "b"}}, 0);
  });

  EXPECT_EQ(r.exposition(),
            "# HELP aaa_first_total First.\n"
            "# TYPE aaa_first_total counter\n"
            "aaa_first_total 7\n"
            "# HELP component_health Health.\n"
            "# TYPE component_health gauge\n"
            "component_health{component_id=\"a\"} 1\n"
            "component_health{component_id=\"b\"} 0\n"
            "# HELP http_requests_total Total requests.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{code=\"200\",path=\"/a\"} 3\n"
            "http_requests_total{code=\"500\",path=\"/b\\\"x\\\\\\n\"} 0.5\n"
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{op=\"read\",le=\"0.5\"} 2\n"
            "latency_seconds_bucket{op=\"read\",le=\"1\"} 2\n"
            "latency_seconds_bucket{op=\"read\",le=\"10\"} 3\n"
            "latency_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{op=\"read\"} 105.75\n"
            "latency_seconds_count{op=\"read\"} 4\n"
            "# HELP queue_length Queue length.\\nsecond line \\\\\n"
            "# TYPE queue_length gauge\n"
            "queue_length -3.25\n"
            "# HELP special Special values.\n"
            "# TYPE special gauge\n"
            "special{kind=\"inf\"} +Inf\n"
            "special{kind=\"nan\"} NaN\n"
            "special{kind=\"neginf\"} -Inf\n");
}

TEST(MetricsTest, HistogramWithoutLabelsAndDefaultBuckets) {
  Registry r;
  auto& h = r.histogram("h", "H.", {}, {});
  h.get().observe(0.003);
  h.get().observe(NAN);  // counted in +Inf only
  std::string text = r.exposition();
  EXPECT_NE(text.find("h_bucket{le=\"0.005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"10\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"+Inf\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_count 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_sum NaN\n"), std::string::npos) << text;
}

TEST(MetricsTest, SameNameReturnsSameFamily) {
  Registry r;
  auto& a = r.counter("x_total", "X.", {"l"});
  auto& b = r.counter("x_total", "X again.", {"l"});
  EXPECT_EQ(&a, &b);
  Counter& c1 = a.with({"v"});
  Counter& c2 = b.with({"v"});
  EXPECT_EQ(&c1, &c2);
  auto& h1 = r.histogram("h", "H.", {}, {1, 2});
  auto& h2 = r.histogram("h", "H.", {}, {1, 2, INFINITY});
  EXPECT_EQ(&h1, &h2);
}

TEST(MetricsDeathTest, MismatchAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  r.counter("x_total", "X.", {"l"});
  EXPECT_DEATH(r.gauge("x_total", "X.", {"l"}), "different type or labels");
  EXPECT_DEATH(r.counter("x_total", "X.", {"m"}), "different type or labels");
  EXPECT_DEATH(r.counter("x_total", "X.", {"l"}).with({"a", "b"}), "got 2 label values, want 1");
  EXPECT_DEATH(r.counter("bad-name", "X."), "invalid metric name");
  EXPECT_DEATH(r.histogram("h", "H.", {"le"}, {}), "reserved");
  EXPECT_DEATH(r.histogram("h2", "H.", {}, {2, 1}), "strictly increasing");
}

TEST(MetricsTest, RemoveChild) {
  Registry r;
  auto& g = r.gauge("g", "G.", {"k"});
  g.with({"a"}).set(1);
  g.with({"b"}).set(2);
  g.remove({"a"});
  g.remove({"zzz"});
  EXPECT_EQ(r.exposition(), "# HELP g G.\n# TYPE g gauge\ng{k=\"b\"} 2\n");
  EXPECT_EQ(g.with({"a"}).value(), 0);  // recreated fresh
}

TEST(MetricsTest, RemoveCollector) {
  Registry r;
  uint64_t id = r.addCollector([](Writer& w) { w.gauge("up", "Up.", {}, 1); });
  EXPECT_EQ(r.exposition(), "# HELP up Up.\n# TYPE up gauge\nup 1\n");
  r.removeCollector(id);
  r.removeCollector(id);
  EXPECT_EQ(r.exposition(), "");
}

TEST(MetricsTest, CollectorSampleJoinsRegisteredFamily) {
  Registry r;
  r.gauge("q", "Q.", {"k"}).with({"a"}).set(1);
  r.addCollector([](Writer& w) { w.gauge("q", "ignored", {{"k", "b"}}, 2); });
  EXPECT_EQ(r.exposition(), "# HELP q Q.\n# TYPE q gauge\nq{k=\"a\"} 1\nq{k=\"b\"} 2\n");
}

TEST(MetricsTest, FormatValue) {
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(1), "1");
  EXPECT_EQ(formatValue(-2.5), "-2.5");
  EXPECT_EQ(formatValue(0.1), "0.1");
  EXPECT_EQ(formatValue(1e21), "1e+21");
  EXPECT_EQ(formatValue(123456789), "123456789");
  EXPECT_EQ(formatValue(NAN), "NaN");
  EXPECT_EQ(formatValue(INFINITY), "+Inf");
  EXPECT_EQ(formatValue(-INFINITY), "-Inf");
}

TEST(MetricsTest, ConcurrentIncSumsExactly) {
  Registry r;
  auto& fam = r.counter("c_total", "C.", {"k"});
  auto& gfam = r.gauge("g", "G.");
  auto& hfam = r.histogram("h", "H.", {}, {1});
  constexpr int kThreads = 4;
  constexpr int kIters = 200000;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) {
      (void)r.exposition();
      fam.with({"other"}).inc();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Counter& c = fam.with({"x"});
      Gauge& g = gfam.get();
      Histogram& h = hfam.get();
      for (int i = 0; i < kIters; ++i) {
        c.inc();
        g.add(0.5);
        h.observe(i % 2 ? 0.5 : 2);
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  scraper.join();
  EXPECT_EQ(fam.with({"x"}).value(), double(kThreads) * kIters);
  EXPECT_EQ(gfam.get().value(), 0.5 * kThreads * kIters);
  EXPECT_EQ(hfam.get().count(), uint64_t(kThreads) * kIters);
  EXPECT_EQ(hfam.get().cumulativeCounts()[0], uint64_t(kThreads) * kIters / 2);
  EXPECT_EQ(hfam.get().sum(), 1.25 * kThreads * kIters);
}

std::map<std::string, double> parseSimple(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    EXPECT_EQ(parts.size(), 2u) << line;
    double v;
    if (parts[1] == "+Inf") {
      v = INFINITY;
    } else {
      EXPECT_TRUE(absl::SimpleAtod(parts[1], &v)) << line;
    }
    out[std::string(parts[0])] = v;
  }
  return out;
}

TEST(MetricsTest, ProcessMetrics) {
  Registry r;
  registerProcessMetrics(r);
  // Burn a little CPU so cpu seconds are observable.
  volatile double x = 0;
  for (int i = 0; i < 3000000; ++i) x = x + std::sqrt(static_cast<double>(i));
  std::string text = r.exposition();
  auto m = parseSimple(text);
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds"}) {
    ASSERT_TRUE(m.count(name)) << name << " missing in\n" << text;
  }
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
  EXPECT_GE(m["process_cpu_seconds_total"], 0);
  EXPECT_LT(m["process_cpu_seconds_total"], 3600);
  EXPECT_GT(m["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GE(m["process_virtual_memory_bytes"], m["process_resident_memory_bytes"]);
  EXPECT_GE(m["process_open_fds"], 3);
  EXPECT_GE(m["process_max_fds"], m["process_open_fds"]);
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(m["process_start_time_seconds"], now + 2);
  EXPECT_GT(m["process_start_time_seconds"], now - 3600);
}

}  // namespace
}  // namespace telegate::metrics
