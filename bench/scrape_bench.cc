// Micro-benchmarks of prometheus.scrape's per-scrape work on a node-exporter-like body: the body
// read in 16 KiB pieces (as from the network) through the streaming parser (text 0.0.4), label
// processing + staleness tracking into the append batch, and the append to a receiver that
// discards it. Reports samples per CPU-second, the memory one scrape holds while it runs (bytes
// per sample, as charged to the memory budget) and the memory a target's series state keeps
// between scrapes (bytes per active series).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <string>

#include "src/common/strings.h"
#include "src/components/prometheus/scrape/body_reader.h"
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
  const ProcessOptions opts;
  SeriesState st;
  Discard sink;
  int64_t ts = 1700000000000;
  double held_per_sample = 0;
  for (auto _ : state) {
    ScrapeCharge charge(nullptr);
    SeriesBatch batch;
    ScrapeAppender app(t, opts, ts, &st, &batch, &charge);
    ExpositionParser parser(ExpositionFormat::kText004);
    BodyReader reader(kDefaultBodyLimit, &charge, &parser, &app);
    bool ok = reader.begin("").ok();
    for (size_t off = 0; ok && off < body.size(); off += 16384) {
      ok = reader.feed(std::string_view(body).substr(off, 16384)).ok();
    }
    ok = ok && reader.finish().ok();
    if (!ok) state.SkipWithError("parse failed");
    app.finish(ok);
    held_per_sample = static_cast<double>(charge.held()) / n;
    ts += 15000;
    (void)sink.append(std::move(batch));
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
  state.counters["held_bytes_per_sample"] = held_per_sample;
}
BENCHMARK(BM_ParseProcessAppend)->Arg(1000)->Arg(10000);

class CountSamples : public ExpositionVisitor {
 public:
  absl::Status onSample(const SampleView& s) override {
    benchmark::DoNotOptimize(s.value);
    ++n;
    return absl::OkStatus();
  }
  int64_t n = 0;
};

void BM_ParseOnly(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = makeBody(n);
  for (auto _ : state) {
    ExpositionParser parser(ExpositionFormat::kText004);
    CountSamples c;
    benchmark::DoNotOptimize(parser.feed(body, c));
    benchmark::DoNotOptimize(parser.finish(c));
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
      SeriesBatch out;
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
