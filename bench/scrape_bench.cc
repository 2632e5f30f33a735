// Micro-benchmarks of prometheus.scrape's per-scrape work on a node-exporter-like body: parse
// (text 0.0.4), label processing + staleness tracking, building the append batch and appending
// it to a receiver that discards it. Reports samples per CPU-second and the memory a target's
// series state keeps between scrapes (bytes per active series).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <string>

#include "src/common/strings.h"
#include "src/components/prometheus/scrape/scrape.h"

namespace telegate::prometheus::scrape {
namespace {

// `series` samples in families of 100: metric_<f>_total{cpu="<i>",mode="<m>",path="/x/<f>"}.
std::string makeBody(int series) {
  std::string body;
  static const char* kModes[] = {"idle", "user", "system", "iowait"};
  for (int i = 0; i < series; ++i) {
    int f = i / 100;
    if (i % 100 == 0) {
      strAppend(&body, "# HELP node_metric_", f, "_seconds_total Seconds spent in family ", f,
                ".\n# TYPE node_metric_", f, "_seconds_total counter\n");
    }
    strAppend(&body, "node_metric_", f, "_seconds_total{cpu=\"", i % 25, "\",mode=\"",
              kModes[(i / 25) % 4], "\",path=\"/x/", f, "\"} ", std::to_string(12345.678 + i),
              "\n");
  }
  return body;
}

class Discard : public Appendable {
 public:
  absl::Status append(SeriesBatch&& b) override {
    benchmark::DoNotOptimize(b.sampleCount());
    return absl::OkStatus();
  }
};

ScrapeTarget benchTarget() {
  Arguments a;
  return *populateTarget({{"__address__", "10.1.2.3:9100"}, {"namespace", "monitoring"}}, a,
                         "prometheus.scrape.bench");
}

void BM_ParseProcessAppend(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = makeBody(n);
  const ScrapeTarget t = benchTarget();
  SeriesState st;
  Discard sink;
  int64_t ts = 1700000000000;
  for (auto _ : state) {
    Exposition exp;
    auto ps = parseExposition(body, ExpositionFormat::kText004, &exp);
    if (!ps.ok()) state.SkipWithError("parse failed");
    std::vector<ScrapedSample> out;
    out.reserve(exp.samples.size() + 8);
    processScrape(&exp, t, {}, ts, &st, &out);
    ts += 15000;
    appendTo(sink, toAppendBatch(out));
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ParseProcessAppend)->Arg(1000)->Arg(10000);

void BM_ParseOnly(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = makeBody(n);
  for (auto _ : state) {
    Exposition exp;
    benchmark::DoNotOptimize(parseExposition(body, ExpositionFormat::kText004, &exp));
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ParseOnly)->Arg(10000);

// Heap kept by the series state of one target with `n` series between scrapes.
void BM_SeriesStateMemory(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = makeBody(n);
  const ScrapeTarget t = benchTarget();
  double per_series = 0;
  for (auto _ : state) {
    size_t before = mallinfo2().uordblks;
    auto* st = new SeriesState;
    {
      Exposition exp;
      (void)parseExposition(body, ExpositionFormat::kText004, &exp);
      std::vector<ScrapedSample> out;
      processScrape(&exp, t, {}, 1, st, &out);
    }
    size_t after = mallinfo2().uordblks;
    per_series = static_cast<double>(after - before) / n;
    delete st;
  }
  state.counters["bytes_per_series"] = per_series;
}
BENCHMARK(BM_SeriesStateMemory)->Arg(10000)->Iterations(3);

}  // namespace
}  // namespace telegate::prometheus::scrape

BENCHMARK_MAIN();
