// Bounded scrapes: the body reader, the streaming parser and the appender under hostile bodies.
#include "src/components/prometheus/scrape/body_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>

#include "src/common/decompress.h"
#include "src/common/strings.h"
#include "src/components/prometheus/scrape/scrape.h"

namespace telegate::prometheus::scrape {
namespace {

// gzip of `line` repeated `n` times, produced without holding the decompressed text.
std::string gzipRepeated(std::string_view line, size_t n) {
  std::string unit;
  while (unit.size() < (64u << 10)) unit.append(line);
  const size_t per_unit = unit.size() / line.size();
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out;
  char buf[1 << 16];
  for (size_t done = 0; done < n;) {
    size_t k = std::min(per_unit, n - done);
    done += k;
    z.next_in = reinterpret_cast<Bytef*>(unit.data());
    z.avail_in = static_cast<uInt>(k * line.size());
    const int flush = done == n ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof(buf);
      deflate(&z, flush);
      out.append(buf, sizeof(buf) - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

ScrapeTarget target() {
  Arguments a;
  return *populateTarget({{"__address__", "127.0.0.1:9100"}}, a, "prometheus.scrape.test");
}

struct ScrapeRun {
  absl::Status status;
  std::string reason;  // as scraper.cc picks it
  ProcessResult result;
  size_t body_bytes = 0;
  size_t held = 0;
  size_t batch_samples = 0;
};

// One scrape of `body` fed in 16 KiB pieces (as curl hands them over).
ScrapeRun scrapeBody(std::string_view body, std::string_view encoding, size_t limit,
                     const ProcessOptions& opts, MemoryBudget* budget = nullptr,
                     SeriesState* state = nullptr) {
  SeriesState local;
  if (state == nullptr) state = &local;
  ScrapeRun run;
  ScrapeTarget t = target();
  ScrapeCharge charge(budget);
  SeriesBatch batch;
  ScrapeAppender app(t, opts, 1000, state, &batch, &charge);
  ExpositionParser parser(ExpositionFormat::kText004);
  BodyReader reader(limit, &charge, &parser, &app);
  run.status = reader.begin(encoding);
  for (size_t off = 0; run.status.ok() && off < body.size(); off += 16384) {
    run.status = reader.feed(body.substr(off, 16384));
  }
  if (run.status.ok()) run.status = reader.finish();
  if (!run.status.ok()) {
    run.reason = !reader.failureReason().empty() ? reader.failureReason()
                 : !app.failureReason().empty()  ? app.failureReason()
                                                 : "parse";
  }
  run.body_bytes = reader.bodyBytes();
  run.result = app.finish(run.status.ok());
  run.held = charge.held();
  run.batch_samples = batch.sampleCount();
  return run;
}

TEST(BoundedScrapeTest, GzipBombBeyondBodySizeLimitFailsFastWithBoundedMemory) {
  // 100 MB of "a 1\n" (25M samples) in about 100 KB of gzip.
  const std::string bomb = gzipRepeated("a 1\n", 25'000'000);
  ASSERT_LT(bomb.size(), 200u << 10);
  const auto t0 = std::chrono::steady_clock::now();
  ScrapeRun r = scrapeBody(bomb, "gzip", 1 << 20, {});
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.reason, "body_size");
  EXPECT_EQ(r.status.message(), "body size limit exceeded (limit: 1048576 bytes)");
  // It stopped at the limit: about 1 MiB of the 100 MB were inflated and parsed.
  EXPECT_LE(r.result.scraped, (1 << 20) / 4);
  EXPECT_EQ(r.batch_samples, 0u);  // nothing of the failed scrape is kept
  // Working memory: the inflater and one series (every line is the same series).
  EXPECT_LT(r.held, 256u << 10) << r.held;
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST(BoundedScrapeTest, GzipBombWithinTheDefaultCapHoldsConstantMemory) {
  // The same series 4M times: duplicates are counted, never kept.
  const std::string bomb = gzipRepeated("a 1\n", 4'000'000);
  ScrapeRun r = scrapeBody(bomb, "gzip", kDefaultBodyLimit, {});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.body_bytes, 16'000'000u);
  EXPECT_EQ(r.result.scraped, 4'000'000);
  EXPECT_EQ(r.result.duplicates, 4'000'000 - 1);
  EXPECT_LT(r.held, 256u << 10) << r.held;
}

TEST(BoundedScrapeTest, IdentityBodyBeyondLimitStopsBeforeParsingTheExcess) {
  std::string body;
  for (int i = 0; i < 100000; ++i) strAppend(&body, "m", i, " 1\n");
  ScrapeRun r = scrapeBody(body, "", 64 << 10, {});
  EXPECT_EQ(r.reason, "body_size");
  EXPECT_LE(r.body_bytes, 64u << 10);
}

TEST(BoundedScrapeTest, SampleLimitStopsParsingEarly) {
  std::string body;
  for (int i = 0; i < 1'000'000; ++i) strAppend(&body, "series_", i, "{a=\"b\"} 1\n");
  ProcessOptions o;
  o.sample_limit = 1000;
  SeriesState state;
  ScrapeRun r = scrapeBody(body, "", kDefaultBodyLimit, o, nullptr, &state);
  EXPECT_EQ(r.reason, "sample_limit");
  EXPECT_EQ(r.status.message(), "sample limit exceeded (limit: 1000)");
  EXPECT_EQ(r.result.scraped, 1001);   // stopped at the first sample over the limit
  EXPECT_LT(r.body_bytes, 64u << 10);  // within the first pieces of a 24 MB body
  EXPECT_EQ(r.batch_samples, 0u);
  EXPECT_TRUE(state.tracked.empty());
}

TEST(BoundedScrapeTest, LabelLimitsStopParsingEarly) {
  std::string body;
  for (int i = 0; i < 100000; ++i) strAppend(&body, "m", i, "{a=\"b\",c=\"d\"} 1\n");
  body.insert(0, "early{", 0);
  ProcessOptions o;
  o.label_limit = 4;  // __name__, a, c, instance, job: 5
  ScrapeRun r = scrapeBody(body, "", kDefaultBodyLimit, o);
  EXPECT_EQ(r.reason, "label_limit");
  EXPECT_EQ(r.result.scraped, 1);
  o = {};
  o.label_name_length_limit = 5;
  r = scrapeBody("m{long_name=\"x\"} 1\n" + body, "", kDefaultBodyLimit, o);
  EXPECT_EQ(r.reason, "label_limit");
  EXPECT_EQ(r.result.scraped, 1);
  o = {};
  o.label_value_length_limit = 3;
  r = scrapeBody("m{a=\"long\"} 1\n" + body, "", kDefaultBodyLimit, o);
  EXPECT_EQ(r.reason, "label_limit");
  EXPECT_EQ(r.result.scraped, 1);
}

TEST(BoundedScrapeTest, BudgetRefusalFailsTheScrapeAndReleasesEverything) {
  std::string body;
  for (int i = 0; i < 200000; ++i) strAppend(&body, "series_", i, " 1\n");
  // One scrape may hold a quarter of the limit: 1 MiB of 4 MiB.
  MemoryBudget budget(4 << 20);
  {
    ScrapeRun r = scrapeBody(body, "", kDefaultBodyLimit, {}, &budget);
    EXPECT_EQ(r.reason, "memory_budget");
    EXPECT_NE(r.status.message().find("memory budget exhausted"), std::string::npos) << r.status;
    EXPECT_LT(r.result.scraped, 200000);
    EXPECT_LE(r.held, 1u << 20);
    EXPECT_EQ(r.batch_samples, 0u);
  }
  EXPECT_EQ(budget.used(), 0u);  // the scrape gave back all it reserved
  // All scrapes together hold at most half of the limit: with 1.5 MiB held elsewhere, 0.5 MiB.
  ASSERT_TRUE(budget.tryReserve(3 << 19));
  {
    ScrapeRun r = scrapeBody(body, "", kDefaultBodyLimit, {}, &budget);
    EXPECT_EQ(r.reason, "memory_budget");
    EXPECT_LE(r.held, 1u << 19);
  }
  EXPECT_EQ(budget.used(), size_t{3} << 19);
  EXPECT_GT(budget.refusals(), 0u);

  // A gzip body whose decompressor does not fit.
  MemoryBudget tiny(16 << 10);
  ScrapeRun r = scrapeBody(gzipRepeated("a 1\n", 10), "gzip", kDefaultBodyLimit, {}, &tiny);
  EXPECT_EQ(r.reason, "memory_budget");
  EXPECT_EQ(tiny.used(), 0u);
}

TEST(BoundedScrapeTest, BudgetBoundsALongLine) {
  // One line of 8 MiB (a label value) is buffered across pieces: charged before it is held.
  std::string body = "m{a=\"" + std::string(8 << 20, 'x') + "\"} 1\n";
  MemoryBudget budget(2 << 20);
  ScrapeRun r = scrapeBody(body, "", kDefaultBodyLimit, {}, &budget);
  EXPECT_EQ(r.reason, "memory_budget");
  EXPECT_EQ(budget.used(), 0u);
}

TEST(BoundedScrapeTest, BudgetBoundsALineWithManyLabels) {
  // 200000 labels in one 2 MB line: the label list (32 bytes per label) is charged as it grows.
  std::string body = "m{";
  for (int i = 0; i < 200000; ++i) strAppend(&body, i == 0 ? "" : ",", "l", i, "=\"x\"");
  body += "} 1\n";
  MemoryBudget budget(16 << 20);  // one scrape: 4 MiB
  ScrapeRun r = scrapeBody(body, "", kDefaultBodyLimit, {}, &budget);
  EXPECT_EQ(r.reason, "memory_budget");
  EXPECT_EQ(budget.used(), 0u);
  // With room, the same line is one sample (label_limit is what should stop it).
  ProcessOptions o;
  o.label_limit = 64;
  r = scrapeBody(body, "", kDefaultBodyLimit, o);
  EXPECT_EQ(r.reason, "label_limit");
}

TEST(BoundedScrapeTest, GzipErrorsAndMembers) {
  std::string two = *compress("gzip", "a 1\n") + *compress("gzip", "b 2\n");
  ScrapeRun r = scrapeBody(two, "gzip", kDefaultBodyLimit, {});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.result.scraped, 2);
  std::string cut = *compress("gzip", "a 1\nb 2\n");
  cut.resize(cut.size() - 4);
  r = scrapeBody(cut, "gzip", kDefaultBodyLimit, {});
  EXPECT_EQ(r.reason, "parse");
  r = scrapeBody(*compress("gzip", "a 1\n") + "garbage", "gzip", kDefaultBodyLimit, {});
  EXPECT_EQ(r.reason, "parse");
  r = scrapeBody("not gzip at all", "gzip", kDefaultBodyLimit, {});
  EXPECT_EQ(r.reason, "parse");
}

// The streaming parser gives the same samples whatever the pieces' boundaries.
TEST(StreamingParserTest, PiecesOfAnySizeGiveTheSameSamples) {
  const std::string body =
      "# HELP m help text\n# TYPE m counter\nm{a=\"x\\\"y\",b=\"2\"} 1 100\r\n\n"
      "n 2.5e3\nlong_metric_name{path=\"C:\\\\dir\",z=\"\"} NaN\nlast 7";
  Exposition whole;
  ASSERT_TRUE(parseExposition(body, ExpositionFormat::kText004, &whole).ok());
  ASSERT_EQ(whole.samples.size(), 4u);
  EXPECT_EQ(whole.samples[0].labels[0].second, "x\"y");
  EXPECT_EQ(whole.families["m"].help, "help text");
  for (size_t piece = 1; piece <= body.size(); ++piece) {
    class Collect : public ExpositionVisitor {
     public:
      absl::Status onSample(const SampleView& s) override {
        std::string line(s.name);
        for (size_t i = 0; i < s.label_count; ++i) {
          strAppend(&line, "|", s.labels[i].first, "=", s.labels[i].second);
        }
        strAppend(&line, "|", std::to_string(s.value), "|", s.timestamp_ms.value_or(-1));
        lines.push_back(line);
        return absl::OkStatus();
      }
      std::vector<std::string> lines;
    } c;
    ExpositionParser p(ExpositionFormat::kText004);
    for (size_t off = 0; off < body.size(); off += piece) {
      ASSERT_TRUE(p.feed(std::string_view(body).substr(off, piece), c).ok());
    }
    ASSERT_TRUE(p.finish(c).ok());
    ASSERT_EQ(c.lines.size(), 4u) << piece;
    EXPECT_EQ(c.lines[0], "m|a=x\"y|b=2|1.000000|100") << piece;
    EXPECT_EQ(c.lines[2], "long_metric_name|path=C:\\dir|z=|nan|-1") << piece;
    EXPECT_EQ(c.lines[3], "last|7.000000|-1") << piece;
  }
}

}  // namespace
}  // namespace telegate::prometheus::scrape
